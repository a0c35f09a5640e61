"""Negative-control settings in the cohort: counted in the panels, never costed, never matched on.

The programmes name ``elective_admission`` as their negative control
(``outcomes.negative_controls``). The cohort counts it in every panel with the outcome settings'
event-month rules, leaves it out of ``total_cost`` (it has no unit cost, and none is required)
and out of the prior-use covariates; a data set with no row of it at all is reported as "not in
the data". Every expected number is worked out in the comment beside it from the data contract's
"Time" section (the default design: month m runs from the day after index + m months to index +
m + 1 months inclusive; the index day itself is left out), not by running the code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from evalkit import config
from evalkit.cohort import build_cohort, build_panel, naive_panel, placebo_cohort

from .tables import person, write_tables

D = dt.date
PERIOD = (D(2019, 4, 1), D(2025, 3, 31))
NC = "elective_admission"


@pytest.fixture(scope="module")
def mindsong() -> config.Programme:
    prog = config.load_programme("mindsong")
    assert prog.outcomes.negative_controls == [NC]
    return prog


@pytest.fixture(scope="module")
def costs() -> config.UnitCostTable:
    table = config.load_unit_costs()
    assert NC not in table.costs  # no unit cost, and the cohort must not ask for one
    return table


def _people() -> list[dict]:
    return [person("p1"), person("c1", sex="F"), person("c2")]


#: P1 referred Tuesday 15 March 2022 (index week: Monday 14 March).
REFERRALS = [("p1", D(2022, 3, 15), "mindsong", "completed")]
#: P1's events (index 15 March 2022): month 0 = 16 Mar .. 15 Apr, month 1 = 16 Apr .. 15 May,
#: month -1 = 16 Feb .. 15 Mar with the index day left out.
P1_EVENTS = [
    ("p1", D(2022, 3, 20), NC),  # month 0
    ("p1", D(2022, 3, 20), "gp_appointment"),  # month 0: the only costed event of month 0
    ("p1", D(2022, 4, 16), NC),  # month 1
    ("p1", D(2022, 4, 15), NC),  # month 0 (its last day)
    ("p1", D(2022, 2, 20), NC),  # month -1
    ("p1", D(2022, 3, 15), NC),  # the index day: left out (index_day="excluded")
    ("p1", D(2021, 6, 1), NC),  # month -10 (16 May .. 15 Jun 2021): in prior 12 if counted
    ("p1", D(2023, 3, 16), NC),  # month 12: outside the panel (-24 .. 11)
]
#: C1, P1's control: inherits the index 15 March 2022.
C1_EVENTS = [
    ("c1", D(2022, 3, 16), NC),  # month 0 (its first day)
    ("c1", D(2022, 3, 16), "ae_attendance"),  # month 0
    ("c1", D(2022, 1, 10), NC),  # month -3 (16 Dec .. 15 Jan)
]


@pytest.fixture(scope="module")
def with_nc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tables(
        tmp_path_factory.mktemp("with_nc"), _people(), P1_EVENTS + C1_EVENTS, REFERRALS
    )


@pytest.fixture(scope="module")
def without_nc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = [e for e in P1_EVENTS + C1_EVENTS if e[2] != NC]
    return write_tables(tmp_path_factory.mktemp("without_nc"), _people(), events, REFERRALS)


@pytest.fixture(scope="module")
def cohort(with_nc: Path, mindsong, costs):
    return build_cohort(with_nc, mindsong, unit_costs=costs, data_period=PERIOD)


def _matched(cohort) -> pd.DataFrame:
    """P1 and C1 (its candidate row in P1's index week) as one matched set."""
    c = cohort.candidates
    p1 = c[(c["person_id"] == "p1") & (c["referred"] == 1)].index[0]
    c1 = c[(c["person_id"] == "c1") & (c["referred"] == 0) & (c["index_week"] == "2022-03-14")]
    return pd.DataFrame(
        {"row_id": [p1, c1.index[0]], "referred": [1, 0], "subclass": [0, 0], "weight": [1.0, 1.0]}
    )


def test_cohort_negative_control_in_data_is_counted_not_costed(cohort) -> None:
    assert cohort.negative_controls == [NC]
    assert cohort.negative_controls_absent == []
    assert cohort.panel_settings == [*cohort.settings, NC]
    assert NC not in cohort.settings
    assert cohort.spec["negative_controls"] == [NC]


def test_cohort_negative_control_is_not_a_prior_use_covariate(cohort) -> None:
    assert not [c for c in cohort.candidates.columns if NC in c]
    assert not [c for c in cohort.covariate_columns() if NC in c]


def test_panel_counts_negative_control_with_the_outcome_event_months(cohort) -> None:
    panel = naive_panel(cohort).set_index("event_month")
    assert panel.loc[0, NC] == 2  # 20 March and 15 April
    assert panel.loc[1, NC] == 1  # 16 April
    assert panel.loc[-1, NC] == 1  # 20 February; the index day (15 March) is left out
    assert panel.loc[-10, NC] == 1  # 1 June 2021
    assert panel[NC].sum() == 5  # 8 events: index day and month 12 not counted, 1 outside
    assert panel.attrs["spec"]["negative_controls"] == [NC]


def test_panel_total_cost_excludes_negative_control(cohort, costs) -> None:
    panel = naive_panel(cohort).set_index("event_month")
    assert panel.loc[0, "total_cost"] == pytest.approx(costs.cost_of("gp_appointment"))
    assert panel.loc[1, "total_cost"] == 0.0  # one elective admission, no costed event
    assert panel.loc[-1, "total_cost"] == 0.0
    priced = sum(panel[s] * costs.cost_of(s) for s in cohort.settings)
    assert panel["total_cost"].to_numpy() == pytest.approx(priced.to_numpy())


def test_matched_panel_counts_controls_negative_control_at_inherited_index(cohort) -> None:
    panel = build_panel(cohort, _matched(cohort))
    c1 = panel[panel["person_id"] == "c1"].set_index("event_month")
    assert c1["index_date"].iloc[0] == pd.Timestamp("2022-03-15")  # inherited from P1
    assert c1.loc[0, NC] == 1  # 16 March, the first day of month 0
    assert c1.loc[-3, NC] == 1  # 10 January
    assert c1[NC].sum() == 2
    assert c1.loc[0, "total_cost"] == pytest.approx(
        cohort.unit_costs.cost_of("ae_attendance")  # the A&E attendance only
    )


def test_placebo_cohort_keeps_the_negative_control(cohort) -> None:
    placebo = placebo_cohort(cohort, 18)
    assert placebo.negative_controls == [NC]
    assert NC in naive_panel(placebo).columns


def test_negative_control_not_in_data_gives_a_note_not_a_column(without_nc, mindsong, costs):
    c = build_cohort(without_nc, mindsong, unit_costs=costs, data_period=PERIOD)
    assert c.negative_controls == []
    assert c.negative_controls_absent == [NC]
    assert any(NC in n and "not in the data" in n for n in c.notes)
    panel = naive_panel(c)
    assert NC not in panel.columns
    assert "total_cost" in panel.columns


def test_programme_without_negative_controls_counts_none(with_nc, mindsong, costs) -> None:
    d = mindsong.model_dump()
    d["outcomes"]["negative_controls"] = []
    prog = config.Programme.model_validate(d)
    c = build_cohort(with_nc, prog, unit_costs=costs, data_period=PERIOD)
    assert c.negative_controls == [] and c.negative_controls_absent == []
    assert NC not in naive_panel(c).columns

"""Tests for evalkit.cohort: eligibility, index dates, risk set, covariates and panels.

The small tests build processed tables by hand in ``tmp_path``; every expected number is worked
out in the comment beside it from the data contract's "Time" section, not by running the code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from evalkit import config
from evalkit.cohort import CohortError, build_cohort, build_panel, naive_panel, placebo_cohort

from .tables import person as _person
from .tables import write_tables as _write

D = dt.date
PERIOD = (D(2019, 4, 1), D(2025, 3, 31))


@pytest.fixture(scope="module")
def mindsong() -> config.Programme:
    # age 18-120, COPD or asthma, 12 baseline months
    return config.load_programme("mindsong")


@pytest.fixture(scope="module")
def costs() -> config.UnitCostTable:
    return config.load_unit_costs()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hand-made county. Index months: 2022-03 (P1, P2, P3, P4), 2022-05 (P5), 2022-06 (P6)."""
    people = [
        # P1: referred 15 March 2022; events around the boundaries below.
        _person("p1"),
        # P2: referred 15 March 2022, died 24 May 2022.
        _person("p2", date_of_death=D(2022, 5, 24), registered_to=D(2022, 5, 24)),
        # P3: COPD diagnosed the day after referral -> not eligible.
        _person("p3", copd=D(2022, 3, 16)),
        # P4: COPD diagnosed on the referral day -> eligible; ethnicity Z -> Unknown.
        _person("p4", copd=D(2022, 3, 15), ethnicity="Z", sex="M"),
        # P5: referred 10 May 2022 (asthma only).
        _person("p5", copd=None, asthma=D(2018, 6, 1)),
        # P6: referred 20 June 2022; referred again 1 Aug 2022 (first referral is the index).
        _person("p6"),
        # P7: aged 17 in 2022 (2022 - 2005) -> too young; P8 aged 18 (2022 - 2004) -> eligible.
        _person("p7", year_of_birth=2005),
        _person("p8", year_of_birth=2004),
        # C1: never referred, eligible throughout; events around the 1 March 2022 windows.
        _person("c1", sex="M"),
        # C2: registered 1 June 2021: 12 months of history on 1 June 2022, not on 1 March 2022.
        _person("c2", registered_from=D(2021, 6, 1)),
        # C3: no qualifying condition -> never a candidate.
        _person("c3", copd=None, diabetes=D(2010, 1, 1)),
        # C4: referred to another programme only -> still a candidate.
        _person("c4"),
    ]
    events = [
        # P1, index 15 March 2022 (month 0 = 15 Mar .. 14 Apr).
        ("p1", D(2022, 4, 14), "gp_appointment"),  # month 0
        ("p1", D(2022, 4, 15), "ae_attendance"),  # month 1
        ("p1", D(2022, 3, 14), "outpatient_attendance"),  # month -1 (prior 12 and 3)
        ("p1", D(2022, 3, 15), "ooh_contact"),  # month 0
        ("p1", D(2021, 3, 15), "gp_appointment"),  # month -12: prior 12 only
        ("p1", D(2021, 3, 14), "gp_appointment"),  # month -13: neither window
        ("p1", D(2021, 12, 15), "gp_appointment"),  # month -3: prior 12 and 3
        ("p1", D(2021, 12, 14), "gp_appointment"),  # month -4: prior 12 only
        ("p1", D(2020, 3, 15), "emergency_admission"),  # month -24
        ("p1", D(2020, 3, 14), "emergency_admission"),  # month -25: outside the panel
        ("p1", D(2023, 3, 14), "gp_appointment"),  # month 11
        ("p1", D(2023, 3, 15), "gp_appointment"),  # month 12: outside the panel
        # C1, candidate index 1 March 2022: prior 12 = [1 Mar 2021, 1 Mar 2022),
        # prior 3 = [1 Dec 2021, 1 Mar 2022).
        ("c1", D(2021, 2, 28), "gp_appointment"),  # out
        ("c1", D(2021, 3, 1), "gp_appointment"),  # prior 12
        ("c1", D(2021, 11, 30), "gp_appointment"),  # prior 12
        ("c1", D(2021, 12, 1), "gp_appointment"),  # prior 12 and 3
        ("c1", D(2022, 2, 28), "ae_attendance"),  # prior 12 and 3 (A&E)
        ("c1", D(2022, 3, 1), "gp_appointment"),  # index day: not prior
        ("c1", D(2022, 3, 10), "gp_appointment"),  # before P1's index (15 Mar): month -1 as
        # P1's matched control, although on or after its own candidate index (1 Mar)
    ]
    referrals = [
        ("p1", D(2022, 3, 15), "mindsong", "completed"),
        ("p2", D(2022, 3, 15), "mindsong", "dropped_out"),
        ("p3", D(2022, 3, 15), "mindsong", "completed"),
        ("p4", D(2022, 3, 15), "mindsong", "did_not_start"),
        ("p5", D(2022, 5, 10), "mindsong", "completed"),
        ("p6", D(2022, 6, 20), "mindsong", "dropped_out"),
        ("p6", D(2022, 8, 1), "mindsong", "completed"),
        ("p7", D(2022, 3, 20), "mindsong", "completed"),
        ("p8", D(2022, 3, 20), "mindsong", "completed"),
        ("c4", D(2022, 3, 2), "cyp", "completed"),
    ]
    return _write(tmp_path_factory.mktemp("small"), people, events, referrals)


#: The earlier design, kept as options (the simulation bench compares it with the new one):
#: monthly risk sets indexed on the 1st, month 0 starting on the index date. The tests in this
#: file pin it; tests/unit/cohort/test_exact_dates.py tests the default design.
OLD = {"risk_set": "month", "event_months": "index"}


@pytest.fixture(scope="module")
def cohort(small: Path, mindsong: config.Programme, costs: config.UnitCostTable):
    return build_cohort(small, mindsong, unit_costs=costs, data_period=PERIOD, **OLD)


def _cand(cohort, pid: str, month: str, referred: int = 0) -> pd.DataFrame:
    c = cohort.candidates
    return c[(c.person_id == pid) & (c.index_month == month) & (c.referred == referred)]


# --------------------------------------------------------------------------- participants
def test_build_cohort_participants_first_referral_is_index(cohort) -> None:
    p = cohort.participants.set_index("person_id")
    assert p.loc["p6", "index_date"] == pd.Timestamp("2022-06-20")
    assert p.loc["p6", "n_referrals"] == 2
    assert p.loc["p6", "index_month"] == "2022-06"
    assert bool(p.loc["p1", "completed"]) and not bool(p.loc["p2", "completed"])


@pytest.mark.parametrize(
    ("pid", "expected"),
    [
        ("p1", None),  # expected: eligible
        ("p4", None),  # edge: COPD diagnosed on the referral day counts
        ("p3", "no_required_condition_by_index"),  # invalid: diagnosed the day after
        ("p7", "age_outside_range"),  # invalid: 2022 - 2005 = 17 < 18
        ("p8", None),  # edge: 2022 - 2004 = 18
    ],
)
def test_build_cohort_eligibility_at_index_case_table(cohort, pid: str, expected) -> None:
    excluded = cohort.excluded.set_index("person_id")["reason"]
    if expected is None:
        assert pid in set(cohort.participants.person_id)
        assert pid not in excluded.index
    else:
        assert excluded[pid] == expected
        assert pid not in set(cohort.participants.person_id)


def test_build_cohort_exclusions_are_reported_in_notes(cohort) -> None:
    # 8 people referred to mindsong (P1-P8), P3 and P7 excluded
    assert cohort.n_participants == 6 and cohort.n_excluded == 2
    text = " ".join(cohort.notes)
    assert text.startswith("8 people referred to mindsong")
    assert "2 referred people excluded" in text
    assert "no required condition by index: 1" in text


# --------------------------------------------------------------------------- risk set
def test_risk_set_person_referred_in_month_5_is_candidate_in_month_3_not_6(cohort) -> None:
    assert len(_cand(cohort, "p5", "2022-03")) == 1  # before referral: candidate
    assert len(_cand(cohort, "p5", "2022-05")) == 0  # month of referral: not a candidate
    assert len(_cand(cohort, "p5", "2022-06")) == 0  # after referral: never
    assert len(_cand(cohort, "p5", "2022-05", referred=1)) == 1  # own participant row


def test_risk_set_candidate_needs_12_months_registration(cohort) -> None:
    assert len(_cand(cohort, "c2", "2022-03")) == 0  # registered 1 Jun 2021: 9 months
    assert len(_cand(cohort, "c2", "2022-06")) == 1  # exactly 12 months on 1 Jun 2022


def test_risk_set_months_and_rows_reconcile(cohort) -> None:
    c = cohort.candidates
    assert sorted(c.index_month.astype(str).unique()) == ["2022-03", "2022-05", "2022-06"]
    assert c.row_id.tolist() == list(range(len(c)))
    assert (c.index == c.row_id).all()
    # Candidates in 2022-03: c1, c2? no (9 months), c3 no (no condition), c4 yes (other
    # programme), p5, p6 (referred later); p2 (referred 15 Mar) and the 15/20 Mar referrals
    # are referred within the month -> not candidates. P8 (referred 20 Mar) likewise.
    march = set(c[(c.index_month == "2022-03") & (c.referred == 0)].person_id)
    assert march == {"c1", "c4", "p5", "p6"}
    # 2022-06: c1, c2, c4 (p5 referred in May, p6 in June, p1..p8 earlier referrals excluded)
    june = set(c[(c.index_month == "2022-06") & (c.referred == 0)].person_id)
    assert june == {"c1", "c2", "c4"}


def test_risk_set_candidate_index_date_is_first_of_month(cohort) -> None:
    c = cohort.candidates
    assert (c.loc[c.referred == 0, "index_date"].dt.day == 1).all()


def test_covariates_prior_counts_participant_exact_windows(cohort) -> None:
    row = _cand(cohort, "p1", "2022-03", referred=1).iloc[0]
    # prior 12 = [15 Mar 2021, 15 Mar 2022): GP on 15 Mar 2021, 15 Dec 2021, 14 Dec 2021 = 3;
    # outpatient 14 Mar 2022 = 1. Prior 3 = [15 Dec 2021, 15 Mar 2022): GP 15 Dec 2021 = 1,
    # outpatient 1.
    assert row.prior12_gp_appointment == 3
    assert row.prior3_gp_appointment == 1
    assert row.prior12_outpatient_attendance == 1
    assert row.prior3_outpatient_attendance == 1
    assert row.prior12_emergency_admission == 0  # 15 Mar 2020 is 24 months back


def test_covariates_prior_counts_candidate_month_windows(cohort) -> None:
    row = _cand(cohort, "c1", "2022-03").iloc[0]
    # GP: 1 Mar 2021, 30 Nov 2021, 1 Dec 2021 in prior 12; 1 Dec 2021 in prior 3.
    assert row.prior12_gp_appointment == 3
    assert row.prior3_gp_appointment == 1
    assert row.prior12_ae_attendance == 1 and row.prior3_ae_attendance == 1


def test_covariates_at_index_values(cohort) -> None:
    p4 = _cand(cohort, "p4", "2022-03", referred=1).iloc[0]
    assert p4.ethnicity_group == "Unknown"  # code Z
    assert p4.cond_copd == 1 and p4.n_conditions == 1
    assert p4.age == 2022 - 1960
    assert p4.imd_quintile == 2  # decile 3
    p5 = _cand(cohort, "p5", "2022-05", referred=1).iloc[0]
    assert p5.cond_copd == 0 and p5.cond_asthma == 1


# --------------------------------------------------------------------------- panels
def test_panel_event_month_boundaries(cohort) -> None:
    panel = naive_panel(cohort).query("person_id == 'p1'").set_index("event_month")
    assert len(panel) == 36  # months -24 .. 11
    assert panel.loc[0, "gp_appointment"] == 1  # 14 April
    assert panel.loc[0, "ooh_contact"] == 1  # 15 March, the index day
    assert panel.loc[1, "ae_attendance"] == 1  # 15 April
    assert panel.loc[-1, "outpatient_attendance"] == 1  # 14 March
    assert panel.loc[-12, "gp_appointment"] == 1  # 15 Mar 2021
    assert panel.loc[-13, "gp_appointment"] == 1  # 14 Mar 2021
    assert panel.loc[-24, "emergency_admission"] == 1  # 15 Mar 2020; 14 Mar 2020 is month -25
    assert panel.loc[11, "gp_appointment"] == 1  # 14 Mar 2023; 15 Mar 2023 is month 12
    assert panel["gp_appointment"].sum() == 6  # 7 GP events, 1 outside -24..11
    assert panel["emergency_admission"].sum() == 1
    assert (panel.loc[panel.index >= 0, "post"] == 1).all()
    assert (panel.loc[panel.index < 0, "post"] == 0).all()


def test_panel_total_cost_prices_counts(cohort, costs) -> None:
    panel = naive_panel(cohort).query("person_id == 'p1'").set_index("event_month")
    expected = costs.cost_of("gp_appointment") + costs.cost_of("ooh_contact")  # month 0
    assert panel.loc[0, "total_cost"] == pytest.approx(expected)


def test_panel_exposure_death_mid_month(cohort) -> None:
    panel = naive_panel(cohort).query("person_id == 'p2'").set_index("event_month")
    # Index 15 Mar 2022; month 2 = [15 May, 15 Jun): 31 days; alive 15-24 May = 10 days.
    assert panel.loc[2, "exposure"] == pytest.approx(10 / 31)
    assert panel.loc[1, "exposure"] == 1.0
    assert panel.loc[3, "exposure"] == 0.0  # kept, with exposure 0
    assert (panel.loc[4:, "exposure"] == 0).all()


def test_panel_exposure_before_registration_and_extract(small, mindsong, costs) -> None:
    # With the extract starting 1 Jan 2021, P1's month -11 ([15 Apr 2021, 15 May 2021)) is
    # fully observed, month -15 ([15 Dec 2020, 15 Jan 2021)) has 14 of 31 days.
    c = build_cohort(
        small, mindsong, unit_costs=costs, data_period=(D(2019, 1, 1), D(2025, 3, 31)), **OLD
    )
    c2 = build_cohort(
        small, mindsong, unit_costs=costs, data_period=(D(2021, 1, 1), PERIOD[1]), **OLD
    )
    p = naive_panel(c2).query("person_id == 'p1'").set_index("event_month")
    assert p.loc[-11, "exposure"] == 1.0
    assert p.loc[-15, "exposure"] == pytest.approx(14 / 31)
    assert p.loc[-16, "exposure"] == 0.0
    # P1 needs 12 months of observed history: 1 Jan 2021 <= 15 Mar 2021, so still eligible.
    assert "p1" in set(c2.participants.person_id)
    assert c.n_participants == c2.n_participants


def test_panel_controls_inherit_participant_index_date(cohort) -> None:
    c = cohort.candidates
    p1 = _cand(cohort, "p1", "2022-03", referred=1).iloc[0]
    c1 = _cand(cohort, "c1", "2022-03").iloc[0]
    matched = pd.DataFrame(
        {
            "row_id": [p1.row_id, c1.row_id],
            "referred": [1, 0],
            "subclass": [1, 1],
            "weight": [1.0, 1.0],
        }
    )
    panel = build_panel(cohort, matched)
    ctrl = panel[panel.referred == 0].set_index("event_month")
    assert (ctrl["index_date"] == pd.Timestamp("2022-03-15")).all()
    # C1's event on 10 Mar 2022 is month -1 of the inherited index 15 Mar (it would be
    # month 0 of its own candidate index, 1 Mar); its 1 Mar 2022 event is month -1 too.
    assert ctrl.loc[-1, "gp_appointment"] == 2
    assert ctrl.loc[0, "gp_appointment"] == 0
    assert len(panel) == 2 * 36 and set(panel.subclass) == {1}
    assert c.shape[0] == len(cohort.candidates)  # the cohort is not modified


def test_panel_matched_referred_mismatch_raises(cohort) -> None:
    c1 = _cand(cohort, "c1", "2022-03").iloc[0]
    bad = pd.DataFrame({"row_id": [c1.row_id], "referred": [1], "subclass": [1], "weight": [1.0]})
    with pytest.raises(CohortError, match="disagrees"):
        build_panel(cohort, bad)


def test_build_cohort_no_referrals_raises(small, costs) -> None:
    prog = config.load_programme("chronic_pain")
    with pytest.raises(CohortError, match="no referrals"):
        build_cohort(small, prog, unit_costs=costs, data_period=PERIOD)


# --------------------------------------------------------------------------- placebo
def test_placebo_cohort_shifts_index_18_months(cohort) -> None:
    pc = placebo_cohort(cohort)
    p = pc.participants.set_index("person_id")
    assert p.loc["p1", "index_date"] == pd.Timestamp("2020-09-15")  # 15 Mar 2022 - 18 months
    assert p.loc["p6", "index_date"] == pd.Timestamp("2020-12-20")
    assert pc.spec["placebo_shift_months"] == 18
    # P1 is not a candidate in its own placebo month or after it.
    c = pc.candidates
    month = c.index_month.astype(str)
    assert not ((c.person_id == "p1") & (c.referred == 0) & (month >= "2020-09")).any()


def test_placebo_cohort_leaves_out_short_history(small, mindsong, costs) -> None:
    # With the extract starting 1 Oct 2019, P1 (index 15 Mar 2022) has 29.5 months of history,
    # fewer than 18 + 12 = 30 (it needs 15 Sep 2019): left out; the cohort itself still has it
    # (12 needed). P6 (index 20 Jun 2022) needs 20 Dec 2019: kept.
    c = build_cohort(
        small, mindsong, unit_costs=costs, data_period=(D(2019, 10, 1), PERIOD[1]), **OLD
    )
    pc = placebo_cohort(c)
    assert "p1" in set(c.participants.person_id)
    assert "p1" not in set(pc.participants.person_id)
    assert "p6" in set(pc.participants.person_id)
    assert (pc.excluded.set_index("person_id").loc["p1", "reason"]) == "short_history_for_placebo"


# --------------------------------------------------------------------------- county
def test_panel_counts_reconcile_with_raw_activity(county: Path, mindsong, costs) -> None:
    c = build_cohort(county, mindsong, unit_costs=costs, **OLD)
    panel = naive_panel(c)
    n_months = 36
    assert len(panel) == c.n_participants * n_months
    assert panel["exposure"].between(0, 1).all()
    settings = list(mindsong.outcomes.settings)
    ours = panel.groupby("person_id")[settings].sum().sum(axis=1)
    # Independent count: events in [index - 24 months, index + 12 months) per participant.
    con = duckdb.connect()
    con.register("p", c.participants[["person_id", "index_date"]])
    ref = con.execute(
        f"""
        SELECT p.person_id, count(a.event_id) AS n
        FROM p LEFT JOIN read_parquet('{county / "activity.parquet"}') a
          ON a.person_id = p.person_id
         AND a.event_date >= CAST(p.index_date AS DATE) - INTERVAL 24 MONTH
         AND a.event_date < CAST(p.index_date AS DATE) + INTERVAL 12 MONTH
         AND a.setting IN ({", ".join(f"'{s}'" for s in settings)})
        GROUP BY p.person_id
        """
    ).df()
    ref = ref.set_index("person_id")["n"]
    assert c.n_participants > 10
    pd.testing.assert_series_equal(
        ours.sort_index().astype(np.int64), ref.sort_index().astype(np.int64), check_names=False
    )
    # The participants' prior-12 covariate equals the panel's months -12 .. -1.
    pre = panel[panel.event_month.between(-12, -1)].groupby("unit")["gp_appointment"].sum()
    part = c.candidates[c.candidates.referred == 1].set_index("row_id")["prior12_gp_appointment"]
    pd.testing.assert_series_equal(
        pre.sort_index().astype(np.int64), part.sort_index().astype(np.int64), check_names=False
    )

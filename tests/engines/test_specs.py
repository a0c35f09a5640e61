"""Spec tests (after ehrQL's): a few input rows, the expected output written by hand.

Each spec builds the cohort (and where it says, the panel) on every engine, and checks it
twice: against the plain-pandas reference (``reference.py``, every column) and against the
table written out below, worked from the rules in ``docs/design/data-contract.md`` ("Time")
and ``build_cohort``'s docstring. Programme: mindsong (adults, COPD or asthma, 12 months of
history). Unless a person says otherwise they are born 1960, have COPD since 2010 and are
registered since 2005 (``tables.PERSON``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from evalkit import config

from . import reference
from .compare import assert_same, expected_frame
from .conftest import EngineRun, mindsong
from .tables import event, person, referral, write_tables

pytestmark = [
    pytest.mark.engines,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:Warning"),  # PySpark's
]

D = dt.date
NaT = None
PERIOD = (D(2014, 1, 1), D(2025, 12, 31))


def check_cohort(engine: EngineRun, data: Path, expected: pd.DataFrame | None = None, **kw):
    """Build on ``engine``; the candidates equal the reference's and ``expected``'s columns."""
    kw.setdefault("data_period", PERIOD)
    cohort = engine.cohort(data, **kw)
    ref = reference.candidates(
        reference.Data(data),
        mindsong(),
        data_period=kw["data_period"],
        referral_period=kw.get("referral_period") or (None, None),
    )
    assert_same(cohort.candidates, ref, what=f"{engine.kind} candidates vs the reference")
    if expected is not None:
        assert_same(cohort.candidates, expected, what=f"{engine.kind} candidates vs the spec")
    return cohort


def check_panel(engine: EngineRun, cohort, data: Path, matched=None, **kw) -> pd.DataFrame:
    """Build the panel on ``engine``; it equals the reference's (every column)."""
    panel = engine.panel(cohort, matched, **kw)
    c = cohort.candidates
    if matched is None:
        p = c[c["referred"] == 1]
        matched = pd.DataFrame(
            {"row_id": p["row_id"], "referred": 1, "subclass": p["row_id"], "weight": 1.0}
        )
    ref = reference.panel(
        reference.Data(data),
        cohort.programme,
        config.load_unit_costs(),
        c,
        matched,
        data_period=(cohort.data_start, cohort.data_end),
        months=kw.get("months", (-24, 11)),
    )
    assert_same(panel, ref, what=f"{engine.kind} panel vs the reference")
    return panel


def matched_set(cohort, participant: str, controls: list[str], weight: float = 1.0):
    """One matched set: ``participant``'s row and these people's rows in its index week."""
    c = cohort.candidates
    p = c[(c["person_id"] == participant) & (c["referred"] == 1)]
    week = p["index_week"].iloc[0]
    ctrl = c[(c["referred"] == 0) & (c["index_week"] == week) & c["person_id"].isin(controls)]
    assert len(ctrl) == len(controls), "every control must be a candidate in the week"
    rows = pd.concat([p, ctrl])
    return pd.DataFrame(
        {
            "row_id": rows["row_id"].to_numpy(),
            "referred": rows["referred"].to_numpy(),
            "subclass": int(p["row_id"].iloc[0]),
            "weight": [1.0] + [weight] * len(ctrl),
        }
    )


def cells(panel: pd.DataFrame, people: list[str], columns: str) -> pd.DataFrame:
    """The panel's rows of ``people`` (controls), by person then event month."""
    rows = panel[panel["person_id"].isin(people)].sort_values(["person_id", "event_month"])
    return rows[columns.split()]


# --------------------------------------------------------------------------- risk sets
def test_spec_week_risk_set_referred_later_is_candidate_censored_at_own_referral(
    engine: EngineRun, tmp_path: Path
) -> None:
    """Week of Monday 14 March 2022; referral period March 2022.

    Referred on the Monday: a participant, never a candidate that week. Referred later in the
    week or after the period: a candidate, carrying its own referral date. Referred before the
    Monday (outside the period): neither. "Z_never" sorts first as bytes (and last in en-GB).
    """
    data = write_tables(
        tmp_path,
        [person(p) for p in ("Z_never", "c_before", "c_later", "c_monday", "pa", "pb")],
        [],
        [
            referral("c_before", D(2022, 2, 1)),  # outside the period
            referral("c_monday", D(2022, 3, 14)),  # Monday
            referral("pa", D(2022, 3, 16)),  # Wednesday
            referral("pb", D(2022, 3, 20)),  # Sunday: the same ISO week
            referral("c_later", D(2022, 5, 2)),  # outside the period
        ],
    )
    expected = expected_frame(
        "row_id person_id index_date referred own_referral_date index_week",
        [
            (0, "c_monday", D(2022, 3, 14), 1, NaT, "2022-03-14"),
            (1, "pa", D(2022, 3, 16), 1, NaT, "2022-03-14"),
            (2, "pb", D(2022, 3, 20), 1, NaT, "2022-03-14"),
            (3, "Z_never", D(2022, 3, 14), 0, NaT, "2022-03-14"),
            (4, "c_later", D(2022, 3, 14), 0, D(2022, 5, 2), "2022-03-14"),
            (5, "pa", D(2022, 3, 14), 0, D(2022, 3, 16), "2022-03-14"),
            (6, "pb", D(2022, 3, 14), 0, D(2022, 3, 20), "2022-03-14"),
        ],
    )
    check_cohort(engine, data, expected, referral_period=(D(2022, 3, 1), D(2022, 3, 31)))


def test_spec_eligibility_on_the_monday_with_null_dates_and_covariates(
    engine: EngineRun, tmp_path: Path
) -> None:
    """Participant referred Thursday 3 March 2022; candidates judged on Monday 28 February.

    Registered to or died on the Monday: in (the day counts). The Sunday before: out. NULL
    registered_to and date_of_death: in. COPD diagnosed the Tuesday: out; asthma on the Monday:
    in. Age is 2022 - year of birth, eligible 18 to 121 (age_max + 1). 12 months of history:
    registered by 28 February 2021. Ethnicity Z and 99 are Unknown; M is Black.
    """
    people = [
        person("p"),
        person("p_nocond", copd=None),
        person("c_121", year_of_birth=1901),
        person("c_122", year_of_birth=1900),
        person("c_17", year_of_birth=2005),
        person("c_18", year_of_birth=2004, ethnicity="M"),
        person("c_asthma", copd=None, asthma=D(2022, 2, 28), ethnicity="Z"),
        person("c_copd_tue", copd=D(2022, 3, 1)),
        person("c_dereg_mon", registered_to=D(2022, 2, 28), ethnicity="99"),
        person("c_dereg_sun", registered_to=D(2022, 2, 27)),
        person("c_died_mon", date_of_death=D(2022, 2, 28), registered_to=D(2022, 2, 28)),
        person("c_died_sun", date_of_death=D(2022, 2, 27)),
        person("c_null", registered_to=None, date_of_death=None, depression=D(2022, 2, 28)),
        person("c_reg_late", registered_from=D(2021, 3, 1)),
        person("c_reg_ok", registered_from=D(2021, 2, 28)),
    ]
    refs = [
        referral("ghost", D(2022, 3, 2)),  # not in the population table
        referral("p", D(2022, 3, 3)),
        referral("p_nocond", D(2022, 3, 4)),  # no COPD or asthma: excluded
    ]
    data = write_tables(tmp_path, people, [], refs)
    expected = expected_frame(
        "person_id index_date referred age ethnicity_group cond_copd cond_asthma n_conditions",
        [
            ("p", D(2022, 3, 3), 1, 62, "White", 1, 0, 1),
            ("c_121", D(2022, 2, 28), 0, 121, "White", 1, 0, 1),
            ("c_18", D(2022, 2, 28), 0, 18, "Black", 1, 0, 1),
            ("c_asthma", D(2022, 2, 28), 0, 62, "Unknown", 0, 1, 1),
            ("c_dereg_mon", D(2022, 2, 28), 0, 62, "Unknown", 1, 0, 1),
            ("c_died_mon", D(2022, 2, 28), 0, 62, "White", 1, 0, 1),
            ("c_null", D(2022, 2, 28), 0, 62, "White", 1, 0, 2),
            ("c_reg_ok", D(2022, 2, 28), 0, 62, "White", 1, 0, 1),
            ("p", D(2022, 2, 28), 0, 62, "White", 1, 0, 1),  # referred after the Monday
        ],
    )
    cohort = check_cohort(engine, data, expected)
    excluded = expected_frame(
        "person_id index_date reason",
        [
            ("ghost", D(2022, 3, 2), "not_in_population"),
            ("p_nocond", D(2022, 3, 4), "no_required_condition_by_index"),
        ],
    )
    assert_same(cohort.excluded, excluded, what=f"{engine.kind} excluded")


def test_spec_history_at_month_ends_clamps_the_day(engine: EngineRun, tmp_path: Path) -> None:
    """Index Mondays 29 Feb 2016, 30 Apr 2018 and 31 Jan 2022 (participants referred on them).

    12 months of history: registered by 28 Feb 2015 (29 Feb - 12 months, clamped), 30 Apr 2017
    and 31 Jan 2021. A day later is too late. Participants are candidates at earlier Mondays.
    """
    people = [
        person("h_feb_ok", registered_from=D(2015, 2, 28)),
        person("h_feb_late", registered_from=D(2015, 3, 1)),
        person("h_apr_ok", registered_from=D(2017, 4, 30)),
        person("h_apr_late", registered_from=D(2017, 5, 1)),
        person("h_jan_ok", registered_from=D(2021, 1, 31)),
        person("h_jan_late", registered_from=D(2021, 2, 1)),
        person("p_feb"),
        person("p_apr"),
        person("p_jan"),
    ]
    refs = [
        referral("p_feb", D(2016, 2, 29)),
        referral("p_apr", D(2018, 4, 30)),
        referral("p_jan", D(2022, 1, 31)),
    ]
    data = write_tables(tmp_path, people, [], refs)
    feb, apr, jan = D(2016, 2, 29), D(2018, 4, 30), D(2022, 1, 31)
    expected = expected_frame(
        "person_id index_date referred own_referral_date",
        [
            ("p_feb", feb, 1, NaT),
            ("p_apr", apr, 1, NaT),
            ("p_jan", jan, 1, NaT),
            ("h_feb_ok", feb, 0, NaT),
            ("p_apr", feb, 0, apr),
            ("p_jan", feb, 0, jan),
            ("h_apr_ok", apr, 0, NaT),
            ("h_feb_late", apr, 0, NaT),
            ("h_feb_ok", apr, 0, NaT),
            ("p_jan", apr, 0, jan),
            ("h_apr_late", jan, 0, NaT),
            ("h_apr_ok", jan, 0, NaT),
            ("h_feb_late", jan, 0, NaT),
            ("h_feb_ok", jan, 0, NaT),
            ("h_jan_ok", jan, 0, NaT),
        ],
    )
    check_cohort(engine, data, expected)


def test_spec_first_referral_ties_by_episode_id_bytes_and_referral_period(
    engine: EngineRun, tmp_path: Path
) -> None:
    """Referral period March to June 2022.

    "pt" has two referrals on 10 March: the index is the lowest episode_id as bytes, "Zeta"
    (completed) before "alpha" (did not start; first in en-GB order). "pr" was referred on 1
    January (before the period) and 10 March and 20 April: index 10 March, two referrals in
    the period, and, referred since January, never a candidate. Week of Monday 7 March.
    """
    people = [person("c"), person("pr"), person("pt")]
    refs = [
        referral("pt", D(2022, 3, 10), "alpha", discharge_reason="did_not_start"),
        referral("pt", D(2022, 3, 10), "Zeta", discharge_reason="completed"),
        referral("pr", D(2022, 1, 1), "r1", discharge_reason="dropped_out"),
        referral("pr", D(2022, 3, 10), "r2", discharge_reason="completed"),
        referral("pr", D(2022, 4, 20), "r3", discharge_reason="completed"),
    ]
    data = write_tables(tmp_path, people, [], refs)
    expected = expected_frame(
        "person_id index_date referred own_referral_date",
        [
            ("pr", D(2022, 3, 10), 1, NaT),
            ("pt", D(2022, 3, 10), 1, NaT),
            ("c", D(2022, 3, 7), 0, NaT),
            ("pt", D(2022, 3, 7), 0, D(2022, 3, 10)),
        ],
    )
    cohort = check_cohort(engine, data, expected, referral_period=(D(2022, 3, 1), D(2022, 6, 30)))
    parts = expected_frame(
        "person_id episode_id index_date n_referrals completed",
        [("pr", "r2", D(2022, 3, 10), 2, True), ("pt", "Zeta", D(2022, 3, 10), 2, True)],
    )
    assert_same(cohort.participants, parts, what=f"{engine.kind} participants")


# --------------------------------------------------------------------------- covariates
def test_spec_prior_windows_leave_out_the_index_day(engine: EngineRun, tmp_path: Path) -> None:
    """Prior-w counts are events in (index - w months, index), both ends open.

    "pa" referred Wednesday 16 March 2022; "c1" a candidate on Monday 14 March; "pa" is one
    too (referred after the Monday), measured on the Monday. Elective admissions (the negative
    control) are not a prior-use covariate.
    """
    events = [
        event("pa", D(2021, 3, 16), "gp_appointment"),  # = index - 12 months: out
        event("pa", D(2021, 3, 17), "gp_appointment"),  # prior 12
        event("pa", D(2021, 12, 16), "ae_attendance"),  # = index - 3 months: prior 12 only
        event("pa", D(2021, 12, 17), "ae_attendance"),  # prior 3 and 12
        event("pa", D(2022, 3, 15), "ooh_contact"),  # the day before: prior 3 and 12
        event("pa", D(2022, 3, 16), "outpatient_attendance"),  # the index day: out
        event("pa", D(2022, 3, 17), "gp_appointment"),  # after: out
        event("c1", D(2021, 3, 14), "outpatient_attendance"),  # = Monday - 12 months: out
        event("c1", D(2021, 3, 15), "outpatient_attendance"),  # prior 12
        event("c1", D(2021, 12, 14), "emergency_admission"),  # = Monday - 3 months: 12 only
        event("c1", D(2021, 12, 15), "emergency_admission"),  # prior 3 and 12
        event("c1", D(2022, 3, 1), "elective_admission"),  # not an outcome setting
        event("c1", D(2022, 3, 13), "gp_appointment"),  # prior 3 and 12
        event("c1", D(2022, 3, 14), "gp_appointment"),  # its index day: out
    ]
    data = write_tables(
        tmp_path, [person("c1"), person("pa")], events, [referral("pa", D(2022, 3, 16))]
    )
    s = "gp_appointment ae_attendance emergency_admission outpatient_attendance ooh_contact"
    header = "person_id referred " + " ".join(f"prior{w}_{x}" for w in (12, 3) for x in s.split())
    expected = expected_frame(
        header,
        [
            # 12 months: gp ae ea op ooh | 3 months: gp ae ea op ooh
            ("pa", 1, 1, 2, 0, 0, 1, 0, 1, 0, 0, 1),
            ("c1", 0, 1, 0, 2, 1, 0, 1, 0, 1, 0, 0),
            # pa on 14 March: (14 Mar 2021, 14 Mar 2022) holds 16 and 17 March 2021
            ("pa", 0, 2, 2, 0, 0, 0, 0, 2, 0, 0, 0),
        ],
    )
    check_cohort(engine, data, expected)


def test_spec_prior_windows_at_month_ends(engine: EngineRun, tmp_path: Path) -> None:
    """Window starts clamp: 31 May 2021 - 3 months = 28 Feb 2021; 29 Feb 2016 - 12 = 28 Feb
    2015; 31 Jan 2022 - 3 = 31 Oct 2021; 30 Apr 2018 - 3 = 30 Jan 2018. The start day itself
    is out, the day after in (GP for the 3-month window's start, A&E for the 12-month's).
    """
    events = [
        event("p_may", D(2021, 2, 28), "gp_appointment"),  # = start of 3: 12 only
        event("p_may", D(2021, 3, 1), "gp_appointment"),  # prior 3
        event("p_may", D(2020, 5, 31), "ae_attendance"),  # = start of 12: out
        event("p_may", D(2020, 6, 1), "ae_attendance"),  # prior 12
        event("p_feb", D(2015, 11, 29), "gp_appointment"),  # = start of 3: 12 only
        event("p_feb", D(2015, 11, 30), "gp_appointment"),  # prior 3
        event("p_feb", D(2015, 2, 28), "ae_attendance"),  # = start of 12: out
        event("p_feb", D(2015, 3, 1), "ae_attendance"),  # prior 12
        event("p_jan", D(2021, 10, 31), "gp_appointment"),  # = start of 3: 12 only
        event("p_jan", D(2021, 11, 1), "gp_appointment"),  # prior 3
        event("p_jan", D(2021, 1, 31), "ae_attendance"),  # = start of 12: out
        event("p_jan", D(2021, 2, 1), "ae_attendance"),  # prior 12
        event("p_apr", D(2018, 1, 30), "gp_appointment"),  # = start of 3: 12 only
        event("p_apr", D(2018, 1, 31), "gp_appointment"),  # prior 3
        event("p_apr", D(2017, 4, 30), "ae_attendance"),  # = start of 12: out
        event("p_apr", D(2017, 5, 1), "ae_attendance"),  # prior 12
    ]
    refs = [
        referral("p_feb", D(2016, 2, 29)),
        referral("p_apr", D(2018, 4, 30)),
        referral("p_may", D(2021, 5, 31)),
        referral("p_jan", D(2022, 1, 31)),
    ]
    people = [person(p) for p in ("p_apr", "p_feb", "p_jan", "p_may")]
    data = write_tables(tmp_path, people, events, refs)
    header = "person_id referred prior12_gp_appointment prior3_gp_appointment "
    header += "prior12_ae_attendance prior3_ae_attendance"
    expected = expected_frame(
        header,
        [
            ("p_feb", 1, 2, 1, 1, 0),
            ("p_apr", 1, 2, 1, 1, 0),
            ("p_may", 1, 2, 1, 1, 0),
            ("p_jan", 1, 2, 1, 1, 0),
        ],
    )
    cohort = check_cohort(engine, data)
    assert_same(
        cohort.candidates[cohort.candidates["referred"] == 1],
        expected,
        what=f"{engine.kind} participants' prior counts",
    )


# --------------------------------------------------------------------------- panels
def test_spec_panel_event_months_at_month_ends(engine: EngineRun, tmp_path: Path) -> None:
    """Event months -2 .. 1 of three index dates (the index day itself in no month).

    31 Jan 2024: -2 = 1-31 Dec, -1 = 1-30 Jan, 0 = 1-29 Feb, 1 = 1-31 Mar (deregistered 20
    Mar: exposure 20/31). 29 Feb 2024: -2 = 30 Dec-29 Jan, -1 = 30 Jan-28 Feb, 0 = 1-29 Mar,
    1 = 30 Mar-29 Apr. 30 Apr 2024: -2 = 1-30 Mar, -1 = 31 Mar-29 Apr, 0 = 1-30 May, 1 = 31
    May-30 Jun (the data end 15 June: exposure 16/31).
    """
    people = [
        person("pj", registered_to=D(2024, 3, 20)),
        person("pl"),
        person("pr", registered_from=D(2023, 3, 15)),
    ]
    gp, ae = "gp_appointment", "ae_attendance"
    events = [
        event("pj", D(2023, 11, 30), gp),  # month -3: out of the panel
        event("pj", D(2023, 12, 31), gp),  # -2
        event("pj", D(2024, 1, 1), gp),  # -1
        event("pj", D(2024, 1, 30), gp),  # -1
        event("pj", D(2024, 1, 31), gp),  # index day: none
        event("pj", D(2024, 2, 1), ae),  # 0
        event("pj", D(2024, 2, 29), ae),  # 0
        event("pj", D(2024, 3, 1), ae),  # 1
        event("pl", D(2024, 1, 29), gp),  # -2
        event("pl", D(2024, 1, 30), gp),  # -1
        event("pl", D(2024, 2, 28), gp),  # -1
        event("pl", D(2024, 2, 29), ae),  # index day: none
        event("pl", D(2024, 3, 1), ae),  # 0
        event("pl", D(2024, 3, 29), ae),  # 0
        event("pl", D(2024, 3, 30), ae),  # 1
        event("pl", D(2024, 4, 29), gp),  # 1
        event("pl", D(2024, 4, 30), gp),  # 2: out
        event("pr", D(2024, 2, 29), gp),  # -3: out
        event("pr", D(2024, 3, 1), gp),  # -2
        event("pr", D(2024, 3, 30), gp),  # -2
        event("pr", D(2024, 3, 31), gp),  # -1
        event("pr", D(2024, 5, 30), ae),  # 0
        event("pr", D(2024, 5, 31), ae),  # 1
    ]
    refs = [
        referral("pj", D(2024, 1, 31)),
        referral("pl", D(2024, 2, 29)),
        referral("pr", D(2024, 4, 30)),
    ]
    data = write_tables(tmp_path, people, events, refs)
    cohort = check_cohort(engine, data, data_period=(D(2014, 1, 1), D(2024, 6, 15)))
    panel = check_panel(engine, cohort, data, months=(-2, 1))
    expected = expected_frame(
        "person_id event_month gp_appointment ae_attendance exposure",
        [
            ("pj", -2, 1, 0, 1.0),
            ("pj", -1, 2, 0, 1.0),
            ("pj", 0, 0, 2, 1.0),
            ("pj", 1, 0, 1, 20 / 31),
            ("pl", -2, 1, 0, 1.0),
            ("pl", -1, 2, 0, 1.0),
            ("pl", 0, 0, 2, 1.0),
            ("pl", 1, 1, 1, 1.0),
            ("pr", -2, 2, 0, 1.0),
            ("pr", -1, 1, 0, 1.0),
            ("pr", 0, 0, 1, 1.0),
            ("pr", 1, 0, 1, 16 / 31),
        ],
    )
    assert "elective_admission" not in panel.columns  # not in the data at all
    assert_same(cells(panel, ["pj", "pl", "pr"], " ".join(expected.columns)), expected)


def test_spec_matched_panel_inherited_index_censoring_and_exposure(
    engine: EngineRun, tmp_path: Path
) -> None:
    """Participant "p" referred Wednesday 16 March 2022; controls from Monday 14 March.

    Controls inherit 16 March: month -1 = 17 Feb-15 Mar, 0 = 17 Mar-16 Apr (31 days), 1 = 17
    Apr-16 May (30 days), 2 = 17 May-16 Jun. "c_died" died 20 April: month 1 exposure 4/30.
    Own referrals (outside the referral period, 16 March only): 15 March, before the
    inherited index, is censor month 0; 2 June is month 2; 17 June is month 3, after the
    panel's last month: empty. Elective admissions are counted, never costed.
    """
    people = [
        person("p"),
        person("c_died", date_of_death=D(2022, 4, 20)),
        person("c_ref_15mar"),
        person("c_ref_2jun"),
        person("c_ref_17jun"),
    ]
    gp = "gp_appointment"
    events = [
        event("c_died", D(2022, 3, 15), gp),  # -1
        event("c_died", D(2022, 3, 16), gp),  # the inherited index day: none
        event("c_died", D(2022, 3, 17), gp),  # 0
        event("c_died", D(2022, 4, 1), "elective_admission"),  # 0
        event("c_ref_2jun", D(2022, 5, 16), gp),  # 1
        event("c_ref_2jun", D(2022, 5, 17), gp),  # 2
    ]
    refs = [
        referral("p", D(2022, 3, 16)),
        referral("c_ref_15mar", D(2022, 3, 15)),
        referral("c_ref_2jun", D(2022, 6, 2)),
        referral("c_ref_17jun", D(2022, 6, 17)),
    ]
    data = write_tables(tmp_path, people, events, refs)
    cohort = check_cohort(engine, data, referral_period=(D(2022, 3, 16), D(2022, 3, 16)))
    controls = ["c_died", "c_ref_15mar", "c_ref_17jun", "c_ref_2jun"]
    matched = matched_set(cohort, "p", controls, weight=0.25)
    panel = check_panel(engine, cohort, data, matched, months=(-1, 2))
    units = panel.drop_duplicates("unit").sort_values("person_id")
    expected_units = expected_frame(
        "person_id referred weight index_date censor_month",
        [
            ("c_died", 0, 0.25, D(2022, 3, 16), None),
            ("c_ref_15mar", 0, 0.25, D(2022, 3, 16), 0),
            ("c_ref_17jun", 0, 0.25, D(2022, 3, 16), None),
            ("c_ref_2jun", 0, 0.25, D(2022, 3, 16), 2),
            ("p", 1, 1.0, D(2022, 3, 16), None),
        ],
    )
    assert_same(units, expected_units, what=f"{engine.kind} matched units")
    gp_cost = config.load_unit_costs().cost_of(gp)
    expected = expected_frame(
        "person_id event_month gp_appointment elective_admission total_cost exposure",
        [
            ("c_died", -1, 1, 0, gp_cost, 1.0),
            ("c_died", 0, 1, 1, gp_cost, 1.0),
            ("c_died", 1, 0, 0, 0.0, 4 / 30),
            ("c_died", 2, 0, 0, 0.0, 0.0),
            ("c_ref_2jun", -1, 0, 0, 0.0, 1.0),
            ("c_ref_2jun", 0, 0, 0, 0.0, 1.0),
            ("c_ref_2jun", 1, 1, 0, gp_cost, 1.0),
            ("c_ref_2jun", 2, 1, 0, gp_cost, 1.0),
        ],
    )
    got = cells(panel, ["c_died", "c_ref_2jun"], " ".join(expected.columns))
    assert_same(got, expected, what=f"{engine.kind} panel cells")


def test_spec_exposure_at_the_data_period_and_registration_boundaries(
    engine: EngineRun, tmp_path: Path
) -> None:
    """Data period 10 February 2021 to 10 April 2022; index Wednesday 16 March 2022.

    Month -14 = 17 Jan-16 Feb 2021 (31 days): observed from 10 February, 7/31; "pb" registered
    14 February, 3/31. Month -15 is before the data: 0. Month 0 = 17 Mar-16 Apr: to 10
    April, 25/31; month 1 after the data: 0.
    """
    people = [person("pa"), person("pb", registered_from=D(2021, 2, 14))]
    refs = [referral("pa", D(2022, 3, 16)), referral("pb", D(2022, 3, 16))]
    data = write_tables(tmp_path, people, [], refs)
    cohort = check_cohort(engine, data, data_period=(D(2021, 2, 10), D(2022, 4, 10)))
    early = check_panel(engine, cohort, data, months=(-15, -14))
    late = check_panel(engine, cohort, data, months=(0, 1))
    expected = expected_frame(
        "person_id event_month exposure",
        [
            ("pa", -15, 0.0),
            ("pa", -14, 7 / 31),
            ("pa", 0, 25 / 31),
            ("pa", 1, 0.0),
            ("pb", -15, 0.0),
            ("pb", -14, 3 / 31),
            ("pb", 0, 25 / 31),
            ("pb", 1, 0.0),
        ],
    )
    both = pd.concat([early, late]).sort_values(["person_id", "event_month"])
    assert_same(both, expected, what=f"{engine.kind} exposure")

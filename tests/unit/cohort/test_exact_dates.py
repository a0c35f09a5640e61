"""Tests for the cohort on exact dates: contract event months, weekly risk sets, censoring.

The default design (``risk_set="week"``, ``event_months="day_after"``): month m runs from the
day after index + m calendar months to index + m + 1 months, both inclusive, so the index day
ends month -1 and prior windows are (index - w months, index]. Every expected number is worked
out in the comment beside it from that rule, not by running the code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from evalkit import config
from evalkit.cohort import build_cohort, build_panel, naive_panel, placebo_cohort
from evalkit.dates import event_month_of_days, event_month_start

from .tables import person, write_tables

D = dt.date
PERIOD = (D(2019, 4, 1), D(2025, 3, 31))
SETTINGS = ["gp_appointment", "ae_attendance", "emergency_admission"]


@pytest.fixture(scope="module")
def mindsong() -> config.Programme:
    return config.load_programme("mindsong")


@pytest.fixture(scope="module")
def costs() -> config.UnitCostTable:
    return config.load_unit_costs()


# --------------------------------------------------------------------------- the rule itself
@pytest.mark.parametrize(
    ("index", "m", "start"),
    [
        (D(2022, 3, 15), 0, D(2022, 3, 16)),  # the day after the index
        (D(2022, 3, 15), -1, D(2022, 2, 16)),  # month -1 = 16 Feb .. 15 Mar
        (D(2024, 1, 31), 1, D(2024, 3, 1)),  # 31 Jan + 1 month = 29 Feb (leap), + 1 day
        (D(2023, 1, 31), 1, D(2023, 3, 1)),  # 28 Feb + 1 day
        (D(2024, 1, 31), 0, D(2024, 2, 1)),  # month 0 = 1 Feb .. 29 Feb
        (D(2024, 2, 29), 12, D(2025, 3, 1)),  # 29 Feb 2024 + 12 months = 28 Feb 2025
        (D(2024, 2, 29), -12, D(2023, 3, 1)),  # 28 Feb 2023 + 1 day
        (D(2023, 3, 1), -1, D(2023, 2, 2)),  # index on the 1st: month -1 = 2 Feb .. 1 Mar
    ],
)
def test_event_month_start_tricky_dates(index: dt.date, m: int, start: dt.date) -> None:
    assert event_month_start(index, m) == start


def test_event_month_of_days_matches_start_rule() -> None:
    # Every day from 2 years before to 1 year after three tricky index dates: the event month
    # from the vectorised rule lies between the starts of that month and the next.
    for index in (D(2024, 1, 31), D(2024, 2, 29), D(2023, 3, 1)):
        days = np.arange(-800, 400) + (index - D(1970, 1, 1)).days
        idx = np.full(len(days), (index - D(1970, 1, 1)).days)
        m = event_month_of_days(days, idx)
        for d, mm in zip(days[::7], m[::7], strict=True):
            e = D(1970, 1, 1) + dt.timedelta(days=int(d))
            assert event_month_start(index, int(mm)) <= e < event_month_start(index, int(mm) + 1)


# --------------------------------------------------------------------------- a hand-made county
@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Index week of 14 March 2022 (Monday) and three tricky index dates."""
    people = [
        person("pa"),  # referred Wed 16 Mar 2022
        person("pb"),  # referred Thu 17 Mar 2022: 3 days after the Monday
        person("pc"),  # referred Mon 14 Mar 2022: on the Monday
        person("pd"),  # referred Wed 16 Mar 2022, the same day as pa
        person("pe"),  # referred Fri 20 May 2022
        person("pf"),  # referred Thu 1 Jun 2023 (15 months after pa's index)
        person("pj"),  # referred Wed 31 Jan 2024
        person("pl"),  # referred Thu 29 Feb 2024
        person("pm"),  # referred Wed 1 Mar 2023 (index on the 1st)
        person("pg", date_of_death=D(2022, 4, 20)),  # referred Wed 16 Mar 2022, died 20 Apr
        person("c1", sex="M"),  # never referred
        # registered in Jan 2023: 12 months of history by 29 Feb 2024, not 24
        person("ps", registered_from=D(2023, 1, 10)),
    ]
    events = [
        ("pa", D(2022, 3, 16), "outpatient_attendance"),  # index day: month -1, prior 3, 12
        ("pa", D(2022, 3, 17), "gp_appointment"),  # month 0
        ("pa", D(2021, 12, 16), "gp_appointment"),  # = index - 3 months: prior 12 only
        ("pa", D(2021, 12, 17), "ae_attendance"),  # month -3: prior 3 and 12
        ("pa", D(2021, 3, 16), "gp_appointment"),  # = index - 12 months: month -13, neither
        ("pa", D(2021, 3, 17), "emergency_admission"),  # month -12: prior 12
        ("pj", D(2024, 1, 31), "gp_appointment"),  # month -1 (index day)
        ("pj", D(2024, 2, 1), "gp_appointment"),  # month 0 (1 .. 29 Feb)
        ("pj", D(2024, 2, 29), "gp_appointment"),  # month 0
        ("pj", D(2024, 3, 1), "gp_appointment"),  # month 1
        ("pl", D(2024, 2, 29), "ae_attendance"),  # month -1 (index day)
        ("pl", D(2024, 3, 29), "ae_attendance"),  # month 0 (1 .. 29 Mar)
        ("pl", D(2024, 3, 30), "ae_attendance"),  # month 1
        ("pl", D(2023, 2, 28), "gp_appointment"),  # = index - 12 months: month -13
        ("pl", D(2023, 3, 1), "gp_appointment"),  # month -12: prior 12
        ("pm", D(2023, 2, 1), "gp_appointment"),  # month -2
        ("pm", D(2023, 2, 2), "gp_appointment"),  # month -1 (2 Feb .. 1 Mar)
        ("pm", D(2023, 3, 1), "gp_appointment"),  # month -1 (index day)
        ("pm", D(2023, 4, 1), "gp_appointment"),  # month 0 (2 Mar .. 1 Apr)
        ("pm", D(2023, 4, 2), "gp_appointment"),  # month 1
        ("c1", D(2022, 3, 14), "gp_appointment"),  # c1's Monday index day: its prior 3
        ("c1", D(2022, 3, 15), "gp_appointment"),  # after its Monday, before pa's index
        ("c1", D(2022, 3, 16), "gp_appointment"),  # on pa's index day
        ("c1", D(2022, 3, 17), "gp_appointment"),  # after pa's index
    ]
    referrals = [
        ("pa", D(2022, 3, 16), "mindsong", "completed"),
        ("pb", D(2022, 3, 17), "mindsong", "completed"),
        ("pc", D(2022, 3, 14), "mindsong", "completed"),
        ("pd", D(2022, 3, 16), "mindsong", "completed"),
        ("pe", D(2022, 5, 20), "mindsong", "completed"),
        ("pf", D(2023, 6, 1), "mindsong", "completed"),
        ("pj", D(2024, 1, 31), "mindsong", "completed"),
        ("pl", D(2024, 2, 29), "mindsong", "completed"),
        ("pm", D(2023, 3, 1), "mindsong", "completed"),
        ("pg", D(2022, 3, 16), "mindsong", "completed"),
        ("ps", D(2024, 2, 29), "mindsong", "completed"),
    ]
    return write_tables(tmp_path_factory.mktemp("exact"), people, events, referrals)


@pytest.fixture(scope="module")
def cohort(small: Path, mindsong, costs):
    """The data contract's literal windows: the index day's contacts are baseline use."""
    return build_cohort(small, mindsong, unit_costs=costs, data_period=PERIOD, index_day="baseline")


@pytest.fixture(scope="module")
def cohort_excl(small: Path, mindsong, costs):
    """The default: the index day's own contacts left out of prior windows and month -1."""
    return build_cohort(small, mindsong, unit_costs=costs, data_period=PERIOD)


def _rows(cohort, pid: str, referred: int) -> pd.DataFrame:
    c = cohort.candidates
    return c[(c.person_id == pid) & (c.referred == referred)]


def _week(cohort, pid: str, week: str) -> pd.DataFrame:
    c = cohort.candidates
    return c[(c.person_id == pid) & (c.referred == 0) & (c.index_week == week)]


def test_default_design_is_week_and_day_after(cohort, cohort_excl) -> None:
    assert cohort.spec["risk_set"] == "week"
    assert cohort.spec["event_months"] == "day_after"
    assert cohort_excl.spec["index_day"] == "excluded"
    assert cohort.spec["index_day"] == "baseline"


def test_index_day_excluded_from_prior_windows(cohort, cohort_excl) -> None:
    """Default: the index-day outpatient contact of pa is in no prior window (baseline: it is)."""
    base, excl = _rows(cohort, "pa", 1).iloc[0], _rows(cohort_excl, "pa", 1).iloc[0]
    assert base.prior3_outpatient_attendance == 1
    assert excl.prior3_outpatient_attendance == 0
    assert excl.prior12_outpatient_attendance == 0
    assert excl.prior3_ae_attendance == base.prior3_ae_attendance == 1  # 17 Dec: both
    assert excl.prior12_gp_appointment == base.prior12_gp_appointment == 1
    # pl: A&E on the index day 29 Feb 2024 is left out.
    assert _rows(cohort_excl, "pl", 1).iloc[0].prior12_ae_attendance == 0
    # A control measured at its own Monday: c1's GP contact on Monday 14 Mar is left out.
    assert _week(cohort_excl, "c1", "2022-03-14").iloc[0].prior3_gp_appointment == 0
    at = cohort_excl.covariates_at(
        pd.DataFrame({"person_id": ["c1"], "index_date": pd.to_datetime(["2022-03-16"])})
    )
    assert at.iloc[0]["prior3_gp_appointment"] == 2  # 14 and 15 Mar; 16 Mar is the index day


def test_index_day_excluded_from_month_minus_1(cohort, cohort_excl) -> None:
    """Month -1 neither counts the index day's contacts nor its person-time."""
    base = naive_panel(cohort).set_index(["person_id", "event_month"])
    excl = naive_panel(cohort_excl).set_index(["person_id", "event_month"])
    assert base.loc[("pa", -1), "outpatient_attendance"] == 1
    assert excl.loc[("pa", -1), "outpatient_attendance"] == 0
    assert excl.loc[("pl", -1), "ae_attendance"] == 0  # 29 Feb, pl's index day
    assert excl.loc[("pm", -1), "gp_appointment"] == 1  # 2 Feb; 1 Mar is the index day
    # Other months are untouched.
    for m in (-12, 0, 1):
        assert excl.loc[("pa", m)].equals(base.loc[("pa", m)])
    # Exposure: month -1 of pa (17 Feb .. 16 Mar 2022, 28 days) without its last day: 27 of 27.
    assert excl.loc[("pa", -1), "exposure"] == 1.0


def test_build_cohort_unknown_design_raises(small, mindsong, costs) -> None:
    with pytest.raises(ValueError, match="risk_set"):
        build_cohort(small, mindsong, unit_costs=costs, risk_set="day")
    with pytest.raises(ValueError, match="event_months"):
        build_cohort(small, mindsong, unit_costs=costs, event_months="before")


# --------------------------------------------------------------------------- weekly risk sets
def test_week_risk_set_index_is_monday_of_participant_weeks(cohort) -> None:
    c = cohort.candidates
    cand = c[c.referred == 0]
    assert (cand["index_date"].dt.day_of_week == 0).all()
    # Weeks holding a referral: 14 Mar 2022, 16 May 2022, 27 Feb 2023 (1 Mar 2023),
    # 29 May 2023 (1 Jun 2023), 29 Jan 2024 (31 Jan), 26 Feb 2024 (29 Feb).
    weeks = sorted(cand["index_week"].astype(str).unique())
    expected = ["2022-03-14", "2022-05-16", "2023-02-27", "2023-05-29", "2024-01-29"]
    assert set(expected) <= set(weeks) <= {*expected, "2024-02-26"}
    p = cohort.participants.set_index("person_id")
    assert p.loc["pa", "index_week"] == "2022-03-14"
    assert p.loc["pm", "index_week"] == "2023-02-27"


def test_week_risk_set_referred_3_days_after_monday_stays_candidate(cohort) -> None:
    row = _week(cohort, "pb", "2022-03-14")
    assert len(row) == 1  # referred Thu 17 Mar, after the Monday: still a candidate
    assert row["index_date"].iloc[0] == pd.Timestamp("2022-03-14")
    assert row["own_referral_date"].iloc[0] == pd.Timestamp("2022-03-17")
    assert len(_week(cohort, "pa", "2022-03-14")) == 1  # referred Wed 16 Mar: likewise


def test_week_risk_set_referred_on_monday_is_not_candidate(cohort) -> None:
    assert len(_week(cohort, "pc", "2022-03-14")) == 0  # referred on the Monday itself
    assert len(_rows(cohort, "pc", 1)) == 1  # but a participant
    # and never a candidate after their referral
    assert len(_rows(cohort, "pc", 0)) == 0


def test_week_risk_set_own_referral_date_nat_for_never_referred_and_participants(cohort) -> None:
    c1 = _rows(cohort, "c1", 0)
    assert len(c1) >= 5 and c1["own_referral_date"].isna().all()
    assert _rows(cohort, "pa", 1)["own_referral_date"].isna().all()
    # pe (referred 20 May 2022) is a candidate in March 2022 with that referral date kept
    pe = _week(cohort, "pe", "2022-03-14")
    assert pe["own_referral_date"].iloc[0] == pd.Timestamp("2022-05-20")


def test_month_risk_set_option_drops_people_referred_later_in_month(small, mindsong, costs) -> None:
    old = build_cohort(small, mindsong, unit_costs=costs, data_period=PERIOD, risk_set="month")
    c = old.candidates
    march = set(c[(c.referred == 0) & (c.index_month == "2022-03")].person_id)
    assert "pb" not in march and "pa" not in march  # referred in March: not candidates
    assert {"c1", "pe"} <= march
    assert (c.loc[c.referred == 0, "index_date"].dt.day == 1).all()
    assert "index_week" in c.columns and "own_referral_date" in c.columns


# --------------------------------------------------------------------------- covariates
def test_prior_counts_include_index_day(cohort) -> None:
    row = _rows(cohort, "pa", 1).iloc[0]
    # prior 3 = (16 Dec 2021, 16 Mar 2022]: outpatient 16 Mar (index day) = 1; GP 16 Dec is
    # out; A&E 17 Dec = 1.
    assert row.prior3_outpatient_attendance == 1
    assert row.prior3_gp_appointment == 0
    assert row.prior3_ae_attendance == 1
    # prior 12 = (16 Mar 2021, 16 Mar 2022]: GP 16 Dec 2021 = 1 (16 Mar 2021 is out); EA 17
    # Mar 2021 = 1; A&E 17 Dec = 1; outpatient 1.
    assert row.prior12_gp_appointment == 1
    assert row.prior12_emergency_admission == 1
    assert row.prior12_ae_attendance == 1
    assert row.prior12_outpatient_attendance == 1


def test_prior_counts_29_february_window(cohort) -> None:
    row = _rows(cohort, "pl", 1).iloc[0]
    # prior 12 = (28 Feb 2023, 29 Feb 2024]: GP 1 Mar 2023 = 1 (28 Feb 2023 is out); A&E on
    # the index day 29 Feb 2024 = 1.
    assert row.prior12_gp_appointment == 1
    assert row.prior12_ae_attendance == 1
    assert row.prior3_ae_attendance == 1


def test_index_option_prior_counts_exclude_index_day(small, mindsong, costs) -> None:
    old = build_cohort(small, mindsong, unit_costs=costs, data_period=PERIOD, event_months="index")
    row = _rows(old, "pa", 1).iloc[0]
    # prior 3 = [16 Dec 2021, 16 Mar 2022): GP 16 Dec 2021 = 1; the index-day outpatient
    # attendance is follow-up (month 0), not prior.
    assert row.prior3_gp_appointment == 1
    assert row.prior3_outpatient_attendance == 0
    assert row.prior12_outpatient_attendance == 0
    assert row.prior12_gp_appointment == 2  # 16 Mar 2021 and 16 Dec 2021
    assert row.prior12_emergency_admission == 1


def test_covariates_at_measures_control_at_inherited_date(cohort) -> None:
    c1 = _week(cohort, "c1", "2022-03-14").iloc[0]
    # At its own Monday, 14 Mar: prior 3 = (14 Dec 2021, 14 Mar 2022] holds the 14 Mar GP.
    assert c1.prior3_gp_appointment == 1
    rows = pd.DataFrame(
        {"person_id": ["c1", "c1"], "index_date": pd.to_datetime(["2022-03-16", "2022-03-14"])},
        index=[10, 20],
    )
    at = cohort.covariates_at(rows)
    assert list(at.index) == [10, 20]
    # At pa's index, 16 Mar: 14, 15 and 16 Mar = 3 GP events; 17 Mar is after it.
    assert at.loc[10, "prior3_gp_appointment"] == 3
    assert at.loc[20, "prior3_gp_appointment"] == 1
    assert at.loc[10, "sex"] == "M" and at.loc[10, "age"] == 2022 - 1960
    cols = [c for c in cohort.candidates.columns if c.startswith(("prior", "cond_", "age"))]
    assert set(cols) <= set(at.columns)


# --------------------------------------------------------------------------- panels
def test_panel_event_months_day_after(cohort) -> None:
    panel = naive_panel(cohort).set_index(["person_id", "event_month"])
    assert panel.loc[("pa", -1), "outpatient_attendance"] == 1  # index-day contact: baseline
    assert panel.loc[("pa", 0), "outpatient_attendance"] == 0
    assert panel.loc[("pa", 0), "gp_appointment"] == 1  # 17 Mar
    assert panel.loc[("pa", -12), "emergency_admission"] == 1  # 17 Mar 2021
    assert panel.loc[("pa", -13), "gp_appointment"] == 1  # 16 Mar 2021
    assert panel.loc[("pj", -1), "gp_appointment"] == 1  # 31 Jan 2024
    assert panel.loc[("pj", 0), "gp_appointment"] == 2  # 1 and 29 Feb
    assert panel.loc[("pj", 1), "gp_appointment"] == 1  # 1 Mar
    assert panel.loc[("pl", -1), "ae_attendance"] == 1  # 29 Feb
    assert panel.loc[("pl", 0), "ae_attendance"] == 1  # 29 Mar
    assert panel.loc[("pl", 1), "ae_attendance"] == 1  # 30 Mar
    assert panel.loc[("pm", -2), "gp_appointment"] == 1  # 1 Feb 2023
    assert panel.loc[("pm", -1), "gp_appointment"] == 2  # 2 Feb and 1 Mar
    assert panel.loc[("pm", 0), "gp_appointment"] == 1  # 1 Apr
    assert panel.loc[("pm", 1), "gp_appointment"] == 1  # 2 Apr


def test_panel_exposure_uses_same_boundaries(cohort) -> None:
    p = naive_panel(cohort).set_index(["person_id", "event_month"])
    # pg: index 16 Mar 2022, died 20 Apr. Month 0 = 17 Mar .. 16 Apr (31 days) fully at
    # risk; month 1 = 17 Apr .. 16 May (30 days), alive 17-20 Apr = 4 days.
    assert p.loc[("pg", 0), "exposure"] == 1.0
    assert p.loc[("pg", 1), "exposure"] == pytest.approx(4 / 30)
    assert p.loc[("pg", 2), "exposure"] == 0.0


def test_panel_censor_month_of_controls(cohort) -> None:
    pa = _rows(cohort, "pa", 1).iloc[0]
    week = "2022-03-14"
    ctrl = {pid: _week(cohort, pid, week).iloc[0] for pid in ("c1", "pb", "pd", "pe", "pf")}
    matched = pd.DataFrame(
        {
            "row_id": [pa.row_id, *[r.row_id for r in ctrl.values()]],
            "referred": [1, 0, 0, 0, 0, 0],
            "subclass": [1] * 6,
            "weight": [1.0] * 6,
        }
    )
    panel = build_panel(cohort, matched)
    units = panel.drop_duplicates("unit").set_index("person_id")
    # Inherited index 16 Mar 2022: month 0 = 17 Mar .. 16 Apr, month 2 = 17 May .. 16 Jun.
    assert pd.isna(units.loc["pa", "censor_month"])  # participant
    assert pd.isna(units.loc["c1", "censor_month"])  # never referred
    assert units.loc["pb", "censor_month"] == 0  # referred 17 Mar: month 0
    assert units.loc["pd", "censor_month"] == 0  # referred on the inherited index date
    assert units.loc["pe", "censor_month"] == 2  # referred 20 May
    assert pd.isna(units.loc["pf", "censor_month"])  # 1 Jun 2023: month 14 > 11
    assert str(panel["censor_month"].dtype) == "Int16"
    assert (units["index_date"] == pd.Timestamp("2022-03-16")).all()
    assert (units["index_month"] == "2022-03").all()
    assert (units["index_week"] == week).all()
    assert panel.attrs["spec"]["control_units_censored"] == 3
    assert any("3 of 5 control units" in n for n in panel.attrs["notes"])
    # exposure is not censored: pe's months after its referral are still at risk
    pe = panel[panel.person_id == "pe"].set_index("event_month")
    assert pe.loc[5, "exposure"] == 1.0
    # c1's contacts on 14-16 Mar are baseline of the inherited index, 17 Mar is month 0
    c1 = panel[panel.person_id == "c1"].set_index("event_month")
    assert c1.loc[-1, "gp_appointment"] == 3 and c1.loc[0, "gp_appointment"] == 1


# --------------------------------------------------------------------------- short windows
def test_window_coverage_counts_short_history_and_follow_up(cohort) -> None:
    p = cohort.participants.set_index("person_id")
    # ps: registered 10 Jan 2023, index 29 Feb 2024: month -24 starts 1 Mar 2022 -> short.
    assert not p.loc["ps", "full_history_24m"]
    assert p.loc["pa", "full_history_24m"]
    # Data end 31 Mar 2025: pl (29 Feb 2024) needs follow-up through 28 Feb 2025 -> full;
    # pg died 20 Apr 2022 -> short follow-up.
    assert p.loc["pl", "full_followup_12m"]
    assert not p.loc["pg", "full_followup_12m"]
    t = cohort.window_coverage().set_index("window")
    n = cohort.n_participants
    assert t.loc["history_24m", "incomplete"] == int((~p["full_history_24m"]).sum()) >= 1
    assert (t["complete"] + t["incomplete"] == n).all()
    assert any("Short windows" in note for note in cohort.notes)


def test_placebo_cohort_keeps_design(cohort) -> None:
    pc = placebo_cohort(cohort, 6)
    assert pc.spec["risk_set"] == "week" and pc.spec["event_months"] == "day_after"
    cand = pc.candidates[pc.candidates.referred == 0]
    assert (cand["index_date"].dt.day_of_week == 0).all()


# --------------------------------------------------------------------------- generated county
@pytest.fixture(scope="module")
def county_cohort(county: Path, mindsong, costs):
    return build_cohort(county, mindsong, unit_costs=costs, index_day="baseline")


def _brute_prior(county: Path, rows: pd.DataFrame, settings: list[str]) -> pd.DataFrame:
    """Prior counts by a date-range join in SQL: (index - w months, index]."""
    con = duckdb.connect()
    con.register("r", rows[["rid", "person_id", "index_date"]])
    sums = ",\n".join(
        f"sum(CASE WHEN a.setting = '{s}' AND a.event_date > CAST(r.index_date AS DATE) "
        f"- INTERVAL {w} MONTH THEN 1 ELSE 0 END) AS prior{w}_{s}"
        for w in (12, 3)
        for s in settings
    )
    q = f"""
        SELECT r.rid, {sums}
        FROM r LEFT JOIN read_parquet('{county / "activity.parquet"}') a
          ON a.person_id = r.person_id
         AND a.event_date <= CAST(r.index_date AS DATE)
         AND a.event_date > CAST(r.index_date AS DATE) - INTERVAL 12 MONTH
        GROUP BY r.rid ORDER BY r.rid
    """
    return con.execute(q).df().set_index("rid").fillna(0).astype(np.int64)


def test_covariates_at_exact_vs_brute_force(county_cohort, county: Path) -> None:
    c = county_cohort
    cand = c.candidates[c.candidates.referred == 0]
    rng = np.random.default_rng(3)
    pick = cand.iloc[rng.choice(len(cand), 300, replace=False)]
    # Re-measure at the participants' exact dates (any weekday), as matched controls are.
    dates = c.participants["index_date"].to_numpy()
    rows = pd.DataFrame(
        {
            "rid": np.arange(300),
            "person_id": pick["person_id"].to_numpy(),
            "index_date": pd.to_datetime(rng.choice(dates, 300)),
        }
    )
    at = c.covariates_at(rows[["person_id", "index_date"]])
    ref = _brute_prior(county, rows, c.settings)
    names = [f"prior{w}_{s}" for w in (12, 3) for s in c.settings]
    got = at[names].reset_index(drop=True).astype(np.int64)
    pd.testing.assert_frame_equal(got, ref[names].reset_index(drop=True), check_names=False)
    assert at["prior12_gp_appointment"].sum() > 100  # the check is not vacuous
    # Demographics at the date: age is the date's year minus the year of birth.
    pop = pd.read_parquet(county / "population.parquet").set_index("person_id")
    yob = pop.loc[rows["person_id"], "year_of_birth"].to_numpy()
    assert (at["age"].to_numpy() == rows["index_date"].dt.year.to_numpy() - yob).all()


def test_covariates_at_own_dates_reproduces_candidates(county_cohort) -> None:
    c = county_cohort
    sample = c.candidates.sample(400, random_state=1)
    at = c.covariates_at(sample[["person_id", "index_date"]])
    cols = [k for k in at.columns if k not in ("person_id", "index_date")]
    pd.testing.assert_frame_equal(at[cols].astype(str), sample[cols].astype(str), check_dtype=False)


def test_county_participant_prior_counts_vs_brute_force(county_cohort, county: Path) -> None:
    c = county_cohort
    p = c.candidates[c.candidates.referred == 1]
    rows = pd.DataFrame(
        {
            "rid": np.arange(len(p)),
            "person_id": p["person_id"].to_numpy(),
            "index_date": p["index_date"].to_numpy(),
        }
    )
    ref = _brute_prior(county, rows, c.settings)
    names = [f"prior{w}_{s}" for w in (12, 3) for s in c.settings]
    got = p[names].reset_index(drop=True).astype(np.int64)
    pd.testing.assert_frame_equal(got, ref[names].reset_index(drop=True), check_names=False)


def test_county_panel_prior12_equals_months_minus12_to_minus1(county_cohort) -> None:
    c = county_cohort
    panel = naive_panel(c)
    pre = panel[panel.event_month.between(-12, -1)].groupby("unit")["gp_appointment"].sum()
    part = c.candidates[c.candidates.referred == 1].set_index("row_id")["prior12_gp_appointment"]
    pd.testing.assert_series_equal(
        pre.sort_index().astype(np.int64), part.sort_index().astype(np.int64), check_names=False
    )
    pre3 = panel[panel.event_month.between(-3, -1)].groupby("unit")["ae_attendance"].sum()
    part3 = c.candidates[c.candidates.referred == 1].set_index("row_id")["prior3_ae_attendance"]
    pd.testing.assert_series_equal(
        pre3.sort_index().astype(np.int64), part3.sort_index().astype(np.int64), check_names=False
    )


def test_county_week_candidates_never_referred_on_or_before_index(county_cohort, county) -> None:
    c = county_cohort
    cand = c.candidates[c.candidates.referred == 0]
    ref = pd.read_parquet(county / "referrals.parquet")
    first = ref[ref.programme == "mindsong"].groupby("person_id")["referral_date"].min()
    own = cand["person_id"].map(first)
    own = pd.to_datetime(own)
    has = own.notna()
    assert has.any()  # some candidates are referred later
    assert (own[has] > cand.loc[has, "index_date"]).all()
    assert (cand.loc[has, "own_referral_date"] == own[has]).all()
    assert cand.loc[~has, "own_referral_date"].isna().all()

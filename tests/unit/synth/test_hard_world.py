"""The hard world: frozen (its summary pinned) and behaving as the design says.

The pinned values are in ``tests/reference/hard_world_summary.json``, written by
``tests/reference/make_hard_world_summary.py`` (regenerated only when the world is changed on
purpose, never to make an estimator pass).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from evalkit import config
from evalkit.contract import OPTIONAL_SETTINGS
from evalkit.synth import activity as act
from evalkit.synth.calendar import to_days
from evalkit.synth.daily import (
    DAILY_HAZARD_CAP,
    RECENT_DAYS,
    _calibrate,
    daily_relative_hazard,
    episode_term,
    recent_use,
)
from evalkit.synth.followup import event_month_starts, followup_activity, referring_contacts
from evalkit.synth.geography import build_geography
from evalkit.synth.people import build_population
from evalkit.synth.programmes import EPISODE_CAP
from evalkit.synth.world import NEGATIVE_CONTROL, SHOCK, make_world

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_hard_world_summary", REFERENCE_DIR / "make_hard_world_summary.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hard_counties(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """The two pinned counties (observables and realistic) and their summaries."""
    script = _script()
    ref = json.loads(script.REFERENCE.read_text())
    out = {}
    for regime in script.REGIMES:
        folder = tmp_path_factory.mktemp(f"hard_{regime}")
        out[regime] = (folder, script.summarise(folder, regime, ref["params"]))
    return out


# --- frozen ---------------------------------------------------------------------------------
@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_hard_world_summary_is_pinned(hard_counties: dict, regime: str) -> None:
    pinned = json.loads((REFERENCE_DIR / "hard_world_summary.json").read_text())
    # Through JSON, as the reference file holds it (floats as written by json).
    got = json.loads(json.dumps(hard_counties[regime][1]))
    assert got == pinned["summaries"][regime]


@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_hard_world_has_short_histories_short_follow_up_and_rereferrals(
    hard_counties: dict, regime: str
) -> None:
    s = hard_counties[regime][1]
    n = sum(s["participants"].values())
    assert s["world"] == "hard"
    assert 0 < s["follow_up_under_12_months"] < n
    assert 0 < s["history_under_24_months"] < n
    assert s["rereferrals"] > 0
    for prog, k in s["eligible_3_months_before_referral"].items():
        assert 0 < k <= s["participants"][prog]


# --- referral days and the referring contact -------------------------------------------------
def test_referral_days_spread_over_the_month(hard_counties: dict) -> None:
    """First referrals fall on any day: days 1-7 hold their share of the month, not more."""
    days = []
    for folder, _ in hard_counties.values():
        ref = pd.read_parquet(folder / "referrals.parquet")
        first = ref.sort_values("referral_date").groupby(["person_id", "programme"]).head(1)
        days.append(pd.to_datetime(first["referral_date"]).dt.day.to_numpy())
    dom = np.concatenate(days)
    p = 7 / 30.44  # share of days 1-7 in an average month
    n = dom.size
    # Binomial: the first week's count within 3 SD of its share (legacy: every referral).
    assert abs((dom <= 7).sum() - n * p) < 3 * np.sqrt(n * p * (1 - p))
    assert len(np.unique(dom)) == 31
    assert (dom > 20).sum() > 3 * np.sqrt(n)


@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_referring_contact_on_the_referral_day(hard_counties: dict, regime: str) -> None:
    """GP and social-prescriber referrals have a GP appointment that day; hospital: outpatients."""
    folder = hard_counties[regime][0]
    con = duckdb.connect()
    missing = con.execute(
        f"""
        select count(*) from read_parquet('{folder}/referrals.parquet') r
        where r.referral_source in ('gp', 'social_prescriber', 'hospital_clinician')
          and not exists (
            select 1 from read_parquet('{folder}/activity.parquet') a
            where a.person_id = r.person_id and a.event_date = r.referral_date
              and a.setting = case when r.referral_source = 'hospital_clinician'
                              then 'outpatient_attendance' else 'gp_appointment' end)
          and r.episode_id in (
            select min_by(episode_id, referral_date) from read_parquet('{folder}/referrals.parquet')
            group by person_id, programme)
        """
    ).fetchone()[0]
    assert missing == 0


def test_referring_contacts_map_sources_to_settings() -> None:
    settings = make_world("hard", False).settings
    p, d, s = referring_contacts(
        np.array([1, 2, 3, 4, 5]),
        np.array([10, 20, 30, 40, 50]),
        np.array(["gp", "self", "hospital_clinician", "social_prescriber", "school"]),
        settings,
    )
    assert p.tolist() == [1, 3, 4] and d.tolist() == [10, 30, 40]
    assert [settings[k] for k in s] == [
        "gp_appointment",
        "outpatient_attendance",
        "gp_appointment",
    ]


# --- the referral hazard reads use on the 90 days before the day ----------------------------
def test_recent_use_counts_the_90_days_before_each_day() -> None:
    rng = np.random.default_rng(5)
    rows = np.array([3, 7, 8])
    person = rng.choice([1, 3, 7, 8, 9], size=400)
    day = rng.integers(900, 1200, size=400)
    first, n_days = 1000, 150
    got = recent_use(rows, person, day, first, n_days)
    for i, r in enumerate(rows):
        for j in (0, 1, 37, 89, 90, 149):
            d = first + j
            expect = ((person == r) & (day >= d - RECENT_DAYS) & (day <= d - 1)).sum()
            assert got[i, j] == expect, (r, j)


def test_daily_hazard_follows_use_and_admissions_in_the_90_days() -> None:
    prog = config.load_programmes()["mindsong"]
    syn = prog.synthetic
    lp = np.zeros((1, 3))
    use = np.array([[0, 3, 3, 3]])
    adm = np.array([[0, 0, 1, 5]])
    rel = daily_relative_hazard(prog, lp, np.array([1, 1, 1, 2]), np.ones((1, 3), bool), use, adm)
    assert rel[0, 1] / rel[0, 0] == pytest.approx(np.exp(syn.prior_util_log_rr * np.log(4)))
    assert rel[0, 2] / rel[0, 1] == pytest.approx(np.exp(syn.admission_log_rr))
    assert rel[0, 3] / rel[0, 1] == pytest.approx(np.exp(2 * syn.admission_log_rr))  # capped
    not_eligible = np.array([[True, False, True]])
    rel = daily_relative_hazard(prog, lp, np.array([1, 1, 1, 2]), not_eligible, use, adm)
    assert rel[0, :3].tolist() == [0.0, 0.0, 0.0] and rel[0, 3] > 0


class _FakeWindow:
    """Stands in for the referral window: yields the relative hazards in two blocks."""

    def __init__(self, rel: np.ndarray) -> None:
        self.rel = rel

    def all_hazards(self):
        half = self.rel.size // 2
        yield 0, 0, None, self.rel[:half]
        yield 0, 1, None, np.ones(5)  # another programme: ignored
        yield 1, 0, None, self.rel[half:]


def test_calibration_meets_the_volume_exactly_when_the_cap_binds() -> None:
    rel = np.random.default_rng(4).lognormal(0, 2, size=200_000)
    total, biggest = float(rel.sum()), float(rel.max())
    target = 3 * DAILY_HAZARD_CAP * total / biggest  # c = target / total would exceed the cap
    c0 = target / total
    above = DAILY_HAZARD_CAP / (64 * c0)
    c = _calibrate(None, 0, target, total, biggest, [rel[rel > above]], above)
    assert c > c0
    assert np.minimum(c * rel, DAILY_HAZARD_CAP).sum() == pytest.approx(target, rel=1e-9)
    # A first guess too high kept too little: the hazards are read again, same answer.
    again = _calibrate(_FakeWindow(rel), 0, target, total, biggest, [], biggest)
    assert again == pytest.approx(c, rel=1e-12)
    # Without the cap binding, c is the plain ratio.
    small = 0.5 * DAILY_HAZARD_CAP * total / biggest
    assert _calibrate(None, 0, small, total, biggest, [], np.nan) == small / total


def test_episode_term_is_mean_of_this_and_previous_month_capped() -> None:
    e = np.array([[0.0, 2.0, 4.0, 10.0]])
    assert episode_term(e).tolist() == [[0.0, 1.0, 3.0, EPISODE_CAP]]


@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_participants_use_rises_in_the_90_days_before_referral(
    hard_counties: dict, regime: str
) -> None:
    """Recorded use on days r-90..r-1 exceeds days r-180..r-91 (what drove referral)."""
    folder = hard_counties[regime][0]
    con = duckdb.connect()
    near, far = con.execute(
        f"""
        with idx as (select person_id, min(referral_date) as r
                     from read_parquet('{folder}/referrals.parquet') group by 1)
        select count(*) filter (where a.event_date between r - 90 and r - 1),
               count(*) filter (where a.event_date between r - 180 and r - 91)
        from idx join read_parquet('{folder}/activity.parquet') a using (person_id)
        where a.setting in ('gp_appointment', 'ae_attendance', 'emergency_admission',
                            'ooh_contact')
        """
    ).fetchone()
    # Poisson counts: the difference exceeds 3 SD of a null difference.
    assert near - far > 3 * np.sqrt(near + far)


# --- calendar time: winter peaks and the shock -----------------------------------------------
def test_every_hard_setting_has_a_winter_peak() -> None:
    world = make_world("hard", True)
    amplitude = {**act.SEASON_AMPLITUDE, **world.season_extra}
    for s in world.settings:
        assert amplitude[s] > 0, s


def test_shock_falls_to_its_floor_and_recovers_linearly_over_12_months() -> None:
    world = make_world("hard", False)
    mult = world.calendar_multiplier()
    gp = world.settings.index("gp_appointment")
    ea = world.settings.index("emergency_admission")
    op = world.settings.index("outpatient_attendance")
    m = SHOCK.month
    assert mult[m - 1, gp] == 1.0 and mult[m, gp] == pytest.approx(0.70)
    assert mult[m + 6, gp] == pytest.approx(0.85) and mult[m + 12, gp] == 1.0
    assert mult[m, ea] == pytest.approx(0.85) and (mult[:, op] == 1.0).all()
    assert make_world("legacy", False).calendar_multiplier() is None


@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_shock_visible_in_monthly_gp_totals(hard_counties: dict, regime: str) -> None:
    gp = hard_counties[regime][1]["monthly_totals"]["gp_appointment"]
    # August 2022 against the same month a year before: down by far more than 3 Poisson SD.
    assert gp["2021-08"] - gp["2022-08"] > 3 * np.sqrt(gp["2021-08"] + gp["2022-08"])
    assert gp["2022-08"] < 0.8 * gp["2022-07"]


# --- the negative control --------------------------------------------------------------------
@pytest.mark.parametrize("regime", ["observables", "realistic"])
def test_negative_control_truth_is_exactly_one(hard_counties: dict, regime: str) -> None:
    folder, summary = hard_counties[regime]
    truth = json.loads((folder / "synthetic_truth.json").read_text())
    assert truth["hard_world"]["negative_controls"] == [NEGATIVE_CONTROL]
    for prog in truth["programmes"].values():
        nc = prog["utilisation"][NEGATIVE_CONTROL]
        assert set(nc["rate_ratio"].values()) == {1.0}
        assert set(nc["difference_per_person"].values()) == {0.0}
    assert summary["events"][NEGATIVE_CONTROL] > 0
    assert NEGATIVE_CONTROL in OPTIONAL_SETTINGS


# --- truth on the contract's event months -----------------------------------------------------
def test_event_month_starts_follow_the_contract() -> None:
    mar15 = to_days(dt.date(2022, 3, 15))
    s = event_month_starts(mar15, 2)
    assert [str(np.datetime64(int(d), "D")) for d in s] == [
        "2022-03-16",
        "2022-04-16",
        "2022-05-16",
    ]
    jan31 = to_days(dt.date(2023, 1, 31))
    s = event_month_starts(jan31, 2)
    # 31 January + 1 month = 28 February: month 1 starts on 1 March.
    assert [str(np.datetime64(int(d), "D")) for d in s] == [
        "2023-02-01",
        "2023-03-01",
        "2023-04-01",
    ]


def test_followup_truth_sums_daily_rates_over_each_event_month() -> None:
    """lam0 for event month m is the daily rate summed over exactly the days of month m."""
    world = make_world("hard", False)
    cal = world.cal
    rng = np.random.default_rng(2)
    pop = build_population(400, build_geography(rng), cal, rng)
    end = cal.month_starts[-1] - 1
    always = np.flatnonzero((pop.reg_from <= cal.month_starts[0]) & (pop.reg_end >= end))
    leaver = np.flatnonzero(
        (pop.reg_from <= cal.month_starts[0]) & (pop.reg_end < cal.month_starts[60])
        & (pop.reg_end > cal.month_starts[50])
    )  # fmt: skip
    persons = np.array([always[0], always[1], leaver[0]])
    ref = np.array(
        [to_days(dt.date(2022, 3, 15)), int(end) - 100, int(pop.reg_end[leaver[0]]) - 40]
    )
    need = np.ones((pop.n, len(world.settings)))
    episode = np.zeros((pop.n, cal.n_months), dtype=np.float32)
    prog = config.load_programmes()["mindsong"]
    lam0, lam1, _ = followup_activity(
        prog, persons, ref, np.ones(3), pop, need, episode, world, np.random.default_rng(0)
    )
    rates = act.monthly_rates(
        pop, persons, need[persons], episode[persons], cal, world.settings,
        season_amplitude=world.season_extra, calendar_mult=world.calendar_multiplier(),
    )  # fmt: skip
    starts = cal.month_starts
    for j in range(3):
        bounds = event_month_starts(int(ref[j]), 12)
        for m in range(12):
            days = np.arange(bounds[m], bounds[m + 1])
            days = days[(days <= min(end, pop.reg_end[persons[j]]))]
            cm = np.searchsorted(starts, days, side="right") - 1
            daily = rates[j, cm, :] / cal.month_lengths[cm][:, None]
            np.testing.assert_allclose(lam0[j, m], daily.sum(axis=0), rtol=1e-12, atol=1e-15)
    assert (lam0[1, 4:] == 0).all() and (lam0[2, 2:] == 0).all()  # data end; deregistration
    nc = world.settings.index(NEGATIVE_CONTROL)
    np.testing.assert_array_equal(lam1[:, :, nc], lam0[:, :, nc])
    gp = world.settings.index("gp_appointment")
    assert (lam1[0, :, gp] < lam0[0, :, gp]).all()


# --- the summary's numbers, computed another way ---------------------------------------------
def test_world_summary_agrees_with_pandas(hard_counties: dict) -> None:
    folder, s = hard_counties["realistic"]
    ref = pd.read_parquet(folder / "referrals.parquet")
    act_df = pd.read_parquet(folder / "activity.parquet")
    first = ref.sort_values(["referral_date", "episode_id"]).groupby(["person_id", "programme"])
    first = first.head(1)
    assert sum(s["participants"].values()) == len(first)
    assert s["rereferrals"] == len(ref) - len(first)
    assert s["events"] == act_df["setting"].value_counts().sort_index().to_dict()
    dates = pd.to_datetime(first["referral_date"])
    assert s["follow_up_under_12_months"] == int(
        (dates + pd.DateOffset(months=12) > "2025-03-31").sum()
    )
    assert s["history_under_24_months"] == int(
        (dates - pd.DateOffset(months=24) < "2019-04-01").sum()
    )
    gp = act_df[act_df["setting"] == "gp_appointment"]
    aug22 = pd.to_datetime(gp["event_date"]).dt.strftime("%Y-%m").eq("2022-08").sum()
    assert s["monthly_totals"]["gp_appointment"]["2022-08"] == aug22


def test_participants_own_events_replace_theirs_after_the_referral_day() -> None:
    from types import SimpleNamespace

    from evalkit.synth.generate import _replace_participant_events
    from evalkit.synth.participants import Participants

    # Person 1 is referred on day 10: their county events on days 11 and 12 go, 9 and 10 stay.
    county = (
        [np.array([0, 1, 1, 1, 1], np.int32)],
        [np.array([11, 12, 9, 11, 10], np.int32)],
        [np.array([0, 0, 1, 0, 2], np.int8)],
    )
    parts = Participants()
    parts.cut.append((np.array([1]), np.array([10])))
    parts.events.append(
        (np.array([1, 1], np.int32), np.array([15, 10], np.int32), np.array([3, 0], np.int8))
    )
    p, d, s = (x[0] for x in _replace_participant_events(SimpleNamespace(n=2), county, parts))
    assert list(zip(p.tolist(), d.tolist(), s.tolist(), strict=True)) == [
        (0, 11, 0),
        (1, 9, 1),
        (1, 10, 0),
        (1, 10, 2),
        (1, 15, 3),
    ]

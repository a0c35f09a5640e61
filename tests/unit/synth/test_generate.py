"""The synthetic county is realistic (faces the analyses with real difficulties) and honest."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml

from evalkit import config
from evalkit.contract import COLUMNS, CONDITIONS, SETTINGS, TABLES
from evalkit.nhs_number import is_valid_nhs_number, nhs_check_digit
from evalkit.synth import generate_county
from evalkit.synth.calendar import add_months_days, to_days
from evalkit.synth.generate import SUBMITTED_ON_DEFAULT
from evalkit.synth.ids import capacity_of_test_range, synthetic_nhs_numbers
from evalkit.synth.world import NEGATIVE_CONTROL


def _read(raw: Path, table: str) -> pd.DataFrame:
    return pd.read_parquet(raw / f"{table}.parquet")


def _generate(out: Path, **kw) -> Path:
    generate_county(
        out,
        programmes=kw.pop("programmes", config.load_programmes()),
        instrument_defs=kw.pop("instrument_defs", config.instruments()),
        unit_costs=config.load_unit_costs(),
        progress=False,
        **kw,
    )
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


# --- identifiers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("943 476 5919", True),  # Wikipedia worked example (docs/reference/nhs-number.md)
        ("401 023 2137", True),  # NHSIA example
        ("987 654 3210", True),  # 11 -> 0 rule
        ("999 000 0018", True),  # first valid number in the 999 test range
        ("943 476 5918", False),  # one digit changed
        ("987 654 4321", False),  # a format example, not a valid number
        ("911 111 1124", False),  # listed as valid by a third-party guide: wrong
        ("999 000 0000", False),  # stem with remainder 1: no valid check digit exists
    ],
)
def test_is_valid_nhs_number_reference_examples_agree(number: str, valid: bool) -> None:
    assert is_valid_nhs_number(number) is valid


def test_nhs_check_digit_remainder_one_stem_has_none() -> None:
    # 999000000: weighted sum 243 = 22 x 11 + 1, so 11 - 1 = 10: never issued.
    assert nhs_check_digit("999000000") is None


def test_synthetic_nhs_numbers_are_valid_distinct_test_range() -> None:
    nums = synthetic_nhs_numbers(5_000, np.random.default_rng(1))
    assert len(set(nums.tolist())) == 5_000
    assert all(str(x).startswith("999") for x in nums[:200])
    assert all(is_valid_nhs_number(str(x)) for x in nums[:500])


def test_test_range_capacity_then_negative_numbers() -> None:
    """All valid numbers of 999 000 000 0 to 999 999 999 9 first; beyond them, negative ones."""
    cap = capacity_of_test_range()
    stems = range(999_000_000, 1_000_000_000)
    assert cap == sum(nhs_check_digit(str(s)) is not None for s in stems)  # scalar reference
    nums = synthetic_nhs_numbers(cap + 1_000, np.random.default_rng(2))
    valid, extra = nums[:cap], nums[cap:]
    assert len(set(valid.tolist())) == cap
    assert (valid // 10_000_000 == 999).all()
    assert all(is_valid_nhs_number(str(x)) for x in valid[:: cap // 500])
    assert extra.tolist() == list(range(-1, -1_001, -1))  # distinct, never an NHS number


def test_small_counties_keep_the_original_draw() -> None:
    """Up to 869,478 people: oversampled stems in drawn order, so people keep their tokens."""
    rng = np.random.default_rng(3)
    stems = 999_000_000 + rng.choice(1_000_000, size=int(100 * 1.15) + 100, replace=False)
    want = [s * 10 + int(d) for s in stems if (d := nhs_check_digit(str(s))) is not None][:100]
    assert synthetic_nhs_numbers(100, np.random.default_rng(3)).tolist() == want


def test_add_months_days_clamps_to_month_end() -> None:
    jan31 = to_days(pd.Timestamp("2021-01-31").date())
    out = add_months_days(np.array([jan31]), 1)
    assert str(np.datetime64(int(out[0]), "D")) == "2021-02-28"


# --- shape and contract ----------------------------------------------------------------------
def test_synth_writes_contract_tables_with_contract_columns(demo_county: Path) -> None:
    for table in TABLES:
        df = _read(demo_county, table)
        # submitted_on only when the generator writes it by default (SUBMITTED_ON_DEFAULT).
        written = [c for c in COLUMNS[table] if c != "submitted_on" or SUBMITTED_ON_DEFAULT]
        expected = [c for c in written if c not in CONDITIONS] + (
            list(CONDITIONS) if table == "population" else []
        )
        assert list(df.columns) == expected, table
        assert len(df) > 0
    truth = json.loads((demo_county / "synthetic_truth.json").read_text())
    assert truth["world"] == "hard"  # the default
    for slug in ("mindsong", "cyp", "chronic_pain"):
        prog = truth["programmes"][slug]
        assert set(prog["utilisation"]) == {*SETTINGS, NEGATIVE_CONTROL, "total_cost"}
        for setting in prog["utilisation"].values():
            assert set(setting["rate_ratio"]) == {"3", "6", "12"}
            assert set(setting["difference_per_person"]) == {"3", "6", "12"}
        assert prog["reach"]["imd_quintile"]["5"] == 1.0
        assert {"mean_change", "mean_change_all"} <= set(next(iter(prog["wellbeing"].values())))


def test_synth_person_ids_are_pseudonyms_not_nhs_numbers(demo_county: Path) -> None:
    ids = _read(demo_county, "population")["person_id"]
    assert ids.str.fullmatch(r"[0-9a-f]{16}").all()
    assert ids.is_unique
    assert not ids.str.fullmatch(r"\d{10}").any()


def test_synth_activity_lies_inside_registration(demo_county: Path) -> None:
    con = duckdb.connect()
    bad = con.execute(
        f"""
        select count(*) from read_parquet('{demo_county}/activity.parquet') a
        join read_parquet('{demo_county}/population.parquet') p using (person_id)
        where a.event_date < p.registered_from
           or a.event_date > coalesce(p.registered_to, DATE '9999-12-31')
           or a.event_date > coalesce(p.date_of_death, DATE '9999-12-31')
        """
    ).fetchone()[0]
    assert bad == 0


def test_synth_referral_dates_fall_in_the_referral_window(demo_county: Path) -> None:
    """Hard world: first referrals in study months 16 to 69 (July 2020 to December 2024)."""
    ref = _read(demo_county, "referrals")
    first = ref.sort_values("referral_date").groupby(["person_id", "programme"]).head(1)
    window = json.loads((demo_county / "synthetic_truth.json").read_text())["hard_world"]
    assert (window["referral_first_day"], window["referral_last_day"]) == (
        "2020-07-01",
        "2024-12-31",
    )
    assert first["referral_date"].min() >= pd.Timestamp("2020-07-01").date()
    assert first["referral_date"].max() <= pd.Timestamp("2024-12-31").date()
    # Both ends of the window are used: short histories and short follow-up.
    assert first["referral_date"].min() < pd.Timestamp("2021-04-01").date()
    assert first["referral_date"].max() > pd.Timestamp("2024-03-31").date()
    started = ref.dropna(subset=["start_date"])
    assert (started["start_date"] >= started["referral_date"]).all()
    assert (ref["sessions_attended"] <= ref["sessions_offered"]).all()


# --- realism -----------------------------------------------------------------------------------
def test_condition_prevalence_rises_with_age_and_deprivation(demo_county: Path) -> None:
    pop = _read(demo_county, "population")
    adults = pop[pop["year_of_birth"] <= 2001].copy()
    age_decades = (2019 - adults["year_of_birth"]) / 10
    deprivation = (10 - adults["imd_decile"]) / 9  # 0 least .. 1 most deprived
    X = sm.add_constant(pd.DataFrame({"age": age_decades, "dep": deprivation}))
    # Conditions the county builds with a clear age gradient (asthma, anxiety, depression and
    # SMI are nearly flat with age in QOF too) and every condition's deprivation gradient.
    for cond in CONDITIONS:
        y = adults[cond].notna().astype(int)
        fit = sm.Logit(y, X).fit(disp=0)
        z = fit.params / fit.bse
        if cond in ("copd", "chd", "diabetes", "chronic_pain"):
            assert z["age"] > 3, (cond, z["age"])
        if cond != "smi":  # 0.9% prevalence: too rare at demo scale for a one-condition test
            assert z["dep"] > 2, (cond, z["dep"])
    n_conditions = adults[list(CONDITIONS)].notna().sum(axis=1)
    by_age = n_conditions.groupby(pd.cut(2019 - adults["year_of_birth"], [17, 40, 65, 120])).mean()
    assert by_age.is_monotonic_increasing


def test_activity_counts_are_overdispersed(demo_county: Path) -> None:
    act = _read(demo_county, "activity")
    pop = _read(demo_county, "population")
    always = pop[
        (pop["registered_from"] <= pd.Timestamp("2019-04-01").date())
        & pop["registered_to"].isna()
        & pop["date_of_death"].isna()
    ]["person_id"]
    year = act[
        (act["event_date"] >= pd.Timestamp("2020-04-01").date())
        & (act["event_date"] < pd.Timestamp("2021-04-01").date())
    ]
    for setting in ("gp_appointment", "ae_attendance", "emergency_admission"):
        counts = (
            year[year["setting"] == setting]
            .groupby("person_id")
            .size()
            .reindex(always, fill_value=0)
        )
        assert counts.var() > 1.2 * counts.mean(), setting


def test_winter_emergency_admissions_exceed_summer(demo_county: Path) -> None:
    act = _read(demo_county, "activity")
    ea = act[act["setting"] == "emergency_admission"]
    month = pd.to_datetime(ea["event_date"]).dt.month
    winter = month.isin([12, 1, 2]).sum()
    summer = month.isin([6, 7, 8]).sum()
    # Poisson counts: the difference must exceed 3 SD of the null difference.
    assert winter - summer > 3 * np.sqrt(winter + summer)


def test_referred_people_peak_in_the_3_months_before_referral(demo_county: Path) -> None:
    con = duckdb.connect()
    rates = con.execute(
        f"""
        with idx as (
            select person_id, min(referral_date) as index_date
            from read_parquet('{demo_county}/referrals.parquet') group by person_id
        )
        select
            count(*) filter (where a.event_date >= idx.index_date - interval 3 month
                              and a.event_date < idx.index_date) / 3.0 as per_month_3,
            count(*) filter (where a.event_date >= idx.index_date - interval 12 month
                              and a.event_date < idx.index_date) / 12.0 as per_month_12
        from idx join read_parquet('{demo_county}/activity.parquet') a using (person_id)
        """
    ).fetchone()
    per_month_3, per_month_12 = rates
    assert per_month_3 > 1.1 * per_month_12


def test_referral_rate_higher_in_most_deprived_quintile(demo_county: Path) -> None:
    pop = _read(demo_county, "population")
    ref = _read(demo_county, "referrals").drop_duplicates(["person_id", "programme"])
    pop["quintile"] = (pop["imd_decile"] + 1) // 2
    referred = pop["person_id"].isin(ref["person_id"])
    q1 = referred[pop["quintile"] == 1]
    q5 = referred[pop["quintile"] == 5]
    diff = q1.mean() - q5.mean()
    se = np.sqrt(q1.mean() * (1 - q1.mean()) / len(q1) + q5.mean() * (1 - q5.mean()) / len(q5))
    assert diff > 2 * se
    truth = json.loads((demo_county / "synthetic_truth.json").read_text())
    for slug, prog in truth["programmes"].items():
        assert prog["reach"]["imd_quintile"]["1"] > 1, slug


def test_truth_rate_ratios_reflect_configured_effects(demo_county: Path) -> None:
    truth = json.loads((demo_county / "synthetic_truth.json").read_text())
    for slug, prog in config.load_programmes().items():
        t = truth["programmes"][slug]["utilisation"]
        for setting, rr in prog.synthetic.effects.rate_ratio.items():
            # ITT dilution (non-starters, drop-outs, the ramp) keeps the truth between the
            # configured full effect and no effect.
            assert rr <= t[setting]["rate_ratio"]["12"] < 1.0 or rr == 1.0, (slug, setting)
            assert t[setting]["difference_per_person"]["12"] < 0


# --- reproducibility ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_synth_same_seed_gives_identical_files(tmp_path: Path, fmt: str) -> None:
    a = _generate(tmp_path / "a", population=4_000, seed=7, fmt=fmt, faults=0.01)
    b = _generate(tmp_path / "b", population=4_000, seed=7, fmt=fmt, faults=0.01)
    assert _digest(a) == _digest(b)


def test_synth_different_seed_gives_different_files(tmp_path: Path) -> None:
    a = _generate(tmp_path / "a", population=4_000, seed=7, fmt="parquet")
    b = _generate(tmp_path / "b", population=4_000, seed=8, fmt="parquet")
    da, db = _digest(a), _digest(b)
    assert all(da[k] != db[k] for k in da)


def test_synth_refuses_to_overwrite_non_synthetic_data(tmp_path: Path) -> None:
    (tmp_path / "population.csv").write_text("person_id\n")
    with pytest.raises(FileExistsError, match="not a synthetic county"):
        _generate(tmp_path, population=4_000)


# --- a fourth programme, added as a config file only -------------------------------------------
NEW_PROGRAMME = """
slug: heart_arts
title: Hearts and Crafts
description: Weekly craft groups for older adults living with heart disease or diabetes.
providers: [Rural Crafts Network]
eligibility: {age_min: 55, age_max: 120, conditions_any: [chd, diabetes]}
instruments: [ucla3, ons4]
primary_instrument: ucla3
cost: {amount: 515, basis: starter, price_year: "2023/24", source: "test fixture"}
synthetic:
  referrals_per_year_per_100k: 150
  referral_sources: {gp: 0.6, social_prescriber: 0.4}
  imd_quintile_referral_rr: {1: 1.5, 2: 1.3, 3: 1.2, 4: 1.1, 5: 1.0}
  effects: {rate_ratio: {emergency_admission: 0.7, gp_appointment: 0.9}}
  attendance: {sessions_offered: 10, p_start: 0.9, p_complete: 0.8}
"""
NEW_INSTRUMENT = """
name: ucla3
title: Three-item loneliness scale
items: ["1", "2", "3"]
item_min: 1
item_max: 3
scoring: sum
direction: lower
missing_rule: any missing item - not scored
missing_rule_verified: false
sources: ["test fixture"]
"""


def test_new_programme_from_config_file_only_gets_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    progs_dir = tmp_path / "programmes"
    shutil.copytree(config.programmes_dir(), progs_dir)
    (progs_dir / "heart_arts.yaml").write_text(NEW_PROGRAMME)
    inst_dir = tmp_path / "instruments"
    shutil.copytree(config.instruments_dir(), inst_dir)
    (inst_dir / "ucla3.yaml").write_text(NEW_INSTRUMENT)
    monkeypatch.setenv("EVALKIT_INSTRUMENTS", str(inst_dir))
    programmes = config.load_programmes(progs_dir)
    assert "heart_arts" in programmes
    assert yaml.safe_load(NEW_PROGRAMME)["cost"]["amount"] == programmes["heart_arts"].cost.amount
    out = _generate(
        tmp_path / "raw",
        population=20_000,
        seed=3,
        fmt="parquet",
        programmes=programmes,
        instrument_defs=config.instruments(),
    )
    ref = _read(out, "referrals")
    new = ref[ref["programme"] == "heart_arts"]
    assert len(new) > 10
    pop = _read(out, "population").set_index("person_id").loc[new["person_id"]]
    age = pd.to_datetime(new["referral_date"]).dt.year.to_numpy() - pop["year_of_birth"].to_numpy()
    assert (age >= 55 - 1).all()
    assert (pop["chd"].notna() | pop["diabetes"].notna()).all()
    meas = _read(out, "measures")
    ucla = meas[meas["instrument"] == "ucla3"]
    assert len(ucla) > 0 and ucla["response"].dropna().between(1, 3).all()
    truth = json.loads((out / "synthetic_truth.json").read_text())
    assert "ucla3" in truth["programmes"]["heart_arts"]["wellbeing"]
    assert (
        truth["programmes"]["heart_arts"]["utilisation"]["emergency_admission"]["rate_ratio"]["6"]
        < 1
    )


# --- reduced scale: only the programmes' eligible pools -------------------------------------
def _ever_eligible_by_day(
    pop: pd.DataFrame, prog: config.Programme, days: np.ndarray
) -> np.ndarray:
    """Brute force: the analysis's eligibility rules checked on every day of the study."""
    el = prog.eligibility
    dates = days.astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(len(pop), dtype=bool)
    for a in range(0, len(pop), 500):
        p = pop.iloc[a : a + 500]
        age = year[None, :] - p["year_of_birth"].to_numpy(np.int64)[:, None]
        ok = (age >= el.age_min) & (age <= el.age_max + 1)
        dx = np.zeros_like(ok)
        for c in el.conditions_any:
            d = pd.to_datetime(p[c]).to_numpy("datetime64[D]")
            dx |= ~np.isnat(d)[:, None] & (d[:, None] <= dates[None, :])
        ok &= dx
        reg_from = pd.to_datetime(p["registered_from"]).to_numpy("datetime64[D]")
        ok &= reg_from[:, None] <= dates[None, :]
        for col in ("registered_to", "date_of_death"):
            d = pd.to_datetime(p[col]).to_numpy("datetime64[D]")
            ok &= np.isnat(d)[:, None] | (d[:, None] >= dates[None, :])
        out[a : a + 500] = ok.any(axis=1)
    return out


@pytest.mark.parametrize("programme", ["cyp", "mindsong"])
def test_synth_eligible_pool_keeps_exactly_the_people_ever_eligible(
    tmp_path: Path, programme: str
) -> None:
    """The reduced county holds the full county's rows of everyone eligible on any study day.

    Same seed, both pools: population rows are drawn before the pool is taken, so the kept
    people's rows are byte-for-byte the full county's; the kept set equals the people whom the
    analysis's rules make eligible on some day of the six years (brute force over every day).
    """
    progs = {programme: config.load_programmes()[programme]}
    full = _generate(tmp_path / "full", programmes=progs, population=4000, seed=11, fmt="parquet")
    red = _generate(
        tmp_path / "red", programmes=progs, population=4000, seed=11, fmt="parquet",
        pool="eligible",
    )  # fmt: skip
    pop_full, pop_red = _read(full, "population"), _read(red, "population")
    truth = json.loads((full / "synthetic_truth.json").read_text())
    days = np.arange(to_days(pd.Timestamp(truth["study_start"]).date()),
                     to_days(pd.Timestamp(truth["study_end"]).date()) + 1)  # fmt: skip
    expected = pop_full[_ever_eligible_by_day(pop_full, progs[programme], days)]
    assert 0 < len(pop_red) < len(pop_full)
    pd.testing.assert_frame_equal(
        pop_red.reset_index(drop=True), expected.reset_index(drop=True), check_like=False
    )
    red_truth = json.loads((red / "synthetic_truth.json").read_text())
    assert (red_truth["pool"], red_truth["population"], red_truth["people_written"]) == (
        "eligible",
        4000,
        len(pop_red),
    )
    refs = _read(red, "referrals")
    assert set(refs["person_id"]) <= set(pop_red["person_id"])
    assert set(_read(red, "activity")["person_id"].unique()) <= set(pop_red["person_id"])


@pytest.mark.parametrize(("world", "years"), [("legacy", 3.0), ("hard", 4.5)])
@pytest.mark.parametrize("pool", ["all", "eligible"])
def test_synth_referral_calibration_targets_whole_population_volume(
    tmp_path: Path, pool: str, world: str, years: float
) -> None:
    """Expected referrals = volume per 100,000 x whole population x years, in either pool.

    This is what keeps participants per eligible person the same in a reduced county: the
    hazard scale is calibrated to the full county's volume, over the same eligible pool (3
    years of referral months in the legacy world, 4.5 in the hard world; daily hazards there).
    """
    progs = {"mindsong": config.load_programmes()["mindsong"]}
    out = _generate(
        tmp_path / pool, programmes=progs, population=6000, seed=3, fmt="parquet", pool=pool,
        world=world,
    )  # fmt: skip
    sel = json.loads((out / "synthetic_truth.json").read_text())["programmes"]["mindsong"][
        "selection"
    ]
    target = progs["mindsong"].synthetic.referrals_per_year_per_100k * 6000 / 1e5 * years
    # Rounded to 6 significant digits in the truth file.
    assert sel["expected_referrals"] == pytest.approx(target, rel=2e-6)


def test_synth_pool_unknown_value_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pool must be"):
        _generate(tmp_path / "x", population=2000, pool="some")


def test_synth_world_unknown_value_raises_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="world must be one of"):
        _generate(tmp_path / "x", population=2000, world="easy")
    assert not (tmp_path / "x").exists()

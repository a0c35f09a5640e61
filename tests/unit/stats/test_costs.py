"""Economics engine: matched cost difference, bootstrap over matched sets, ROI, WELLBYs."""

from __future__ import annotations

import dataclasses
import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from evalkit.config import ConfigError
from evalkit.definitions import load_wellby
from evalkit.stats.costs import (
    cost_per_participant,
    matched_cost_difference,
    return_on_investment,
    wellby_valuation,
)
from evalkit.stats.did import did
from evalkit.stats.result import Result

#: The Green Book WELLBY values every valuation here uses (an argument of wellby_valuation).
WELLBY = load_wellby()

PRE, POST = 6, 4  # periods before and after index in the synthetic panels


def matched_panel(
    n_sets: int = 60,
    *,
    effect: float = -20.0,
    seed: int = 0,
    weights: str = "att",
) -> pd.DataFrame:
    """Balanced matched panel: sets of one participant and 1-3 controls, skewed costs.

    ``weights="att"``: MatchIt's ATT weights (participants 1, a control in a set of k controls
    1/k, rescaled so control weights sum to the number of controls); ``"random"``: any positive
    weight per unit (the DiD equivalence must hold for every unit-constant weight).
    """
    rng = np.random.default_rng(seed)
    rows = []
    unit = 0
    k_all = rng.integers(1, 4, n_sets)
    n_controls = int(k_all.sum())
    for s, k in enumerate(k_all):
        set_level = rng.gamma(2.0, 50.0)
        for member in range(k + 1):
            treated = int(member == 0)
            if weights == "att":
                w = 1.0 if treated else (1.0 / k) * n_controls / n_sets
            else:
                w = float(rng.uniform(0.2, 3.0))
            base = set_level * rng.lognormal(0.0, 0.5)
            for t in range(-PRE, POST):
                post = int(t >= 0)
                mean = base + 5.0 * t + (effect if treated and post else 0.0)
                y = max(0.0, rng.normal(mean, 30.0)) * rng.binomial(1, 0.8)
                rows.append((unit, s, treated, t, post, w, y, rng.poisson(0.3)))
            unit += 1
    return pd.DataFrame(
        rows, columns=["unit", "set", "treated", "month", "post", "weight", "cost", "admissions"]
    )


def fit(panel: pd.DataFrame, **kw):
    args = dict(
        unit="unit",
        matched_set="set",
        treated="treated",
        post="post",
        weights="weight",
        periods=POST,
        seed=1,
    )
    args.update(kw)
    return matched_cost_difference(panel, "cost", **args)


def linear_did(panel: pd.DataFrame):
    """The weighted linear two-way fixed-effects DiD on a :func:`matched_panel`."""
    return did(
        panel,
        outcome="cost",
        unit="unit",
        time="month",
        treated="treated",
        post="post",
        cluster="set",
        model="linear",
        weights="weight",
    )


def resampled(panel: pd.DataFrame, draw: np.ndarray) -> pd.DataFrame:
    """The panel of a bootstrap resample built by hand: drawn sets relabelled per draw."""
    pieces = []
    for j, s in enumerate(draw):
        p = panel[panel["set"] == s].copy()
        p["unit"] = p["unit"] + 10_000 * (j + 1)
        p["set"] = j
        pieces.append(p)
    return pd.concat(pieces, ignore_index=True)


# ---------------------------------------------------------------- the estimator
@pytest.mark.parametrize("weights", ["att", "random"])
def test_matched_cost_difference_balanced_panel_equals_linear_did(weights: str) -> None:
    # docs/design/methods.md section 4: on the balanced matched panel the matched difference in
    # mean cost change equals the linear two-way fixed-effects DiD (per period, times the post
    # periods).
    panel = matched_panel(weights=weights, seed=3)
    res = fit(panel, resamples=50)
    lin = linear_did(panel)
    # Both are exact least-squares algebra: only floating-point error separates them.
    assert res.estimate == pytest.approx(lin.estimate * POST, rel=1e-9, abs=1e-9)


def test_matched_cost_difference_att_weights_is_mean_of_within_set_differences() -> None:
    panel = matched_panel(seed=5)
    res = fit(panel, resamples=20)
    by_unit = panel.groupby(["unit", "post"])["cost"].mean().unstack()
    change = (by_unit[1] - by_unit[0]) * POST
    units = panel.groupby("unit")[["set", "treated"]].first().assign(change=change)
    per_set = units.groupby("set").apply(
        lambda g: g.loc[g.treated == 1, "change"].mean() - g.loc[g.treated == 0, "change"].mean()
    )
    assert res.estimate == pytest.approx(per_set.mean(), rel=1e-12)
    assert res.treated_change - res.control_change == pytest.approx(res.estimate, rel=1e-12)


def test_matched_cost_difference_resample_is_weighted_sum_of_set_totals() -> None:
    # A bootstrap resample (sets drawn with replacement) must equal the estimator refitted on
    # the resampled panel: here a resample is built by hand (set ids relabelled per draw).
    panel = matched_panel(n_sets=30, seed=7)
    res = fit(panel, resamples=20)
    rng = np.random.default_rng(11)
    draw = rng.choice(res.sets["matched_set"].to_numpy(), size=len(res.sets), replace=True)
    refit = fit(resampled(panel, draw), resamples=20)
    counts = pd.Series(draw).value_counts().reindex(res.sets["matched_set"], fill_value=0)
    c = counts.to_numpy()
    s = res.sets
    weighted = (c * s["t_cost"]).sum() / (c * s["t_w"]).sum() - (c * s["c_cost"]).sum() / (
        c * s["c_w"]
    ).sum()
    assert refit.estimate == pytest.approx(weighted, rel=1e-12)


def test_matched_cost_difference_same_seed_same_interval() -> None:
    panel = matched_panel(seed=2)
    a, b = fit(panel, seed=123), fit(panel, seed=123)
    assert (a.ci_low, a.ci_high, a.std_error) == (b.ci_low, b.ci_high, b.std_error)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    c = fit(panel, seed=124)
    assert c.estimate == a.estimate
    assert (c.ci_low, c.ci_high) != (a.ci_low, a.ci_high)


def test_matched_cost_difference_bootstrap_se_agrees_with_cluster_robust_se() -> None:
    # Both estimate the sampling SD of the same estimator with matched sets as the independent
    # units. Monte Carlo error of a bootstrap SE from B resamples is about 1/sqrt(2B) relative
    # (0.7% for B = 9999); CR1's small-sample factor differs from the bootstrap's by about
    # 1/(2G) (G = 200 sets). Allow 5 Monte Carlo SDs plus 2/G.
    panel = matched_panel(n_sets=200, seed=4)
    b = 9999
    res = fit(panel, resamples=b)
    lin = linear_did(panel)
    ratio = res.std_error / (lin.std_error * POST)
    assert abs(ratio - 1) < 5 / math.sqrt(2 * b) + 2 / 200


def test_matched_cost_difference_extra_outcomes_share_resamples() -> None:
    panel = matched_panel(seed=8)
    panel["cost2"] = 2 * panel["cost"]
    res = fit(panel, also=["cost2", "admissions"])
    assert list(res.tidy()["outcome"]) == ["cost", "cost2", "admissions"]
    # Same resamples: a linear transform of the outcome transforms every replicate.
    np.testing.assert_allclose(res.replicates["cost2"], 2 * res.replicates["cost"], rtol=1e-12)
    row = res.row("cost2")
    assert row["ci_low"] == pytest.approx(2 * res.ci_low, rel=1e-12)


def test_matched_cost_difference_unit_without_pre_rows_dropped_with_its_set() -> None:
    panel = matched_panel(n_sets=10, seed=9)
    treated_unit = panel.loc[(panel["set"] == 0) & (panel["treated"] == 1), "unit"].iloc[0]
    cut = panel[~((panel["unit"] == treated_unit) & (panel["post"] == 0))]
    res = fit(cut, resamples=20)
    assert res.n_sets == 9
    assert any("without both a pre and a post row" in n for n in res.notes)
    assert any("matched set(s) without both" in n for n in res.notes)
    assert not any("unbalanced" in n for n in res.notes)


def test_matched_cost_difference_unbalanced_panel_says_so() -> None:
    panel = matched_panel(n_sets=10, seed=9)
    cut = panel[~((panel["unit"] == 0) & (panel["month"] == POST - 1))]
    res = fit(cut, resamples=20)
    assert any("unbalanced" in n for n in res.notes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p: p.assign(set=p["set"].astype("float").where(p["unit"] != 0)), "missing"),
        (lambda p: p.drop(columns="weight"), "lacks column"),
        (lambda p: p.assign(post=p["post"] * 2), "must be 0/1"),
        (lambda p: p.assign(weight=np.where(p["month"] == 0, 5.0, p["weight"])), "varies"),
        (lambda p: p[p["set"] == 0], "at least two"),
    ],
)
def test_matched_cost_difference_invalid_input_raises(change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit(change(matched_panel(n_sets=10, seed=1)), resamples=20)


def test_matched_cost_difference_bca_option_gives_an_interval_around_the_estimate() -> None:
    res = fit(matched_panel(seed=6), method="BCa", resamples=999)
    assert res.spec["method"] == "BCa"
    assert res.ci_low < res.estimate < res.ci_high


# ---------------------------------------------------------------- period by period
def censor_controls(panel: pd.DataFrame, *, seed: int) -> pd.DataFrame:
    """Ragged copy: some controls lose their post rows from a random month; random row weights.

    Stands for controls censored at their own referral (rows from that month on unobserved)
    and weighted on their remaining follow-up rows (weight 1 on baseline rows and for
    participants), as a target-trial panel is.
    """
    rng = np.random.default_rng(seed)
    controls = panel.loc[panel["treated"] == 0, "unit"].unique()
    cut = pd.Series(POST, index=controls)
    lost = rng.choice(controls, size=len(controls) // 4, replace=False)
    cut[lost] = rng.integers(1, POST, len(lost))
    keep = panel["unit"].map(cut).fillna(POST) > panel["month"]
    out = panel[keep].copy()
    follow = (out["treated"] == 0) & (out["post"] == 1)
    out["ipcw"] = np.where(follow, rng.uniform(0.5, 2.0, len(out)), 1.0)
    return out


def by_period_by_hand(panel: pd.DataFrame, rw: str | None) -> float:
    """The period-by-period estimate computed directly from the rows (the docstring's formula)."""
    r = panel[rw] if rw else pd.Series(1.0, index=panel.index)
    pre = panel[panel["post"] == 0]
    rp = r[pre.index]
    base = (pre["cost"] * rp).groupby(pre["unit"]).sum() / rp.groupby(pre["unit"]).sum()
    post = panel[panel["post"] == 1].assign(
        d=lambda q: (q["cost"] - q["unit"].map(base)) * POST,
        ww=lambda q: q["weight"] * r[q.index],
    )
    arm = post.assign(dw=post["d"] * post["ww"]).groupby(["month", "treated"])[["dw", "ww"]].sum()
    t_w = arm["ww"].xs(1, level="treated")
    c_mean = arm["dw"].xs(0, level="treated") / arm["ww"].xs(0, level="treated")
    treated = arm["dw"].xs(1, level="treated").sum() / t_w.sum()
    return float(treated - (t_w * c_mean).sum() / t_w.sum())


@pytest.mark.parametrize("weights", ["att", "random"])
def test_matched_cost_difference_by_period_balanced_equals_unit_level_and_linear_did(
    weights: str,
) -> None:
    # On a balanced panel with weights constant within unit the period-by-period estimator is
    # the unit-level one, hence the linear two-way fixed-effects DiD.
    panel = matched_panel(weights=weights, seed=3)
    unit_level = fit(panel, resamples=50)
    by_period = fit(panel, resamples=50, time="month")
    lin = linear_did(panel)
    assert by_period.estimate == pytest.approx(unit_level.estimate, rel=1e-9, abs=1e-9)
    assert by_period.estimate == pytest.approx(lin.estimate * POST, rel=1e-9, abs=1e-9)
    assert by_period.spec["estimator"] == "period"


@pytest.mark.parametrize("rw", [None, "ipcw"])
def test_matched_cost_difference_by_period_is_standardised_difference_by_hand(rw) -> None:
    panel = censor_controls(matched_panel(seed=13), seed=14)
    res = fit(panel, resamples=20, time="month", row_weights=rw)
    assert res.estimate == pytest.approx(by_period_by_hand(panel, rw), rel=1e-12)
    assert res.treated_change - res.control_change == pytest.approx(res.estimate, rel=1e-12)
    assert any("unbalanced" in n for n in res.notes)
    assert any("Period by period" in n for n in res.notes)


def test_matched_cost_difference_by_period_resample_is_function_of_cell_totals() -> None:
    # As for the unit-level estimator: a bootstrap resample (sets drawn with replacement) equals
    # the estimator refitted on the resampled panel, computed from the per-set, per-period
    # totals with the resample counts as weights.
    panel = censor_controls(matched_panel(n_sets=30, seed=7), seed=8)
    res = fit(panel, resamples=20, time="month", row_weights="ipcw")
    sets = res.sets["matched_set"].unique()
    draw = np.random.default_rng(11).choice(sets, size=len(sets), replace=True)
    refit = fit(resampled(panel, draw), resamples=20, time="month", row_weights="ipcw")
    counts = pd.Series(draw).value_counts()
    cells = res.sets.assign(n=res.sets["matched_set"].map(counts).fillna(0))
    cols = ["t_w", "c_w", "t_cost", "c_cost"]
    k = cells[cols].mul(cells["n"], axis=0).groupby(cells["period"]).sum()
    treated = k["t_cost"].sum() / k["t_w"].sum()
    control = (k["t_w"] * k["c_cost"] / k["c_w"]).sum() / k["t_w"].sum()
    assert refit.estimate == pytest.approx(treated - control, rel=1e-12)


def test_matched_cost_difference_censoring_weights_recover_effect_unweighted_does_not() -> None:
    # Informative censoring: controls of the "deteriorating" kind (cost rising through follow-up)
    # are censored far more often, so the controls still observed late in follow-up understate
    # the rise. Weighting each observed control month by the inverse probability of having
    # stayed uncensored through it (known here) recovers the effect; ignoring it does not.
    rng = np.random.default_rng(21)
    n_sets, k, effect, slope = 1500, 2, -20.0, 30.0
    hazard = {0: 0.03, 1: 0.3}
    rows = []
    for s in range(n_sets):
        for member in range(k + 1):
            treated, kind = int(member == 0), int(rng.random() < 0.5)
            unit, base = s * (k + 1) + member, rng.gamma(2.0, 50.0)
            stays, alive = 1.0, True
            for t in range(-PRE, POST):
                post = int(t >= 0)
                if post and not treated:
                    alive = alive and rng.random() >= hazard[kind]
                    stays *= 1 - hazard[kind]
                if not alive:
                    break
                y = base + post * (slope * kind * (t + 1) + effect * treated) + rng.normal(0, 30)
                rows.append((unit, s, treated, t, post, 1.0, y, 1 / stays if post else 1.0))
    panel = pd.DataFrame(
        rows, columns=["unit", "set", "treated", "month", "post", "weight", "cost", "ipw"]
    )
    truth = effect * POST
    weighted = fit(panel, resamples=199, time="month", row_weights="ipw")
    unweighted = fit(panel, resamples=199, time="month")
    unit_level = fit(panel, resamples=199)
    assert abs(weighted.estimate - truth) < 4 * weighted.std_error
    for res in (unweighted, unit_level):
        assert res.estimate - truth > 4 * res.std_error


@pytest.mark.parametrize(
    ("kw", "change", "message"),
    [
        ({"row_weights": "ipcw"}, lambda p: p, "need time"),
        ({"time": "month", "row_weights": "ipcw"}, lambda p: p.assign(ipcw=-1.0), "non-negative"),
        (
            {"time": "month"},
            lambda p: p.assign(month=p["month"].where(p["unit"] != 0)),
            "period column",
        ),
    ],
)
def test_matched_cost_difference_by_period_invalid_input_raises(kw, change, message) -> None:
    panel = censor_controls(matched_panel(n_sets=10, seed=1), seed=2)
    with pytest.raises(ValueError, match=message):
        fit(change(panel), resamples=20, **kw)


# ---------------------------------------------------------------- ROI
def test_return_on_investment_equals_saving_over_cost_by_hand() -> None:
    d = fit(matched_panel(seed=12), also=["admissions"])
    cost = 17.5
    r = return_on_investment(d, cost, admissions="admissions")
    assert r.saving == -d.estimate
    assert r.gross == pytest.approx(r.saving / cost, rel=1e-15)
    assert r.net == pytest.approx(r.gross - 1, rel=1e-15)
    assert (r.gross_ci_low, r.gross_ci_high) == pytest.approx(
        (-d.ci_high / cost, -d.ci_low / cost), rel=1e-15
    )
    # The percentile interval of the ROI replicates is the saving interval over the cost.
    q = np.percentile(r.replicates["gross"], [2.5, 97.5])
    np.testing.assert_allclose(q, [r.gross_ci_low, r.gross_ci_high], rtol=1e-9)
    assert r.share_break_even == pytest.approx(np.mean(r.replicates["saving"] >= cost))


def _diff_with_admissions(est: float, lo: float, hi: float):
    """A MatchedDifferenceResult whose 'admissions' row has the given estimate and CI."""
    d = fit(matched_panel(n_sets=20, seed=1), also=["admissions"], resamples=20)
    by = d.by_outcome.copy()
    by.loc[by["outcome"] == "admissions", ["estimate", "ci_low", "ci_high"]] = [est, lo, hi]
    return dataclasses.replace(d, by_outcome=by)


@pytest.mark.parametrize(
    ("diff", "expected", "note"),
    [
        # admissions fell by 0.5 (CI 0.25 to 1): bounded interval, cost over the limits
        ((-0.5, -1.0, -0.25), (200.0, 100.0, 400.0), None),
        # CI includes zero: unbounded above, noted
        ((-0.5, -1.0, 0.1), (200.0, 100.0, math.inf), "unbounded"),
        # no admissions avoided at the point estimate: not defined
        ((0.2, -0.1, 0.5), (None, None, None), "not defined"),
    ],
)
def test_cost_per_admission_avoided_cases(diff, expected, note) -> None:
    r = return_on_investment(_diff_with_admissions(*diff), 100.0, admissions="admissions")
    got = (r.cost_per_admission_avoided, r.cpa_ci_low, r.cpa_ci_high)
    assert got == pytest.approx(expected) if expected[0] is not None else got == expected
    if note:
        assert any(note in n for n in r.notes)
    out = json.loads(json.dumps(r.to_dict()))
    if expected[2] == math.inf:
        assert out["cost_per_emergency_admission_avoided"]["ci_high"] is None


def test_return_on_investment_non_positive_cost_raises() -> None:
    d = fit(matched_panel(n_sets=10, seed=1), resamples=20)
    with pytest.raises(ValueError, match="programme_cost"):
        return_on_investment(d, 0.0)


# ---------------------------------------------------------------- programme cost
@pytest.mark.parametrize(
    ("amount", "basis", "start_rate", "expected"),
    [
        (320.0, "participant", None, 320.0),
        (320.0, "participant", 0.5, 320.0),  # the start rate does not apply
        (410.0, "starter", 0.7, 287.0),
        (410.0, "starter", 1.0, 410.0),
    ],
)
def test_cost_per_participant_cases(amount, basis, start_rate, expected) -> None:
    assert cost_per_participant(amount, basis, start_rate=start_rate) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("amount", "basis", "start_rate"),
    [(410.0, "starter", None), (410.0, "starter", 0.0), (-1.0, "participant", None)],
)
def test_cost_per_participant_invalid_raises(amount, basis, start_rate) -> None:
    with pytest.raises(ValueError):
        cost_per_participant(amount, basis, start_rate=start_rate)


# ---------------------------------------------------------------- WELLBY
def test_load_wellby_has_green_book_values_and_sources() -> None:
    w = load_wellby()
    # HM Treasury Wellbeing Guidance for Appraisal (2021), docs/reference/economics.md section 3.
    assert (w.values.central, w.values.low, w.values.high) == (13000, 10000, 16000)
    assert w.price_year == "2019"
    assert w.url.startswith("https://www.gov.uk/")
    assert w.duration_years_default == 1.0
    assert w.discount_rate == 0.015


def test_wellby_valuation_by_hand_in_2019_prices() -> None:
    r = wellby_valuation(0.4, 260.0, change_ci=(0.1, 0.7), price_year="2019", values=WELLBY)
    assert r.inflator == 1.0
    assert r.estimate == pytest.approx(0.4 * 13000 / 260.0)
    assert (r.low, r.high) == pytest.approx((0.4 * 10000 / 260.0, 0.4 * 16000 / 260.0))
    assert (r.ci_low, r.ci_high) == pytest.approx((0.1 * 13000 / 260.0, 0.7 * 13000 / 260.0))


def test_wellby_valuation_uprated_to_financial_year_with_gdp_deflator() -> None:
    # docs/reference/economics.md section 2.2: GDP deflator 2019 = 81.1085, 2023 = 96.2507,
    # 2024 = 100 (2024 = 100); 2023/24 is approximated as 0.75 x 2023 + 0.25 x 2024.
    k = (0.75 * 96.2507 + 0.25 * 100.0) / 81.1085
    r = wellby_valuation(1.0, 1000.0, price_year="2023/24", values=WELLBY)
    assert r.inflator == pytest.approx(k, rel=1e-12)
    assert r.value_central == pytest.approx(13000 * k)
    assert r.price_year == "2023/24"
    assert any(n.startswith("FLAG: WELLBY values uprated") for n in r.notes)
    # docs/reference/economics.md's cross-check: GBP 13,000 in 2023 (calendar) prices is about
    # GBP 15,427.
    in_2023 = wellby_valuation(1.0, 1.0, price_year="2023", values=WELLBY)
    assert in_2023.value_central == pytest.approx(15427, abs=1)


def test_wellby_valuation_price_year_outside_index_left_in_2019_with_flag() -> None:
    r = wellby_valuation(1.0, 1000.0, price_year="2031/32", values=WELLBY)
    assert r.inflator == 1.0 and r.price_year == "2019"
    assert any("left in 2019 prices" in n for n in r.notes)


@pytest.mark.parametrize(
    ("duration", "years"),
    [(0.5, 0.5), (1.0, 1.0), (2.0, 1 + 1 / 1.015), (2.5, 1 + 1 / 1.015 + 0.5 / 1.015**2)],
)
def test_wellby_valuation_duration_discounted_from_year_one(duration, years) -> None:
    r = wellby_valuation(1.0, 13000.0, duration_years=duration, price_year="2019", values=WELLBY)
    assert r.wellby_years == pytest.approx(years, rel=1e-12)
    assert r.estimate == pytest.approx(years, rel=1e-12)


def test_load_wellby_invalid_file_names_the_field(tmp_path) -> None:
    bad = tmp_path / "wellby.yaml"
    text = (load_wellby.__globals__["DEFINITIONS_DIR"] / "wellby.yaml").read_text()
    bad.write_text(text.replace("central: 13000", "central: -5"))
    with pytest.raises(ConfigError, match=r"values\.central"):
        load_wellby(bad)


# ---------------------------------------------------------------- result objects
def test_result_objects_views_are_json_safe_and_plots_return_axes() -> None:
    from matplotlib.axes import Axes

    d = fit(matched_panel(seed=3), also=["admissions"])
    r = return_on_investment(d, 20.0, admissions="admissions")
    w = wellby_valuation(0.3, 300.0, change_ci=(-0.1, 0.7), price_year="2023/24", values=WELLBY)
    for obj in (d, r, w):
        assert isinstance(obj, Result)
        json.dumps(obj.to_dict())
        assert obj.to_dict()["analysis"] == obj.analysis
        assert isinstance(obj.summary(), str) and obj.summary() == repr(obj)
        assert obj._repr_html_().startswith("<pre>")
        assert isinstance(obj.tidy(), pd.DataFrame) and len(obj.tidy()) > 0
    for ax in (d.plot_outcomes(), d.plot_bootstrap(), r.plot_bootstrap(), w.plot_values()):
        assert isinstance(ax, Axes)
    assert any("includes zero" in n for n in w.notes)


def test_wellby_valuation_needs_the_values_passed() -> None:
    # The statistics layer reads no domain data: the caller passes the WELLBY values.
    with pytest.raises(TypeError, match="values"):
        wellby_valuation(0.3, 300.0)  # type: ignore[call-arg]

"""Power, MDE and sample-size formulas of evalkit.stats.mde.

Closed-form cases are checked against hand calculations; inverse functions round-trip; the
Poisson case and one over-dispersed case are checked against direct simulation, with
tolerances from the Monte Carlo standard error.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestPower

from evalkit.stats.mde import (
    did_difference_variance,
    did_log_rr_variance,
    mde_did,
    mde_from_se,
    mde_paired,
    power_did,
    power_paired,
    sample_size_did,
    sample_size_paired,
)
from evalkit.stats.result import Result

Z_A = stats.norm.ppf(0.975)
Z_B = stats.norm.ppf(0.8)


# ------------------------------------------------------------------ variance: closed forms
def test_did_log_rr_variance_poisson_equals_sum_of_reciprocal_totals() -> None:
    # n = 100 participants, 3 controls each, 0.1 events a month; baseline 12 months
    # (mu0 = 1.2 per person), window 6 months (mu1 = 0.6): Var = sum 1 / E[total].
    n, m = 100, 300
    hand = 1 / (n * 1.2) + 1 / (n * 0.6) + 1 / (m * 1.2) + 1 / (m * 0.6)
    res = did_log_rr_variance(n, ratio=3, baseline_rate=0.1, window_months=6)
    assert res == pytest.approx(hand, rel=1e-12)


def test_did_log_rr_variance_shared_frailty_cancels_to_poisson() -> None:
    # A gamma frailty shared by both periods (a0 = a1 = a, rho = a / sqrt(q0 q1)) is removed
    # by the unit effects: the variance is the Poisson one.
    a, mu0, mu1 = 0.8, 0.1 * 12, 0.1 * 6
    q0, q1 = 1 / mu0 + a, 1 / mu1 + a
    rho = a / math.sqrt(q0 * q1)
    shared = did_log_rr_variance(
        100, ratio=3, baseline_rate=0.1, k=1 / a, correlation=rho, window_months=6
    )
    poisson = did_log_rr_variance(100, ratio=3, baseline_rate=0.1, window_months=6)
    assert shared == pytest.approx(poisson, rel=1e-12)


def test_did_log_rr_variance_variance_to_mean_equals_k() -> None:
    # phi = 1 + mu0 / k for the baseline total (mu0 = 0.2 * 12 = 2.4).
    k = 0.5
    by_k = did_log_rr_variance(50, ratio=2, baseline_rate=0.2, k=k, correlation=0.3)
    by_phi = did_log_rr_variance(
        50, ratio=2, baseline_rate=0.2, variance_to_mean=1 + 2.4 / k, correlation=0.3
    )
    assert by_phi == pytest.approx(by_k, rel=1e-12)


def test_did_log_rr_variance_completeness_scales_expected_counts() -> None:
    # Half the window observed halves mu1: the same as a window of half the length.
    half = did_log_rr_variance(80, ratio=1, baseline_rate=0.3, window_months=6, completeness=0.5)
    short = did_log_rr_variance(80, ratio=1, baseline_rate=0.3, window_months=3)
    assert half == pytest.approx(short, rel=1e-12)


def test_did_log_rr_variance_effect_adds_thinning_variance_to_participants() -> None:
    # q_t(theta) = q_c + (1/theta - 1) / mu1, participants only (divided by n).
    n, theta, mu1 = 100, 0.5, 0.1 * 6
    null = did_log_rr_variance(n, ratio=3, baseline_rate=0.1, k=2.0, correlation=0.4)
    alt = did_log_rr_variance(
        n, ratio=3, baseline_rate=0.1, k=2.0, correlation=0.4, rate_ratio=theta
    )
    assert alt - null == pytest.approx((1 / theta - 1) / mu1 / n, rel=1e-12)


def test_did_log_rr_variance_matching_correlation_is_a_design_effect() -> None:
    # With equal q for all, Var = q (1 + 1/k)(1 - psi) / n.
    kw = dict(ratio=3, baseline_rate=0.1, k=1.0, correlation=0.3)
    v0 = did_log_rr_variance(100, **kw)
    v = did_log_rr_variance(100, matching_correlation=0.25, **kw)
    assert v == pytest.approx(0.75 * v0, rel=1e-12)


def test_did_difference_variance_poisson_by_hand() -> None:
    # d = Y1/W - Y0/B per person-month; Poisson, rho = 0: Var(d) = lam/W + lam/B;
    # over the window: W^2 Var(d) (1/n + 1/m).
    lam, w, b, n, m = 0.2, 6, 12, 60, 180
    hand = w**2 * (lam / w + lam / b) * (1 / n + 1 / m)
    res = did_difference_variance(n, n_controls=m, baseline_rate=lam, window_months=w)
    assert res == pytest.approx(hand, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(baseline_rate=0.1, ratio=3, k=1.0, variance_to_mean=2.0), "not both"),
        (dict(baseline_rate=0.1), "either ratio"),
        (dict(baseline_rate=0.1, ratio=3, n_controls=30), "either ratio"),
        (dict(baseline_rate=0.0, ratio=3), "baseline_rate"),
        (dict(baseline_rate=0.1, ratio=3, correlation=1.0), "correlation"),
        (dict(baseline_rate=0.1, ratio=3, variance_to_mean=0.5), "at least 1"),
        (dict(baseline_rate=0.1, ratio=3, completeness=0.0), "completeness"),
    ],
)
def test_did_log_rr_variance_invalid_inputs_raise(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        did_log_rr_variance(100, **kwargs)


# ------------------------------------------------------------------ MDE, power, sample size
def test_mde_did_solves_power_equation() -> None:
    res = mde_did(140, ratio=3, baseline_rate=0.05, k=1.0, correlation=0.3)
    theta = res.mde_rate_ratio
    se = math.sqrt(
        did_log_rr_variance(
            140, ratio=3, baseline_rate=0.05, k=1.0, correlation=0.3, rate_ratio=theta
        )
    )
    r = abs(math.log(theta)) / se
    assert stats.norm.cdf(r - Z_A) + stats.norm.cdf(-r - Z_A) == pytest.approx(0.8, abs=1e-9)
    assert 0 < theta < 1 < res.mde_rate_ratio_rise
    assert res.power == pytest.approx(0.8, abs=1e-9)
    assert res.mde_percent_fall == pytest.approx(1 - theta)


def test_mde_did_more_participants_detect_smaller_falls() -> None:
    small = mde_did(100, ratio=3, baseline_rate=0.1).mde_rate_ratio
    large = mde_did(1000, ratio=3, baseline_rate=0.1).mde_rate_ratio
    assert small < large < 1


def test_mde_did_difference_per_person_is_bloom_multiplier_times_se() -> None:
    res = mde_did(60, n_controls=180, baseline_rate=0.2, window_months=6)
    se = math.sqrt(did_difference_variance(60, n_controls=180, baseline_rate=0.2))
    mult = stats.t.ppf(0.975, 59) + stats.t.ppf(0.8, 59)
    assert res.mde_difference_per_person == pytest.approx(mult * se, rel=1e-12)
    assert res.std_error_difference == pytest.approx(se, rel=1e-12)


def test_mde_from_se_normal_multiplier_is_2_80() -> None:
    assert mde_from_se(0.1) == pytest.approx((Z_A + Z_B) * 0.1, rel=1e-12)


def test_power_did_at_mde_round_trips() -> None:
    kw = dict(ratio=2, baseline_rate=0.08, k=0.7, correlation=0.35, window_months=12)
    mde = mde_did(200, **kw).mde_rate_ratio
    assert power_did(mde, 200, **kw).power == pytest.approx(0.8, abs=1e-9)
    assert power_did(1.0, 200, **kw).power == pytest.approx(0.05, abs=1e-12)


def test_sample_size_did_matches_closed_form_and_round_trips() -> None:
    kw = dict(ratio=3, baseline_rate=0.05, k=1.0, correlation=0.3, window_months=6)
    theta = 0.8
    res = sample_size_did(theta, **kw)
    # Closed form (near tail only): n = (z_a + z_b)^2 V / (log theta)^2, V = n Var(n).
    v = did_log_rr_variance(1000, rate_ratio=theta, **kw) * 1000
    closed = (Z_A + Z_B) ** 2 * v / math.log(theta) ** 2
    assert res.n_participants == math.ceil(closed) or res.n_participants == math.ceil(closed) - 1
    assert res.power >= 0.8
    assert power_did(theta, res.n_participants - 1, **kw).power < 0.8
    # What those participants can detect is at least the fall asked for.
    assert mde_did(res.n_participants, **kw).mde_rate_ratio >= theta
    assert res.n_controls == pytest.approx(3 * res.n_participants)


def test_sample_size_did_unreachable_with_fixed_controls_raises() -> None:
    # 20 controls' variance alone exceeds what a 5% fall needs.
    with pytest.raises(ValueError, match="no number of participants"):
        sample_size_did(0.95, n_controls=20, baseline_rate=0.05)


def test_mde_did_too_few_events_gives_nan_with_note() -> None:
    res = mde_did(5, ratio=1, baseline_rate=0.001, window_months=3)
    assert math.isnan(res.mde_rate_ratio)
    assert any("too uncertain" in n for n in res.notes)
    assert "no fall" in res.sentence()


def test_did_power_sentence_and_views() -> None:
    res = mde_did(140, ratio=3, baseline_rate=0.05, outcome="emergency admissions")
    s = res.sentence()
    pct = f"{res.mde_percent_fall:.0%}"
    assert s.startswith("With 140 participants")
    assert f"only falls in emergency admissions larger than {pct}" in s
    assert list(res.tidy().columns) == ["term", "estimate", "scale"]
    json.dumps(res.to_dict())
    assert res.value_for("rate_ratio") == res.mde_rate_ratio
    assert "sample_size" not in res.summary()
    need = sample_size_did(0.8, ratio=3, baseline_rate=0.05, outcome="emergency admissions")
    assert need.sentence().startswith("To detect a 20% fall in emergency admissions")


def test_did_power_plot_returns_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = mde_did(140, ratio=3, baseline_rate=0.05)
    ax = res.plot_power_curve()
    assert ax.get_xlabel().startswith("True rate ratio")
    assert ax.get_xscale() == "log"
    curve = res.power_curve_table()
    assert list(curve.columns) == ["rate_ratio", "power"]
    # The curve drawn is the table's: power_curve in evalkit.stats.plots draws it.
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), curve["power"].to_numpy())
    plt.close("all")


def test_paired_power_plot_returns_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = mde_paired(100, sd_change=4.0)
    ax = res.plot_power_curve()
    assert ax.get_xlabel() == "True mean change, the score (points)"
    curve = res.power_curve_table()
    assert curve["change"].iloc[-1] == pytest.approx(2 * res.mde)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), curve["power"].to_numpy())
    plt.close("all")


def test_power_results_share_the_result_base() -> None:
    for res in (mde_did(140, ratio=3, baseline_rate=0.05), mde_paired(100, sd_change=4.0)):
        assert isinstance(res, Result)
        assert repr(res) == res.summary()
        assert res._repr_html_().startswith("<pre>Power analysis: ")
        assert res.to_dict()["analysis"] == res.analysis


# ------------------------------------------------------------------ simulation checks
def test_did_variance_poisson_matches_simulation() -> None:
    # Group totals of independent Poisson counts are Poisson: draw the four totals directly.
    rng = np.random.default_rng(2024)
    n, m, lam, b, w, theta = 150, 450, 0.1, 12, 6, 0.7
    reps = 4000
    t0 = rng.poisson(n * lam * b, reps)
    t1 = rng.poisson(n * lam * w * theta, reps)
    c0 = rng.poisson(m * lam * b, reps)
    c1 = rng.poisson(m * lam * w, reps)
    est = np.log(t1 / t0) - np.log(c1 / c0)
    sd = est.std(ddof=1)
    formula = math.sqrt(did_log_rr_variance(n, n_controls=m, baseline_rate=lam, rate_ratio=theta))
    # SE of a sample SD ~ sd / sqrt(2 (R - 1)); 3.5 SE, plus 2% for the delta method's
    # second-order terms at these counts (smallest expected total 63).
    assert abs(sd - formula) < 3.5 * sd / math.sqrt(2 * (reps - 1)) + 0.02 * formula
    # Power at the MDE by the Wald test on the simulated totals.
    mde = mde_did(n, n_controls=m, baseline_rate=lam).mde_rate_ratio
    t1 = rng.poisson(n * lam * w * mde, reps)
    c0 = rng.poisson(m * lam * b, reps)
    c1 = rng.poisson(m * lam * w, reps)
    t0 = rng.poisson(n * lam * b, reps)
    est = np.log(t1 / t0) - np.log(c1 / c0)
    se = np.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)
    rejected = np.mean(np.abs(est / se) > Z_A)
    mc_se = math.sqrt(0.8 * 0.2 / reps)
    assert abs(rejected - 0.8) < 3.5 * mc_se + 0.01


def test_did_variance_negative_binomial_person_level_matches_simulation() -> None:
    # Person-level NB counts, independent frailties in the two periods (rho = 0).
    rng = np.random.default_rng(7)
    n, m, lam, k, reps = 200, 400, 0.15, 0.8, 2000
    b, w = 12, 6

    def totals(size, mean):
        g = rng.gamma(k, 1 / k, size=(reps, size))
        return rng.poisson(g * mean).sum(axis=1)

    est = np.log(totals(n, lam * w) / totals(n, lam * b)) - np.log(
        totals(m, lam * w) / totals(m, lam * b)
    )
    sd = est.std(ddof=1)
    formula = math.sqrt(did_log_rr_variance(n, n_controls=m, baseline_rate=lam, k=k))
    assert abs(sd - formula) < 3.5 * sd / math.sqrt(2 * (reps - 1)) + 0.02 * formula


# ------------------------------------------------------------------ paired design
def test_mde_paired_equals_statsmodels_times_sd() -> None:
    dz = TTestPower().solve_power(nobs=85, alpha=0.05, power=0.8, alternative="two-sided")
    res = mde_paired(100, sd_change=4.0, completeness=0.85)
    assert res.n_paired == 85
    assert res.mde == pytest.approx(abs(float(dz)) * 4.0, rel=1e-9)
    assert res.mde_standardised == pytest.approx(abs(float(dz)), rel=1e-9)


def test_mde_paired_sd_change_from_baseline_sd_and_correlation() -> None:
    # SD of change = sd * sqrt(2 (1 - r)) with equal SDs: r = 0.5 gives sd.
    a = mde_paired(60, sd_baseline=3.0, correlation=0.5)
    b = mde_paired(60, sd_change=3.0)
    assert a.sd_change == pytest.approx(3.0)
    assert a.mde == pytest.approx(b.mde, rel=1e-12)


def test_paired_power_and_sample_size_round_trip() -> None:
    need = sample_size_paired(2.0, sd_change=6.0, completeness=0.7)
    assert need.power >= 0.8
    assert need.n_paired == math.floor(need.n * 0.7 + 1e-9)
    fewer = power_paired(2.0, need.n_paired - 1, sd_change=6.0)
    assert fewer.power < 0.8
    mde = mde_paired(need.n, sd_change=6.0, completeness=0.7)
    assert mde.mde <= 2.0
    assert power_paired(mde.mde, mde.n_paired, sd_change=6.0).power == pytest.approx(0.8, abs=1e-6)
    assert need.sentence().startswith("To detect a mean change of 2 points")
    json.dumps(need.to_dict())


def test_mde_paired_too_few_pairs_is_nan() -> None:
    res = mde_paired(2, sd_change=1.0)
    assert math.isnan(res.mde)
    assert "no change" in res.sentence()

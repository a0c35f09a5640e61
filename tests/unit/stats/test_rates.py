"""Poisson rate ratios and the heterogeneity test (evalkit.stats.rates).

References:
- R's ``stats::poisson.test`` (exact conditional test and CI for a ratio of two Poisson rates),
  printed with ``digits = 10``: ``tests/reference/r_poisson_test.csv``, with each call and its
  source (the first row is the example of R's help page, eba1977 data). Our exact interval must
  agree to the printed precision (1e-9 relative).
- Hand computation: the Clopper-Pearson limits from beta quantiles (Armitage, Berry & Matthews,
  section 5.3) mapped to the ratio, and ``exp(log RR +- z sqrt(1/a + 1/b))``.
- statsmodels ``test_poisson_2indep(method="exact-cond")``: at the exact 95% limits the one-sided
  exact conditional tests have p = 0.025 (test-interval duality).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats import rates as sm_rates

from evalkit.stats.rates import heterogeneity, rate_ratio, rate_ratios
from evalkit.stats.result import Result

#: R's poisson.test output, one row per call (the file says where it came from).
R_POISSON_TEST_FILE = Path(__file__).parents[2] / "reference" / "r_poisson_test.csv"
R_POISSON_TEST = pd.read_csv(R_POISSON_TEST_FILE, comment="#").to_dict(orient="records")
R_REL_TOL = 1e-9  # R printed 10 significant digits


def _counts(ref: dict) -> tuple[int, float, int, float]:
    return (int(ref["count1"]), ref["exposure1"], int(ref["count2"]), ref["exposure2"])


@pytest.mark.parametrize("ref", R_POISSON_TEST, ids=[r["r_call"] for r in R_POISSON_TEST])
def test_rate_ratio_exact_matches_r_poisson_test(ref) -> None:
    res = rate_ratio(*_counts(ref))
    assert res.ci_low == pytest.approx(ref["ci_low"], rel=R_REL_TOL, abs=1e-12)
    assert res.ci_high == pytest.approx(ref["ci_high"], rel=R_REL_TOL)


@pytest.mark.parametrize(
    "ref",
    [r for r in R_POISSON_TEST if not math.isnan(r["p_value"])],
    ids=lambda r: r["r_call"],
)
def test_rate_ratio_exact_p_value_matches_r_poisson_test(ref) -> None:
    res = rate_ratio(*_counts(ref))
    assert res.p_value == pytest.approx(ref["p_value"], rel=R_REL_TOL)
    assert res.estimate == pytest.approx(ref["estimate"], rel=R_REL_TOL)


def test_r_poisson_test_reference_rows_are_the_calls_they_name() -> None:
    # Guards the file: every row read (none lost to a stray comment) and its counts are its call's.
    assert len(R_POISSON_TEST) == 3
    for ref in R_POISSON_TEST:
        c1, e1, c2, e2 = _counts(ref)
        assert ref["r_call"] == f"poisson.test(c({c1}, {c2}), c({e1:g}, {e2:g}))"


def test_rate_ratio_exact_equals_hand_clopper_pearson() -> None:
    a, t1, b, t2 = 17, 950.0, 9, 1210.0
    p_lo = stats.beta.ppf(0.025, a, b + 1)
    p_hi = stats.beta.ppf(0.975, a + 1, b)
    res = rate_ratio(a, t1, b, t2)
    assert res.ci_low == pytest.approx(p_lo / (1 - p_lo) * t2 / t1, rel=1e-10)
    assert res.ci_high == pytest.approx(p_hi / (1 - p_hi) * t2 / t1, rel=1e-10)
    assert res.estimate == pytest.approx((a / t1) / (b / t2), rel=1e-12)


def test_rate_ratio_exact_limits_are_where_statsmodels_one_sided_tests_reach_alpha() -> None:
    a, t1, b, t2 = 23, 400.0, 31, 1000.0
    res = rate_ratio(a, t1, b, t2)
    up = sm_rates.test_poisson_2indep(
        a, t1, b, t2, value=res.ci_low, method="exact-cond", alternative="larger"
    )
    down = sm_rates.test_poisson_2indep(
        a, t1, b, t2, value=res.ci_high, method="exact-cond", alternative="smaller"
    )
    assert up.pvalue == pytest.approx(0.025, abs=1e-9)
    assert down.pvalue == pytest.approx(0.025, abs=1e-9)


def test_rate_ratio_wald_log_equals_hand_formula_and_statsmodels() -> None:
    a, t1, b, t2 = 40, 1234.5, 25, 2000.0
    rr = (a / t1) / (b / t2)
    half = stats.norm.ppf(0.975) * math.sqrt(1 / a + 1 / b)
    res = rate_ratio(a, t1, b, t2, method="wald-log")
    assert res.ci_low == pytest.approx(rr * math.exp(-half), rel=1e-10)
    assert res.ci_high == pytest.approx(rr * math.exp(half), rel=1e-10)
    sm = sm_rates.confint_poisson_2indep(a, t1, b, t2, method="wald-log")
    assert (res.ci_low, res.ci_high) == pytest.approx(tuple(sm), rel=1e-12)
    assert res.std_error == pytest.approx(math.sqrt(1 / a + 1 / b))


def test_rate_ratio_level_99_is_wider_than_95() -> None:
    r95 = rate_ratio(30, 100, 20, 100)
    r99 = rate_ratio(30, 100, 20, 100, level=0.99)
    assert r99.ci_low < r95.ci_low < r95.estimate < r95.ci_high < r99.ci_high


def test_rate_ratio_no_reference_events_gives_infinite_ratio_and_upper_limit() -> None:
    res = rate_ratio(5, 100, 0, 100)
    assert math.isinf(res.estimate) and math.isinf(res.ci_high)
    assert 0 < res.ci_low < 5
    assert any("reference group" in n for n in res.notes)
    assert json.loads(json.dumps(res.to_dict()))["ci_high"] is None


def test_rate_ratio_no_events_at_all_is_undefined_with_note() -> None:
    res = rate_ratio(0, 10, 0, 10)
    assert all(math.isnan(v) for v in (res.estimate, res.ci_low, res.ci_high, res.p_value))
    assert res.notes


def test_rate_ratio_wald_log_with_zero_count_is_undefined_with_note() -> None:
    res = rate_ratio(0, 100, 7, 100, method="wald-log")
    assert res.estimate == 0
    assert math.isnan(res.ci_low) and math.isnan(res.ci_high)
    assert any("exact" in n for n in res.notes)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((-1, 10, 3, 10), {}),  # negative count
        ((1.5, 10, 3, 10), {}),  # not a whole number of events
        ((1, 0, 3, 10), {}),  # no exposure
        ((1, 10, 3, float("nan")), {}),
        ((1, 10, 3, 10), {"method": "score"}),
        ((1, 10, 3, 10), {"level": 1.2}),
    ],
)
def test_rate_ratio_invalid_input_raises(args, kwargs) -> None:
    with pytest.raises(ValueError):
        rate_ratio(*args, **kwargs)


def test_rate_ratio_exact_coverage_is_at_least_nominal() -> None:
    # The exact conditional interval is conservative: coverage >= 95% up to simulation error.
    rng = np.random.default_rng(20240401)
    true_rr, t1, t2 = 1.8, 50.0, 120.0
    rate2 = 0.1
    n_sim = 400
    a = rng.poisson(true_rr * rate2 * t1, n_sim)
    b = rng.poisson(rate2 * t2, n_sim)
    hits = [
        (r := rate_ratio(x, t1, y, t2)).ci_low <= true_rr <= r.ci_high
        for x, y in zip(a, b, strict=True)
        if x + y > 0
    ]
    cover = float(np.mean(hits))
    se = math.sqrt(0.95 * 0.05 / len(hits))
    assert cover >= 0.95 - 3 * se


def test_rate_ratios_sums_rows_within_levels_and_uses_reference() -> None:
    df = pd.DataFrame(
        {
            "grp": ["a", "a", "b", "c", "c"],
            "n": [3, 4, 10, 0, 2],
            "py": [50.0, 50.0, 400.0, 10.0, 10.0],
        }
    )
    out = rate_ratios(df, "grp", "n", "py")  # reference: most exposure, "b"
    assert out["reference_level"].unique().tolist() == ["b"]
    ref = out.set_index("level")
    assert ref.loc["b", "ratio"] == 1.0 and math.isnan(ref.loc["b", "ci_low"])
    assert ref.loc["a", "count"] == 7 and ref.loc["a", "exposure"] == 100.0
    hand = rate_ratio(7, 100.0, 10, 400.0)
    assert ref.loc["a", "ratio"] == pytest.approx(hand.estimate)
    assert ref.loc["a", "ci_low"] == pytest.approx(hand.ci_low)
    explicit = rate_ratios(df, "grp", "n", "py", reference="c").set_index("level")
    assert explicit.loc["c", "ratio"] == 1.0
    assert explicit.loc["b", "ratio"] == pytest.approx((10 / 400) / (2 / 20))


def test_rate_ratios_unknown_reference_raises() -> None:
    df = pd.DataFrame({"g": [1, 2], "n": [1, 2], "py": [1.0, 1.0]})
    with pytest.raises(ValueError, match="reference level"):
        rate_ratios(df, "g", "n", "py", reference=9)


def test_heterogeneity_equals_hand_cochran_q() -> None:
    y = np.array([0.12, -0.35, 0.4, 0.05])
    se = np.array([0.1, 0.2, 0.15, 0.3])
    w = 1 / se**2
    ybar = (w * y).sum() / w.sum()
    q = float((w * (y - ybar) ** 2).sum())
    res = heterogeneity(y, se, labels=list("abcd"))
    assert res.q == pytest.approx(q, rel=1e-12)
    assert res.df == 3
    assert res.p_value == pytest.approx(stats.chi2.sf(q, 3), rel=1e-12)
    assert res.i2 == pytest.approx(max(0.0, (q - 3) / q), rel=1e-12)
    assert res.pooled == pytest.approx(ybar, rel=1e-12)
    assert res.pooled_std_error == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-12)


def test_heterogeneity_log_scale_logs_ratios_first() -> None:
    rr = [0.7, 1.1, 0.9]
    se = [0.2, 0.25, 0.1]
    assert heterogeneity(rr, se, scale="log").q == pytest.approx(
        heterogeneity(np.log(rr), se).q, rel=1e-12
    )


def test_heterogeneity_identical_estimates_give_q_zero() -> None:
    res = heterogeneity([0.3, 0.3, 0.3], [0.1, 0.2, 0.3])
    assert res.q == pytest.approx(0, abs=1e-12)
    assert res.p_value == pytest.approx(1.0)
    assert res.i2 == 0.0


def test_heterogeneity_fewer_than_two_usable_estimates_is_nan_with_note() -> None:
    res = heterogeneity([0.5, float("nan")], [0.1, 0.2], labels=["a", "b"])
    assert res.k == 1 and math.isnan(res.q) and math.isnan(res.p_value)
    assert any("Left out" in n for n in res.notes)
    assert any("Fewer than two" in n for n in res.notes)
    assert json.loads(json.dumps(res.to_dict()))["q"] is None


def test_rate_ratio_and_heterogeneity_are_results_shown_by_their_summary() -> None:
    for res in (rate_ratio(11, 800, 21, 3011), heterogeneity([0.1, 0.3], [0.1, 0.2])):
        assert isinstance(res, Result)
        assert repr(res) == res.summary()
        assert res._repr_html_().startswith("<pre>")
        assert "analysis" not in res.to_dict()  # the published dicts are unchanged

"""Tests of :mod:`evalkit.stats.honest` (Rambachan-Roth relative magnitudes).

Hand-computed cases, the identified set against ``scipy.optimize.linprog``, the breakdown value
against its closed form, and diff-diff 3.13's ``HonestDiD`` on a shared contiguous event study
(``tests/reference/honest_did_*.csv``, written by ``make_honest_did_reference.py``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from evalkit.stats.honest import relative_magnitudes

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
Z = stats.norm.ppf(0.975)


def _study(coefs: dict[int, float], var: float = 0.01, rho: float = 0.0) -> tuple:
    """Coefficients with an equicorrelated covariance (variance ``var``, correlation ``rho``)."""
    b = pd.Series(coefs, dtype=float)
    n = len(b)
    v = var * ((1 - rho) * np.eye(n) + rho * np.ones((n, n)))
    return b, pd.DataFrame(v, index=b.index, columns=b.index)


# Pre -6..-3 and -2 (a gap month -2 is left out of the benchmark), reference -1, post 0..2.
COEFS = {-6: 0.05, -5: -0.10, -4: 0.02, -3: 0.0, -2: 0.9, 0: 0.30, 1: 0.40, 2: 0.35}


def test_relative_magnitudes_mbar_zero_is_the_estimates_wald_ci() -> None:
    b, v = _study(COEFS, rho=0.3)
    for inference in ("bounds", "estimate"):
        r = relative_magnitudes(
            b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1, mbar=[0], inference=inference
        )
        l_vec = np.full(3, 1 / 3)
        se = math.sqrt(l_vec @ v.loc[[0, 1, 2], [0, 1, 2]].to_numpy() @ l_vec)
        row = r.tidy().iloc[0]
        assert r.estimate == pytest.approx(0.35, abs=1e-12)
        assert r.std_error == pytest.approx(se, abs=1e-12)
        assert row["id_low"] == row["id_high"] == pytest.approx(0.35, abs=1e-12)
        assert row["ci_low"] == pytest.approx(0.35 - Z * se, abs=1e-12)
        assert row["ci_high"] == pytest.approx(0.35 + Z * se, abs=1e-12)


def test_relative_magnitudes_benchmark_is_the_given_periods_only() -> None:
    b, v = _study(COEFS)
    r = relative_magnitudes(b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1)
    # Steps -6->-5 (0.15), -5->-4 (0.12), -4->-3 (0.02); -3->-2 (0.9) is outside, -2 not given.
    assert r.benchmark == pytest.approx(0.15, abs=1e-12)
    assert r.benchmark_periods == (-6, -5)
    assert list(r.steps["from_period"]) == [-6, -5, -4]
    # Giving -2 adds the steps -3->-2 and -2->reference (0 - 0.9): the benchmark becomes 0.9.
    full = relative_magnitudes(b, v, pre=[-6, -5, -4, -3, -2], post=[0, 1, 2], reference=-1)
    assert full.benchmark == pytest.approx(0.9, abs=1e-12)
    assert len(full.steps) == 5


def test_relative_magnitudes_identified_set_width_linear_in_mbar() -> None:
    b, v = _study(COEFS)
    grid = [0, 0.3, 1, 2.5]
    r = relative_magnitudes(b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1, mbar=grid)
    t = r.tidy()
    # Equal weights 1/3 over 0..2: K = (3 + 2 + 1) / 3 = 2.
    assert r.k == pytest.approx(2.0, abs=1e-12)
    width = t["id_high"] - t["id_low"]
    np.testing.assert_allclose(width, 2 * np.array(grid) * 0.15 * 2.0, atol=1e-12)
    np.testing.assert_allclose((t["id_high"] + t["id_low"]) / 2, 0.35, atol=1e-12)


def _linprog_bounds(theta: float, w: dict[int, float], ref: int, last: int, cap: float) -> tuple:
    """The identified set by linear programme: max and min of l'delta over Delta^RM."""
    path = list(range(ref + 1, last + 1))
    c = np.array([w.get(t, 0.0) for t in path])
    n = len(path)
    # delta_t - delta_{t-1} within +-cap, delta_ref = 0.
    d = np.eye(n) - np.eye(n, k=-1)
    a_ub = np.vstack([d, -d])
    b_ub = np.full(2 * n, cap)
    hi = optimize.linprog(-c, A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    lo = optimize.linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=(None, None), method="highs")
    return theta + hi.fun, theta - lo.fun  # theta - max l'delta, theta - min l'delta


def test_relative_magnitudes_identified_set_equals_linprog_with_gap_and_weights() -> None:
    # Target on months 2 and 3 only, unequal and one negative weight: the violation still
    # accumulates from the reference through months 0 and 1.
    coefs = {-5: 0.2, -4: -0.1, -3: 0.05, -2: 0.0, 0: 0.1, 1: 0.2, 2: 0.5, 3: 0.4}
    b, v = _study(coefs)
    w = {2: 0.8, 3: -0.3}
    theta = 0.8 * 0.5 - 0.3 * 0.4
    for m in (0.0, 0.5, 1.7):
        r = relative_magnitudes(
            b, v, pre=[-5, -4, -3], post=[2, 3], weights=[0.8, -0.3], reference=-1, mbar=[m]
        )
        lo, hi = _linprog_bounds(theta, w, -1, 3, m * 0.3)
        row = r.tidy().iloc[0]
        assert row["id_low"] == pytest.approx(lo, abs=1e-9)
        assert row["id_high"] == pytest.approx(hi, abs=1e-9)
    # K = |0.5| + |0.5| + |0.5| + |-0.3| (steps 0, 1, 2, 3).
    assert r.k == pytest.approx(1.8, abs=1e-12)


def test_relative_magnitudes_breakdown_equals_closed_form_estimate_se() -> None:
    b, v = _study(COEFS, rho=0.2)
    r = relative_magnitudes(
        b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1, inference="estimate"
    )
    # ci_low(M) = theta - M B K - z se = 0.
    expected = (r.estimate - Z * r.std_error) / (r.benchmark * r.k)
    assert r.breakdown_mbar == pytest.approx(expected, abs=1e-9)
    at = relative_magnitudes(
        b,
        v,
        pre=[-6, -5, -4, -3],
        post=[0, 1, 2],
        reference=-1,
        mbar=[expected],
        inference="estimate",
    )
    assert at.tidy()["ci_low"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_relative_magnitudes_breakdown_equals_quadratic_root_bounds_se() -> None:
    b, v = _study(COEFS, var=0.004, rho=0.2)
    r = relative_magnitudes(b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1)
    # lb(M) = theta - M K B, its gradient g = l - M K s d with d the step -6 -> -5:
    # (theta - M K B)^2 = z^2 (a - 2 M K c + M^2 K^2 e), a = l'Vl, c = s l'Vd, e = d'Vd.
    periods = list(b.index)
    vm = v.to_numpy()
    l_vec = np.array([1 / 3 if p in (0, 1, 2) else 0.0 for p in periods])
    d = np.array([1.0 if p == -5 else -1.0 if p == -6 else 0.0 for p in periods])
    s = np.sign(d @ b.to_numpy())
    a, c, e = l_vec @ vm @ l_vec, s * (l_vec @ vm @ d), d @ vm @ d
    kb, k = r.k * r.benchmark, r.k
    theta = r.estimate
    coeffs = [kb**2 - Z**2 * k**2 * e, -2 * theta * kb + 2 * Z**2 * k * c, theta**2 - Z**2 * a]
    roots = sorted(x.real for x in np.roots(coeffs) if abs(x.imag) < 1e-12 and x.real >= 0)
    expected = next(m for m in roots if theta - m * kb >= 0)
    assert r.breakdown_mbar == pytest.approx(expected, abs=1e-9)


def test_relative_magnitudes_breakdown_zero_when_ci_includes_zero_and_none_without_benchmark() -> (
    None
):
    b, v = _study({-3: 0.1, -2: 0.0, 0: 0.05, 1: 0.0}, var=0.04)
    r = relative_magnitudes(b, v, pre=[-3, -2], post=[0, 1], reference=-1)
    assert r.ci_low < 0 < r.ci_high
    assert r.breakdown_mbar == 0.0
    b, v = _study({-4: 0.2, -3: 0.2, -2: 0.9, 0: 1.0, 1: 1.0})
    flat = relative_magnitudes(b, v, pre=[-4, -3], post=[0, 1], reference=-1, inference="estimate")
    assert flat.benchmark == 0.0
    assert flat.breakdown_mbar is None


@pytest.fixture(scope="module")
def shared_event_study() -> tuple[pd.Series, pd.DataFrame]:
    """diff-diff's MultiPeriodDiD fit (make_honest_did_reference.py): coefficients, covariance."""
    es = pd.read_csv(REFERENCE / "honest_did_event_study.csv").set_index("period")
    b = es["coefficient"]
    v = es.drop(columns="coefficient")
    v.columns = [int(c.removeprefix("v_")) for c in v.columns]
    # The stored matrix is symmetric to about 1e-16 (printed to 17 digits): symmetrise.
    return b, (v + v.T) / 2


@pytest.mark.parametrize(("target", "weights"), [("mean", None), ("first", [1.0, 0, 0, 0])])
def test_relative_magnitudes_matches_diffdiff_honestdid(
    shared_event_study: tuple[pd.Series, pd.DataFrame], target: str, weights: list | None
) -> None:
    # diff-diff 3.13 benchmarks every pre-period step, the step into the reference included
    # (pre = -4..-2 with reference -1), and widens the set by the target's SE only.
    b, v = shared_event_study
    ref = pd.read_csv(REFERENCE / "honest_did_diffdiff.csv")
    ref = ref[ref["target"] == target]
    bounds = ref[ref["quantity"] == "bounds"]
    r = relative_magnitudes(
        b,
        v,
        pre=[-4, -3, -2],
        post=[0, 1, 2, 3],
        reference=-1,
        weights=weights,
        mbar=list(bounds["mbar"]),
        inference="estimate",
    )
    t = r.tidy()
    # Tolerance 1e-6: both sides are closed-form linear algebra (diff-diff through linprog,
    # whose HiGHS tolerance is about 1e-7 relative), printed to 17 digits.
    for ours, theirs in (
        ("id_low", "lb"),
        ("id_high", "ub"),
        ("ci_low", "ci_lb"),
        ("ci_high", "ci_ub"),
    ):
        np.testing.assert_allclose(t[ours], bounds[theirs], atol=1e-6, rtol=0)
    breakdown = ref.loc[ref["quantity"] == "breakdown", "mbar"].iloc[0]
    assert r.breakdown_mbar == pytest.approx(breakdown, abs=1e-6)


def test_relative_magnitudes_bad_input_raises_clear_errors() -> None:
    b, v = _study(COEFS)
    kw = {"pre": [-6, -5], "post": [0, 1], "reference": -1}
    with pytest.raises(ValueError, match="reference period"):
        ref_b, ref_v = _study({**COEFS, -1: 0.0})
        relative_magnitudes(ref_b, ref_v, **kw)
    with pytest.raises(ValueError, match=r"no coefficient for period\(s\) \[5\]"):
        relative_magnitudes(b, v, pre=[-6, -5], post=[0, 5], reference=-1)
    with pytest.raises(ValueError, match="consecutive"):
        relative_magnitudes(b, v, pre=[-6, -4], post=[0, 1], reference=-1)
    with pytest.raises(ValueError, match="after the reference"):
        relative_magnitudes(b, v, pre=[-6, -5], post=[-2, 0], reference=-1)
    with pytest.raises(ValueError, match="mbar"):
        relative_magnitudes(b, v, **kw, mbar=[-1])
    with pytest.raises(ValueError, match="alpha"):
        relative_magnitudes(b, v, **kw, alpha=1.5)
    with pytest.raises(ValueError, match="weights"):
        relative_magnitudes(b, v, **kw, weights=[1.0])


def test_relative_magnitudes_views_are_json_safe_and_plot_returns_axes() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b, v = _study(COEFS)
    r = relative_magnitudes(b, v, pre=[-6, -5, -4, -3], post=[0, 1, 2], reference=-1)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["benchmark_periods"] == [-6, -5]
    assert len(d["table"]) == len(r.spec["mbar"])
    assert "Benchmark" in r.summary()
    ax = r.plot_sensitivity()
    assert ax.get_xlabel().startswith("Mbar")
    plt.close(ax.figure)

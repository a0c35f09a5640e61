"""Inverse-probability-of-censoring weights (:func:`evalkit.stats.ipcw`).

The hand computation uses a saturated hazard model (time indicators and one covariate term per
period), whose maximum-likelihood hazards are the observed proportions censored per cell, so
every weight is a ratio of small integers. The simulation has a known truth: censoring depends
on the previous period's outcome, which persists, so the units still observed are the lighter
ones and the unweighted mean is biased; weighting by the inverse probability of staying
uncensored, given that observed covariate, removes the bias.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import evalkit as ek
from evalkit.stats import IpcwResult, ipcw
from evalkit.stats.censoring import DISTRIBUTION_STATS


def _tiny_panel() -> pd.DataFrame:
    """Ten units over three periods; x = 1 for units 0-4.

    Period 0: x=1 2 of 5 censored, x=0 1 of 5. Period 1: x=1 1 of 3, x=0 1 of 4. Period 2:
    nobody censored.
    """
    censored_in = {0: 0, 1: 0, 2: 1, 5: 0, 6: 1}  # unit -> period it is censored in
    rows = []
    for i in range(10):
        x = int(i < 5)
        for t in range(3):
            c = int(censored_in.get(i) == t)
            rows.append({"id": i, "t": t, "x": x, "c": c})
            if c:
                break
    d = pd.DataFrame(rows)
    # One covariate term per period with censoring: the model is saturated in (t, x).
    d["x_t0"] = d["x"] * (d["t"] == 0)
    d["x_t1"] = d["x"] * (d["t"] == 1)
    return d.sample(frac=1.0, random_state=3)  # row order must not matter


def test_ipcw_tiny_panel_equals_hand_computation() -> None:
    d = _tiny_panel()
    un = ipcw(d, "id", "t", "c", ["x_t0", "x_t1"], numerator=False, truncate=None)
    st = ipcw(d, "id", "t", "c", ["x_t0", "x_t1"], truncate=None)
    # Hazards: period 0 x=1 2/5, x=0 1/5 (marginal 3/10); period 1 x=1 1/3, x=0 1/4 (2/7).
    hand_un = {(1, 0): 5 / 3, (1, 1): 5 / 2, (1, 2): 5 / 2, (0, 0): 5 / 4, (0, 1): 5 / 3}
    hand_un[(0, 2)] = 5 / 3
    hand_st = {(1, 0): 7 / 6, (1, 1): 5 / 4, (1, 2): 5 / 4, (0, 0): 7 / 8, (0, 1): 5 / 6}
    hand_st[(0, 2)] = 5 / 6
    for res, hand in ((un, hand_un), (st, hand_st)):
        assert res.weights.index.equals(d.index)
        expected = [
            0.0 if c else hand[(x, t)] for x, t, c in zip(d["x"], d["t"], d["c"], strict=True)
        ]
        np.testing.assert_allclose(res.weights.to_numpy(), expected, rtol=1e-7, atol=1e-9)
    assert un.n_units == 10 and un.n_censored_units == 5 and un.censored_share == 0.5
    assert any("no censoring (2)" in n for n in un.notes)  # period 2: hazard 0, left out
    # The unstabilised weights give back each covariate group's size among the observed.
    obs = d["c"] == 0
    by_x = un.weights[obs & (d["t"] == 2)].groupby(d["x"]).sum()
    np.testing.assert_allclose(by_x.to_numpy(), [5.0, 5.0], rtol=1e-7)


def test_ipcw_coefficient_table_and_views() -> None:
    d = _tiny_panel()
    res = ipcw(d, "id", "t", "c", ["x_t0", "x_t1"], truncate=None)
    tidy = res.tidy()
    assert list(tidy.columns) == [
        "model",
        "term",
        "estimate",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
    ]
    den = tidy[tidy["model"] == "denominator"].set_index("term")
    # log-odds of censoring, x=0 in period 0: logit(1/5); the x term: logit(2/5) - logit(1/5).
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    assert den.loc["time[0]", "estimate"] == pytest.approx(logit(1 / 5), abs=1e-6)
    assert den.loc["x_t0", "estimate"] == pytest.approx(logit(2 / 5) - logit(1 / 5), abs=1e-6)
    assert set(tidy.loc[tidy["model"] == "numerator", "term"]) == {"time[0]", "time[1]"}
    assert list(res.distribution) == list(DISTRIBUTION_STATS)
    assert res.distribution["max"] == pytest.approx(5 / 4)
    assert res.distribution["min"] == pytest.approx(5 / 6)
    assert "censored: 5 (50.0%)" in res.summary()
    out = res.to_dict()
    assert out["analysis"] == "ipcw" and out["n_censored_units"] == 5
    assert len(out["coefficients"]) == len(tidy)
    assert res.distribution_table()["weights"].tolist() == ["before truncation", "used"]
    assert res.plot() is not None
    assert ek.ipcw is ipcw and isinstance(res, IpcwResult)


def _simulate(seed: int, n: int = 5000, periods: int = 6) -> pd.DataFrame:
    """Units at risk per period; censoring depends on the previous period's outcome.

    Latent need L follows a stationary AR(1) (mean 0, variance 1, autocorrelation 0.7); the
    outcome is y_t = 2 + L_t + noise, so E[y_t] = 2 in every period (the truth). The hazard of
    censoring in period t is logit^-1(-2.5 + (y_{t-1} - 2)): heavier users are censored more,
    and since need persists, the units left are lighter ones.
    """
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    y_prev = 2 + latent + rng.normal(scale=0.5, size=n)
    at_risk = np.ones(n, dtype=bool)
    parts = []
    for t in range(periods):
        latent = 0.7 * latent + np.sqrt(1 - 0.49) * rng.normal(size=n)
        y = 2 + latent + rng.normal(scale=0.5, size=n)
        hazard = 1 / (1 + np.exp(-(-2.5 + (y_prev - 2))))
        c = (rng.random(n) < hazard) & at_risk
        idx = np.flatnonzero(at_risk)
        parts.append(
            pd.DataFrame(
                {"id": idx, "t": t, "prev_y": y_prev[idx], "c": c[idx].astype(int), "y": y[idx]}
            )
        )
        at_risk &= ~c
        y_prev = y
    return pd.concat(parts, ignore_index=True)


def _weighted_mean(d: pd.DataFrame, w: pd.Series) -> tuple[float, float]:
    """Mean outcome of the observed rows weighted by ``w``, with an SE clustered by unit."""
    obs = d["c"] == 0
    fit = sm.WLS(d.loc[obs, "y"].to_numpy(), np.ones(int(obs.sum())), weights=w[obs]).fit(
        cov_type="cluster", cov_kwds={"groups": d.loc[obs, "id"].to_numpy()}
    )
    return float(fit.params[0]), float(fit.bse[0])


def test_ipcw_removes_bias_of_censoring_on_a_time_varying_cause_of_the_outcome() -> None:
    d = _simulate(seed=20240401)
    truth = 2.0
    res = ipcw(d, "id", "t", "c", ["prev_y"], truncate=None)
    naive, naive_se = _weighted_mean(d, pd.Series(1.0, index=d.index))
    weighted, weighted_se = _weighted_mean(d, res.weights)
    assert res.censored_share > 0.3  # censoring is common enough to matter
    # Unweighted: the heavy users are censored, the mean is too low (about -0.12, ~10 SE).
    assert naive - truth < -5 * naive_se
    # Weighted: within 3 SEs (the SE ignores the weights' estimation, which for IPW is
    # conservative: Hernan & Robins 2020, 12.2).
    assert abs(weighted - truth) < 3 * weighted_se
    # The model finds the cause of censoring (true log-odds 1 per unit of prev_y).
    den = res.tidy().set_index(["model", "term"])
    est, se = den.loc[("denominator", "prev_y"), ["estimate", "std_error"]]
    assert abs(est - 1.0) < 3 * se


def test_ipcw_stabilised_weights_average_one_in_each_period() -> None:
    d = _simulate(seed=7, n=4000)
    res = ipcw(d, "id", "t", "c", ["prev_y"], truncate=None)
    obs = d["c"] == 0
    for t, w in res.weights[obs].groupby(d.loc[obs, "t"]):
        # E[sw_t | uncensored through t] = 1 when the numerator is the marginal hazard.
        assert abs(w.mean() - 1) < 3 * w.std() / np.sqrt(len(w)) + 0.01, t
    assert res.distribution_used["mean"] == pytest.approx(1, abs=0.05)
    # Unstabilised weights are at least 1 and average well above it.
    un = ipcw(d, "id", "t", "c", ["prev_y"], numerator=False, truncate=None)
    assert (un.weights[obs] >= 1 - 1e-12).all()
    assert un.weights[obs].mean() > 1.2


def test_ipcw_truncation_clips_at_the_percentiles_of_the_observed_rows() -> None:
    d = _simulate(seed=11, n=2000)
    raw = ipcw(d, "id", "t", "c", ["prev_y"], truncate=None)
    cut = ipcw(d, "id", "t", "c", ["prev_y"])  # default 1st and 99th percentiles
    obs = (d["c"] == 0).to_numpy()
    lo, hi = np.quantile(raw.weights[obs], [0.01, 0.99])
    assert cut.truncation == pytest.approx((lo, hi))
    np.testing.assert_allclose(cut.weights[obs], np.clip(raw.weights[obs], lo, hi))
    np.testing.assert_allclose(cut.raw_weights, raw.weights)
    assert (cut.weights[~obs] == 0).all()
    assert cut.n_truncated == int(((raw.weights[obs] < lo) | (raw.weights[obs] > hi)).sum())
    assert cut.n_truncated > 0
    assert cut.distribution["max"] == pytest.approx(raw.weights[obs].max())
    assert cut.distribution_used["max"] == pytest.approx(hi)
    assert raw.truncation is None and raw.n_truncated == 0
    ax = cut.plot()  # weight 1 and both bounds marked
    xs = sorted(line.get_xdata()[0] for line in ax.lines if len(line.get_xdata()))
    assert xs == pytest.approx(sorted([1.0, lo, hi]))


def test_ipcw_spline_time_terms_agree_with_indicators_when_hazard_is_flat() -> None:
    d = _simulate(seed=5, n=3000)
    ind = ipcw(d, "id", "t", "c", ["prev_y"], truncate=None)
    spl = ipcw(d, "id", "t", "c", ["prev_y"], truncate=None, time_terms="spline")
    terms = spl.tidy().set_index(["model", "term"])
    assert ("denominator", "intercept") in terms.index
    assert ("denominator", "time_rcs1") in terms.index
    # The true hazard does not depend on time: both fits estimate the same covariate effect.
    a = ind.tidy().set_index(["model", "term"]).loc[("denominator", "prev_y")]
    b = terms.loc[("denominator", "prev_y")]
    assert abs(a["estimate"] - b["estimate"]) < a["std_error"]


def test_ipcw_categorical_covariate_enters_as_indicators() -> None:
    d = _simulate(seed=9, n=1500)
    d["band"] = np.where(d["prev_y"] > 2, "high", "low")
    res = ipcw(d, "id", "t", "c", ["band"], numerator=["band"])
    terms = set(res.tidy()["term"])
    assert "band[low]" in terms  # first sorted level ("high") omitted
    assert res.spec["numerator"] == ["band"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.drop(columns="c"), "unknown column"),
        (lambda d: d.assign(c=d["c"] * 2), "binary"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "repeated"),
        (lambda d: d.assign(x_t0=d["x_t0"].where(d.index != d.index[0])), "missing"),
    ],
)
def test_ipcw_bad_input_raises(change, message) -> None:
    d = _tiny_panel()
    with pytest.raises(ValueError, match=message):
        ipcw(change(d), "id", "t", "c", ["x_t0", "x_t1"])


def test_ipcw_row_after_censoring_raises() -> None:
    d = pd.DataFrame({"id": [1, 1, 1, 2, 2], "t": [0, 1, 2, 0, 1], "c": [0, 1, 0, 0, 0]})
    with pytest.raises(ValueError, match="after the period they are censored in"):
        ipcw(d, "id", "t", "c", [])


def test_ipcw_numerator_must_be_among_covariates() -> None:
    d = _tiny_panel()
    with pytest.raises(ValueError, match="not among the covariates"):
        ipcw(d, "id", "t", "c", ["x_t0"], numerator=["x_t1"])

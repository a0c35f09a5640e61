"""Stacked difference-in-differences: a hand-built stack and fit, diff-diff's StackedDiD, errors.

References used here and their tolerances:
- A small panel (3 adoption cohorts and never-treated units over 8 periods; the first cohort is
  trimmed, the others have unequal treated and control counts). The test builds the stack and
  the Q-weights with loops and fits the event study by numpy WLS on explicit dummies, with its
  own CR1 sandwich: exact linear algebra, so 1e-8 (linearmodels' demeaning is exact in one pass
  on a panel balanced within sub-experiments with weights constant within unit).
- The Poisson model against statsmodels GLM on the same dummies (IRLS to ``tol=1e-12``; ours
  1e-10): 1e-6 of an SE for the coefficients and 1e-6 relative for the SEs, as in test_did.py.
- diff-diff 3.13.0's ``StackedDiD`` on ``tests/reference/stacked_did_panel.csv`` (results in
  ``stacked_did_diffdiff.csv``, written by ``make_stacked_did_reference.py``): coefficients,
  ATT, Q-weights and counts to 1e-8. diff-diff fits the paper's regression (treated and
  event-time effects, no unit effects), so its SEs are not ours; the test checks they are that
  regression's CR1 on our stack and weights (p counting every column), also to 1e-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.axes import Axes

from evalkit.stats.did_result import TIDY_COLUMNS, DidResult
from evalkit.stats.result import Result
from evalkit.stats.stacked import STACK_COLUMNS, StackedDidResult, stacked_did

REFERENCE = Path(__file__).resolve().parents[2] / "reference"
TOL = 1e-8
SE_TOL = 1e-6  # Poisson: see module docstring

#: Small panel: units per adoption period (None: never treated), periods 1..8, window (2, 1).
COHORTS = {2: 2, 4: 4, 7: 1, None: 3}
WINDOW = (2, 1)


# ---------------------------------------------------------------------- data
def _small_panel(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    adoption = [a for a, n in COHORTS.items() for _ in range(n)]
    rows = []
    for u, a in enumerate(adoption):
        alpha = rng.normal(0, 1)
        for t in range(1, 9):
            effect = 0.0 if a is None or t < a else 1.5 + 0.5 * (t - a)
            y = alpha + 0.2 * t + effect + rng.normal(0, 0.4)
            count = rng.poisson(np.exp(0.5 + 0.3 * alpha + 0.05 * t + 0.4 * effect))
            rows.append((f"u{u}", t, np.nan if a is None else a, y, count, 0.5 + (u % 3) / 4))
    return pd.DataFrame(rows, columns=["id", "t", "adopt", "y", "n", "pt"])


def _hand_stack(panel: pd.DataFrame, wing: bool = True) -> pd.DataFrame:
    """The stack by the definitions, one loop per sub-experiment; Q-weights by unit counts."""
    pre, post = WINDOW
    first, last = panel["t"].min(), panel["t"].max()
    adopt = panel.groupby("id")["adopt"].first()
    parts, counts = [], {}
    for a in sorted(adopt.dropna().unique()):
        if a - pre < first or a + post > last:
            continue  # trimmed: the window does not fit
        treated = set(adopt.index[adopt == a])
        controls = set(adopt.index[adopt.isna() | (adopt > a + post)])
        rows = panel[panel["id"].isin(treated | controls) & panel["t"].between(a - pre, a + post)]
        part = rows.assign(sub=int(a), e=rows["t"] - a, d=rows["id"].isin(treated).astype(int))
        parts.append(part)
        counts[int(a)] = (len(treated), len(controls))
    n_d = sum(c[0] for c in counts.values())
    n_c = sum(c[1] for c in counts.values())
    q = {a: (nd / n_d) / (nc / n_c) for a, (nd, nc) in counts.items()}
    stack = pd.concat(parts, ignore_index=True)
    pairs = zip(stack["sub"], stack["d"], strict=True)
    stack["w"] = [1.0 if d == 1 or not wing else q[s] for s, d in pairs]
    return stack


def _hand_design(stack: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    """Dummies: sub x unit, sub x event time (first omitted per sub), treated x event time."""
    pre, post = WINDOW
    events = [k for k in range(-pre, post + 1) if k != -1]
    cols = [(stack["d"] * (stack["e"] == k)).to_numpy(float) for k in events]
    for key in sorted(set(zip(stack["sub"], stack["id"], strict=True))):
        cols.append(((stack["sub"] == key[0]) & (stack["id"] == key[1])).to_numpy(float))
    for s in sorted(stack["sub"].unique()):
        for k in range(-pre + 1, post + 1):
            cols.append(((stack["sub"] == s) & (stack["e"] == k)).to_numpy(float))
    return np.column_stack(cols), events


def _cr1(x: np.ndarray, scores: np.ndarray, bread: np.ndarray, cl: np.ndarray, k: int):
    """CR1 covariance with G/(G-1) * (N-1)/(N-K), K = ``k``."""
    groups = pd.factorize(cl)[0]
    meat_rows = np.zeros((groups.max() + 1, x.shape[1]))
    np.add.at(meat_rows, groups, scores)
    inv = np.linalg.inv(bread)
    g, n = groups.max() + 1, len(x)
    return g / (g - 1) * (n - 1) / (n - k) * inv @ (meat_rows.T @ meat_rows) @ inv


def _hand_wls(stack: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Event-time coefficients and their CR1 covariance (by unit) by explicit WLS."""
    x, events = _hand_design(stack)
    w, y = stack["w"].to_numpy(), stack["y"].to_numpy()
    bread = x.T @ (w[:, None] * x)
    beta = np.linalg.solve(bread, x.T @ (w * y))
    resid = y - x @ beta
    vcov = _cr1(x, w[:, None] * x * resid[:, None], bread, stack["id"].to_numpy(), len(events))
    k = len(events)
    return beta[:k], vcov[:k, :k], events


def _mean_and_se(coef: np.ndarray, vcov: np.ndarray, events: list[int]) -> tuple[float, float]:
    post = [i for i, k in enumerate(events) if k >= 0]
    return coef[post].mean(), np.sqrt(vcov[np.ix_(post, post)].sum()) / len(post)


def _coef(result: StackedDidResult, scale_log: bool = False) -> pd.Series:
    es = result.event_study.set_index("period")
    es = es.loc[~es["reference"]]
    return np.log(es["estimate"]) if scale_log else es["estimate"]


# ---------------------------------------------------------------------- hand computations
def test_stacked_did_unequal_trimmed_panel_builds_the_hand_stack():
    panel = _small_panel()
    res = stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW)
    hand = _hand_stack(panel).sort_values(["sub", "id", "t"]).reset_index(drop=True)
    got = res.stacked
    assert set(STACK_COLUMNS) <= set(got.columns)
    assert len(got) == len(hand) == 4 * (4 + 4) + 4 * (1 + 3)
    assert got["sub_experiment"].tolist() == hand["sub"].tolist()
    assert got["id"].tolist() == hand["id"].tolist()
    assert got["event_time"].tolist() == hand["e"].tolist()
    assert got["treated"].tolist() == hand["d"].tolist()
    np.testing.assert_allclose(got["weight"], hand["w"], rtol=0, atol=1e-15)
    table = res.sub_experiments.set_index("adoption")
    assert table["status"].tolist() == ["trimmed: window does not fit the data", "kept", "kept"]
    assert table.loc[[4, 7], "n_treated"].tolist() == [4, 1]
    assert table.loc[[4, 7], "n_control"].tolist() == [4, 3]
    # (N^D_a / N^D) / (N^C_a / N^C) with N^D = 5, N^C = 7
    np.testing.assert_allclose(table.loc[[4, 7], "control_weight"], [1.4, 7 / 15], rtol=1e-15)
    assert any("trimmed: [2]" in n for n in res.notes)


def test_stacked_did_linear_matches_hand_wls():
    panel = _small_panel()
    res = stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW)
    coef, vcov, events = _hand_wls(_hand_stack(panel))
    es = res.event_study.set_index("period")
    np.testing.assert_allclose(es.loc[events, "estimate"], coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(es.loc[events, "std_error"], np.sqrt(np.diag(vcov)), atol=TOL)
    att, att_se = _mean_and_se(coef, vcov, events)
    assert res.estimate == pytest.approx(att, abs=TOL)
    assert res.std_error == pytest.approx(att_se, abs=TOL)
    assert res.n == 48 and res.n_clusters == 8
    assert (res.n_units, res.n_treated_units, res.n_control_units) == (8, 5, 4)


def test_stacked_did_weights_none_matches_unweighted_hand_wls():
    panel = _small_panel()
    res = stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW, weights=None)
    assert (res.stacked["weight"] == 1.0).all()
    coef, vcov, events = _hand_wls(_hand_stack(panel, wing=False))
    es = res.event_study.set_index("period")
    np.testing.assert_allclose(es.loc[events, "estimate"], coef, rtol=0, atol=TOL)
    np.testing.assert_allclose(es.loc[events, "std_error"], np.sqrt(np.diag(vcov)), atol=TOL)
    att, att_se = _mean_and_se(coef, vcov, events)
    assert res.estimate == pytest.approx(att, abs=TOL)
    assert res.std_error == pytest.approx(att_se, abs=TOL)
    weighted = stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW)
    assert abs(weighted.estimate - res.estimate) > 1e-3  # the weights matter on this panel


def test_stacked_did_poisson_matches_hand_glm():
    panel = _small_panel()
    res = stacked_did(panel, "n", "id", "t", "adopt", window=WINDOW, model="poisson", exposure="pt")
    stack = _hand_stack(panel)
    x, events = _hand_design(stack)
    w, y = stack["w"].to_numpy(), stack["n"].to_numpy(float)
    glm = sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(stack["pt"]), var_weights=w).fit(
        tol=1e-12
    )
    mu = glm.mu
    bread = x.T @ ((w * mu)[:, None] * x)
    scores = (w * (y - mu))[:, None] * x
    vcov = _cr1(x, scores, bread, stack["id"].to_numpy(), len(events))[: len(events), : len(events)]
    coef = glm.params[: len(events)]
    se = np.sqrt(np.diag(vcov))
    got = _coef(res, scale_log=True).loc[events].to_numpy()
    np.testing.assert_allclose(got, coef, rtol=0, atol=SE_TOL * se.min())
    es = res.event_study.set_index("period")
    np.testing.assert_allclose(es.loc[events, "std_error"], se, rtol=SE_TOL)
    att, att_se = _mean_and_se(coef, vcov, events)
    assert res.scale == "rate_ratio"
    assert res.coefficient == pytest.approx(att, abs=SE_TOL * att_se)
    assert res.estimate == pytest.approx(np.exp(res.coefficient), rel=1e-12)
    assert res.std_error == pytest.approx(att_se, rel=SE_TOL)


# ---------------------------------------------------------------------- diff-diff reference
def _reference() -> tuple[pd.DataFrame, pd.DataFrame]:
    panel = pd.read_csv(REFERENCE / "stacked_did_panel.csv")
    ref = pd.read_csv(REFERENCE / "stacked_did_diffdiff.csv", dtype={"key": str})
    return panel, ref


def _ref(ref: pd.DataFrame, quantity: str) -> pd.DataFrame:
    return ref.loc[ref["quantity"] == quantity].set_index("key")


def test_stacked_did_reference_panel_matches_diff_diff():
    panel, ref = _reference()
    res = stacked_did(panel, "y", "unit", "period", "adoption", window=(2, 2))
    events = _ref(ref, "event")
    got = _coef(res)
    np.testing.assert_allclose(
        got.loc[events.index.astype(int)], events["estimate"], rtol=0, atol=TOL
    )
    assert res.estimate == pytest.approx(_ref(ref, "att")["estimate"].iloc[0], abs=TOL)
    weights = _ref(ref, "control_weight")
    table = res.sub_experiments.set_index("adoption")
    np.testing.assert_allclose(
        table.loc[weights.index.astype(int), "control_weight"], weights["estimate"], atol=TOL
    )
    assert table.loc[[2, 10], "status"].str.startswith("trimmed").all()
    assert res.n == int(_ref(ref, "n_stacked_obs")["estimate"].iloc[0])
    assert res.n_clusters == int(_ref(ref, "n_clusters")["estimate"].iloc[0])


def test_stacked_did_diff_diff_se_is_the_paper_regression_without_unit_effects():
    # diff-diff's SEs are CR1 of y ~ 1 + D + event-time dummies + D x event-time dummies
    # (weights Q, clusters unit, G/(G-1) * (n-1)/(n-p), p = every column): our stack and
    # weights fitted that way give them exactly; our model adds unit effects, so its SEs differ.
    panel, ref = _reference()
    res = stacked_did(panel, "y", "unit", "period", "adoption", window=(2, 2))
    s = res.stacked
    events = [-2, 0, 1, 2]
    d = s["treated"].to_numpy(float)
    lam = [(s["event_time"] == k).to_numpy(float) for k in events]
    x = np.column_stack([np.ones(len(s)), d, *lam, *(d * c for c in lam)])
    w, y = s["weight"].to_numpy(), s["y"].to_numpy()
    bread = x.T @ (w[:, None] * x)
    beta = np.linalg.solve(bread, x.T @ (w * y))
    scores = (w * (y - x @ beta))[:, None] * x
    vcov = _cr1(x, scores, bread, s["unit"].to_numpy(), x.shape[1])[6:, 6:]
    ref_events = _ref(ref, "event")
    np.testing.assert_allclose(np.sqrt(np.diag(vcov)), ref_events["std_error"], atol=TOL)
    _, att_se = _mean_and_se(beta[6:], vcov, events)
    assert att_se == pytest.approx(_ref(ref, "att")["std_error"].iloc[0], abs=TOL)
    assert res.std_error < 0.6 * att_se  # unit effects remove the units' level differences


# ---------------------------------------------------------------------- result views
def test_stacked_did_result_has_the_result_views():
    panel = _small_panel()
    res = stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW, cluster="id")
    assert isinstance(res, StackedDidResult) and isinstance(res, DidResult | Result)
    tidy = res.tidy()
    assert list(tidy.columns) == list(TIDY_COLUMNS)
    assert tidy["term"].tolist() == ["att", "event", "event", "event"]
    assert tidy["period"].tolist()[1:] == [-2, 0, 1]
    text = res.summary()
    assert text.startswith("Stacked difference-in-differences: y")
    assert "2 sub-experiment(s) by adopt, window -2 to +1" in text and repr(res) == text
    out = res.to_dict()
    assert out["analysis"] == "stacked_did" and out["spec"]["window"] == [2, 1]
    assert [r["adoption"] for r in out["sub_experiments"]] == [2, 4, 7]
    json.dumps(out, allow_nan=False)
    assert isinstance(res.plot_event_study(), Axes)
    assert res.pretrend_df == 1


# ---------------------------------------------------------------------- errors
def test_stacked_did_missing_column_raises_value_error():
    with pytest.raises(ValueError, match=r"unknown column\(s\): adoption='start'"):
        stacked_did(_small_panel(), "y", "id", "t", "start", window=WINDOW)


def test_stacked_did_window_fitting_no_sub_experiment_raises_value_error():
    with pytest.raises(ValueError, match="fits no sub-experiment"):
        stacked_did(_small_panel(), "y", "id", "t", "adopt", window=(4, 4))


def test_stacked_did_no_clean_controls_raises_value_error():
    panel = _small_panel()
    panel = panel[panel["adopt"].notna() & (panel["adopt"] != 7)]  # cohorts 2 and 4 only
    with pytest.raises(ValueError, match="no clean controls"):
        stacked_did(panel, "y", "id", "t", "adopt", window=WINDOW)


@pytest.mark.parametrize("window", [(0, 2), (-2, 1), (2,), (2.0, 1), "2,1"])
def test_stacked_did_bad_window_raises_value_error(window):
    with pytest.raises(ValueError, match="window must be"):
        stacked_did(_small_panel(), "y", "id", "t", "adopt", window=window)

"""Two-way clustered standard errors of :func:`evalkit.stats.did.did`.

Checked against Cameron, Gelbach & Miller's (2011) formula written out in numpy (linear) and
statsmodels' one-way cluster covariances combined by hand (Poisson), and against pyfixest's
two-way CRV1 with the same small-sample factors.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
import statsmodels.api as sm

from evalkit.stats.did import did

SE_TOL = 1e-6


def _panel(seed: int, n_units: int = 120, periods: int = 6) -> pd.DataFrame:
    """Balanced panel; units in ``block`` (8 blocks, sub-experiments) and, crossing blocks,
    ``person`` (a person may appear as several units)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), periods)
    t = np.tile(np.arange(periods), n_units)
    block = unit % 8
    person = rng.integers(0, n_units * 2 // 3, n_units)[unit]
    treated = (rng.random(n_units) < 0.3).astype(int)[unit]
    post = (t >= periods // 2).astype(int)
    shock = rng.normal(0, 0.5, (8, periods))[block, t]  # common to a block and period
    frail = rng.normal(0, 1, n_units * 2)[person]
    y = frail + shock + 0.4 * treated * post + rng.normal(0, 1, len(unit))
    expo = rng.uniform(0.5, 1.0, len(unit))
    counts = rng.poisson(expo * np.exp(-1 + 0.3 * frail + shock - 0.3 * treated * post))
    return pd.DataFrame(
        {
            "unit": unit,
            "t": t,
            "block": block,
            "person": person,
            "treat": treated,
            "post": post,
            "y": y,
            "events": counts,
            "expo": expo,
        }
    )


def _within(df: pd.DataFrame, col: str) -> np.ndarray:
    """Two-way within transform of a balanced panel."""
    x = df[col].astype(float)
    return (
        x
        - df.groupby("unit")[col].transform("mean")
        - df.groupby("t")[col].transform("mean")
        + x.mean()
    ).to_numpy()


def _cluster_meat(x: np.ndarray, e: np.ndarray, groups: np.ndarray) -> float:
    return sum(float(x[groups == g] @ e[groups == g]) ** 2 for g in np.unique(groups))


def test_two_way_linear_equals_cgm_formula_in_numpy() -> None:
    df = _panel(seed=1)
    df["tp"] = df["treat"] * df["post"]
    res = did(df, "y", "unit", "t", "treat", "post", cluster=("block", "person"))
    x, y = _within(df, "tp"), _within(df, "y")
    b = float(x @ y / (x @ x))
    e = y - b * x
    n, k = len(df), 1
    inter = df["block"].astype(str) + "_" + df["person"].astype(str)
    v = 0.0
    for groups, sign in ((df["block"], 1), (df["person"], 1), (inter, -1)):
        g = groups.nunique()
        v += sign * g / (g - 1) * (n - 1) / (n - k) * _cluster_meat(x, e, groups.to_numpy())
    v /= float(x @ x) ** 2
    assert res.estimate == pytest.approx(b, abs=1e-10)
    assert res.std_error == pytest.approx(math.sqrt(v), rel=SE_TOL)
    assert res.n_clusters == min(df["block"].nunique(), df["person"].nunique())
    assert res.spec["cluster"] == ["block", "person"]
    assert "two-way" in res.spec["vcov"]


def test_two_way_linear_matches_pyfixest() -> None:
    df = _panel(seed=2)
    df["tp"] = df["treat"] * df["post"]
    res = did(df, "y", "unit", "t", "treat", "post", cluster=["block", "person"])
    ref = pf.feols(
        "y ~ tp | unit + t",
        data=df,
        vcov={"CRV1": "block+person"},
        ssc=pf.ssc(k_fixef="none", G_df="conventional"),
    )
    assert res.std_error == pytest.approx(float(ref.se()["tp"]), rel=SE_TOL)


def test_two_way_poisson_equals_statsmodels_one_way_covariances_combined() -> None:
    df = _panel(seed=3)
    df = df.loc[df.groupby("unit")["events"].transform("sum") > 0].reset_index(drop=True)
    res = did(
        df,
        "events",
        "unit",
        "t",
        "treat",
        "post",
        cluster=("block", "person"),
        exposure="expo",
        model="poisson",
    )
    df["tp"] = df["treat"] * df["post"]
    x = pd.get_dummies(df[["unit", "t"]].astype(str), drop_first=True, dtype=float)
    x.insert(0, "tp", df["tp"].astype(float))
    glm = sm.GLM(
        df["events"], sm.add_constant(x), family=sm.families.Poisson(), offset=np.log(df["expo"])
    )
    inter = pd.factorize(df["block"].astype(str) + "_" + df["person"].astype(str))[0]
    n, k = len(df), 1
    v = 0.0
    for groups, sign in ((df["block"].to_numpy(), 1), (df["person"].to_numpy(), 1), (inter, -1)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = glm.fit(
                tol=1e-12,
                cov_type="cluster",
                cov_kwds={"groups": groups, "use_correction": False},
            )
        g = len(np.unique(groups))
        v += sign * fit.cov_params().loc["tp", "tp"] * g / (g - 1) * (n - 1) / (n - k)
    assert res.coefficient == pytest.approx(fit.params["tp"], abs=1e-6)
    assert res.std_error == pytest.approx(math.sqrt(v), rel=SE_TOL)


def test_two_way_with_the_same_column_twice_is_one_way() -> None:
    # V_1 + V_1 - V_(1 x 1) = V_1: clustering "two ways" by one column changes nothing.
    df = _panel(seed=4)
    one = did(df, "y", "unit", "t", "treat", "post", cluster="block")
    df["block2"] = df["block"]
    two = did(df, "y", "unit", "t", "treat", "post", cluster=("block", "block2"))
    assert two.std_error == pytest.approx(one.std_error, rel=1e-10)


def test_three_cluster_columns_are_refused() -> None:
    df = _panel(seed=5)
    with pytest.raises(ValueError, match="one or two columns"):
        did(df, "y", "unit", "t", "treat", "post", cluster=("block", "person", "t"))

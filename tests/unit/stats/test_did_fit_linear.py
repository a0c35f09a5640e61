"""The linear DiD fit (pyfixest ``feols``) against linearmodels ``PanelOLS``, its predecessor.

linearmodels is an independent implementation (its own demeaning and sandwich) and was evalkit's
engine until 0.4, so every published linear figure up to then came from it. Both remove the unit
and time effects by iterating (ours to 1e-10, linearmodels until changes fall below 1e-8 of each
column's SD), so the estimates must agree to far better than 1e-6 of an SE and the SEs to 1e-6
relative; exact linear algebra after demeaning makes the observed agreement about 1e-12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from linearmodels import PanelOLS

from evalkit.stats.did_fit import fit_linear

TOL = 1e-6


def _work(seed: int, *, weighted: bool, two_way: bool, unbalanced: bool) -> pd.DataFrame:
    """A prepared frame as did() builds it: 150 units x 8 periods, treated x post, a covariate."""
    rng = np.random.default_rng(seed)
    n_units, periods = 150, 8
    unit = np.repeat(np.arange(n_units), periods)
    time = np.tile(np.arange(periods), n_units)
    treated = (unit % 3 == 0).astype(float)
    post = (time >= 4).astype(float)
    x1 = rng.normal(size=len(unit))
    y = (
        0.5 * treated * post
        + 0.2 * x1
        + rng.normal(size=n_units)[unit]
        + rng.normal(size=len(unit))
    )
    work = pd.DataFrame(
        {
            "_y": y,
            "_unit": unit,
            "_time": time,
            "_cl": unit // 2,  # units nested in clusters, as in a matched panel
            "x0": treated * post,
            "x1": x1,
        }
    )
    if two_way:
        work["_cl2"] = unit % 7 + 100 * (time % 2)  # crosses the first dimension
    if weighted:
        work["_w"] = rng.uniform(0.3, 3.0, size=n_units)[unit]
    if unbalanced:
        work = work.loc[rng.uniform(size=len(work)) > 0.15].reset_index(drop=True)
    return work


def _linearmodels(work: pd.DataFrame, regressors: list[str], weighted: bool) -> tuple:
    index = pd.MultiIndex.from_arrays([work["_unit"], work["_time"]])
    y = pd.Series(work["_y"].to_numpy(), index=index)
    x = pd.DataFrame(work[regressors].to_numpy(), index=index, columns=regressors)
    cl = ["_cl", "_cl2"] if "_cl2" in work else ["_cl"]
    clusters = pd.DataFrame(work[cl].to_numpy(), index=index, columns=cl)
    w = pd.Series(work["_w"].to_numpy(), index=index) if weighted else None
    res = PanelOLS(y, x, entity_effects=True, time_effects=True, weights=w).fit(
        low_memory=True,
        cov_type="clustered",
        clusters=clusters,
        debiased=True,
        group_debias=True,
        auto_df=False,
        count_effects=False,
    )
    return res.params.to_numpy(), res.cov.to_numpy(), int(res.nobs)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("two_way", [False, True])
@pytest.mark.parametrize("unbalanced", [False, True])
def test_agrees_with_linearmodels(weighted: bool, two_way: bool, unbalanced: bool) -> None:
    work = _work(3, weighted=weighted, two_way=two_way, unbalanced=unbalanced)
    regressors = ["x0", "x1"]
    fit = fit_linear(work, regressors, weighted=weighted)
    coef, cov, nobs = _linearmodels(work, regressors, weighted)
    se = np.sqrt(np.diag(cov))
    assert fit.names == tuple(regressors)
    assert fit.n_obs == nobs == len(work)
    np.testing.assert_array_less(np.abs(fit.coef - coef) / se, TOL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), se, rtol=TOL)
    np.testing.assert_allclose(fit.vcov, cov, rtol=1e-5, atol=1e-6 * se.max() ** 2)


def test_recovers_a_known_effect() -> None:
    """Across seeds the estimate of the 0.5 effect is within 4 SEs (not a tautology check)."""
    for seed in range(5):
        work = _work(seed, weighted=False, two_way=False, unbalanced=False)
        fit = fit_linear(work, ["x0", "x1"], weighted=False)
        assert abs(fit.coef[0] - 0.5) < 4 * np.sqrt(fit.vcov[0, 0])

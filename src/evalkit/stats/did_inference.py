"""Inference for the difference-in-differences fits: statistics, p-values, CIs, Wald tests.

Both engines of :mod:`evalkit.stats.did_fit` return coefficients and a cluster-robust covariance;
this module turns them into the reported numbers the same way for both. The linear model refers
its statistics to t(G - 1) (and F(q, G - 1) for a joint test), as Stata and fixest do for
clustered errors; the Poisson model to the normal distribution (and chi-square), as pyfixest
does for GLMs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.stats.did_fit import FitOutput

__all__ = ["LEVEL", "infer", "term_rows", "wald"]

#: Confidence level of every interval :func:`evalkit.stats.did.did` reports.
LEVEL = 0.95


def infer(coef: np.ndarray, se: np.ndarray, model: str, df: int) -> dict[str, np.ndarray]:
    """Statistic, p-value and 95% CI on the coefficient scale.

    Parameters
    ----------
    coef, se : np.ndarray
        Coefficients and their standard errors.
    model : {"linear", "poisson"}
        ``"linear"`` refers the statistics to t(``df``); ``"poisson"`` to the normal.
    df : int
        Degrees of freedom of the t distribution (G - 1).

    Returns
    -------
    dict
        ``statistic``, ``p_value``, ``lo`` and ``hi`` (CI limits on the coefficient scale).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = coef / se
    if model == "linear":
        crit = stats.t.ppf(0.5 + LEVEL / 2, df)
        p = 2 * stats.t.sf(np.abs(stat), df)
    else:
        crit = stats.norm.ppf(0.5 + LEVEL / 2)
        p = 2 * stats.norm.sf(np.abs(stat))
    return {"statistic": stat, "p_value": p, "lo": coef - crit * se, "hi": coef + crit * se}


def wald(b: np.ndarray, v: np.ndarray, model: str, denom_df: int) -> tuple[float, int, float]:
    """Joint Wald test that ``b`` is zero: (statistic, df, p-value).

    The linear model's statistic is F = W / q referred to F(q, ``denom_df``); the Poisson
    model's is W referred to chi-square(q). A singular ``v`` falls back to its pseudo-inverse,
    with q its rank.
    """
    q = len(b)
    try:
        w = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        q = int(np.linalg.matrix_rank(v))
        w = float(b @ np.linalg.pinv(v) @ b)
    if model == "linear":
        f = w / q
        return f, q, float(stats.f.sf(f, q, denom_df))
    return w, q, float(stats.chi2.sf(w, q))


def term_rows(
    names: Sequence[str], fit: FitOutput, model: str, df: int, labels: dict[str, str]
) -> pd.DataFrame:
    """Tidy rows (``TIDY_COLUMNS`` of :mod:`evalkit.stats.did_result`) of the named regressors.

    Parameters
    ----------
    names : sequence of str
        Internal regressor names of ``fit`` to report, in order.
    fit : FitOutput
        The fitted model.
    model : {"linear", "poisson"}
        Poisson rows are rate ratios (``exp`` of the coefficient and its CI limits).
    df : int
        Degrees of freedom for the linear model's t distribution.
    labels : dict of str to str
        Reported term name of every internal regressor name.
    """
    idx = [fit.names.index(n) for n in names]
    coef = fit.coef[idx]
    se = np.sqrt(np.diag(fit.vcov)[idx])
    inf = infer(coef, se, model, df)
    ratio = model == "poisson"
    return pd.DataFrame(
        {
            "term": [labels[n] for n in names],
            "period": pd.Series([None] * len(names), dtype=object),
            "estimate": np.exp(coef) if ratio else coef,
            "std_error": se,
            "statistic": inf["statistic"],
            "p_value": inf["p_value"],
            "ci_low": np.exp(inf["lo"]) if ratio else inf["lo"],
            "ci_high": np.exp(inf["hi"]) if ratio else inf["hi"],
            "scale": "rate_ratio" if ratio else "difference",
        }
    )

"""Covariate balance before and after matching, with MatchIt's ATT conventions.

* Standardised mean difference (SMD): difference in means (treated minus control) over the
  **treated group's** standard deviation in the data before matching (MatchIt's default for the
  ATT, used before and after matching so that the two are comparable). The SD is the sample SD
  (n - 1) for a continuous covariate and ``sqrt(p (1 - p))`` for a binary covariate or a level
  of a categorical one, with ``p`` the treated proportion. A zero SD gives SMD 0 when the means
  are equal and NaN otherwise.
* Variance ratio: treated variance over control variance, for continuous covariates only (NaN
  for binary ones). After matching the control variance is weighted with the bias-corrected
  ("reliability") formula ``sum w (x - m)^2 / (sum w - sum w^2 / sum w)``, as MatchIt's
  ``col_w_var`` does; with equal weights it is the usual sample variance.
* eCDF max: the largest absolute difference between the two groups' empirical CDFs (weighted
  after matching).

Hand-written because the definitions must match MatchIt's to the fourth decimal and no Python
library states these conventions; each statistic is a few lines of numpy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["BALANCE_COLUMNS", "ecdf_max", "smd", "weighted_mean", "weighted_var"]

#: Column order of :meth:`MatchResult.balance`.
BALANCE_COLUMNS = [
    "mean_treated",
    "mean_control_before",
    "smd_before",
    "var_ratio_before",
    "ecdf_max_before",
    "mean_control_after",
    "smd_after",
    "var_ratio_after",
    "ecdf_max_after",
    "mean_treated_after",
]


def weighted_mean(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Weighted mean (plain mean when ``w`` is None).

    Examples
    --------
    >>> weighted_mean(np.array([1.0, 3.0]), np.array([1.0, 3.0]))
    2.5
    """
    if w is None:
        return float(np.mean(x))
    return float(np.sum(w * x) / np.sum(w))


def weighted_var(x: np.ndarray, w: np.ndarray | None = None) -> float:
    """Bias-corrected weighted variance (sample variance, n - 1, when ``w`` is None).

    Examples
    --------
    >>> weighted_var(np.array([1.0, 2.0, 3.0]))
    1.0
    >>> weighted_var(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 2.0]))
    1.0
    """
    if w is None:
        return float(np.var(x, ddof=1)) if x.size > 1 else float("nan")
    sw = np.sum(w)
    denom = sw - np.sum(w**2) / sw
    if denom <= 0:
        return float("nan")
    m = np.sum(w * x) / sw
    return float(np.sum(w * (x - m) ** 2) / denom)


def smd(
    mean_treated: float, mean_control: float, treated_values: np.ndarray, *, binary: bool
) -> float:
    """Standardised mean difference over the treated group's SD.

    Parameters
    ----------
    mean_treated, mean_control : float
        Group means (weighted after matching).
    treated_values : np.ndarray
        All treated values before matching (they fix the denominator).
    binary : bool
        Use ``sqrt(p (1 - p))`` instead of the sample SD.

    Returns
    -------
    float
        The SMD; 0 if the SD and the difference are both zero, NaN if only the SD is.

    Examples
    --------
    >>> round(smd(0.5, 0.25, np.array([0.0, 1.0]), binary=True), 4)
    0.5
    """
    if binary:
        p = float(np.mean(treated_values))
        sd = np.sqrt(p * (1 - p))
    else:
        sd = float(np.std(treated_values, ddof=1)) if treated_values.size > 1 else 0.0
    diff = mean_treated - mean_control
    if sd == 0:
        return 0.0 if diff == 0 else float("nan")
    return float(diff / sd)


def _ecdf_at(x: np.ndarray, w: np.ndarray | None, grid: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    xs = x[order]
    cw = np.cumsum(np.ones_like(xs) if w is None else w[order])
    idx = np.searchsorted(xs, grid, side="right")
    out = np.where(idx > 0, cw[np.maximum(idx - 1, 0)], 0.0)
    return out / cw[-1]


def ecdf_max(
    xt: np.ndarray,
    xc: np.ndarray,
    wt: np.ndarray | None = None,
    wc: np.ndarray | None = None,
) -> float:
    """Largest absolute difference between two (weighted) empirical CDFs.

    Examples
    --------
    >>> ecdf_max(np.array([0.0, 1.0]), np.array([1.0, 1.0]))
    0.5
    """
    if xt.size == 0 or xc.size == 0:
        return float("nan")
    grid = np.union1d(xt, xc)
    return float(np.max(np.abs(_ecdf_at(xt, wt, grid) - _ecdf_at(xc, wc, grid))))


def balance_row(
    x: np.ndarray,
    treated: np.ndarray,
    weight: np.ndarray,
    *,
    binary: bool,
) -> dict[str, float]:
    """Balance statistics of one covariate row.

    Parameters
    ----------
    x : np.ndarray
        Values for all rows.
    treated : np.ndarray
        Boolean treatment indicator.
    weight : np.ndarray
        Matching weight per row (0 for rows not in the matched sample).
    binary : bool
        Binary covariate or categorical level (SD ``sqrt(p(1-p))``, no variance ratio).

    Returns
    -------
    dict
        Keys ``BALANCE_COLUMNS``.
    """
    xt, xc = x[treated], x[~treated]
    mt, mc = weighted_mean(xt), weighted_mean(xc) if xc.size else float("nan")
    sel_t = treated & (weight > 0)
    sel_c = ~treated & (weight > 0)
    xt_a, wt_a = x[sel_t], weight[sel_t]
    xc_a, wc_a = x[sel_c], weight[sel_c]
    mt_a = weighted_mean(xt_a, wt_a) if xt_a.size else float("nan")
    mc_a = weighted_mean(xc_a, wc_a) if xc_a.size else float("nan")
    if binary:
        vr_b = vr_a = float("nan")
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            vr_b = weighted_var(xt) / weighted_var(xc) if xc.size > 1 else float("nan")
            vr_a = (
                weighted_var(xt_a, wt_a) / weighted_var(xc_a, wc_a)
                if xc_a.size > 1 and xt_a.size > 1
                else float("nan")
            )
    return {
        "mean_treated": mt,
        "mean_control_before": mc,
        "smd_before": smd(mt, mc, xt, binary=binary),
        "var_ratio_before": vr_b,
        "ecdf_max_before": ecdf_max(xt, xc),
        "mean_control_after": mc_a,
        "smd_after": smd(mt_a, mc_a, xt, binary=binary),
        "var_ratio_after": vr_a,
        "ecdf_max_after": ecdf_max(xt_a, xc_a, wt_a, wc_a),
        "mean_treated_after": mt_a,
    }


def balance_frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Assemble balance rows into the table :meth:`MatchResult.balance` returns."""
    df = pd.DataFrame.from_dict(rows, orient="index", columns=BALANCE_COLUMNS)
    df.index.name = "covariate"
    return df

"""The paired effect size d_z (standardised response mean) and its noncentral-t interval."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

__all__ = ["EFFECT_SIZE_METHOD", "EFFECT_SIZE_NAME", "dz_confidence_interval"]

#: Name of the effect size in results (``tidy()`` term, ``to_dict()["effect_size"]["name"]``).
EFFECT_SIZE_NAME = "d_z"
#: How the effect size and its interval are computed, as published in results.json.
EFFECT_SIZE_METHOD = (
    "d_z (standardised response mean) = mean change / SD of change (n - 1 denominator), "
    "no small-sample correction; 95% CI by inverting the noncentral t distribution of "
    "t = d_z * sqrt(n) (Steiger & Fouladi 1997; Cumming & Finch 2001)"
)


def dz_confidence_interval(d_z: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval for the paired effect size d_z by inverting the noncentral t.

    With n paired differences, t = d_z·√n follows a noncentral t distribution with n − 1
    degrees of freedom and noncentrality δ·√n. The limits are the δ for which the observed t
    sits at the upper and lower (1 − level)/2 tail (Steiger & Fouladi 1997). Hand-written on
    ``scipy.stats.nct`` and Brent's root finder because neither scipy nor statsmodels offers
    this interval; it is exact under normal differences, unlike the Hedges–Olkin normal
    approximation. The CDF is ``scipy.special.nctdtr`` (the ufunc behind ``stats.nct.cdf``),
    called directly because the root finder calls it a few dozen times.

    Parameters
    ----------
    d_z : float
        Observed mean change divided by the SD of the changes.
    n : int
        Number of pairs (at least 2).
    level : float
        Confidence level.

    Returns
    -------
    tuple of float
        Lower and upper limit (NaN when ``n < 2`` or ``d_z`` is not finite).

    Examples
    --------
    >>> lo, hi = dz_confidence_interval(0.5, 30)
    >>> round(lo, 3), round(hi, 3)
    (0.116, 0.876)
    """
    if n < 2 or not np.isfinite(d_z):
        return (math.nan, math.nan)
    df = n - 1
    t_obs = d_z * math.sqrt(n)
    tail = (1 - level) / 2
    # Bracket around the normal approximation, SE(ncp) ~ sqrt(1 + t^2 / (2 df)).
    step = 4.0 * math.sqrt(1.0 + t_obs**2 / (2.0 * df))
    return (
        _noncentrality_limit(df, t_obs, step, 1 - tail) / math.sqrt(n),
        _noncentrality_limit(df, t_obs, step, tail) / math.sqrt(n),
    )


def _noncentrality_limit(df: int, t_obs: float, step: float, p: float) -> float:
    """The noncentrality at which P(T <= t_obs) = p (NaN when it cannot be bracketed)."""

    # P(T <= t_obs | ncp) falls as ncp rises. special.nctdtr is the noncentral t CDF
    # (the ufunc behind stats.nct.cdf, without its per-call argument checking).
    def f(ncp: float) -> float:
        return float(special.nctdtr(df, ncp, t_obs)) - p

    lo, hi = t_obs - step, t_obs + step
    # nctdtr returns NaN for extreme inputs (e.g. two pairs with nearly equal changes):
    # then the interval is not computable, never a crash.
    for _ in range(60):
        v = f(lo)
        if math.isnan(v) or v >= 0:
            break
        lo -= step
    for _ in range(60):
        v = f(hi)
        if math.isnan(v) or v <= 0:
            break
        hi += step
    if math.isnan(f(lo)) or math.isnan(f(hi)) or f(lo) < 0 or f(hi) > 0:
        return math.nan
    try:
        return optimize.brentq(f, lo, hi, xtol=1e-10)
    except ValueError:
        return math.nan

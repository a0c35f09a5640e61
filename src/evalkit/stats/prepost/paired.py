"""The paired-change estimator: mean change with its t interval, and the detectable change.

The mean change, its SE, CI and p come from the one-sample t-test of the changes
(``scipy.stats.ttest_1samp``, identical to the paired ``ttest_rel``); the effect size d_z and
its interval from :mod:`evalkit.stats.prepost.effect_size`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

from evalkit.stats.prepost.effect_size import dz_confidence_interval

__all__ = ["PAIRED_STAT_KEYS", "mde_standardised", "minimum_detectable_change", "paired_stats"]

#: Figures :func:`paired_stats` returns besides ``n`` and ``df`` (NaN when not computable).
PAIRED_STAT_KEYS: tuple[str, ...] = (
    "mean_change",
    "sd_change",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "t_statistic",
    "effect_size",
    "effect_size_ci_low",
    "effect_size_ci_high",
)


def paired_stats(change: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Mean change, SE, t CI and p (one-sample t on the changes = paired t), d_z with CI.

    Parameters
    ----------
    change : np.ndarray
        One change (after − before) per pair.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``n``, ``df`` and :data:`PAIRED_STAT_KEYS`. With one pair only the mean is set; with
        identical changes (SD 0) the CI collapses to the mean and there is no p or d_z.

    Examples
    --------
    >>> import numpy as np
    >>> r = paired_stats(np.array([2.0, 3.0, 4.0]))
    >>> r["mean_change"], r["std_error"], round(r["ci_low"], 4)
    (3.0, 0.5773502691896258, 0.5159)
    """
    n = int(change.size)
    out = dict.fromkeys(PAIRED_STAT_KEYS, math.nan)
    out["n"] = n
    out["df"] = float(n - 1) if n >= 1 else math.nan
    if n == 0:
        return out
    out["mean_change"] = float(change.mean())
    if n < 2:
        return out
    sd = float(change.std(ddof=1))
    out["sd_change"] = sd
    out["std_error"] = sd / math.sqrt(n)
    if sd > 0:
        res = stats.ttest_1samp(change, 0.0)
        ci = res.confidence_interval(level)
        out.update(
            ci_low=float(ci.low),
            ci_high=float(ci.high),
            p_value=float(res.pvalue),
            t_statistic=float(res.statistic),
        )
        d = out["mean_change"] / sd
        lo, hi = dz_confidence_interval(d, n, level)
        out.update(effect_size=d, effect_size_ci_low=lo, effect_size_ci_high=hi)
    else:
        out.update(ci_low=out["mean_change"], ci_high=out["mean_change"])
    return out


@lru_cache(maxsize=512)
def mde_standardised(n: int, alpha: float, power: float) -> float:
    """Smallest d_z a two-sided paired t-test on ``n`` pairs detects with ``power`` at ``alpha``.

    Solved with statsmodels' ``TTestPower`` (cached: power analyses ask for the same ``n``
    many times). Always positive: two-sided power is symmetric in the effect size and the
    solver may return the negative root.

    Examples
    --------
    >>> round(mde_standardised(10, 0.05, 0.8), 3)
    0.996
    """
    from statsmodels.stats.power import TTestPower

    es = TTestPower().solve_power(
        effect_size=None, nobs=n, alpha=alpha, power=power, alternative="two-sided"
    )
    return abs(float(np.asarray(es, dtype=float).reshape(-1)[0]))


def minimum_detectable_change(
    sd_change: float, n: int, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Minimum detectable mean change (paired t, two-sided) on the instrument's own scale.

    statsmodels' ``TTestPower`` solves for the detectable d_z at ``n`` pairs
    (:func:`mde_standardised`); times the SD of the changes it gives the change in score
    points. NaN with fewer than 3 pairs or no spread in the changes.
    """
    if n < 3 or not np.isfinite(sd_change) or sd_change <= 0:
        return math.nan
    return mde_standardised(n, alpha, power) * sd_change

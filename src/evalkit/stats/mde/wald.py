"""Power of a two-sided Wald test and Bloom's MDE from a standard error (any estimate).

References: Bloom HS (1995) Minimum detectable effects, Evaluation Review 19:547-56.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["mde_from_se", "wald_power", "z_critical"]


def z_critical(alpha: float) -> float:
    """The two-sided critical value z_{1 - alpha/2}; ``alpha`` must lie in (0, 1)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    return float(stats.norm.ppf(1 - alpha / 2))


def wald_power(delta: Any, se: Any, alpha: float) -> Any:
    """Power of the two-sided Wald z-test of a true shift ``delta`` with standard error ``se``.

    Both tails count: Phi(|delta| / se - z) + Phi(-|delta| / se - z); arrays broadcast.
    """
    z = z_critical(alpha)
    r = np.abs(delta) / se
    return stats.norm.cdf(r - z) + stats.norm.cdf(-r - z)


def mde_from_se(
    std_error: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    df: float | None = None,
) -> float:
    """Minimum detectable effect from the standard error of an estimate (Bloom 1995).

    MDE = (z_{1 - alpha/2} + z_{power}) * SE, with t quantiles on ``df`` degrees of freedom
    when given; the multiplier is 2.80 at 80% power and 5% two-sided. For a log rate ratio the
    detectable fall is ``exp(-mde_from_se(se))``.

    Parameters
    ----------
    std_error : float
        Standard error of the estimate (log scale for a ratio).
    alpha, power : float
        Two-sided significance level and power.
    df : float, optional
        Degrees of freedom of a t-based test (e.g. clusters - 1).

    Returns
    -------
    float
        The MDE on the scale of ``std_error``.

    Examples
    --------
    >>> round(mde_from_se(1.0), 4)
    2.8016
    """
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power}")
    if df is None:
        mult = z_critical(alpha) + stats.norm.ppf(power)
    else:
        mult = stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)
    return float(mult * std_error)

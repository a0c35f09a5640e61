"""Poisson rate ratios with confidence intervals, and a test of heterogeneity between groups.

Generic helpers for any DataFrame (no evalkit domain imports):

- :func:`rate_ratio` compares two Poisson rates (events over person-time) with a 95% CI, by the
  exact conditional method (default) or the log-normal (Wald on the log scale) approximation.
- :func:`rate_ratios` does it for every level of a grouping column against a reference level.
- :func:`heterogeneity` tests whether independent group estimates differ (Cochran's Q, I²).

Why the exact conditional CI is the default
-------------------------------------------
Given the total count ``n = a + b``, the first group's count is ``Binomial(n, p)`` with
``p = RR T1 / (RR T1 + T2)``, so a Clopper-Pearson interval for ``p`` maps one-to-one onto an
interval for the rate ratio ``RR = p / (1 - p) x T2 / T1`` (Armitage, Berry & Matthews,
*Statistical Methods in Medical Research*, 4th ed., section 5.3; R's ``poisson.test`` and
``rateratio.test`` do the same). It needs no large-sample approximation, never gives a negative
lower limit and stays defined when one group has no events (lower limit 0, or upper limit
infinite), which matters for small groups such as a rarely recorded ethnicity. The log-normal
interval ``exp(log RR +- z sqrt(1/a + 1/b))`` is offered for comparison with published figures
that use it; it is undefined when either count is 0. statsmodels supplies the log-normal
interval (``confint_poisson_2indep(method="wald-log")``), the Clopper-Pearson interval
(``proportion_confint(method="beta")``) and both tests (``test_poisson_2indep``); statsmodels
0.15 has no exact conditional *interval* for the ratio, so this module maps the binomial
interval itself (two lines, checked against R's ``poisson.test`` in the tests).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from statsmodels.stats import rates as sm_rates
from statsmodels.stats.proportion import proportion_confint

from evalkit.jsonsafe import json_safe
from evalkit.stats.result import Result

__all__ = [
    "HeterogeneityResult",
    "RateRatio",
    "heterogeneity",
    "rate_ratio",
    "rate_ratios",
]

Method = Literal["exact", "wald-log"]
_METHOD_LABEL = {
    "exact": "exact conditional (Clopper-Pearson on the binomial split of the events)",
    "wald-log": "log-normal approximation (Wald on the log rate ratio)",
}


# --------------------------------------------------------------------------------------------
# One rate ratio
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class RateRatio(Result):
    """The ratio of two Poisson rates, ``(count1 / exposure1) / (count2 / exposure2)``.

    A :class:`~evalkit.stats.result.Result`; ``repr()`` and Jupyter show :meth:`summary`.

    Attributes
    ----------
    estimate, ci_low, ci_high : float
        Rate ratio and its confidence limits (``inf`` when ``count2`` is 0; NaN when both
        counts are 0 or the method cannot give a limit).
    p_value : float
        Two-sided p-value for ratio 1: the exact conditional binomial test (statsmodels
        ``method="exact-cond"``, the smaller-likelihood two-sided rule of ``binom.test``) or
        the Wald test on the log scale.
    std_error : float
        Large-sample SE of ``log(estimate)``, ``sqrt(1/count1 + 1/count2)`` (NaN if a count is
        0); reported with either method, for pooling and heterogeneity tests.
    count1, exposure1, count2, exposure2 : float
        The inputs.
    method : {"exact", "wald-log"}
    level : float
        Confidence level.
    notes : tuple of str
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    std_error: float
    count1: float
    exposure1: float
    count2: float
    exposure2: float
    method: str
    level: float = 0.95
    notes: tuple[str, ...] = ()

    analysis = "rate_ratio"

    @property
    def rate1(self) -> float:
        """Events per unit of exposure in the first group."""
        return self.count1 / self.exposure1

    @property
    def rate2(self) -> float:
        """Events per unit of exposure in the second group."""
        return self.count2 / self.exposure2

    def tidy(self) -> pd.DataFrame:
        """One row: counts, exposures, rates, ratio, CI, SE of the log ratio, p, method."""
        return pd.DataFrame([self.to_dict(safe=False)])

    def summary(self) -> str:
        """Plain-text summary."""
        lines = [
            "Poisson rate ratio (group 1 over group 2)",
            f"Method: {_METHOD_LABEL[self.method]}; {self.level:.0%} CI",
            f"Group 1: {self.count1:g} events / {self.exposure1:g} = {self.rate1:.4g}",
            f"Group 2: {self.count2:g} events / {self.exposure2:g} = {self.rate2:.4g}",
            f"Rate ratio {self.estimate:.4g} ({self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"p = {self.p_value:.3g}",
            *[f"note: {n}" for n in self.notes],
        ]
        return "\n".join(lines)

    def to_dict(self, *, safe: bool = True) -> dict[str, Any]:
        """JSON-safe dict of every attribute (NaN and infinity become ``None``)."""
        out = {
            "count1": self.count1,
            "exposure1": self.exposure1,
            "rate1": self.rate1 if self.exposure1 > 0 else math.nan,
            "count2": self.count2,
            "exposure2": self.exposure2,
            "rate2": self.rate2 if self.exposure2 > 0 else math.nan,
            "estimate": self.estimate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "p_value": self.p_value,
            "method": self.method,
            "level": self.level,
        }
        if safe:
            out["notes"] = list(self.notes)
            return json_safe(out)
        return out


def _check_inputs(count1: float, exposure1: float, count2: float, exposure2: float) -> None:
    for name, v in (("count1", count1), ("count2", count2)):
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{name} must be a non-negative number, not {v!r}")
        if v != round(v):
            raise ValueError(f"{name} must be a whole number of events, not {v!r}")
    for name, v in (("exposure1", exposure1), ("exposure2", exposure2)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, not {v!r}")


def rate_ratio(
    count1: float,
    exposure1: float,
    count2: float,
    exposure2: float,
    *,
    method: Method = "exact",
    level: float = 0.95,
) -> RateRatio:
    """Ratio of two Poisson rates with a confidence interval and a two-sided p-value.

    Parameters
    ----------
    count1, exposure1 : float
        Events and person-time (any unit) of the group of interest.
    count2, exposure2 : float
        Events and person-time of the comparison (reference) group.
    method : {"exact", "wald-log"}
        ``"exact"`` (default): the exact conditional interval, Clopper-Pearson on
        ``count1 | count1 + count2`` mapped to the ratio (see the module docstring for why);
        identical to R's ``poisson.test(c(count1, count2), c(exposure1, exposure2))``.
        ``"wald-log"``: ``exp(log RR +- z sqrt(1/count1 + 1/count2))`` from statsmodels.
    level : float
        Confidence level (default 0.95).

    Returns
    -------
    RateRatio

    Examples
    --------
    R's ``poisson.test`` example (eba1977: Fredericia against three other cities, ages 55-59):

    >>> rr = rate_ratio(11, 800, 6 + 8 + 7, 1083 + 1050 + 878)
    >>> round(rr.estimate, 6), round(rr.ci_low, 6), round(rr.ci_high, 6)
    (1.971488, 0.858426, 4.277266)
    """
    count1, exposure1 = float(count1), float(exposure1)
    count2, exposure2 = float(count2), float(exposure2)
    _check_inputs(count1, exposure1, count2, exposure2)
    if method not in _METHOD_LABEL:
        raise ValueError(f"method must be one of {sorted(_METHOD_LABEL)}, not {method!r}")
    if not 0 < level < 1:
        raise ValueError("level must lie between 0 and 1")
    alpha = 1 - level
    notes: list[str] = []
    n = count1 + count2
    with np.errstate(divide="ignore", invalid="ignore"):
        est = float(np.divide(count1 / exposure1, count2 / exposure2))
        se = math.sqrt(1 / count1 + 1 / count2) if count1 > 0 and count2 > 0 else math.nan
    if n == 0:
        notes.append("No events in either group: the rate ratio is undefined.")
        return RateRatio(
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            count1,
            exposure1,
            count2,
            exposure2,
            method,
            level,
            tuple(notes),
        )
    if count2 == 0:
        est = math.inf
        notes.append(
            "No events in the reference group: the ratio and its upper limit are infinite."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi, p = _interval(count1, exposure1, count2, exposure2, method, alpha, notes)
    return RateRatio(
        est,
        float(lo),
        float(hi),
        float(p),
        se,
        count1,
        exposure1,
        count2,
        exposure2,
        method,
        level,
        tuple(notes),
    )


def _interval(
    count1: float,
    exposure1: float,
    count2: float,
    exposure2: float,
    method: str,
    alpha: float,
    notes: list[str],
) -> tuple[float, float, float]:
    """Confidence limits and two-sided p-value of the rate ratio by ``method``."""
    n = count1 + count2
    scale = exposure2 / exposure1
    if method == "exact":
        p_lo, p_hi = proportion_confint(int(count1), int(n), alpha=alpha, method="beta")
        lo = p_lo / (1 - p_lo) * scale
        hi = p_hi / (1 - p_hi) * scale if p_hi < 1 else math.inf
        p = float(
            sm_rates.test_poisson_2indep(
                int(count1), exposure1, int(count2), exposure2, method="exact-cond"
            ).pvalue
        )
    else:
        if count1 == 0 or count2 == 0:
            notes.append(
                "A group has no events: the log-normal interval is undefined; use the exact one."
            )
            lo = hi = p = math.nan
        else:
            lo, hi = sm_rates.confint_poisson_2indep(
                count1, exposure1, count2, exposure2, method="wald-log", alpha=alpha
            )
            p = float(
                sm_rates.test_poisson_2indep(
                    count1, exposure1, count2, exposure2, method="wald-log"
                ).pvalue
            )
    return float(lo), float(hi), float(p)


def rate_ratios(
    data: pd.DataFrame,
    group: str,
    count: str,
    exposure: str,
    *,
    reference: Any = "largest",
    method: Method = "exact",
    level: float = 0.95,
) -> pd.DataFrame:
    """Rate ratio of every level of ``group`` against a reference level, from any DataFrame.

    Rows are summed within each level first, so ``data`` may hold one row per level or many
    (e.g. one per person-month or per stratum).

    Parameters
    ----------
    data : pd.DataFrame
    group : str
        Column whose levels are compared.
    count, exposure : str
        Event count and person-time columns.
    reference : level or "largest"
        Reference level; ``"largest"`` (default) takes the level with the most exposure (ties:
        the first in sorted order).
    method : {"exact", "wald-log"}
        See :func:`rate_ratio`.
    level : float
        Confidence level.

    Returns
    -------
    pd.DataFrame
        One row per level, in sorted level order: ``level``, ``count``, ``exposure``,
        ``rate``, ``reference_level``, ``is_reference``, ``ratio``, ``ci_low``, ``ci_high``,
        ``std_error`` (of the log ratio), ``p_value``, ``method``. The reference row has ratio
        1 and missing CI, SE and p (a ratio of a group with itself carries no uncertainty).
        A level with no exposure has missing rate and ratio.

    Examples
    --------
    >>> df = pd.DataFrame({"imd": [1, 5], "n": [30, 10], "py": [1000.0, 1000.0]})
    >>> rate_ratios(df, "imd", "n", "py", reference=5)[["level", "ratio"]]
       level  ratio
    0      1    3.0
    1      5    1.0
    """
    for c in (group, count, exposure):
        if c not in data.columns:
            raise KeyError(f"column '{c}' is not in the data")
    agg = data.groupby(group, observed=True, sort=True)[[count, exposure]].sum()
    if agg.empty:
        raise ValueError("no rows to compare")
    if isinstance(reference, str) and reference == "largest" and "largest" not in agg.index:
        ref = agg[exposure].idxmax()
    else:
        ref = reference
    if ref not in agg.index:
        raise ValueError(f"reference level {ref!r} is not a level of '{group}'")
    c_ref, t_ref = float(agg.loc[ref, count]), float(agg.loc[ref, exposure])
    if t_ref <= 0:
        raise ValueError(f"the reference level {ref!r} has no exposure")
    rows = []
    for lvl, r in agg.iterrows():
        c, t = float(r[count]), float(r[exposure])
        row: dict[str, Any] = {
            "level": lvl,
            "count": c,
            "exposure": t,
            "rate": c / t if t > 0 else math.nan,
            "reference_level": ref,
            "is_reference": lvl == ref,
            "ratio": math.nan,
            "ci_low": math.nan,
            "ci_high": math.nan,
            "std_error": math.nan,
            "p_value": math.nan,
            "method": method,
        }
        if lvl == ref:
            row["ratio"] = 1.0
        elif t > 0:
            rr = rate_ratio(c, t, c_ref, t_ref, method=method, level=level)
            row.update(
                ratio=rr.estimate,
                ci_low=rr.ci_low,
                ci_high=rr.ci_high,
                std_error=rr.std_error,
                p_value=rr.p_value,
            )
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# Heterogeneity
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class HeterogeneityResult(Result):
    """Cochran's Q test that k independent estimates share one value, with I².

    A :class:`~evalkit.stats.result.Result`; ``repr()`` and Jupyter show :meth:`summary`.

    Attributes
    ----------
    q : float
        ``sum w_i (y_i - y_bar)^2`` with ``w_i = 1 / se_i^2`` and ``y_bar`` the
        inverse-variance weighted mean; for independent estimates this is exactly the Wald
        chi-square test of ``y_1 = ... = y_k``.
    df : int
        ``k - 1``.
    p_value : float
        Upper tail of chi-square(df) at ``q``.
    i2 : float
        ``max(0, (q - df) / q)``: the share of the variation between estimates beyond chance
        (Higgins & Thompson 2002).
    pooled, pooled_std_error : float
        Fixed-effect (inverse-variance) pooled estimate and its SE, on the scale given (the
        log scale when ``scale == "log"``).
    k : int
        Estimates used (finite estimate and positive finite SE).
    scale : {"linear", "log"}
    labels : tuple of str
    estimates, std_errors : tuple of float
        The estimates tested, on the tested scale.
    notes : tuple of str
    """

    q: float
    df: int
    p_value: float
    i2: float
    pooled: float
    pooled_std_error: float
    k: int
    scale: str
    labels: tuple[str, ...] = ()
    estimates: tuple[float, ...] = ()
    std_errors: tuple[float, ...] = ()
    notes: tuple[str, ...] = field(default=())

    analysis = "heterogeneity"

    def tidy(self) -> pd.DataFrame:
        """One row per estimate used: ``label``, ``estimate``, ``std_error``, ``weight``."""
        w = 1 / np.square(np.asarray(self.std_errors, dtype=float))
        return pd.DataFrame(
            {
                "label": list(self.labels),
                "estimate": list(self.estimates),
                "std_error": list(self.std_errors),
                "weight": w / w.sum() if len(w) else w,
            }
        )

    def summary(self) -> str:
        """Plain-text summary."""
        on = "log scale" if self.scale == "log" else "linear scale"
        return "\n".join(
            [
                f"Heterogeneity across {self.k} groups (Cochran's Q, {on})",
                f"Q = {self.q:.3f} on {self.df} df, p = {self.p_value:.3g}, I² = {self.i2:.1%}",
                f"Fixed-effect pooled estimate {self.pooled:.4g} (SE {self.pooled_std_error:.3g})",
                *[f"note: {n}" for n in self.notes],
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``test``, ``q``, ``df``, ``p_value``, ``i2``, pooled, ``k``, notes."""
        return json_safe(
            {
                "test": "cochran_q",
                "scale": self.scale,
                "q": self.q,
                "df": self.df,
                "p_value": self.p_value,
                "i2": self.i2,
                "pooled": self.pooled,
                "pooled_std_error": self.pooled_std_error,
                "k": self.k,
                "labels": list(self.labels),
                "notes": list(self.notes),
            }
        )


def heterogeneity(
    estimates: Sequence[float] | np.ndarray | pd.Series,
    std_errors: Sequence[float] | np.ndarray | pd.Series,
    *,
    scale: Literal["linear", "log"] = "linear",
    labels: Sequence[str] | None = None,
) -> HeterogeneityResult:
    """Test whether independent group estimates differ: Cochran's Q with I².

    Uses statsmodels' ``combine_effects`` (fixed-effect inverse-variance weights), whose ``q``
    and ``i2`` are Cochran's Q and Higgins' I². The groups must be independent (disjoint people
    or matched sets); Q is then the Wald chi-square test that all k estimates are equal.

    Parameters
    ----------
    estimates : sequence of float
        One estimate per group: mean changes (``scale="linear"``) or ratios
        (``scale="log"``: logged before testing, so pass rate ratios as they are).
    std_errors : sequence of float
        Standard errors on the tested scale (for ratios: SE of the log ratio).
    scale : {"linear", "log"}
    labels : sequence of str, optional
        Group names, kept in the result.

    Returns
    -------
    HeterogeneityResult
        With fewer than two usable estimates, Q, p and I² are NaN and a note says why.

    Examples
    --------
    >>> r = heterogeneity([0.1, 0.3, -0.2], [0.1, 0.141421356, 0.173205081])
    >>> round(r.q, 3), r.df, round(r.i2, 2)
    (5.0, 2, 0.6)
    """
    y = np.asarray(estimates, dtype=float)
    se = np.asarray(std_errors, dtype=float)
    if y.shape != se.shape or y.ndim != 1:
        raise ValueError("estimates and std_errors must be 1-d and of the same length")
    names = [str(x) for x in labels] if labels is not None else [str(i) for i in range(y.size)]
    if len(names) != y.size:
        raise ValueError("labels must have one entry per estimate")
    if scale not in ("linear", "log"):
        raise ValueError("scale must be 'linear' or 'log'")
    notes: list[str] = []
    if scale == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, np.log(y), np.nan)
    ok = np.isfinite(y) & np.isfinite(se) & (se > 0)
    if (~ok).any():
        dropped = [names[i] for i in np.flatnonzero(~ok)]
        notes.append(f"Left out (no finite estimate or SE): {', '.join(dropped)}.")
    y, se = y[ok], se[ok]
    names = [n for n, keep in zip(names, ok, strict=True) if keep]
    k = int(y.size)
    if k < 2:
        notes.append("Fewer than two groups with an estimate: no test of heterogeneity.")
        pooled = float(y[0]) if k == 1 else math.nan
        pooled_se = float(se[0]) if k == 1 else math.nan
        return HeterogeneityResult(
            math.nan,
            max(k - 1, 0),
            math.nan,
            math.nan,
            pooled,
            pooled_se,
            k,
            scale,
            tuple(names),
            tuple(map(float, y)),
            tuple(map(float, se)),
            tuple(notes),
        )
    from scipy import stats
    from statsmodels.stats.meta_analysis import combine_effects

    with np.errstate(divide="ignore", invalid="ignore"):  # identical estimates: Q = 0
        res = combine_effects(y, se**2, row_names=names)
    q = float(res.q)
    df = k - 1
    return HeterogeneityResult(
        q=q,
        df=df,
        p_value=float(stats.chi2.sf(q, df)),
        i2=float(max(0.0, (q - df) / q)) if q > 0 else 0.0,
        pooled=float(res.mean_effect_fe),
        pooled_std_error=float(np.sqrt(res.var_eff_w_fe)),
        k=k,
        scale=scale,
        labels=tuple(names),
        estimates=tuple(map(float, y)),
        std_errors=tuple(map(float, se)),
        notes=tuple(notes),
    )

"""E-value for a rate ratio and its confidence interval (VanderWeele & Ding 2017).

The E-value is the minimum strength of association, on the risk-ratio scale, that an unmeasured
confounder would need to have with both the treatment and the outcome, conditional on the
measured covariates, to fully explain away an observed risk ratio RR:

    E = RR + sqrt(RR * (RR - 1))          for RR >= 1,

and for RR < 1 the same formula applied to 1 / RR. For the confidence interval the E-value is
that of the limit closest to 1, and 1 if the interval includes 1 (VanderWeele TJ, Ding P.
Sensitivity analysis in observational research: introducing the E-value. Ann Intern Med
2017;167:268-274). A rate ratio from a Poisson model of counts is treated as a risk ratio, as the
paper does for rate and hazard ratios of rare outcomes.

The formula is two lines, so it is written out here rather than imported: the R package
``EValue`` is not a Python dependency and no well-kept Python package provides it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.stats.result import Result

__all__ = ["EValueResult", "evalue", "evalue_rr"]


def evalue_rr(rr: float) -> float:
    """Compute the E-value of a point risk (or rate) ratio.

    Parameters
    ----------
    rr : float
        Positive ratio; a ratio below 1 is inverted first.

    Returns
    -------
    float
        ``RR + sqrt(RR * (RR - 1))`` with RR = max(rr, 1 / rr); 1 for rr = 1.

    Raises
    ------
    ValueError
        If ``rr`` is not a positive finite number.

    Examples
    --------
    >>> round(evalue_rr(3.9), 2)  # VanderWeele & Ding (2017), breastfeeding example
    7.26
    >>> evalue_rr(0.5) == evalue_rr(2.0)
    True
    """
    try:
        value = float(rr)
    except (TypeError, ValueError):
        raise ValueError(f"a ratio must be a positive finite number, not {rr!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"a ratio must be a positive finite number, not {rr!r}")
    r = value if value >= 1 else 1 / value
    return r + math.sqrt(r * (r - 1))


@dataclass(frozen=True, repr=False)
class EValueResult(Result):
    """E-values of a rate ratio and of its confidence interval.

    Attributes
    ----------
    estimate : float
        The rate ratio as given.
    ci_low, ci_high : float or None
        Its confidence limits as given.
    evalue : float
        E-value of the point estimate.
    evalue_ci : float or None
        E-value of the confidence limit closest to 1; 1 when the interval includes 1; None
        without an interval.
    spec : dict
        Inputs and the reference for the formula.
    notes : tuple of str
        Plain-English lines: inversion of a protective ratio, CI including 1.
    """

    estimate: float
    ci_low: float | None
    ci_high: float | None
    evalue: float
    evalue_ci: float | None
    spec: dict[str, Any]
    notes: tuple[str, ...]

    analysis = "evalue"

    def tidy(self) -> pd.DataFrame:
        """One row per quantity: the point estimate and the CI limit closest to 1.

        Returns
        -------
        pd.DataFrame
            Columns ``quantity`` (``"point"``, ``"ci"``), ``rate_ratio`` (the value used),
            ``evalue``.
        """
        rows = [{"quantity": "point", "rate_ratio": self.estimate, "evalue": self.evalue}]
        if self.evalue_ci is not None:
            rows.append(
                {
                    "quantity": "ci",
                    "rate_ratio": self.spec["ci_limit_used"],
                    "evalue": self.evalue_ci,
                }
            )
        return pd.DataFrame(rows, columns=["quantity", "rate_ratio", "evalue"])

    def summary_header(self) -> list[str]:
        """The rate ratio with its CI and the E-values, above the table in :meth:`summary`."""
        ci = "" if self.ci_low is None else f" (95% CI {self.ci_low:.4g} to {self.ci_high:.4g})"
        return [
            "E-value for unmeasured confounding (VanderWeele & Ding 2017)",
            f"Rate ratio {self.estimate:.4g}{ci}",
            f"E-value: {self.evalue:.3f}"
            + ("" if self.evalue_ci is None else f"; for the CI: {self.evalue_ci:.3f}"),
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the inputs, the E-values, the spec and the notes.

        Returns
        -------
        dict
            Plain Python numbers and strings.
        """
        return {
            "analysis": self.analysis,
            "estimate": float(self.estimate),
            "ci_low": None if self.ci_low is None else float(self.ci_low),
            "ci_high": None if self.ci_high is None else float(self.ci_high),
            "evalue": float(self.evalue),
            "evalue_ci": None if self.evalue_ci is None else float(self.evalue_ci),
            "spec": dict(self.spec),
            "notes": list(self.notes),
        }


def evalue(
    estimate: float, ci_low: float | None = None, ci_high: float | None = None
) -> EValueResult:
    """Compute the E-values of a rate ratio and, given its confidence limits, of the interval.

    Parameters
    ----------
    estimate : float
        Rate (or risk) ratio, positive.
    ci_low, ci_high : float, optional
        Its confidence limits; give both or neither.

    Returns
    -------
    EValueResult
        ``evalue`` for the point estimate (a ratio below 1 inverted first) and ``evalue_ci``
        for the limit closest to 1 (1 if the interval includes 1).

    Raises
    ------
    ValueError
        If a value is not positive and finite, only one limit is given, or the limits do not
        bracket the estimate.

    Examples
    --------
    >>> res = evalue(3.9, 1.8, 8.7)  # VanderWeele & Ding (2017): E-values 7.26 and 3.0
    >>> round(res.evalue, 2), round(res.evalue_ci, 2)
    (7.26, 3.0)
    """
    for name, v in (("estimate", estimate), ("ci_low", ci_low), ("ci_high", ci_high)):
        if v is not None and not (math.isfinite(float(v)) and float(v) > 0):
            raise ValueError(f"{name} must be a positive finite ratio, not {v!r}")
    if (ci_low is None) != (ci_high is None):
        raise ValueError("give both ci_low and ci_high, or neither")
    rr = float(estimate)
    notes: list[str] = []
    if rr < 1:
        notes.append(f"The rate ratio is below 1: its inverse 1/{rr:.4g} = {1 / rr:.4g} was used.")
    point = evalue_rr(rr)
    e_ci: float | None = None
    limit: float | None = None
    if ci_low is not None and ci_high is not None:
        lo, hi = float(ci_low), float(ci_high)
        if not lo <= rr <= hi:
            raise ValueError(f"the interval [{lo}, {hi}] does not contain the estimate {rr}")
        if lo <= 1 <= hi:
            e_ci, limit = 1.0, 1.0
            notes.append(
                "The confidence interval includes 1: its E-value is 1 (no confounding is needed "
                "to move the interval to include no effect)."
            )
        else:
            limit = lo if rr > 1 else hi
            e_ci = evalue_rr(limit)
    spec = {
        "estimate": rr,
        "ci_low": None if ci_low is None else float(ci_low),
        "ci_high": None if ci_high is None else float(ci_high),
        "ci_limit_used": limit,
        "formula": "RR + sqrt(RR * (RR - 1)), RR < 1 inverted first",
        "reference": "VanderWeele & Ding, Ann Intern Med 2017;167:268-274",
    }
    return EValueResult(
        estimate=rr,
        ci_low=spec["ci_low"],
        ci_high=spec["ci_high"],
        evalue=point,
        evalue_ci=e_ci,
        spec=spec,
        notes=tuple(notes),
    )

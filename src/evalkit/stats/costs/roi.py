"""Return on investment and cost per emergency admission avoided, from a matched cost difference.

The NHS saving per participant (minus :func:`~evalkit.stats.costs.matched_cost_difference`'s
estimate) over the programme cost per participant, gross ("£ saved per £1") and net, each with a
CI carried through the *same* bootstrap resamples (docs/design/methods.md section 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.costs.matched_difference import MatchedDifferenceResult
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["ReturnOnInvestmentResult", "return_on_investment"]


def money_table(table: pd.DataFrame) -> str:
    """A tidy table of £ figures as plain text: 4 significant digits, thousands separated."""
    return table.to_string(index=False, float_format=lambda v: f"{v:,.4g}")


class MoneyResult(Result):
    """A result whose tidy table is in pounds: :meth:`summary` shows it with :func:`money_table`."""

    def format_tidy(self, table: pd.DataFrame) -> str:
        """The table in £, thousands separated (:func:`money_table`)."""
        return money_table(table)


@dataclass(frozen=True, eq=False, repr=False)
class ReturnOnInvestmentResult(MoneyResult):
    """Result of :func:`return_on_investment`: NHS saving against programme cost.

    Attributes
    ----------
    saving, saving_ci_low, saving_ci_high : float
        NHS cost saving per participant (positive: participants cost less than their matched
        controls predict) with its bootstrap CI: minus the matched cost difference.
    programme_cost : float
        Programme cost per participant (fixed, not resampled).
    gross, gross_ci_low, gross_ci_high : float
        Gross return per £1, saving ÷ programme cost (Green Book benefit-cost ratio).
    net, net_ci_low, net_ci_high : float
        Net return per £1, gross − 1 (0 is break-even).
    std_error : float
        Bootstrap SD of the gross return.
    share_break_even : float
        Share of bootstrap resamples with gross ≥ 1 (a description of the bootstrap
        distribution, not a posterior probability).
    admissions_avoided, admissions_ci_low, admissions_ci_high : float or None
        Emergency admissions avoided per participant (minus the matched difference), with CI.
    cost_per_admission_avoided, cpa_ci_low, cpa_ci_high : float or None
        Programme cost ÷ admissions avoided; the interval is the programme cost over the
        admissions interval's limits, unbounded (``inf``) above when that interval includes
        zero; None where not defined (no admissions avoided).
    replicates : pd.DataFrame
        Per resample: ``saving``, ``gross``, ``net`` (and ``admissions_avoided``).
    spec, notes
        Arguments used; plain-English lines (perspective, price year, caveats).
    """

    analysis = "return_on_investment"

    saving: float
    saving_ci_low: float
    saving_ci_high: float
    programme_cost: float
    gross: float
    gross_ci_low: float
    gross_ci_high: float
    net: float
    net_ci_low: float
    net_ci_high: float
    std_error: float
    share_break_even: float
    admissions_avoided: float | None
    admissions_ci_low: float | None
    admissions_ci_high: float | None
    cost_per_admission_avoided: float | None
    cpa_ci_low: float | None
    cpa_ci_high: float | None
    replicates: pd.DataFrame
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def estimate(self) -> float:
        """Gross return per £1 (alias used across evalkit result objects)."""
        return self.gross

    @property
    def ci_low(self) -> float:
        """Lower limit of the gross return's CI."""
        return self.gross_ci_low

    @property
    def ci_high(self) -> float:
        """Upper limit of the gross return's CI."""
        return self.gross_ci_high

    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``term``, ``estimate``, ``ci_low``, ``ci_high``, ``unit``."""
        rows = [
            ("nhs_cost_saving_per_participant", self.saving, self.saving_ci_low,
             self.saving_ci_high, "GBP"),
            ("programme_cost_per_participant", self.programme_cost, None, None, "GBP"),
            ("roi_gross", self.gross, self.gross_ci_low, self.gross_ci_high, "GBP per GBP 1"),
            ("roi_net", self.net, self.net_ci_low, self.net_ci_high, "GBP per GBP 1"),
        ]  # fmt: skip
        if self.admissions_avoided is not None:
            rows += [
                ("emergency_admissions_avoided_per_participant", self.admissions_avoided,
                 self.admissions_ci_low, self.admissions_ci_high, "admissions"),
                ("cost_per_emergency_admission_avoided", self.cost_per_admission_avoided,
                 self.cpa_ci_low, self.cpa_ci_high, "GBP"),
            ]  # fmt: skip
        return pd.DataFrame(rows, columns=["term", "estimate", "ci_low", "ci_high", "unit"])

    def summary_header(self) -> list[str]:
        """Estimand, inference and the headline figures (above the table)."""
        s = self.spec
        return [
            "Return on investment: NHS cost saving per participant ÷ programme cost per "
            "participant (NHS cash perspective)",
            f"Inference: {s['method']} bootstrap over matched sets ({s['resamples']} resamples, "
            f"seed {s['seed']}), the same resamples for every figure",
            "",
            f"Gross ROI £{self.gross:.2f} per £1 (95% CI {self.gross_ci_low:.2f} to "
            f"{self.gross_ci_high:.2f}); net {self.net:+.2f} "
            f"({self.net_ci_low:+.2f} to {self.net_ci_high:+.2f}); "
            f"{self.share_break_even:.0%} of resamples at or above break-even",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe figures (an unbounded limit becomes None, with a note), spec and notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "nhs_cost_saving_per_participant": {
                    "estimate": self.saving,
                    "ci_low": self.saving_ci_low,
                    "ci_high": self.saving_ci_high,
                },
                "programme_cost_per_participant": self.programme_cost,
                "roi": {
                    "estimate": self.gross,
                    "ci_low": self.gross_ci_low,
                    "ci_high": self.gross_ci_high,
                },
                "roi_net": {
                    "estimate": self.net,
                    "ci_low": self.net_ci_low,
                    "ci_high": self.net_ci_high,
                },
                "std_error": self.std_error,
                "share_break_even": self.share_break_even,
                "emergency_admissions_avoided_per_participant": {
                    "estimate": self.admissions_avoided,
                    "ci_low": self.admissions_ci_low,
                    "ci_high": self.admissions_ci_high,
                },
                "cost_per_emergency_admission_avoided": {
                    "estimate": self.cost_per_admission_avoided,
                    "ci_low": self.cpa_ci_low,
                    "ci_high": self.cpa_ci_high,
                },
                "spec": dict(self.spec),
                "notes": list(self.notes),
            }
        )

    def plot_bootstrap(self, *, ax: Axes | None = None) -> Axes:
        """Bootstrap distribution of the gross ROI, its CI and the break-even line (£1 per £1).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).
        """
        return plots.bootstrap_histogram(
            self.replicates["gross"],
            estimate=self.gross,
            ci_low=self.gross_ci_low,
            ci_high=self.gross_ci_high,
            reference=1.0,
            reference_label="break-even (£1 per £1)",
            estimate_label=f"estimate £{self.gross:.2f}",
            xlabel="gross return: NHS saving per £1 of programme cost",
            ax=ax,
        )


def return_on_investment(
    difference: MatchedDifferenceResult,
    programme_cost: float,
    *,
    admissions: str | None = None,
) -> ReturnOnInvestmentResult:
    """Gross and net ROI, and cost per admission avoided, from a matched cost difference.

    The saving is minus the matched difference in mean cost change (so positive when
    participants cost less than their matched controls predict). ``gross = saving ÷ cost``,
    ``net = gross − 1``. The programme cost is a fixed config value, so the gross ROI's bootstrap
    replicates are the saving's replicates divided by it, and its percentile interval is exactly
    the saving's interval divided by it.

    Cost per emergency admission avoided = programme cost ÷ admissions avoided per participant.
    Its interval is the programme cost over the limits of the admissions interval (from the same
    resamples). When the admissions interval includes zero the ratio is unbounded above (the
    programme may avoid no admissions), reported as ``inf`` with a note; when the point estimate
    avoids no admissions, the ratio is not defined (None).

    Parameters
    ----------
    difference : MatchedDifferenceResult
        From :func:`matched_cost_difference`; its headline outcome is the cost.
    programme_cost : float
        Programme cost per participant (positive), same price year as the cost.
    admissions : str, optional
        Name of the admissions count outcome among ``difference``'s outcomes (``also``).

    Returns
    -------
    ReturnOnInvestmentResult

    Examples
    --------
    >>> from evalkit.stats.costs import matched_cost_difference
    >>> p = pd.DataFrame({
    ...     "unit": [1, 1, 2, 2, 3, 3, 4, 4], "set": [1, 1, 1, 1, 2, 2, 2, 2],
    ...     "treated": [1, 1, 0, 0, 1, 1, 0, 0], "post": [0, 1] * 4,
    ...     "cost": [100.0, 40.0, 100.0, 90.0, 50.0, 60.0, 50.0, 80.0]})
    >>> d = matched_cost_difference(p, "cost", unit="unit", matched_set="set",
    ...                             treated="treated", post="post", seed=1)
    >>> r = return_on_investment(d, programme_cost=25.0)
    >>> r.saving, r.gross, round(r.net, 6)
    (35.0, 1.4, 0.4)
    """
    if not (math.isfinite(programme_cost) and programme_cost > 0):
        raise ValueError(f"programme_cost must be a positive number, not {programme_cost!r}")
    c = float(programme_cost)
    saving = -difference.estimate
    s_lo, s_hi = -difference.ci_high, -difference.ci_low
    rep_saving = -difference.replicates[difference.outcome].to_numpy(dtype=float)
    gross = rep_saving / c
    reps = pd.DataFrame({"saving": rep_saving, "gross": gross, "net": gross - 1})
    notes = [
        "Perspective: NHS cash. The saving is the matched difference in mean cost change "
        "(participants' post − pre minus their matched controls'), sign reversed.",
        "Gross = saving ÷ programme cost per participant (£ returned per £1); net = gross − 1 "
        "(0 is break-even). The programme cost is fixed; only the saving is uncertain.",
    ]
    if s_lo <= 0 <= s_hi:
        notes.append("The saving's CI includes zero: the data are compatible with no saving.")
    adm = adm_lo = adm_hi = cpa = cpa_lo = cpa_hi = None
    if admissions is not None:
        row = difference.row(admissions)
        adm = -float(row["estimate"])
        adm_lo, adm_hi = -float(row["ci_high"]), -float(row["ci_low"])
        reps["admissions_avoided"] = -difference.replicates[admissions].to_numpy(dtype=float)
        if adm > 0:
            cpa = c / adm
            if adm_lo > 0:
                cpa_lo, cpa_hi = c / adm_hi, c / adm_lo
            else:
                cpa_lo, cpa_hi = c / adm_hi, math.inf
                notes.append(
                    "The CI of emergency admissions avoided includes zero, so the cost per "
                    "admission avoided is unbounded above (the programme may avoid none); only "
                    "its lower limit is informative."
                )
        else:
            notes.append(
                "The point estimate avoids no emergency admissions, so a cost per admission "
                "avoided is not defined."
            )
    spec = {
        "programme_cost": c,
        "admissions": admissions,
        "outcome": difference.outcome,
        "method": difference.spec["method"],
        "resamples": difference.spec["resamples"],
        "seed": difference.spec["seed"],
        "level": difference.spec["level"],
    }
    return ReturnOnInvestmentResult(
        saving=saving,
        saving_ci_low=s_lo,
        saving_ci_high=s_hi,
        programme_cost=c,
        gross=saving / c,
        gross_ci_low=s_lo / c,
        gross_ci_high=s_hi / c,
        net=saving / c - 1,
        net_ci_low=s_lo / c - 1,
        net_ci_high=s_hi / c - 1,
        std_error=difference.std_error / c,
        share_break_even=float(np.mean(gross >= 1.0)),
        admissions_avoided=adm,
        admissions_ci_low=adm_lo,
        admissions_ci_high=adm_hi,
        cost_per_admission_avoided=cpa,
        cpa_ci_low=cpa_lo,
        cpa_ci_high=cpa_hi,
        replicates=reps,
        spec=spec,
        notes=tuple(notes),
    )

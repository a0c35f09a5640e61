"""The result of :func:`evalkit.analysis.utilisation.utilisation`: one setting and window.

The matched DiD (rate ratio and per-person difference) beside the naive pre/post figure, as
the results.json ``utilisation`` entries, each naming its estimand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from evalkit.analysis.censoring import ESTIMANDS
from evalkit.definitions.labels import setting_label
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.did import DidResult
from evalkit.stats.naive import NaiveResult
from evalkit.stats.result import Result

__all__ = ["NAIVE_ESTIMAND", "UtilisationResult"]

#: What the naive pre/post figure estimates (no control group).
NAIVE_ESTIMAND = "participants after vs before referral (no control group)"


@dataclass(frozen=True, repr=False)
class UtilisationResult(Result):
    """Matched DiD (rate ratio and per-person difference) and the naive figure, one outcome."""

    analysis = "utilisation"

    setting: str
    window_months: int
    poisson: DidResult | None
    linear: DidResult
    naive: NaiveResult
    n_participants: int
    n_controls: int
    notes: tuple[str, ...] = ()
    estimand: str = ESTIMANDS["legacy"]
    controls_censored_share: float = 0.0

    def tidy(self) -> pd.DataFrame:
        """Rows in the ``utilisation`` shape of results.json."""
        return pd.DataFrame(self.entries())

    def entries(self) -> list[dict[str, Any]]:
        """The results.json ``utilisation`` entries for this setting and window."""
        base = {
            "setting": self.setting,
            "window_months": self.window_months,
            "n_participants": self.n_participants,
            "n_controls": self.n_controls,
            "estimand": self.estimand,
            "controls_censored_share": self.controls_censored_share,
        }
        out = []
        if self.poisson is not None:
            out.append(
                {
                    **base,
                    "method": "matched_did",
                    "scale": "rate_ratio",
                    "estimate": self.poisson.estimate,
                    "ci_low": self.poisson.ci_low,
                    "ci_high": self.poisson.ci_high,
                    "std_error": self.poisson.std_error,
                    "p_value": self.poisson.p_value,
                }
            )
        w = self.window_months
        out.append(
            {
                **base,
                "method": "matched_did",
                "scale": "difference_per_person",
                "estimate": self.linear.estimate * w,
                "ci_low": self.linear.ci_low * w,
                "ci_high": self.linear.ci_high * w,
                "std_error": self.linear.std_error * w,
                "p_value": self.linear.p_value,
            }
        )
        nb = {
            **base,
            "method": "naive_prepost",
            "n_controls": 0,
            "estimand": NAIVE_ESTIMAND,
            "controls_censored_share": None,
        }
        if self.poisson is not None:
            out.append(
                {
                    **nb,
                    "scale": "rate_ratio",
                    "estimate": self.naive.rate_ratio,
                    "ci_low": self.naive.rr_ci_low,
                    "ci_high": self.naive.rr_ci_high,
                    "std_error": self.naive.log_rr_std_error,
                    "p_value": None,
                }
            )
        out.append(
            {
                **nb,
                "scale": "difference_per_person",
                "estimate": self.naive.difference_per_person,
                "ci_low": self.naive.diff_ci_low,
                "ci_high": self.naive.diff_ci_high,
                "std_error": self.naive.diff_std_error,
                "p_value": None,
            }
        )
        return out

    def summary(self) -> str:
        """Matched DiD beside the naive figure."""
        lines = [
            f"{self.setting}, {self.window_months} months after referral vs 12 before "
            f"({self.n_participants} participants, {self.n_controls} matched controls)"
        ]
        for e in self.entries():
            lines.append(
                f"  {e['method']:<14} {e['scale']:<22} {e['estimate']:.4g} "
                f"(95% CI {e['ci_low']:.4g} to {e['ci_high']:.4g})"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: setting, window, counts, the results.json entries and the notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "setting": self.setting,
                "window_months": self.window_months,
                "n_participants": self.n_participants,
                "n_controls": self.n_controls,
                "estimand": self.estimand,
                "controls_censored_share": self.controls_censored_share,
                "entries": self.entries(),
                "notes": list(self.notes),
            }
        )

    def plot_comparison(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Matched DiD beside the naive before/after rate ratio, with 95% CIs.

        Drawn by :func:`evalkit.stats.plots.comparison`, the function the report uses for all
        windows of a setting at once (on the disclosure-controlled table).
        """
        rows = self.tidy() if table is None else table
        return plots.comparison(
            rows[rows["scale"] == "rate_ratio"],
            label=setting_label(self.setting, capital=True),
            ax=ax,
        )

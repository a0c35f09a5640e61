"""The result of :func:`evalkit.analysis.utilisation.utilisation`: one setting and window.

The matched DiD (rate ratio and per-person difference) beside the naive pre/post figure, as
the results.json ``utilisation`` entries, each naming its estimand. The naive figure is given
for two populations (``population``): ``"matched"``, the participants the matched DiD keeps
(its gap to the DiD measures regression to the mean and secular change among the same people),
and ``"all"``, every participant (the difference between the two naive figures is due to who
was matched: those left unmatched are typically the heaviest users). Matched DiD entries carry
``population: "matched"`` too.
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

__all__ = ["NAIVE_ESTIMAND", "NAIVE_POPULATIONS", "UtilisationResult"]

#: What the naive pre/post figure estimates (no control group).
NAIVE_ESTIMAND = "participants after vs before referral (no control group)"
#: The naive figure's populations, in the order the entries give them.
NAIVE_POPULATIONS: tuple[str, ...] = ("matched", "all")


def no_events_naive(rows: pd.DataFrame, setting: str, months: int) -> NaiveResult | None:
    """The naive figure of rows with no event before or after: not estimable (else None).

    A Poisson fit of no events has no first guess (statsmodels raises); a small programme can
    have none, e.g. no planned admission among a dozen children. None when there are events.
    """
    observed = rows[rows["exposure"] > 0]
    if observed[setting].sum() > 0:
        return None
    nan = float("nan")
    return NaiveResult(
        *(nan,) * 8,  # rate ratio, difference per person: their estimates, CIs and SEs
        rate_before=0.0,
        rate_after=0.0,
        n_units=int(observed["unit"].nunique()),
        window_months=int(months),
        spec={"outcome": setting, "window_months": int(months)},
        notes=(f"{setting}: no events before or after referral: not estimable.",),
    )


@dataclass(frozen=True, repr=False)
class UtilisationResult(Result):
    """Matched DiD (rate ratio and per-person difference) and the naive figure, one outcome.

    ``naive`` is the naive pre/post over every participant, ``naive_matched`` over the matched
    participants only (None for results built without it).
    """

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
    naive_matched: NaiveResult | None = None

    def naive_by_population(self) -> dict[str, NaiveResult]:
        """The naive results by population (:data:`NAIVE_POPULATIONS` order; ``all`` always)."""
        out = {"matched": self.naive_matched, "all": self.naive}
        return {k: v for k, v in out.items() if v is not None}

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
                    "population": "matched",
                    "scale": "rate_ratio",
                    "estimate": self.poisson.estimate,
                    "ci_low": self.poisson.ci_low,
                    "ci_high": self.poisson.ci_high,
                    "std_error": self.poisson.std_error,
                    "p_value": self.poisson.p_value,
                    "n_clusters": self.poisson.n_clusters,
                }
            )
        w = self.window_months
        out.append(
            {
                **base,
                "method": "matched_did",
                "population": "matched",
                "scale": "difference_per_person",
                "estimate": self.linear.estimate * w,
                "ci_low": self.linear.ci_low * w,
                "ci_high": self.linear.ci_high * w,
                "std_error": self.linear.std_error * w,
                "p_value": self.linear.p_value,
                "n_clusters": self.linear.n_clusters,
            }
        )
        for population, nv in self.naive_by_population().items():
            out += _naive_entries(base, population, nv, rate_ratio=self.poisson is not None)
        return out

    def summary(self) -> str:
        """Matched DiD beside the naive figure."""
        lines = [
            f"{self.setting}, {self.window_months} months after referral vs 12 before "
            f"({self.n_participants} participants, {self.n_controls} matched controls)"
        ]
        for e in self.entries():
            method = e["method"] + (f" ({e['population']})" if "population" in e else "")
            lines.append(
                f"  {method:<24} {e['scale']:<22} {e['estimate']:.4g} "
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
        """Matched DiD beside the naive before/after rate ratios (matched and all), with 95% CIs.

        Drawn by :func:`evalkit.stats.plots.comparison`, the function the report uses for all
        windows of a setting at once (on the disclosure-controlled table).
        """
        rows = self.tidy() if table is None else table
        return plots.comparison(
            rows[rows["scale"] == "rate_ratio"],
            label=setting_label(self.setting, capital=True),
            ax=ax,
        )


def _naive_entries(
    base: dict[str, Any], population: str, nv: NaiveResult, *, rate_ratio: bool
) -> list[dict[str, Any]]:
    """The naive pre/post entries of one population (its own count of participants).

    The rate ratio is given only where the matched DiD's is (so the two can be compared).
    """
    nb = {
        **base,
        "method": "naive_prepost",
        "population": population,
        "n_participants": nv.n_units,
        "n_controls": 0,
        # clustered by person: one cluster per participant
        "n_clusters": nv.n_units,
        "estimand": NAIVE_ESTIMAND,
        "controls_censored_share": None,
    }
    out = []
    if rate_ratio:
        out.append(
            {
                **nb,
                "scale": "rate_ratio",
                "estimate": nv.rate_ratio,
                "ci_low": nv.rr_ci_low,
                "ci_high": nv.rr_ci_high,
                "std_error": nv.log_rr_std_error,
                "p_value": None,
            }
        )
    out.append(
        {
            **nb,
            "scale": "difference_per_person",
            "estimate": nv.difference_per_person,
            "ci_low": nv.diff_ci_low,
            "ci_high": nv.diff_ci_high,
            "std_error": nv.diff_std_error,
            "p_value": None,
        }
    )
    return out

"""Rambachan-Roth bounds on the primary outcome: how large a trend violation would overturn it.

The matched DiD assumes participants and controls would have stayed on parallel paths. The
relative-magnitudes analysis (:func:`evalkit.stats.honest.relative_magnitudes`) lets the paths
drift apart after referral by up to Mbar times the largest month-to-month drift seen in the
months not matched on (event months -24 to -13, :func:`~evalkit.analysis.event_study.
pretrend_months`), and finds the breakdown Mbar: the smallest at which the robust 95% CI of the
primary result includes no change. A breakdown of 1 says the result would be overturned by a
post-referral drift as large as the largest seen in those months.

The target is the mean of the Poisson event study's log rate ratios over the primary window's
months (0 to window - 1). This is not the headline estimate: the headline DiD fits the window's
months as one post period with index-month x event-month time effects, the event study one
coefficient per month with event-month time effects pooled across index months, and the mean of
monthly log rate ratios weights months equally rather than by events. Both figures are
published side by side (``honest_did.event_study_estimate`` and the primary ``matched_did``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evalkit.analysis.event_study import (
    REFERENCE_MONTH,
    _separated_months,
    event_study,
    pretrend_months,
)
from evalkit.jsonsafe import json_safe
from evalkit.stats.honest import HonestResult, relative_magnitudes
from evalkit.stats.plots import honest_bounds
from evalkit.stats.result import Result

if TYPE_CHECKING:
    import pandas as pd

    from evalkit.analysis.utilisation import MatchedCohort
    from evalkit.stats.did import DidResult

__all__ = ["REPORT_MBAR", "PrimaryHonestResult", "breakdown_sentence", "honest_did"]

#: The Mbar grid the report shows. Finer than the paper's 0 to 2: at monthly resolution the
#: largest benchmark step is mostly noise and accumulates over every post month, so on the demo
#: county the breakdown values fall below 0.1 (docs/decisions/honest-did.md).
REPORT_MBAR: tuple[float, ...] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True, repr=False)
class PrimaryHonestResult(Result):
    """Relative-magnitudes bounds on one outcome's event study over a window.

    Attributes
    ----------
    setting : str
        The outcome.
    window_months : int
        The window: event months 0 to ``window_months - 1`` are averaged.
    bounds : HonestResult
        The bounds (log rate-ratio scale).
    """

    analysis = "honest_did"

    setting: str
    window_months: int
    bounds: HonestResult

    @property
    def notes(self) -> tuple[str, ...]:
        """The bounds' notes and what the target is."""
        return (
            f"Target: the mean of the Poisson event study's monthly log rate ratios over event "
            f"months 0 to {self.window_months - 1}, not the headline DiD estimate.",
            *self.bounds.notes,
        )

    def tidy(self) -> pd.DataFrame:
        """One row per Mbar, bounds and robust CI as rate ratios (``rr_*``) beside log ones."""
        t = self.bounds.tidy()
        for c in ("id_low", "id_high", "ci_low", "ci_high"):
            t[f"rr_{c}"] = t[c].map(math.exp)
        return t

    def summary_header(self) -> list[str]:
        """The bounds' header, with the outcome and window."""
        return [f"{self.setting}, {self.window_months} months", *self.bounds.summary_header()]

    def entry(self) -> dict[str, Any]:
        """The results.json ``honest_did`` section."""
        b = self.bounds
        return json_safe(
            {
                "setting": self.setting,
                "window_months": self.window_months,
                "benchmark_months": [min(b.spec["pre"]), max(b.spec["pre"])],
                "target_months": [min(b.spec["post"]), max(b.spec["post"])],
                "reference_month": b.spec["reference"],
                "scale": "log_rate_ratio",
                "event_study_estimate": b.estimate,
                "event_study_std_error": b.std_error,
                "benchmark": b.benchmark,
                "benchmark_step": list(b.benchmark_periods),
                "inference": b.spec["inference"],
                "alpha": b.spec["alpha"],
                "breakdown_mbar": b.breakdown_mbar,
                "bounds": b.tidy().to_dict(orient="records"),
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the entry, the tidy rows and the notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                **self.entry(),
                "table": self.tidy().to_dict(orient="records"),
                "notes": list(self.notes),
            }
        )

    def plot_sensitivity(self, *, table: pd.DataFrame | None = None, ax: Any = None) -> Any:
        """Robust CI and identified set against Mbar, as rate ratios.

        ``table``: the published (rounded) bounds to draw; default this result's own.
        """
        return honest_bounds(
            self.bounds.tidy() if table is None else table,
            breakdown=self.bounds.breakdown_mbar,
            ax=ax,
            exponentiate=True,
            ylabel="Rate ratio (mean of months), robust 95% CI",
        )


def honest_did(
    mc: MatchedCohort,
    setting: str,
    window_months: int,
    *,
    poisson: DidResult | None = None,
    mbar: tuple[float, ...] = REPORT_MBAR,
) -> PrimaryHonestResult:
    """Relative-magnitudes bounds on ``setting``'s event study over its first ``window_months``.

    The benchmark is the months not matched on (:func:`pretrend_months`), the reference month
    -1, the target the mean log rate ratio over event months 0 to ``window_months - 1``
    (``poisson``: the Poisson event study already fitted, to reuse).

    Raises
    ------
    ValueError
        If a benchmark or target month has no participant or no control events (its Poisson
        rate ratio is 0 or infinite, so the bounds would mean nothing), or the event study has
        no coefficient for one (e.g. the window is longer than the panel).
    """
    first, last = pretrend_months(mc)
    for lo, hi in ((first, last), (0, int(window_months) - 1)):
        why = _separated_months(mc, setting, lo, hi)
        if why:
            raise ValueError(
                f"{why.split(', so ')[0]}: their Poisson rate ratios are 0 or infinite, so "
                "Rambachan-Roth bounds are not computed"
            )
    es = poisson if poisson is not None else event_study(mc, setting, model="poisson")
    if es.event_study_coef is None or es.event_study_vcov is None:
        raise ValueError(f"{setting}: the event study kept no coefficients to bound")
    return PrimaryHonestResult(
        setting=setting,
        window_months=int(window_months),
        bounds=relative_magnitudes(
            es.event_study_coef,
            es.event_study_vcov,
            pre=list(range(first, last + 1)),
            post=list(range(0, int(window_months))),
            reference=REFERENCE_MONTH,
            mbar=mbar,
        ),
    )


def breakdown_sentence(entry: dict[str, Any], setting_label: str) -> str:
    """The report's one plain sentence on the breakdown value (from the ``honest_did`` entry).

    It names the event study, since the bounds are on its mean monthly rate ratio, not on the
    headline estimate.
    """
    first, last = entry["benchmark_months"]
    what = (
        f"In the month-by-month event study, the {setting_label} result over "
        f"{entry['window_months']} months"
    )
    bd = entry.get("breakdown_mbar")
    months = f"months {first} to {last}"
    if bd is None:
        return f"{what} is not overturned by any multiple of the largest trend seen in {months}."
    if bd == 0:
        return (
            f"{what} is not distinguishable from no change even if trends stayed parallel, so "
            "no violation of parallel trends is needed to overturn it (Rambachan-Roth "
            f"breakdown value 0; benchmark: the largest month-to-month change in {months})."
        )
    return (
        f"{what} would be overturned by a violation of parallel trends {bd:.2g} times the "
        f"largest month-to-month change seen in {months} (Rambachan-Roth breakdown value)."
    )

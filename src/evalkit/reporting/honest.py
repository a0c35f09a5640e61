"""The report's headline sensitivity to differing trends: Rambachan-Roth bounds on the primary.

:func:`primary_sensitivity` runs :func:`evalkit.analysis.honest_did.honest_did` on the plan's
primary outcome and returns what the report publishes: the results.json ``honest_did`` section
(no counts), the sensitivity table's first row (the breakdown value and its sentence) and the
figure of the robust CI against Mbar, drawn from the published (rounded) bounds. An outcome the
bounds cannot be computed for (money, or a month whose Poisson rate ratio is 0 or infinite)
gets ``estimable: false`` and the reason, and no row or figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.analysis.honest_did import breakdown_sentence, honest_did
from evalkit.jsonsafe import json_safe, round_floats
from evalkit.reporting import figures as figs
from evalkit.reporting import narrative as nar
from evalkit.stats import plots

if TYPE_CHECKING:
    from evalkit.analysis.utilisation import MatchedCohort
    from evalkit.reporting.claims import OutcomePlan
    from evalkit.stats.did import DidResult

__all__ = ["HONEST_ROW_LABEL", "HonestSection", "honest_summary", "primary_sensitivity"]

#: The sensitivity table's row for the breakdown value.
HONEST_ROW_LABEL = "Rambachan-Roth breakdown Mbar (differing trends, primary outcome)"


@dataclass(frozen=True)
class HonestSection:
    """What the report publishes of the bounds: the section, a table row, a figure."""

    part: dict[str, Any]
    rows: list[dict[str, Any]]
    figure: figs.ReportFigure | None


def primary_sensitivity(
    mc: MatchedCohort, plan: OutcomePlan, fits: dict[str, DidResult] | None = None
) -> HonestSection:
    """Rambachan-Roth bounds on the primary outcome, as the report shows them.

    ``fits``: Poisson event studies already fitted, by setting (reused when the primary's is
    among them).
    """
    setting, window = plan.setting, int(plan.window_months)
    base = {"setting": setting, "window_months": window}
    if setting == "total_cost":
        reason = "the primary outcome is a cost, which has no Poisson event study"
        return HonestSection({**base, "estimable": False, "reason": reason}, [], None)
    try:
        res = honest_did(mc, setting, window, poisson=(fits or {}).get(setting))
    except ValueError as exc:
        return HonestSection({**base, "estimable": False, "reason": str(exc)}, [], None)
    entry = round_floats(res.entry())
    sentence = breakdown_sentence(entry, nar.setting_label(setting))
    part = json_safe({**entry, "estimable": True, "sentence": sentence})
    bd = part["breakdown_mbar"]
    row = {
        "analysis": HONEST_ROW_LABEL,
        "estimate": math.nan if bd is None else bd,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "n": None,
        "note": sentence,
    }
    table = pd.DataFrame(part["bounds"])
    rr = table.assign(**{c: table[c].map(math.exp) for c in ("ci_low", "ci_high")})
    alt = "Robust 95% CI of the rate ratio against Mbar: " + "; ".join(
        f"Mbar {r.mbar:g}: {r.ci_low:.2f} to {r.ci_high:.2f}" for r in rr.itertuples()
    )
    figure = figs.from_axes(
        "honest_did",
        res.plot_sensitivity(table=table),
        f"How large a violation of parallel trends would overturn the primary result "
        f"({nar.setting_label(setting)}, {window} months; the mean of the event study's "
        "monthly rate ratios, not the headline estimate). Mbar = the largest month-to-month "
        f"change in the violation after referral as a multiple of the largest seen in months "
        f"{part['benchmark_months'][0]} to {part['benchmark_months'][1]}. Bars: robust 95% CI "
        "(each bound widened by its own standard error); thick bars: the identified set.",
        alt,
        analysis=honest_did,
        drawn_by=plots.honest_bounds,
    )
    return HonestSection(part, [row], figure)


def honest_summary(part: dict[str, Any] | None) -> str:
    """The summary's sentence on the bounds, from results.json ``honest_did`` ("" without it)."""
    if not part:
        return ""
    if part.get("estimable"):
        return str(part.get("sentence") or "")
    return (
        "Rambachan-Roth bounds on how large a violation of parallel trends would overturn the "
        f"primary result could not be computed: {part.get('reason', 'not estimable')}."
    )

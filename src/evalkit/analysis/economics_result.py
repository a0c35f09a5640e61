"""The result of :func:`evalkit.analysis.economics.economics`: :class:`EconomicsResult`.

Its views (tidy table, summary, the ``economics`` entry of ``results.json``) and figures (the
ROI's bootstrap distribution, the cost change by setting, the WELLBY values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.costs import MatchedDifferenceResult, ReturnOnInvestmentResult, WellbyResult
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["CLUSTER_FIELDS", "COST_FIGURE_COLUMNS", "EconomicsResult"]

#: The cluster sizes published in results.json (counts of matched sets: one participant each).
CLUSTER_FIELDS = (
    "n_sets",
    "n_clusters",
    "n_sets_largest_cluster",
    "n_sets_in_shared_clusters",
    "share_sets_in_shared_clusters",
)
#: Columns of :meth:`EconomicsResult.cost_by_setting_table` (the cost figure's rows).
COST_FIGURE_COLUMNS: tuple[str, ...] = (
    "setting",
    "cost_difference_per_participant",
    "cost_ci_low",
    "cost_ci_high",
)


@dataclass(frozen=True, eq=False, repr=False)
class EconomicsResult(Result):
    """A programme's economics: NHS cost saving, ROI, cost per admission avoided, WELLBYs.

    Attributes
    ----------
    programme : str
        Programme slug.
    price_year : str
        Price year of every £ figure (the unit-cost table's).
    window_months : int
        Months after referral the saving covers (against the 12 months before).
    programme_cost : dict
        ``amount``, ``basis``, ``price_year``, ``source`` as configured, ``start_rate``,
        ``n_referred``, ``n_starters`` and ``per_participant`` (the cost used).
    difference : MatchedDifferenceResult
        Matched difference in mean change: ``total_cost`` first, then ``cost_<setting>`` and
        each setting's event count, on the same bootstrap resamples.
    roi : ReturnOnInvestmentResult
        Saving, gross and net ROI, admissions avoided and cost per admission avoided.
    wellby : WellbyResult or None
        WELLBY valuation of the ONS4 life-satisfaction change (None without ONS4 data).
    unit_costs : pd.DataFrame
        The unit-cost table (:func:`unit_cost_table`) for the programme's settings.
    by_setting : pd.DataFrame
        Per setting: unit cost, difference in events and in cost per participant with CIs.
    spec : dict
        Arguments used, defaults resolved.
    notes : tuple of str
        Assumptions, flags and caveats in plain English.
    """

    analysis = "economics"

    programme: str
    price_year: str
    window_months: int
    programme_cost: dict[str, Any]
    difference: MatchedDifferenceResult
    roi: ReturnOnInvestmentResult
    wellby: WellbyResult | None
    unit_costs: pd.DataFrame
    by_setting: pd.DataFrame
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ numbers
    @property
    def saving(self) -> float:
        """NHS cost saving per participant over the window (positive: participants cost less)."""
        return self.roi.saving

    @property
    def estimate(self) -> float:
        """Gross ROI (alias used across evalkit result objects)."""
        return self.roi.gross

    # ------------------------------------------------------------------ views
    def tidy(self) -> pd.DataFrame:
        """One row per headline figure: ``term``, ``estimate``, ``ci_low``, ``ci_high``, ``unit``.

        The ROI terms (saving, programme cost, gross, net, admissions avoided, cost per
        admission avoided) and, with a WELLBY valuation, social value per £1 at the low,
        central and high WELLBY values (the central one, by intention to treat, with the
        change's CI), then the completers' version, the upper bound, with its CI.
        """
        t = self.roi.tidy()
        if self.wellby is not None:
            w = self.wellby
            rows = [
                ("wellby_social_value_per_pound", w.estimate, w.ci_low, w.ci_high, "GBP"),
                ("wellby_social_value_per_pound_low_value", w.low, None, None, "GBP"),
                ("wellby_social_value_per_pound_high_value", w.high, None, None, "GBP"),
            ]
            if w.completers is not None:
                c = w.completers
                rows.append(
                    ("wellby_social_value_per_pound_completers_upper", c.estimate, c.ci_low,
                     c.ci_high, "GBP")
                )  # fmt: skip
            extra = pd.DataFrame(rows, columns=t.columns)
            t = pd.concat([t, extra], ignore_index=True)
        return t

    def summary(self) -> str:
        """Header, headline figures, cost change by setting, unit costs and notes."""
        r, d = self.roi, self.difference
        pc = self.programme_cost
        lines = [
            f"Economics: {self.programme}, NHS cost {self.window_months} months after referral "
            f"against the 12 months before ({self.price_year} prices)",
            f"Estimator: matched difference in mean cost change; {d.spec['method']} bootstrap "
            f"over {_resampled(d)} ({d.spec['resamples']} resamples, seed "
            f"{d.spec['seed']}); {d.n_treated} participants, {d.n_control} controls",
            "",
            f"NHS cost saving per participant: £{r.saving:,.0f} (95% CI £{r.saving_ci_low:,.0f} "
            f"to £{r.saving_ci_high:,.0f})",
            f"Programme cost per participant: £{pc['per_participant']:,.2f} "
            f"({pc['basis']} basis, {pc['price_year']} prices)",
            f"ROI, gross: £{r.gross:.2f} per £1 (95% CI {r.gross_ci_low:.2f} to "
            f"{r.gross_ci_high:.2f}); net: {r.net:+.2f} ({r.net_ci_low:+.2f} to "
            f"{r.net_ci_high:+.2f})",
        ]
        if r.cost_per_admission_avoided is not None:
            hi = "unbounded" if math.isinf(r.cpa_ci_high or 0) else f"£{r.cpa_ci_high:,.0f}"
            lines.append(
                f"Cost per emergency admission avoided: £{r.cost_per_admission_avoided:,.0f} "
                f"(95% CI £{r.cpa_ci_low:,.0f} to {hi})"
            )
        if self.wellby is not None:
            w = self.wellby
            ci = (
                ""
                if w.ci_low is None
                else f"; over the change's CI {w.ci_low:.2f} to {w.ci_high:.2f}"
            )
            lines.append(
                f"Social value (WELLBY, not NHS cash), intention to treat: £{w.estimate:.2f} per "
                f"£1 (range £{w.low:.2f} to £{w.high:.2f}{ci})"
            )
            if w.completers is not None:
                c = w.completers
                lines.append(
                    f"  completers only, the upper bound: £{c.estimate:.2f} per £1 (over the "
                    f"change's CI {c.ci_low:.2f} to {c.ci_high:.2f})"
                )
        fmt = {"float_format": lambda v: f"{v:,.4g}", "index": False}
        by = self.by_setting.drop(columns=["events_ci_low", "events_ci_high"])
        lines += ["", "Cost change by setting (participants − matched controls, per participant):"]
        lines += [by.to_string(**fmt)]
        lines += ["", "Unit costs:"]
        uc = self.unit_costs[["setting", "cost", "price_year", "original_price_year", "source"]]
        with pd.option_context("display.max_colwidth", 70):
            lines += [uc.to_string(**fmt)]
        notes = [*self.notes, *r.notes, *(self.wellby.notes if self.wellby else ())]
        lines += ["", "Notes:"] + [f"- {n}" for n in notes]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The ``economics`` entry of ``results.json`` (data-contract keys, then extras).

        Returns
        -------
        dict
            ``price_year``, ``programme_cost_per_participant``,
            ``nhs_cost_saving_per_participant`` (``estimate``, ``ci_low``, ``ci_high``,
            ``window_months``), ``roi`` (gross: ``estimate``, ``ci_low``, ``ci_high``),
            ``wellby_social_value_per_pound`` (``estimate``, the intention-to-treat figure,
            ``low``, ``high``, ``ci_low``, ``ci_high`` (the change's CI carried through),
            ``completers_upper``; then ``completers_ci_low``, ``completers_ci_high`` and
            ``n_responders``; None values without ONS4 data), then ``roi_net``,
            ``roi_share_break_even``,
            ``emergency_admissions_avoided_per_participant``,
            ``cost_per_emergency_admission_avoided`` (an unbounded limit is None, with
            ``ci_high_unbounded``), ``nhs_cost_difference``, ``cost_change_by_setting``,
            ``unit_costs``, ``unit_cost_table``, ``programme_cost``, ``wellby``, ``spec`` and
            ``notes``.
        """
        r, d, w = self.roi, self.difference, self.wellby
        wellby_core = _wellby_core(w)
        out = {
            "price_year": self.price_year,
            "programme_cost_per_participant": self.programme_cost["per_participant"],
            "nhs_cost_saving_per_participant": {
                "estimate": r.saving,
                "ci_low": r.saving_ci_low,
                "ci_high": r.saving_ci_high,
                "window_months": self.window_months,
            },
            "roi": {"estimate": r.gross, "ci_low": r.gross_ci_low, "ci_high": r.gross_ci_high},
            "wellby_social_value_per_pound": wellby_core,
            # ---- extras
            "roi_net": {"estimate": r.net, "ci_low": r.net_ci_low, "ci_high": r.net_ci_high},
            "roi_share_break_even": r.share_break_even,
            "emergency_admissions_avoided_per_participant": {
                "estimate": r.admissions_avoided,
                "ci_low": r.admissions_ci_low,
                "ci_high": r.admissions_ci_high,
            },
            "cost_per_emergency_admission_avoided": {
                "estimate": r.cost_per_admission_avoided,
                "ci_low": r.cpa_ci_low,
                "ci_high": r.cpa_ci_high,
                "ci_high_unbounded": r.cpa_ci_high is not None and math.isinf(r.cpa_ci_high),
            },
            "nhs_cost_difference": {
                "estimate": d.estimate,
                "std_error": d.std_error,
                "ci_low": d.ci_low,
                "ci_high": d.ci_high,
                "participants_change": d.treated_change,
                "controls_change": d.control_change,
                "n_matched_sets": d.n_sets,
                "n_participants": d.n_treated,
                "n_controls": d.n_control,
                "method": "matched difference in mean cost change",
                "bootstrap": {
                    "interval": d.spec["method"],
                    "resamples": d.spec["resamples"],
                    "seed": d.spec["seed"],
                    "level": d.spec["level"],
                    "unit": (
                        "connected cluster of matched sets sharing a person"
                        if d.clusters
                        else "matched set"
                    ),
                    "clusters": {k: d.clusters[k] for k in CLUSTER_FIELDS} if d.clusters else None,
                },
            },
            "cost_change_by_setting": self.by_setting.to_dict(orient="records"),
            "unit_costs": self.unit_costs.to_dict(orient="records"),
            "unit_cost_table": {
                "name": self.spec["unit_costs"],
                "price_year": self.price_year,
                "inflation_index": self.spec["inflation_index"],
            },
            "programme_cost": dict(self.programme_cost),
            "wellby": w.to_dict() if w is not None else None,
            "spec": dict(self.spec),
            "notes": [*self.notes, *r.notes],
        }
        return json_safe(out)

    # ------------------------------------------------------------------ plots
    def plot_roi(self, *, ax: Axes | None = None) -> Axes:
        """Bootstrap distribution of the gross ROI with the break-even line."""
        return self.roi.plot_bootstrap(ax=ax)

    def cost_by_setting_table(
        self,
        table: pd.DataFrame | None = None,
        *,
        total: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """The rows :meth:`plot_cost_by_setting` draws: each setting, then the total.

        Parameters
        ----------
        table : pd.DataFrame, optional
            A disclosure-controlled copy of :attr:`by_setting` (the report's
            ``cost_change_by_setting`` entries, its ``cost_by_setting`` CSV) to draw instead.
        total : dict, optional
            The total's ``estimate``, ``ci_low`` and ``ci_high`` (the report's
            ``nhs_cost_difference``). Default: with no ``table`` the result's own total; with
            a ``table`` and no ``total``, no total row.

        Returns
        -------
        pd.DataFrame
            ``setting``, ``cost_difference_per_participant``, ``cost_ci_low``,
            ``cost_ci_high``.
        """
        cols = list(COST_FIGURE_COLUMNS)
        if table is None:
            table = self.by_setting
            total = total if total is not None else self.difference.row("total_cost")
        rows = [table[cols]]
        if total is not None:
            t = [["total", total["estimate"], total["ci_low"], total["ci_high"]]]
            rows.append(pd.DataFrame(t, columns=cols))
        return pd.concat(rows, ignore_index=True)

    def plot_cost_by_setting(
        self,
        *,
        ax: Axes | None = None,
        table: pd.DataFrame | None = None,
        total: dict[str, Any] | None = None,
    ) -> Axes:
        """Cost change per participant by setting (participants − matched controls), 95% CI.

        One row per setting, then the total (:meth:`cost_by_setting_table`), drawn with
        :func:`evalkit.stats.plots.forest` (no log scale; the line at 0 is no change). The
        report draws it from its published table: ``table`` the controlled
        ``cost_change_by_setting`` entries, ``total`` the controlled ``nhs_cost_difference``.
        """
        return plots.forest(
            self.cost_by_setting_table(table, total=total),
            label_col="setting",
            estimate="cost_difference_per_participant",
            ci_low="cost_ci_low",
            ci_high="cost_ci_high",
            log=False,
            ax=ax,
            title=f"NHS cost change by setting, {self.window_months} months (95% CI)",
            xlabel=f"£ per participant ({self.price_year} prices), participants − controls",
        )

    def plot_wellby(self, *, ax: Axes | None = None) -> Axes:
        """Social value per £1 at the low, central and high WELLBY values."""
        if self.wellby is None:
            raise ValueError("no WELLBY valuation: the programme has no ONS4 life satisfaction")
        return self.wellby.plot_values(ax=ax)


def _resampled(d: MatchedDifferenceResult) -> str:
    """What the bootstrap resampled, in words."""
    if not d.clusters:
        return f"{d.n_sets} matched sets"
    c = d.clusters
    return (
        f"{c['n_clusters']} connected clusters of the {d.n_sets} matched sets (sets sharing a "
        f"person; largest {c['n_sets_largest_cluster']} sets)"
    )


def _wellby_core(w: WellbyResult | None) -> dict[str, Any]:
    """The data contract's ``wellby_social_value_per_pound``: ITT central, completers upper."""
    keys = ("estimate", "low", "high", "ci_low", "ci_high", "completers_upper")
    if w is None:
        return dict.fromkeys(keys)
    c = w.completers
    return {
        "estimate": w.estimate,
        "low": w.low,
        "high": w.high,
        "ci_low": w.ci_low,
        "ci_high": w.ci_high,
        "completers_upper": c.estimate if c is not None else None,
        # ---- extras
        "completers_ci_low": c.ci_low if c is not None else None,
        "completers_ci_high": c.ci_high if c is not None else None,
        "n_responders": w.n_responders,
        "basis": w.basis,
    }

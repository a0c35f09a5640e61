"""Economics for a programme: NHS cost saving, return on investment and WELLBY valuation.

Composes :mod:`evalkit.stats.costs` on a programme's matched cohort (docs/design/methods.md
section 4: costed utilisation, return on investment and wellbeing valuation):

- the matched difference in mean NHS cost change over ``window_months`` after referral against
  the 12 months before (each setting's events priced with the study's unit-cost table, as in the
  panel's ``total_cost``), with a bootstrap over matched sets, formed event month by event
  month with the outcome model's weights (:data:`ROW_WEIGHT`, below);
- gross and net return on investment against the programme cost per participant (a cost quoted
  per starter converted with the programme's start rate), and the cost per emergency admission
  avoided, from the same resamples;
- the ONS4 life-satisfaction change valued in WELLBYs (central, low, high), social value per £1,
  kept apart from the NHS cash figure;
- the unit-cost table, each cost with its source, price year and inflation flag.

``economics(study, mc).to_dict()`` is the ``economics`` entry of ``results.json``.

Weights. The cost difference uses the weights of the utilisation DiD on the same rows: each
unit's matching weight (``weight``) and, in the target-trial design, on a control's follow-up
months its censoring weight (``ipcw``; the DiD's ``analysis_weight`` is their product). As the
censoring weight varies over a control's months, the difference is formed event month by event
month (``matched_cost_difference(time="event_month", row_weights="ipcw")``): a control censored
at its own referral stops counting from that month and the controls still observed stand in
for it, so the saving estimates what the outcome model estimates; why the two still differ a
little is in docs/decisions/economics-censoring.md. The legacy design has no censoring
weights and uses the same period-by-period estimator with the matching weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from evalkit.analysis.study import Study
from evalkit.analysis.utilisation import BASELINE, MatchedCohort
from evalkit.analysis.wellbeing import wellbeing
from evalkit.config import UnitCostTable
from evalkit.definitions import load_wellby
from evalkit.jsonsafe import json_safe
from evalkit.stats import PrePostResult, plots
from evalkit.stats.costs import (
    MatchedDifferenceResult,
    ReturnOnInvestmentResult,
    WellbyResult,
    cost_per_participant,
    matched_cost_difference,
    return_on_investment,
    wellby_valuation,
)
from evalkit.stats.result import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "EconomicsResult",
    "economics",
    "economics_window",
    "programme_cost",
    "unit_cost_table",
]

#: Setting whose avoided events give the cost per admission avoided.
ADMISSIONS = "emergency_admission"
#: The matched panel's period column and its censoring-weight column (target-trial design).
PERIOD = "event_month"
ROW_WEIGHT = "ipcw"
#: Below this many matched sets the bootstrap interval is flagged as too narrow (bench study).
FEW_SETS = 150
#: Wellbeing entry valued in WELLBYs.
LIFE_SATISFACTION = "ons4_life_satisfaction"
#: Columns of :meth:`EconomicsResult.cost_by_setting_table` (the cost figure's rows).
COST_FIGURE_COLUMNS: tuple[str, ...] = (
    "setting",
    "cost_difference_per_participant",
    "cost_ci_low",
    "cost_ci_high",
)

UNIT_COST_COLUMNS: tuple[str, ...] = (
    "setting",
    "cost",
    "price_year",
    "original_cost",
    "original_price_year",
    "inflator",
    "inflated",
    "unit",
    "source",
    "flag",
)


def unit_cost_table(table: UnitCostTable, settings: list[str] | None = None) -> pd.DataFrame:
    """The unit-cost table as rows: cost, price year, source and inflation flag per setting.

    Parameters
    ----------
    table : UnitCostTable
        Study's unit costs (:func:`evalkit.config.load_unit_costs`).
    settings : list of str, optional
        Settings to show (default all in the table).

    Returns
    -------
    pd.DataFrame
        Columns :data:`UNIT_COST_COLUMNS`; ``inflated`` is True where the cost was uprated from
        an older price year; ``flag`` repeats the table's caveat (e.g. per episode, not spell).
    """
    rows = []
    for s in settings or list(table.costs):
        uc = table.costs[s]
        rows.append(
            {
                "setting": s,
                "cost": uc.cost,
                "price_year": table.price_year,
                "original_cost": uc.original_cost,
                "original_price_year": uc.original_price_year,
                "inflator": uc.inflator,
                "inflated": uc.original_price_year != table.price_year,
                "unit": uc.unit,
                "source": uc.source,
                "flag": uc.flag.strip(),
            }
        )
    return pd.DataFrame(rows, columns=list(UNIT_COST_COLUMNS))


def economics_window(panel: pd.DataFrame, window_months: int) -> pd.DataFrame:
    """Rows of the matched panel used: baseline months −12..−1 and months 0..W−1, exposed.

    The same rows as the utilisation DiD: person-months with zero exposure (before
    registration, after death or deregistration, outside the extract) are left out.
    """
    em = panel["event_month"]
    keep = ((em >= BASELINE[0]) & (em <= BASELINE[1])) | ((em >= 0) & (em < window_months))
    return panel[keep & (panel["exposure"] > 0)]


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
        central and high WELLBY values (the central one with the change's CI).
        """
        t = self.roi.tidy()
        if self.wellby is not None:
            w = self.wellby
            extra = pd.DataFrame(
                [
                    ("wellby_social_value_per_pound", w.estimate, w.ci_low, w.ci_high, "GBP"),
                    ("wellby_social_value_per_pound_low_value", w.low, None, None, "GBP"),
                    ("wellby_social_value_per_pound_high_value", w.high, None, None, "GBP"),
                ],
                columns=t.columns,
            )
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
            f"over {d.n_sets} matched sets ({d.spec['resamples']} resamples, seed "
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
                f"Social value (WELLBY, not NHS cash): £{w.estimate:.2f} per £1 (range "
                f"£{w.low:.2f} to £{w.high:.2f}{ci})"
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
            ``wellby_social_value_per_pound`` (``estimate``, ``low``, ``high``; None values
            without ONS4 data), then ``roi_net``, ``roi_share_break_even``,
            ``emergency_admissions_avoided_per_participant``,
            ``cost_per_emergency_admission_avoided`` (an unbounded limit is None, with
            ``ci_high_unbounded``), ``nhs_cost_difference``, ``cost_change_by_setting``,
            ``unit_costs``, ``unit_cost_table``, ``programme_cost``, ``wellby``, ``spec`` and
            ``notes``.
        """
        r, d, w = self.roi, self.difference, self.wellby
        wellby_core = (
            {"estimate": w.estimate, "low": w.low, "high": w.high}
            if w is not None
            else {"estimate": None, "low": None, "high": None}
        )
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
                    "unit": "matched set",
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


def programme_cost(study: Study) -> dict[str, Any]:
    """The programme's cost per participant, from its config and its start rate.

    "Participant" is every person referred to the programme, counted once however often
    referred; a starter is a participant any of whose referrals started. A cost quoted per
    starter is converted with the start rate (starters ÷ participants), docs/design/methods.md
    section 4.

    Parameters
    ----------
    study : Study
        The programme's study (config ``cost`` and referrals).

    Returns
    -------
    dict
        ``amount``, ``basis``, ``price_year``, ``source`` (as configured), ``start_rate``,
        ``n_referred``, ``n_starters``, ``per_participant`` and ``notes`` (list of str).
    """
    cost = study.programme.cost
    ep = study.referrals
    # A person counts once: a starter if any of their referrals to the programme started.
    per_person = ep["start_date"].notna().groupby(ep["person_id"]).any()
    n_ref, n_start = len(per_person), int(per_person.sum())
    start_rate = n_start / n_ref if n_ref else float("nan")
    notes: list[str] = []
    if cost.basis == "starter":
        if n_start == 0:
            raise ValueError(
                f"{study.programme.slug}: the cost is per starter but nobody started, so a "
                "cost per participant cannot be derived"
            )
        per = cost_per_participant(cost.amount, "starter", start_rate=start_rate)
        notes.append(
            f"The programme cost is quoted per starter (£{cost.amount:,.2f}); per participant "
            f"it is £{cost.amount:,.2f} x start rate {start_rate:.3f} ({n_start} of {n_ref} "
            f"people referred started) = £{per:,.2f}."
        )
    else:
        per = cost_per_participant(cost.amount, "participant")
        notes.append(f"The programme cost is quoted per participant (£{cost.amount:,.2f}).")
    notes.append(f"Programme cost source: {cost.source}.")
    if cost.price_year != study.unit_costs.price_year:
        notes.append(
            f"FLAG: the programme cost is in {cost.price_year} prices, the NHS costs in "
            f"{study.unit_costs.price_year} prices; the programme cost was not inflated."
        )
    info = {
        "amount": cost.amount,
        "basis": cost.basis,
        "price_year": cost.price_year,
        "source": cost.source,
        "start_rate": start_rate,
        "n_referred": n_ref,
        "n_starters": n_start,
        "per_participant": per,
        "notes": notes,
    }
    return info


def economics(
    study: Study,
    mc: MatchedCohort,
    *,
    window_months: int = 12,
    resamples: int = 999,
    seed: int | None = None,
    duration_years: float | None = None,
    life_satisfaction: PrePostResult | None = None,
) -> EconomicsResult:
    """NHS cost saving, ROI, cost per admission avoided and WELLBY value for a programme.

    Parameters
    ----------
    study : Study
        From :func:`evalkit.analysis.load_study`: programme config (cost), referrals (start
        rate), measures (ONS4) and unit costs.
    mc : MatchedCohort
        From :func:`evalkit.analysis.utilisation.matched_cohort`; its panel's ``total_cost``
        is already priced with the cohort's unit-cost table.
    window_months : int
        Months after referral (1-12) compared with the 12 months before (default 12).
    resamples : int
        Bootstrap resamples over matched sets (default 999).
    seed : int, optional
        Bootstrap seed; default the programme's matching seed, so a report reruns identically.
    duration_years : float, optional
        Persistence of the life-satisfaction change for the WELLBY valuation (default from
        ``wellby.yaml``: 1 year).
    life_satisfaction : PrePostResult, optional
        ONS4 life-satisfaction pre/post (default computed with
        :func:`evalkit.analysis.wellbeing.wellbeing`).

    Returns
    -------
    EconomicsResult
        ``to_dict()`` is the ``economics`` entry of ``results.json``.

    Raises
    ------
    ValueError
        ``window_months`` outside 1-12 or too few matched sets for a bootstrap.
    """
    if not 1 <= int(window_months) <= 12:
        raise ValueError(f"window_months must be between 1 and 12, not {window_months}")
    prog = study.programme
    seed = prog.matching.seed if seed is None else int(seed)
    table = mc.cohort.unit_costs
    settings = list(mc.cohort.settings)
    notes: list[str] = []
    if table.name != study.unit_costs.name:
        notes.append(
            f"FLAG: the panel was priced with unit-cost table '{table.name}', the study names "
            f"'{study.unit_costs.name}'; the panel's table is used throughout."
        )

    panel = economics_window(mc.panel, int(window_months)).copy()
    cost_cols = []
    for s in settings:
        panel[f"cost_{s}"] = panel[s].to_numpy(dtype=float) * table.cost_of(s)
        cost_cols.append(f"cost_{s}")
    also = [*cost_cols, *settings]
    row_weights = ROW_WEIGHT if ROW_WEIGHT in panel else None
    diff = matched_cost_difference(
        panel,
        "total_cost",
        unit="unit",
        matched_set="subclass",
        treated="referred",
        post="post",
        weights="weight",
        time=PERIOD,
        row_weights=row_weights,
        also=also,
        periods=float(window_months),
        resamples=resamples,
        seed=seed,
    )
    cost_info = programme_cost(study)
    cost_notes = cost_info.pop("notes")
    roi = return_on_investment(
        diff,
        cost_info["per_participant"],
        admissions=ADMISSIONS if ADMISSIONS in settings else None,
    )
    if ADMISSIONS not in settings:
        notes.append(f"{ADMISSIONS} is not a programme setting: no cost per admission avoided.")

    notes.append(_weights_note(mc.design, row_weights))
    n_all, n_used = mc.cohort.n_participants, diff.n_treated
    notes.append(
        f"Participants are people referred (intention to treat), each counted once at the first "
        f"referral: {n_used} of {n_all} eligible participants had matched controls and complete "
        f"baseline and follow-up rows, and the saving is per such participant."
    )
    notes.append(
        f"NHS costs: each setting's events priced with '{table.name}' ({table.price_year} "
        f"prices, {table.inflation_index}); an emergency admission is priced per finished "
        "consultant episode, which understates the cost of a spell."
    )
    notes.extend(cost_notes)
    if diff.n_sets < FEW_SETS:
        notes.append(
            f"Only {diff.n_sets} matched sets: with fewer than {FEW_SETS}, bootstrap intervals "
            "for heavy-tailed NHS costs are somewhat too narrow (simulation in "
            "bench/bench_roi_bootstrap.py: 91% coverage for a nominal 95% at 70 sets, 94% at "
            "300); read the interval as a lower bound on the uncertainty."
        )
    notes.extend(
        n
        for n in diff.notes
        if "unbalanced" in n or "dropped" in n  # the ones a reader needs
    )

    by = []
    for s in settings:
        c, e = diff.row(f"cost_{s}"), diff.row(s)
        by.append(
            {
                "setting": s,
                "unit_cost": table.cost_of(s),
                "events_difference_per_participant": e["estimate"],
                "events_ci_low": e["ci_low"],
                "events_ci_high": e["ci_high"],
                "cost_difference_per_participant": c["estimate"],
                "cost_ci_low": c["ci_low"],
                "cost_ci_high": c["ci_high"],
                "saving_per_participant": -c["estimate"],
            }
        )
    by_setting = pd.DataFrame(by)

    wres: WellbyResult | None = None
    if "ons4" in prog.instruments:
        ls = life_satisfaction if life_satisfaction is not None else _life_sat(study)
        if ls is None or ls.n_paired < 2 or not math.isfinite(ls.mean_change):
            notes.append("Too few paired ONS4 life-satisfaction measures for a WELLBY valuation.")
        else:
            wres = wellby_valuation(
                ls.mean_change,
                cost_info["per_participant"],
                change_ci=(ls.ci_low, ls.ci_high),
                duration_years=duration_years,
                price_year=table.price_year,
                values=load_wellby(),
            )
            notes.append(
                f"WELLBY valuation uses the mean change in ONS4 life satisfaction among the "
                f"{ls.n_paired} participants with a baseline and an end measure (follow-up "
                f"completeness {ls.follow_up_completeness:.0%}), applied to every participant: "
                "an assumption that people without a follow-up measure changed as much."
            )
    else:
        notes.append("The programme does not collect ONS4: no WELLBY valuation.")

    spec = {
        "programme": prog.slug,
        "window_months": int(window_months),
        "baseline_months": [BASELINE[0], BASELINE[1]],
        "resamples": int(resamples),
        "seed": seed,
        "duration_years": wres.duration_years if wres is not None else duration_years,
        "unit_costs": table.name,
        "inflation_index": table.inflation_index,
        "settings": settings,
        "estimator": "matched difference in mean cost change, event month by event month "
        "(bootstrap over matched sets)",
        "design": mc.design,
        "weights": "weight x " + row_weights if row_weights else "weight",
    }
    return EconomicsResult(
        programme=prog.slug,
        price_year=table.price_year,
        window_months=int(window_months),
        programme_cost=cost_info,
        difference=diff,
        roi=roi,
        wellby=wres,
        unit_costs=unit_cost_table(table, settings),
        by_setting=by_setting,
        spec=spec,
        notes=tuple(notes),
    )


def _weights_note(design: str, row_weights: str | None) -> str:
    """The notes' sentence naming the weights the cost difference used."""
    if row_weights:
        return (
            f"Weights ({design} design): each unit's matching weight ('weight') times, on a "
            f"control's follow-up months, its censoring weight ('{row_weights}', stabilised "
            "inverse probability of not yet being referred; controls censored at their own "
            "referral): the utilisation DiD's analysis_weight. The cost change is compared "
            "event month by event month, the controls' standardised to the participants' "
            "follow-up months."
        )
    return (
        f"Weights ({design} design): each unit's matching weight ('weight'), constant over its "
        "months; no censoring weights. The cost change is compared event month by event month, "
        "the controls' standardised to the participants' follow-up months."
    )


def _life_sat(study: Study) -> PrePostResult | None:
    try:
        return wellbeing(study, LIFE_SATISFACTION)
    except (ValueError, KeyError):
        return None

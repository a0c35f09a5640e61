"""Build a programme's report section by section: one analysis per call, controlled at once.

The report notebook makes one call per section (``report.run_reach()``,
``report.run_utilisation()``, ...), so papermill's cell timings show what each analysis
costs and an academic can re-run one section. Each ``run_*`` method calls the analysis
function named in its docstring, applies disclosure control to what it will publish, and
draws that section's figures from the controlled tables; nothing is written to disk.
:meth:`ReportBuilder.content` then assembles the ``results.json`` content (a
:class:`~evalkit.reporting.report.ProgrammeReport`), which
:func:`~evalkit.reporting.report.write_report` writes atomically.

Rounding: a section's parts are rounded (6 significant digits) when they are stored, exactly
as ``results.json`` rounds them, so its tables equal the published ones; the final assembly
rounds again, which changes nothing (the rounding is idempotent).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from evalkit.analysis import (
    economics,
    load_study,
    outcomes_by_deprivation,
    pathway,
    reach_all,
    referral_trends,
    wellbeing_all,
    wellbeing_entries,
)
from evalkit.analysis.equity.reach_rates import REPORT_GROUPS
from evalkit.analysis.event_study import estimable_event_study, event_study_or_none, pretrend_test
from evalkit.analysis.negative_control import negative_controls
from evalkit.analysis.power import MDE_METHOD, add_mde, mde_utilisation_all
from evalkit.analysis.utilisation import (
    event_study,
    matched_cohort,
    sensitivity,
    utilisation_all,
    utilisation_table,
)
from evalkit.config import project_root
from evalkit.jsonsafe import json_safe, round_floats
from evalkit.reporting import declared, small
from evalkit.reporting import figures as figs
from evalkit.reporting import narrative as nar
from evalkit.reporting.claims import outcome_plan, plan_section, with_roles
from evalkit.reporting.disclosure import (
    DEFAULT_RULE,
    DEPENDENTS,
    DisclosureRule,
    control_entries,
    control_entry,
)
from evalkit.reporting.findings import FOCUS_SETTINGS, negative_control_findings
from evalkit.reporting.honest import primary_sensitivity
from evalkit.reporting.html import Html, qualified_name, render
from evalkit.reporting.pipeline import quiet
from evalkit.reporting.plan import plan_status, resolved_plan
from evalkit.reporting.programme import methods_appendix
from evalkit.reporting.provenance import banner_context, data_source
from evalkit.reporting.report import ProgrammeReport, missing_figure
from evalkit.reporting.results import build_results
from evalkit.reporting.tables import (
    TABLE_VIEWS,
    control_balance,
    negative_control_table,
    overlap_bins,
    published_negative_controls,
    referrals_by,
    safe_notes,
    strip_notes,
    view_table,
    wellbeing_table,
)
from evalkit.reporting.target_trial import (
    censoring_report,
    published_notes,
    window_coverage,
    window_coverage_table,
    with_published_share,
)
from evalkit.stats import plots

__all__ = ["SECTIONS", "ReportBuilder"]

_Run = TypeVar("_Run", bound=Callable[..., None])


def _section(run: _Run) -> _Run:
    """A ``run_*`` section: third-party warnings silenced (they differ run to run)."""

    @functools.wraps(run)
    def wrapper(self: ReportBuilder, *args: Any, **kwargs: Any) -> None:
        with quiet():
            run(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


#: The model-estimate fields of a utilisation entry (blanked on too few people or clusters).
MODEL_FIELDS = ("estimate", "ci_low", "ci_high", "std_error", "p_value", "p_holm", "mde")
#: The ``run_*`` sections in the order the report runs them (later ones need the matched cohort).
SECTIONS = (
    "matched_cohort",
    "utilisation",
    "event_studies",
    "sensitivity",
    "wellbeing",
    "reach",
    "pathway",
    "outcomes_by_deprivation",
    "referral_trends",
    "economics",
)


class ReportBuilder:
    """A programme's report in the making: one ``run_*`` call per section, then :meth:`content`.

    Parameters
    ----------
    programme : str
        Programme slug (``programmes/<slug>.yaml``).
    data_dir : str or Path
        Processed data (intake's output).
    ratio, caliper : optional
        Override the programme's matching options (None or 0: as configured); a difference from
        the locked analysis plan is listed as a deviation.
    primary, secondary : optional
        Override the programme's primary outcome (setting, window in months) and secondary
        settings. A locked plan's outcomes are kept whatever is passed; the request is listed as
        a deviation (:mod:`evalkit.reporting.claims`).
    plans_dir : str or Path, optional
        Locked plans (default ``<project>/plans``).
    rule : DisclosureRule
        Disclosure control applied to everything published.
    say : callable, optional
        Progress messages.

    A programme with few participants gets a smaller report (:mod:`evalkit.reporting.small`):
    a section that cannot be estimated is recorded in :attr:`not_shown` with the reason its
    tables and figures show instead.
    """

    def __init__(
        self,
        programme: str,
        data_dir: str | Path = "data/processed",
        *,
        ratio: int | None = None,
        caliper: float | None = None,
        primary: tuple[str, int] | None = None,
        secondary: list[str] | None = None,
        plans_dir: str | Path | None = None,
        rule: DisclosureRule = DEFAULT_RULE,
        say: Callable[[str], Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        #: What the processed data were made from (results.json's data_source; the banner).
        self.data_source = data_source(self.data_dir)
        self.options = {"ratio": ratio or None, "caliper": caliper or None}
        self.plans_dir = Path(plans_dir) if plans_dir is not None else project_root() / "plans"
        self.rule = rule
        self.say = say or (lambda msg: None)
        self.study = load_study(programme, data_dir)
        self.programme = self.study.programme
        #: The primary and secondary outcomes this report uses (the lock's, if locked).
        self.outcomes = outcome_plan(
            self.programme, self.plans_dir, primary=primary, secondary=secondary
        )
        self.parts: dict[str, Any] = {}
        self.tables: dict[str, pd.DataFrame] = {}
        self.figures: dict[str, figs.ReportFigure] = {}
        self.done: list[str] = []
        self._mc: Any = None
        self._raw: dict[str, Any] = {}
        #: Participants (first referrals eligible at referral) and what the report shows.
        self.n_participants = small.participant_count(self.study)
        self.scope = small.scope_for(self.n_participants)
        #: Sections that were not run, each with the line its tables and figures show instead.
        self.not_shown: dict[str, str] = {}

    # ------------------------------------------------------------------ helpers
    def _matched(self) -> Any:
        if self._mc is None:
            raise RuntimeError("run report.run_matched_cohort() first: this section needs it")
        return self._mc

    def _finish(self, section: str) -> None:
        """Mark ``section`` done; apply the rule by disclosure class to what is published."""
        self.tables = declared.apply_all(self.parts, self.tables, self.rule)
        if section not in self.done:
            self.done.append(section)

    def _shown(self, section: str) -> bool:
        """Whether ``section`` runs; if not, it is done, with the reason in :attr:`not_shown`."""
        if self.scope != small.FULL and section not in small.SCOPE_SECTIONS[self.scope]:
            reason = small.section_notice(self.scope)
        elif section in small.MATCHED_SECTIONS and self._raw.get("too_few_matched"):
            reason = small.too_few_matched()
        else:
            return True
        self.not_shown[section] = reason
        self._finish(section)
        return False

    def _notice(self, name: str) -> Html | None:
        """The line shown for table or figure ``name`` when its section was not run."""
        reason = self.not_shown.get(small.section_of(name) or "")
        return render("paragraph.html.j2", css="ek-not-shown", text=reason) if reason else None

    def _focus(self) -> list[str]:
        return [s for s in FOCUS_SETTINGS if s in self.programme.outcomes.settings]

    # ------------------------------------------------------------------ sections
    @_section
    def run_matched_cohort(self) -> None:
        """Risk-set matching: :func:`evalkit.analysis.utilisation.matched_cohort`."""
        if not self._shown("matched_cohort"):
            return
        self.say("matching participants to risk-set controls")
        caliper = self.options["caliper"] if self.options.get("caliper") else "config"
        mc = matched_cohort(self.study, ratio=self.options.get("ratio"), caliper=caliper)
        self._mc = mc
        m, rule = mc.match, self.rule
        raw = {
            "n_participants": int(m.n_treated),
            "n_matched": int(m.n_matched_treated),
            "n_unmatched": int(m.n_treated - m.n_matched_treated),
            "n_controls": int(mc.n_controls),
            # controlled with the counts: it would give a suppressed one away
            "share_matched": int(m.n_matched_treated) / int(m.n_treated),
        }
        # A model estimate needs enough matched participants and controls (ACRO's rule).
        self._raw["too_few_matched"] = not small.enough_matched(
            raw["n_matched"], float(mc.n_controls)
        )
        balance_raw = m.balance()
        n_ctrl_after = float(m.matched.loc[m.matched[m.treatment] == 0, "weight"].sum())
        balance = control_balance(
            balance_raw,
            int(m.n_treated),
            float(m.n_controls),
            n_ctrl_after,
            rule,
            n_treated_after=int(m.n_matched_treated),
        )
        # from the published table: a raw SMD of a 0/1 row would give its count away
        max_smd = float(balance.drop(index="distance", errors="ignore")["smd_after"].abs().max())
        matching = control_entries([raw], rule)[0]
        matching.update(
            {
                "max_abs_smd_after": max_smd,
                "caliper_width": m.caliper_width,
            }
        )
        self.parts["matching"] = round_floats(matching)
        self.tables["balance"] = balance.reset_index(names="covariate")
        self.tables["overlap"] = overlap_bins(mc, rule)
        self.tables["matching"] = pd.DataFrame([self.parts["matching"]])
        self.figures["love_plot"] = figs.love_figure(
            balance.drop(index="distance", errors="ignore"),
            analysis=matched_cohort,
            plot=m.plot_love,
        )
        self.figures["overlap"] = figs.overlap_figure(
            self.tables["overlap"], analysis=matched_cohort, plot=m.plot_overlap
        )
        censoring, censoring_tables = censoring_report(mc, rule)
        self.parts["censoring"] = round_floats(censoring)
        self.tables.update(censoring_tables)
        uncensored = getattr(mc, "panel_uncensored", None)
        coverage = window_coverage(
            mc.cohort.window_coverage(), mc.panel if uncensored is None else uncensored
        )
        self.tables["window_coverage"] = window_coverage_table(coverage, rule)
        self.parts["window_coverage"] = round_floats(
            [
                {k: v for k, v in row.items() if v is not None or k != "suppressed"}
                for row in json_safe(self.tables["window_coverage"].to_dict(orient="records"))
            ]
        )
        self._finish("matched_cohort")

    @_section
    def run_utilisation(self) -> None:
        """Matched DiD and naive figures per setting and window, with MDEs; negative controls.

        :func:`evalkit.analysis.utilisation.utilisation_all`,
        :func:`evalkit.analysis.power.mde_utilisation_all` and
        :func:`evalkit.analysis.negative_control.negative_controls` (results.json
        ``negative_controls``: controlled as the utilisation entries, never given a role of
        the plan, never adjusted, never a headline).
        """
        if not self._shown("utilisation"):
            return
        mc = self._matched()
        self.say("difference-in-differences per setting and window")
        fits = utilisation_all(mc)
        self.say("minimum detectable effects")
        mdes = mde_utilisation_all(mc, fits)
        share = self.parts["censoring"]["share_censored"]
        raw = [
            with_published_share({k: v for k, v in e.items() if k != "mde_sentence"}, share)
            for e in add_mde(utilisation_table(fits).to_dict(orient="records"), mdes)
        ]
        published = round_floats(control_entries(raw, self.rule))
        published = declared.small_models(raw, published, MODEL_FIELDS)
        _, published, self._raw["multiplicity"] = with_roles(raw, published, self.outcomes)
        self._raw["utilisation"] = published
        util = pd.DataFrame(round_floats(published))
        self.tables["utilisation"] = util
        for s in self._focus():
            fit = next(f for f in fits if f.setting == s)
            self.figures[f"compare_{s}"] = figs.comparison_figure(
                util[(util["setting"] == s) & (util["scale"] == "rate_ratio")],
                f"compare_{s}",
                nar.setting_label(s, capital=True),
                analysis=utilisation_all,
                plot=fit.plot_comparison,
            )
        self.say("negative controls")
        self.parts["negative_controls"] = published_negative_controls(
            negative_controls(mc), self.rule, share
        )
        self.tables["negative_controls"] = negative_control_table(self.parts["negative_controls"])
        self._finish("utilisation")

    @_section
    def run_event_studies(self) -> None:
        """Month-by-month event studies: :func:`evalkit.analysis.event_study.event_study`.

        With each, the joint pre-trend test on the months not matched on
        (:func:`evalkit.analysis.event_study.pretrend_test`, Poisson and linear), stated in the
        figure's caption and published as ``pretrend`` in results.json.
        """
        if not self._shown("event_studies"):
            return
        mc = self._matched()
        self.say("event studies")
        fits = {s: event_study_or_none(mc, s) for s in self._focus()}
        es = {s: f for s, f in fits.items() if f is not None}  # not converged: not drawn
        self._raw["event_study_fits"] = es  # reused by run_sensitivity's bounds
        self.say("pre-trend tests on the months not matched on")
        pre = {s: pretrend_test(mc, s, poisson=es[s]) for s in es}
        self.parts["event_study"] = round_floats(
            {
                s: estimable_event_study(r.event_study, mc, s)
                .drop(columns=["pre", "reference"], errors="ignore")
                .to_dict(orient="records")
                for s, r in es.items()
            }
        )
        self.parts["pretrend"] = round_floats({s: r.entry() for s, r in pre.items()})
        for s in es:
            table = pd.DataFrame(self.parts["event_study"][s])
            self.tables[f"event_study_{s}"] = table
            self.figures[f"event_study_{s}"] = figs.event_study_figure(
                table,
                f"event_study_{s}",
                nar.setting_label(s, capital=True),
                analysis=event_study,
                plot=es[s].plot_event_study,
                pretrend=self.parts["pretrend"][s],
            )
        self._finish("event_studies")

    @_section
    def run_sensitivity(self) -> None:
        """The pre-specified battery: :func:`evalkit.analysis.utilisation.sensitivity`.

        First, the headline sensitivity to differing trends: Rambachan-Roth bounds on the
        primary outcome (:func:`evalkit.reporting.honest.primary_sensitivity`; results.json
        ``honest_did``, the table's first row and the ``honest_did`` figure).
        """
        if not self._shown("sensitivity"):
            return
        mc = self._matched()
        self.say("Rambachan-Roth bounds on the primary outcome")
        honest = primary_sensitivity(mc, self.outcomes, self._raw.get("event_study_fits"))
        self.parts["honest_did"] = honest.part
        if honest.figure is not None:
            self.figures["honest_did"] = honest.figure
        self.say("sensitivity analyses")
        sens = sensitivity(self.study, mc)
        rows = published_notes(
            [*honest.rows, *sens.to_dict(orient="records")],
            self.parts["censoring"]["share_censored"],
        )
        self.parts["sensitivity"] = round_floats(control_entries(rows, self.rule))
        self.tables["sensitivity"] = pd.DataFrame(self.parts["sensitivity"])
        self._finish("sensitivity")

    @_section
    def run_wellbeing(self) -> None:
        """Paired change per instrument: :func:`evalkit.analysis.wellbeing.wellbeing_all`."""
        if not self._shown("wellbeing"):
            return
        self.say("wellbeing pre/post")
        results = wellbeing_all(self.study)
        self._raw["wellbeing"] = small.without_small_estimates(
            wellbeing_entries(results), "n_paired", DEPENDENTS["n_paired"], small.TOO_FEW_PAIRED
        )
        published = round_floats(
            control_entries(
                [
                    {k: v for k, v in e.items() if k not in ("by_group",)}
                    for e in self._raw["wellbeing"]
                ],
                self.rule,
            )
        )
        wb_table = wellbeing_table(declared.apply_declared("wellbeing", published, self.rule))
        if any(e.get("note") for e in published):
            wb_table["note"] = [e.get("note") for e in published]
        self.tables["wellbeing"] = wb_table
        if wb_table["effect_size"].notna().any():
            self.figures["wellbeing_change"] = figs.wellbeing_figure(
                wb_table, analysis=wellbeing_all, plot=next(iter(results.values())).plot_effect_size
            )
        self._finish("wellbeing")

    @_section
    def run_reach(self) -> None:
        """Referral rates per eligible person-year by group: :func:`evalkit.analysis.reach_all`."""
        if not self._shown("reach"):
            return
        self.say("reach")
        result = reach_all(self.study)
        self.parts["reach"] = round_floats(control_entries(result.entries(), self.rule))
        reach_t = pd.DataFrame(self.parts["reach"])
        self.tables["reach"] = reach_t
        self.figures["reach"] = figs.from_axes(
            "reach",
            result.plot(table=reach_t, groups=REPORT_GROUPS),
            "Reach: each group's referral rate per eligible person-year against the reference "
            "group (IMD quintile 5, the least deprived; for ethnicity the largest group), with "
            "exact Poisson 95% CIs. Above 1 = referred more often. Groups with a suppressed "
            "count, or with no participants, are not shown.",
            figs.forest_alt(result.figure_table(reach_t, groups=REPORT_GROUPS), label_col="label"),
            analysis=reach_all,
            drawn_by=plots.forest,
        )
        self._finish("reach")

    @_section
    def run_pathway(self) -> None:
        """Referral to follow-up, overall and by group: :func:`evalkit.analysis.pathway`."""
        if not self._shown("pathway"):
            return
        self.say("pathway")
        groups = ("imd_quintile", "ethnicity_group")
        paths = [pathway(self.study), *(pathway(self.study, by=g) for g in groups)]
        entries = [
            e for i, p in enumerate(paths) for e in p.entries() if i == 0 or e["group"] != "all"
        ]
        self.parts["pathway"] = round_floats(
            declared.secondary_suppression(control_entries(entries, self.rule), self.rule)
        )
        self.tables["pathway"] = pd.DataFrame(self.parts["pathway"])
        for by, result in zip(groups, paths[1:], strict=True):
            table = self.tables["pathway"][self.tables["pathway"]["group"].isin(["all", by])]
            self.figures[f"pathway_{by}"] = figs.from_axes(
                f"pathway_{by}",
                result.plot(table=table),
                f"Pathway by {by.replace('_', ' ')}: the share of referred people still on the "
                "pathway at each step, from counts rounded to the nearest 5 (a suppressed count "
                "leaves a gap).",
                "Step chart from referral to a follow-up wellbeing measure, one line per group; "
                + "; ".join(
                    f"{r.level}: {r.n if r.n is not None else 'suppressed'} at {r.step}"
                    for r in table[
                        table["step"].isin(["referred", "followup_measure"])
                    ].itertuples()
                ),
                analysis=pathway,
                drawn_by=plots.funnel,
            )
        self._finish("pathway")

    @_section
    def run_outcomes_by_deprivation(self) -> None:
        """Outcomes by IMD group: :func:`evalkit.analysis.outcomes_by_deprivation`."""
        if not self._shown("outcomes_by_deprivation"):
            return
        mc = self._matched()
        self.say("outcomes by deprivation")
        result = outcomes_by_deprivation(self.study, mc)
        obd = strip_notes(result.to_dict())
        obd["entries"] = control_entries(obd["entries"], self.rule)
        self.parts["outcomes_by_deprivation"] = round_floats(obd)
        obd_t = pd.DataFrame(self.parts["outcomes_by_deprivation"]["entries"])
        self.tables["outcomes_by_deprivation"] = obd_t
        rr = result.figure_table(obd_t, scale="rate_ratio")
        if len(rr):
            self.figures["outcomes_by_deprivation"] = figs.from_axes(
                "outcomes_by_deprivation",
                result.plot(table=obd_t, scale="rate_ratio"),
                "Utilisation effect by IMD quintile group (1 = most deprived), matched DiD rate "
                f"ratios at {result.window_months} months; quintiles are pooled where a group "
                "is small.",
                figs.forest_alt(rr, label_col="label"),
                analysis=outcomes_by_deprivation,
                drawn_by=plots.forest,
            )
        self._finish("outcomes_by_deprivation")

    @_section
    def run_referral_trends(self) -> None:
        """Referrals over time and waiting times: :func:`evalkit.analysis.referral_trends`."""
        if not self._shown("referral_trends"):
            return
        self.say("referral trends and waiting times")
        trends = referral_trends(self.study, freq="year")
        # Through a DataFrame, as results.json has always held it (missing keys become NaN).
        waiting = pd.DataFrame(
            control_entries(trends.tidy("waiting").to_dict(orient="records"), self.rule)
        )
        self.parts["waiting_times"] = round_floats(waiting.to_dict(orient="records"))
        self.tables["referrals_by_quarter"] = referrals_by(trends, self.rule, "Q", by_source=False)
        self.tables["referrals_by_year_source"] = referrals_by(
            trends, self.rule, "Y", by_source=True
        )
        self.tables["waiting_times"] = pd.DataFrame(self.parts["waiting_times"])
        self.figures["referral_trends"] = figs.referrals_figure(
            self.tables["referrals_by_quarter"], analysis=referral_trends, plot=trends.plot
        )
        self._finish("referral_trends")

    @_section
    def run_economics(self) -> None:
        """Costs and return on investment: :func:`evalkit.analysis.economics`."""
        if not self._shown("economics"):
            return
        mc = self._matched()
        self.say("costs and return on investment")
        econ = economics(self.study, mc)
        econ_dict = control_entry(strip_notes(econ.to_dict()), self.rule)
        econ_dict["assumptions"] = safe_notes(econ.notes)
        self.parts["economics"] = round_floats(econ_dict)
        self.tables["unit_costs"] = pd.DataFrame(self.parts["economics"]["unit_costs"])
        published = self.parts["economics"]
        self.tables["cost_by_setting"] = pd.DataFrame(published["cost_change_by_setting"])
        cost_t = econ.cost_by_setting_table(
            self.tables["cost_by_setting"], total=published["nhs_cost_difference"]
        )
        self.figures["cost_by_setting"] = figs.from_axes(
            "cost_by_setting",
            econ.plot_cost_by_setting(
                table=self.tables["cost_by_setting"], total=published["nhs_cost_difference"]
            ),
            f"NHS cost change per participant by setting over {econ.window_months} months "
            "(participants against matched controls), with 95% bootstrap CIs; below 0 = cost "
            "less than expected.",
            "Dot plot of cost change by setting: "
            + "; ".join(
                f"{r.setting}: suppressed"
                if nar.missing(r.cost_difference_per_participant)
                else f"{r.setting}: £{r.cost_difference_per_participant:,.0f}"
                for r in cost_t.itertuples()
            ),
            analysis=economics,
            drawn_by=plots.forest,
        )
        self._finish("economics")

    def run_all(self) -> ReportBuilder:
        """Every section in :data:`SECTIONS` order (what :func:`build_report` does)."""
        for section in SECTIONS:
            getattr(self, f"run_{section}")()
        return self

    # ------------------------------------------------------------------ views
    def title(self) -> Html:
        """The report's heading, what it was built from (a banner) and its description."""
        return render(
            "title.html.j2", programme=self.programme, source=banner_context(self.data_source)
        )

    def table(self, name: str) -> Html:
        """One of the controlled tables of the sections run so far, as HTML.

        A table of a section that was not run (too few participants) is a line saying why.
        """
        return self._notice(TABLE_VIEWS[name]["source"]) or view_table(name, self.tables)

    def figure(self, name: str) -> figs.ReportFigure | Html:
        """One of the figures of the sections run so far (a sentence where it was not drawn)."""
        if name in self.figures:
            return self.figures[name]
        return self._notice(name) or missing_figure(name)

    def _so_far(self) -> ProgrammeReport:
        """The sections run so far as report content (their results.json parts only)."""
        return ProgrammeReport(self.programme, self.parts, self.tables, self.figures)

    def estimand(self) -> Html:
        """What the healthcare-use analysis compares (after :meth:`run_matched_cohort`)."""
        return self._notice("matching") or self._so_far().estimand()

    def reach_summary(self) -> Html:
        """The reach-by-deprivation sentence (after :meth:`run_reach`)."""
        return self._notice("reach") or self._so_far().reach_summary()

    def deprivation_summary(self) -> Html:
        """The test of difference between deprivation groups in words."""
        return self._notice("outcomes_by_deprivation") or self._so_far().deprivation_summary()

    def economics_summary(self) -> Html:
        """The costs and return on investment paragraph and its assumptions."""
        return self._notice("unit_costs") or self._so_far().economics_summary()

    def negative_control(self) -> Html:
        """The negative-control section in words (after :meth:`run_utilisation`)."""
        notice = self._notice("negative_controls")
        if notice:
            return notice
        return render(
            "negative_control.html.j2",
            analysis=qualified_name(negative_controls),
            **negative_control_findings(self.parts),
        )

    # ------------------------------------------------------------------ assembly
    def content(self) -> ProgrammeReport:
        """The report's content: ``results.json``, tables, figures (every section must have run)."""
        missing = [s for s in SECTIONS if s not in self.done]
        if missing:
            raise RuntimeError(f"sections not run yet: {', '.join(missing)}")
        prog, mc, rule = self.programme, self._mc, self.rule
        parameters = {
            "programme": prog.slug,
            "outcomes": prog.outcomes.model_dump(),
            "matching": mc.spec if mc is not None else prog.matching.model_dump(),
            "unit_costs": {
                "table": self.study.unit_costs.name,
                "price_year": self.study.unit_costs.price_year,
            },
            "instruments": list(prog.instruments),
            "disclosure": {
                "threshold": rule.threshold,
                "base": rule.base,
                "rounding": rule.rounding,
            },
        }
        used = resolved_plan(prog, unit_costs=self.study.unit_costs)
        if mc is not None:
            used["matching"] = {k: mc.spec.get(k, v) for k, v in used["matching"].items()}
            used["estimation"]["design"] = mc.spec.get("design", used["estimation"]["design"])
            used["estimation"]["index_day"] = mc.cohort.spec.get(
                "index_day", used["estimation"]["index_day"]
            )
            if "censoring" in mc.spec:
                truncate = mc.spec["censoring"].get("truncate")
                used["estimation"]["censoring"]["truncate"] = truncate
        used["disclosure"] = {"threshold": rule.threshold, "rounding_base": rule.base}
        used["outcomes"] = self.outcomes.requested
        status = plan_status(prog, used, self.plans_dir)
        extra = self._small()
        results = build_results(
            prog.slug,
            processed_dir=self.data_dir,
            parameters=parameters,
            utilisation=self._raw.get("utilisation", []),
            wellbeing=self._raw.get("wellbeing", []),
            rule=rule,
            extra={
                "data_source": self.data_source,
                **extra.parts,
                **self.parts,
                "methods": {**methods_appendix(prog.instruments), "mde": MDE_METHOD}
                | extra.methods,
                "plan": plan_section(
                    status, self.outcomes, self._raw.get("multiplicity", extra.multiplicity)
                ),
            },
        )
        tables = declared.apply_all(results, {**extra.tables, **self.tables}, rule)
        notes = list(mc.notes) if mc is not None else []
        return ProgrammeReport(prog, results, tables, dict(self.figures), notes)

    def _small(self) -> small.SmallParts:
        """What a report with sections not run adds to results.json (nothing to a full one)."""
        return small.small_parts(
            self.scope,
            bool(self.not_shown),
            self.rule.count(self.n_participants),
            title=self.programme.title,
            setting=self.outcomes.setting,
            window_months=self.outcomes.window_months,
            instrument=self.programme.primary_instrument,
        )

"""A programme report's content, its sections in HTML, and the one writer of its files.

:func:`build_report` runs every section (:class:`~evalkit.reporting.build.ReportBuilder`) and
returns a :class:`ProgrammeReport`: the controlled ``results.json`` content, the tables and the
figures. Its methods render the report's sections from the Jinja templates in
``templates/sections/``; :func:`write_report` writes ``results.json``, the table CSVs and the
figure PNGs, each file atomically. Nothing here computes a statistic.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.config import Programme
from evalkit.files import write_json
from evalkit.jsonsafe import round_floats
from evalkit.reporting import declared, findings
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule
from evalkit.reporting.figures import ReportFigure
from evalkit.reporting.honest import honest_summary
from evalkit.reporting.html import Html, render
from evalkit.reporting.pipeline import quiet
from evalkit.reporting.provenance import banner_context
from evalkit.reporting.results import write_table
from evalkit.reporting.tables import view_table
from evalkit.reporting.target_trial import design_context, estimand_context

__all__ = ["ProgrammeReport", "build_report", "missing_figure", "write_report"]


def missing_figure(name: str) -> Html:
    """The sentence shown where a figure could not be drawn (too few people or events)."""
    return render(
        "paragraph.html.j2",
        css="ek-missing",
        text=f'Figure "{name.replace("_", " ")}" is not shown: too few people or events to '
        "draw it safely.",
    )


@dataclass
class ProgrammeReport:
    """A programme's report content: controlled results, tables and figures."""

    programme: Programme
    results: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, ReportFigure]
    notes: list[str] = field(default_factory=list)

    # --- sections --------------------------------------------------------------------------
    def title(self) -> Html:
        """The report's heading, what it was built from (a banner) and its description."""
        source = banner_context(self.results.get("data_source"))
        return render("title.html.j2", programme=self.programme, source=source)

    def headline(self, setting: str, window: int | None = None) -> str:
        """The quotable sentence for one setting and window (matched DiD), with its MDE.

        ``window`` defaults to the plan's primary window.
        """
        window = findings.primary_outcome(self.results)[1] if window is None else window
        return findings.headline(self.results, setting, window)

    def powered_for(self, window: int | None = None) -> str:
        """Which outcomes the evaluation could detect a plausible fall in (80% power, 5%)."""
        return findings.powered_for(self.results, self.programme, window)

    def plan_notice(self) -> Html:
        """The analysis plan on the first screen: locked or not, deviations, the outcomes."""
        plan = self.results.get("plan") or {}
        return render(
            "plan_notice.html.j2",
            plan=plan,
            deviations=plan.get("deviations") or [],
            sha=str(plan.get("sha256", ""))[:12],
            outcomes=findings.plan_outcomes_sentence(self.results),
        )

    def summary(self) -> Html:
        """Plain-English summary for commissioners: reach, headlines, what the evidence can say.

        The headline sensitivity to differing trends is the Rambachan-Roth breakdown value of
        the primary outcome (:func:`evalkit.reporting.honest.honest_summary`).

        The healthcare-use headlines follow the plan, each labelled primary, secondary or
        exploratory (:func:`evalkit.reporting.findings.claims`). A report with too few
        participants for estimates says so instead (:meth:`small_summary`).
        """
        if self.small():
            return self.small_summary()
        items = findings.claims(self.results)
        wellbeing = findings.wellbeing_headline(self.tables["wellbeing"], self.programme)
        if wellbeing:
            items.append({"label": "Wellbeing", "text": wellbeing})
        items += [
            {"label": "Economics", "text": t} for t in findings.economics_sentences(self.results)
        ]
        return render(
            "summary.html.j2",
            plan_notice=self.plan_notice(),
            programme=self.programme,
            matching=self.results["matching"],
            target_trial=(self.results.get("censoring") or {}).get("design") == "target_trial",
            reach_sentence=findings.reach_sentence(self.results),
            headlines=items,
            regression_to_mean=findings.regression_to_mean(self.results),
            powered_for=self.powered_for(),
            honest_sentence=honest_summary(self.results.get("honest_did")),
        )

    def small(self) -> dict[str, Any]:
        """results.json ``methods.small_programme``: empty unless the report shows less."""
        return (self.results.get("methods") or {}).get("small_programme") or {}

    def small_summary(self) -> Html:
        """The summary of a report with too few participants: why, and what it does show."""
        scope = self.small()["scope"]
        items = [findings.reach_sentence(self.results)] if self.results.get("reach") else []
        wellbeing = self.tables.get("wellbeing")
        if wellbeing is not None and len(wellbeing):
            items += [findings.wellbeing_headline(wellbeing, self.programme) or ""]
        return render(
            "summary_small.html.j2",
            plan_notice=self.plan_notice() if scope == "full" else "",
            reason=self.small()["reason"],
            show_participants=scope != "none",
            participants=self.results["matching"].get("n_participants"),
            items=[i for i in items if i],
        )

    def estimand(self) -> Html:
        """What the healthcare-use analysis compares, and the share of controls censored."""
        return render("estimand.html.j2", **estimand_context(self.results))

    def reach_sentence(self) -> str:
        """Reach of the most against the least deprived fifth, in words."""
        return findings.reach_sentence(self.results)

    def reach_summary(self) -> Html:
        """The reach-by-deprivation sentence as a paragraph."""
        return render("paragraph.html.j2", css="", text=self.reach_sentence())

    def economics_sentences(self) -> list[str]:
        """NHS cash (cost saving, ROI) and, separately, the wellbeing valuation, in words."""
        return findings.economics_sentences(self.results)

    def economics_summary(self) -> Html:
        """The costs and return on investment section's headline paragraph and assumptions."""
        e = self.results.get("economics") or {}
        return render(
            "economics_summary.html.j2",
            sentences=self.economics_sentences(),
            cost_per_admission=findings.cost_per_admission_sentence(self.results),
            assumptions=e.get("assumptions", []),
        )

    def deprivation_summary(self) -> Html:
        """Heterogeneity tests of the outcomes across deprivation groups, in words."""
        return render(
            "list.html.j2",
            items=findings.deprivation_findings(self.results),
            empty="Too few participants per deprivation group to compare outcomes.",
        )

    def table(self, name: str) -> Html:
        """One of the report's controlled tables as an accessible HTML table."""
        return view_table(name, self.tables)

    def figure(self, name: str) -> ReportFigure | Html:
        """One of the report's figures (caption and alt text included).

        A figure that could not be drawn (too few people or events) is replaced by a sentence
        saying so, so every programme's report has the same structure.
        """
        return self.figures[name] if name in self.figures else missing_figure(name)

    def figure_names(self) -> list[str]:
        """Names of the figures in report order."""
        return list(self.figures)

    def appendix_data(self) -> Html:
        """Methods appendix, data part: input hashes, parameters and disclosure rule."""
        r = self.results
        return render(
            "appendix_data.html.j2",
            hashes=r["data_sha256"],
            parameters=json.dumps(r["parameters"], indent=1, sort_keys=True, default=str),
            disclosure=r["disclosure"],
        )

    def appendix_design(self) -> Html:
        """Methods appendix, design part: the estimand, matching and censoring settings used."""
        if not self.results.get("censoring"):  # no matched comparison was made
            return render(
                "paragraph.html.j2",
                css="ek-not-shown",
                text="No matched comparison was made (too few participants), so there is no "
                "design to describe.",
            )
        return render("appendix_design.html.j2", **design_context(self.results))

    def appendix_software(self) -> Html:
        """Methods appendix, software part: evalkit and package versions."""
        r = self.results
        versions = ", ".join(f"{k} {v}" for k, v in r["package_versions"].items())
        return render(
            "appendix_software.html.j2",
            evalkit_version=r["evalkit_version"],
            versions=versions,
            engine=_engine_words(r.get("engine")),
        )

    # --- files -----------------------------------------------------------------------------
    def write(self, output_dir: str | Path) -> Path:
        """Write results.json, the table CSVs and the figure PNGs (see :func:`write_report`)."""
        return write_report(self, output_dir)


def write_report(report: ProgrammeReport, output_dir: str | Path | None) -> Path | None:
    """Write ``results.json``, the table CSVs and ``figures/*.png`` into ``output_dir``.

    Each file goes through the one atomic writer (:mod:`evalkit.files`); an empty or None
    ``output_dir`` writes nothing (the notebook run interactively).
    """
    if not output_dir:
        return None
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(report.results, out / "results.json")
    columns = {}
    for name, df in report.tables.items():
        path = write_table(round_floats(df.to_dict(orient="records")), out / f"{name}.csv")
        with path.open(encoding="utf-8", newline="") as f:
            columns[path.name] = next(csv.reader(f), [])
    # every field written, with its disclosure class and base (the checker reads it)
    write_json(declared.manifest(report.results, columns), out / declared.MANIFEST)
    for f in report.figures.values():
        f.save(out / "figures")
    return out


def build_report(
    programme: str,
    data_dir: str | Path = "data/processed",
    output_dir: str | Path | None = None,
    *,
    ratio: int | None = None,
    caliper: float | None = None,
    primary: tuple[str, int] | None = None,
    secondary: list[str] | None = None,
    plans_dir: str | Path | None = None,
    rule: DisclosureRule = DEFAULT_RULE,
    progress: Any = None,
) -> ProgrammeReport:
    """Run every section of a programme's report and return its controlled content.

    ``data_dir`` is the processed data (``make data`` or :func:`ensure_data` makes it). With
    ``output_dir`` the results.json, table CSVs and figure PNGs are written there as well.
    ``ratio`` and ``caliper`` override the programme's matching options (None or 0: as
    configured); any difference from the locked analysis plan in ``plans_dir`` (default
    ``<project>/plans``) is listed as a deviation in the report. ``primary`` (setting, window in
    months) and ``secondary`` override the configured outcomes, except that a locked plan's
    outcomes are kept and the request is listed as a deviation.
    """
    from evalkit.reporting.build import ReportBuilder

    with quiet():
        builder = ReportBuilder(
            programme,
            data_dir,
            ratio=ratio,
            caliper=caliper,
            primary=primary,
            secondary=secondary,
            plans_dir=plans_dir,
            rule=rule,
            say=progress,
        )
        report = builder.run_all().content()
    write_report(report, output_dir)
    return report


def _engine_words(engine: dict[str, Any] | None) -> str:
    """'PostgreSQL 15.18 (schema evalkit_processed)' etc.; empty for reports before schema 2.2."""
    if not engine:
        return ""
    name = {"duckdb": "DuckDB (embedded)", "postgres": "PostgreSQL", "spark": "Spark"}
    words = f"{name.get(engine['kind'], engine['kind'])} {engine.get('version', '')}".strip()
    if engine.get("schema"):
        words += f" (schema {engine['schema']})"
    elif engine["kind"] == "spark" and engine.get("where"):
        words += f" (master {engine['where']})"
    return words

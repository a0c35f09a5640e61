"""One hop from a figure or table in the HTML to the code that computed and drew it.

Every ``<figure>`` in a report carries ``data-analysis`` (the function that computed its numbers)
and ``data-drawn-by`` (the function that drew it); every table carries ``data-analysis``. These
tests resolve every name in every demo report, check that every figure was drawn by a function
of :mod:`evalkit.stats.plots` and that the result object's own ``plot_*`` method draws with that
same function (a spy on the drawing function for the statistics results, and the functions a
method calls for the analysis results), and redraw the reach, pathway, outcomes-by-deprivation
and cost figures with their result's ``plot`` method from the report's published CSV: the same
function is called, on as many rows as the report's figure shows, and the PNG is the same.
"""

from __future__ import annotations

import importlib
import inspect
import json
import sys
import types
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import evalkit as ek
from evalkit.analysis.economics import EconomicsResult
from evalkit.analysis.equity import (
    OutcomesByDeprivationResult,
    PathwayResult,
    ReachAllResult,
    ReferralTrendsResult,
)
from evalkit.analysis.equity.reach_rates import REPORT_GROUPS
from evalkit.analysis.honest_did import PrimaryHonestResult
from evalkit.analysis.utilisation import UtilisationResult
from evalkit.config import load_programmes
from evalkit.reporting import figures as figs
from evalkit.stats import plots
from evalkit.stats.did import DidResult
from evalkit.stats.matching import MatchResult
from evalkit.stats.prepost import PrePostResult

PROGRAMMES = sorted(load_programmes())

#: Figure id (or its prefix, ending in "_") -> the result method that draws the same figure.
FIGURE_METHODS: dict[str, Callable[..., Any]] = {
    "reach": ReachAllResult.plot,
    "pathway_": PathwayResult.plot,
    "referral_trends": ReferralTrendsResult.plot,
    "compare_": UtilisationResult.plot_comparison,
    "event_study_": DidResult.plot_event_study,
    "wellbeing_change": PrePostResult.plot_effect_size,
    "outcomes_by_deprivation": OutcomesByDeprivationResult.plot,
    "cost_by_setting": EconomicsResult.plot_cost_by_setting,
    "love_plot": MatchResult.plot_love,
    "overlap": MatchResult.plot_overlap,
    "honest_did": PrimaryHonestResult.plot_sensitivity,
}


class _Tags(HTMLParser):
    """Attributes of every ``<figure>`` (with its image's ``alt``) and ``<table>`` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self.tables: list[dict[str, str]] = []
        self._in_figure = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure":
            self.figures.append(a)
            self._in_figure = True
        elif tag == "img" and self._in_figure:
            self.figures[-1]["img-alt"] = a.get("alt", "")
        elif tag == "table":
            self.tables.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_figure = False


def _page(built_reports: Path, slug: str) -> _Tags:
    tags = _Tags()
    tags.feed((built_reports / slug / "index.html").read_text(encoding="utf-8"))
    return tags


def resolve(name: str) -> Any:
    """The object a dotted name (``package.module.Class.method``) stands for."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise LookupError(name)


def _names(code: types.CodeType) -> set[str]:
    """Global and attribute names a code object uses, nested functions included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _referenced(fn: types.FunctionType) -> set[Any]:
    """Callables ``fn`` reaches through its globals (``plots.forest`` or ``forest``)."""
    names, out = _names(fn.__code__), set()
    for name, value in fn.__globals__.items():
        if name not in names:
            continue
        if isinstance(value, types.ModuleType) and value.__name__.startswith("evalkit"):
            out |= {getattr(value, n) for n in names if callable(getattr(value, n, None))}
        elif callable(value) and not isinstance(value, types.ModuleType):
            out.add(value)
    return out


def called_functions(fn: Callable[..., Any], depth: int = 3) -> set[Any]:
    """Functions ``fn`` calls through its module's globals, and what those call, ``depth`` deep."""
    fn = inspect.unwrap(fn)
    if not isinstance(fn, types.FunctionType) or depth == 0:
        return set()
    out = _referenced(fn)
    for f in list(out):
        if getattr(f, "__module__", "").startswith("evalkit"):
            out |= called_functions(f, depth - 1)
    return out


def _method_for(figure_id: str) -> Callable[..., Any]:
    for key, method in FIGURE_METHODS.items():
        if figure_id == key or (key.endswith("_") and figure_id.startswith(key)):
            return method
    raise AssertionError(f"figure {figure_id} has no result method in FIGURE_METHODS")


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_every_figure_and_table_names_code_that_exists(
    built_reports: Path, slug: str
) -> None:
    page = _page(built_reports, slug)
    assert page.figures, "no figures found"
    for fig in page.figures:
        assert fig.get("data-analysis"), fig.get("id")
        assert fig.get("data-drawn-by"), fig.get("id")
        analysis, drawn = resolve(fig["data-analysis"]), resolve(fig["data-drawn-by"])
        assert callable(analysis) and callable(drawn), fig["id"]
        assert fig["data-analysis"].startswith("evalkit.analysis."), fig["id"]
    report_tables = [t for t in page.tables if "data-table" in t]
    assert len(report_tables) >= 10
    for table in report_tables:
        assert callable(resolve(table["data-analysis"])), table["data-table"]


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_nested_section_html_is_markup_not_its_text_view(
    built_reports: Path, slug: str
) -> None:
    page = (built_reports / slug / "index.html").read_text(encoding="utf-8")
    assert "[report section" not in page and "[figure " not in page
    assert "&lt;div class=&#34;ek-notice" not in page and "&lt;p&gt;" not in page


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_figure_function_is_the_results_plot_function(
    built_reports: Path, slug: str
) -> None:
    for fig in _page(built_reports, slug).figures:
        figure_id = fig["id"].removeprefix("fig-")
        method = _method_for(figure_id)
        assert fig["data-drawn-by"].startswith("evalkit.stats.plots."), (
            f"{figure_id}: drawn by {fig['data-drawn-by']}, not an evalkit.stats.plots function"
        )
        drawn = resolve(fig["data-drawn-by"])
        assert drawn in called_functions(method), (
            f"{figure_id}: the report drew it with {fig['data-drawn-by']}, "
            f"but {method.__qualname__} does not call that function"
        )


def _table_spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[str, Any]]:
    """Record each call of ``evalkit.stats.plots.<name>`` with the table it was given.

    Patched on :mod:`evalkit.stats.plots` and on every evalkit module that imported the function
    by name (``from evalkit.stats.plots import forest``).
    """
    calls: list[tuple[str, Any]] = []
    original = getattr(plots, name)

    def spy(table: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append((name, table))
        return original(table, *args, **kwargs)

    monkeypatch.setattr(plots, name, spy)
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("evalkit.") and module is not plots:
            if getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, spy)
    return calls


def test_did_plot_event_study_draws_with_stats_plots_event_study(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(3)
    rows = [
        {"unit": u, "t": t, "treat": int(u < 20), "post": int(t >= 0)}
        for u in range(40)
        for t in range(-3, 3)
    ]
    panel = pd.DataFrame(rows)
    panel["y"] = rng.poisson(2 + 0.5 * panel["treat"] * panel["post"])
    fit = ek.did(
        panel, outcome="y", unit="unit", time="t", treated="treat", post="post",
        cluster="unit", model="poisson", event_study=True,
    )  # fmt: skip
    calls = _table_spy(monkeypatch, "event_study")
    fit.plot_event_study()
    assert [n for n, _ in calls] == ["event_study"]


def test_match_plots_draw_with_stats_plots_love_and_overlap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"age": rng.normal(50, 10, 300), "x": rng.normal(0, 1, 300)})
    df["treat"] = (rng.random(300) < 1 / (1 + np.exp(-(df["x"] - 1)))).astype(int)
    m = ek.match(df, treatment="treat", covariates=["age", "x"], ratio=1)
    love, overlap = _table_spy(monkeypatch, "love"), _table_spy(monkeypatch, "overlap")
    m.plot_love()
    m.plot_overlap()
    assert [n for n, _ in love] == ["love"] and [n for n, _ in overlap] == ["overlap"]


# ----------------------------------------------------------------------------------------------
# Report figures redrawn by their result's plot method from the published CSV
# ----------------------------------------------------------------------------------------------
def _csv(built_reports: Path, slug: str, name: str) -> pd.DataFrame:
    """A published table as a reader gets it (a suppressed cell, ``*``, is missing)."""
    return pd.read_csv(built_reports / slug / f"{name}.csv", na_values=["*"])


def _alt_items(alt: str, lead: str) -> list[str]:
    """The ``; ``-separated items of a figure's alt text after its ``lead`` words."""
    body = alt.split(lead, 1)[1].strip().removesuffix(".")
    return [item for item in body.split("; ") if item]


def _redraw_reach(built: Path, slug: str, results: dict[str, Any]) -> tuple[Any, int]:
    # A result with no numbers of its own: the figure can only come from the table given.
    ax = ReachAllResult({}).plot(table=_csv(built, slug, "reach"), groups=REPORT_GROUPS)
    return ax, len(ax.get_yticklabels())


def _redraw_pathway(built: Path, slug: str, results: dict[str, Any]) -> tuple[Any, int]:
    table = _csv(built, slug, "pathway")
    table = table[table["group"].isin(["all", "imd_quintile"])]
    ax = PathwayResult(pd.DataFrame(), "imd_quintile", True, "").plot(table=table)
    return ax, 2 * len(ax.get_legend().get_texts())  # the alt names two steps per line


def _redraw_outcomes(built: Path, slug: str, results: dict[str, Any]) -> tuple[Any, int]:
    obd = results["outcomes_by_deprivation"]
    result = OutcomesByDeprivationResult(pd.DataFrame(), {}, obd["window_months"], "")
    ax = result.plot(table=_csv(built, slug, "outcomes_by_deprivation"), scale="rate_ratio")
    return ax, len(ax.get_yticklabels())


def _redraw_cost(built: Path, slug: str, results: dict[str, Any]) -> tuple[Any, int]:
    econ = results["economics"]
    result = EconomicsResult(
        programme=slug,
        price_year=econ["price_year"],
        window_months=econ["nhs_cost_saving_per_participant"]["window_months"],
        programme_cost={},
        difference=None,  # type: ignore[arg-type]
        roi=None,  # type: ignore[arg-type]
        wellby=None,
        unit_costs=pd.DataFrame(),
        by_setting=pd.DataFrame(),
    )
    ax = result.plot_cost_by_setting(
        table=_csv(built, slug, "cost_by_setting"), total=econ["nhs_cost_difference"]
    )
    return ax, len(ax.get_yticklabels())


#: Figure id -> (the stats.plots function, its redrawing, the words before the alt's items).
REDRAWN: dict[str, tuple[str, Callable[..., tuple[Any, int]], str]] = {
    "reach": ("forest", _redraw_reach, "Dot plot with 95% intervals."),
    "pathway_imd_quintile": ("funnel", _redraw_pathway, "one line per group;"),
    "outcomes_by_deprivation": ("forest", _redraw_outcomes, "Dot plot with 95% intervals."),
    "cost_by_setting": ("forest", _redraw_cost, "Dot plot of cost change by setting:"),
}


@pytest.mark.parametrize("figure_id", sorted(REDRAWN))
@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_figure_is_its_results_plot_of_the_published_table(
    built_reports: Path, slug: str, figure_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = {f["id"].removeprefix("fig-"): f for f in _page(built_reports, slug).figures}
    if figure_id not in figures:
        pytest.skip(f"{slug} has no {figure_id} figure")
    fig = figures[figure_id]
    name, redraw, lead = REDRAWN[figure_id]
    assert fig["data-drawn-by"] == f"evalkit.stats.plots.{name}"
    results = json.loads((built_reports / slug / "results.json").read_text(encoding="utf-8"))
    drawing = getattr(plots, name)
    calls = _table_spy(monkeypatch, name)
    ax, drawn = redraw(built_reports, slug, results)
    assert [n for n, _ in calls] == [name]
    assert drawn == len(_alt_items(fig["img-alt"], lead)), figure_id
    png = figs.from_axes(figure_id, ax, "", "", analysis="", drawn_by=drawing).png
    assert png == (built_reports / slug / "figures" / f"{figure_id}.png").read_bytes(), (
        f"{figure_id}: the result's plot of the published CSV is not the report's figure"
    )

"""One hop from a figure or table in the HTML to the code that computed and drew it.

Every ``<figure>`` in a report carries ``data-analysis`` (the function that computed its numbers)
and ``data-drawn-by`` (the function that drew it); every table carries ``data-analysis``. These
tests resolve every name in every demo report, and check that the result object's own ``plot_*``
method draws with the same function the report recorded (a spy on the drawing function for the
statistics results, and the functions a method calls for the analysis results).
"""

from __future__ import annotations

import importlib
import inspect
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
from evalkit.analysis.utilisation import UtilisationResult
from evalkit.config import load_programmes
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
}


class _Tags(HTMLParser):
    """Attributes of every ``<figure>`` and ``<table>`` in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict[str, str]] = []
        self.tables: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure":
            self.figures.append(a)
        elif tag == "table":
            self.tables.append(a)


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
        drawn = resolve(fig["data-drawn-by"])
        assert drawn is method or drawn in called_functions(method), (
            f"{figure_id}: the report drew it with {fig['data-drawn-by']}, "
            f"but {method.__qualname__} does not call that function"
        )


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    calls: list[str] = []
    original = getattr(plots, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(plots, name, spy)
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
    calls = _spy(monkeypatch, "event_study")
    fit.plot_event_study()
    assert calls == ["event_study"]


def test_match_plots_draw_with_stats_plots_love_and_overlap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"age": rng.normal(50, 10, 300), "x": rng.normal(0, 1, 300)})
    df["treat"] = (rng.random(300) < 1 / (1 + np.exp(-(df["x"] - 1)))).astype(int)
    m = ek.match(df, treatment="treat", covariates=["age", "x"], ratio=1)
    love, overlap = _spy(monkeypatch, "love"), _spy(monkeypatch, "overlap")
    m.plot_love()
    m.plot_overlap()
    assert love == ["love"] and overlap == ["overlap"]

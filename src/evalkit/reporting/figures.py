"""Report figures: the one drawing function per figure, applied to disclosure-controlled tables.

No scanner can read a PNG, so every figure here is drawn from a table that has already been
through :mod:`evalkit.reporting.disclosure`, never from person-level data. The drawing itself is
a function of :mod:`evalkit.stats.plots`, called here or by a result's own
``plot_*(table=...)`` method on the controlled table (the method holds the figure's choice of
rows, labels and title): the same function that method uses on its unrounded table. This
module adds the caption and alt text, renders the PNG and records which analysis computed the
numbers and which ``stats.plots`` function drew them, so a reader of the HTML gets from any
figure to its code in one hop. PNG bytes are reproducible: fixed size and dpi, and no
software/date metadata.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from evalkit.files import write_bytes
from evalkit.reporting.html import qualified_name, render
from evalkit.stats import plots

__all__ = [
    "ReportFigure",
    "comparison_figure",
    "event_study_figure",
    "forest_alt",
    "from_axes",
    "love_figure",
    "matched_months_caveat",
    "overlap_figure",
    "pretrend_sentence",
    "referrals_figure",
    "wellbeing_figure",
]


@dataclass(frozen=True)
class ReportFigure:
    """A rendered figure: PNG bytes, caption, alt text, and where its numbers and drawing came from.

    ``analysis`` is the function that computed the figure's numbers, ``drawn_by`` the
    :mod:`evalkit.stats.plots` function that drew it; both are written into the HTML as
    ``data-analysis`` and ``data-drawn-by``.
    """

    name: str
    png: bytes
    caption: str
    alt: str
    analysis: str = ""
    drawn_by: str = ""

    def _repr_html_(self) -> str:
        return render(
            "figure.html.j2",
            figure=self,
            data=base64.b64encode(self.png).decode("ascii"),
        ).body

    def __repr__(self) -> str:  # plain-text view (the PNG bytes are not shown)
        return f"[figure {self.name}: {self.caption}]"

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/<name>.png`` (atomically)."""
        return write_bytes(self.png, Path(folder) / f"{self.name}.png")


def _render(
    ax: Any, name: str, caption: str, alt: str, analysis: Any, drawn_by: Any
) -> ReportFigure:
    fig = ax.figure
    fig.set_dpi(100)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return ReportFigure(
        name,
        buf.getvalue(),
        caption,
        alt,
        analysis=analysis if isinstance(analysis, str) else qualified_name(analysis),
        drawn_by=drawn_by if isinstance(drawn_by, str) else qualified_name(drawn_by),
    )


def _draw(draw: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call one of the drawing functions in evalkit's figure style."""
    with plt.rc_context(plots.STYLE):
        return draw(*args, **kwargs)


def from_axes(
    name: str, ax: Any, caption: str, alt: str, *, analysis: Any, drawn_by: Any
) -> ReportFigure:
    """A figure a result's ``plot_*`` method drew on a controlled table.

    ``drawn_by`` is the :mod:`evalkit.stats.plots` function that method draws with (a
    ``ValueError`` otherwise: every figure names its drawing function there).
    """
    if getattr(drawn_by, "__module__", None) != plots.__name__:
        raise ValueError(f"{name}: drawn_by must be an evalkit.stats.plots function")
    return _render(ax, name, caption, alt, analysis, drawn_by)


def forest_alt(
    table: pd.DataFrame,
    *,
    label_col: str,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    log: bool = True,
) -> str:
    """Alt text of a :func:`evalkit.stats.plots.forest` figure: each row it draws, in order.

    The rows are those ``forest`` draws (an estimate and both limits; on a log scale, a
    positive estimate and lower limit), as ``label: estimate (low to high)``.
    """
    t = table.dropna(subset=[estimate, ci_low, ci_high])
    if log:
        t = t[(t[estimate] > 0) & (t[ci_low] > 0)]
    rows = "; ".join(
        f"{r[label_col]}: {r[estimate]:.2f} ({r[ci_low]:.2f} to {r[ci_high]:.2f})"
        for _, r in t.iterrows()
    )
    return f"Dot plot with 95% intervals. {rows}."


def referrals_figure(
    table: pd.DataFrame, *, analysis: Any, plot: Callable[..., Any], name: str = "referral_trends"
) -> ReportFigure:
    """Referrals per quarter by source (stacked bars), from controlled counts.

    ``plot`` is the result's method (``ReferralTrendsResult.plot``), called on ``table``.
    """
    if table["n"].dtype == object:  # every count suppressed (None)
        table = table.assign(n=pd.to_numeric(table["n"], errors="coerce"))
    ax = _draw(plot, kind="referrals", table=table)
    per_period = table.groupby("period")["n"].sum()
    caption = (
        "Referrals per quarter (every referral episode), rounded to the nearest 5; a count of "
        "1 to 7 is suppressed: its quarter is marked * with a hatched block, never drawn as 0."
    )
    alt = (
        f"Bar chart of referrals in {len(per_period)} quarters; the busiest quarter "
        f"had about {int(per_period.max()) if len(per_period) else 0} referrals."
    )
    return _render(ax, name, caption, alt, analysis, plots.stacked_bars)


def event_study_figure(
    table: pd.DataFrame,
    name: str,
    label: str,
    *,
    analysis: Any,
    plot: Callable[..., Any],
    pretrend: dict[str, Any] | None = None,
) -> ReportFigure:
    """Event-study rate ratios by month relative to referral, with 95% CIs (log scale).

    ``plot`` is the result's method (``DidResult.plot_event_study``), called on ``table``.
    ``pretrend`` is the setting's results.json ``pretrend`` entry
    (:meth:`evalkit.analysis.event_study.PretrendResult.entry`): the caption states its result
    in words and says why the months matched on cannot test the design.
    """
    ax = _draw(plot, table=table, label=label)
    t = table.dropna(subset=["estimate"])
    post = t[t["period"] >= 0]
    caption = (
        f"Event study for {label.lower()}: each point is the rate ratio for that month against "
        "month −1, with its 95% confidence interval."
    )
    if pretrend is None:
        pre, scope = t[t["period"] < 0], "pre-referral"
    else:
        first, last = pretrend["first_month"], pretrend["last_month"]
        pre = t[(t["period"] >= first) & (t["period"] <= last)]
        scope = f"months {_month(first)} to {_month(last)} (not matched on)"
        caption += f" {pretrend_sentence(pretrend)} {matched_months_caveat(pretrend)}"
    pre_ok = ((pre["ci_low"] <= 1) & (pre["ci_high"] >= 1)).mean() if len(pre) else float("nan")
    alt = (
        f"Dot plot of monthly rate ratios for {label.lower()} from 24 months before to 11 months "
        f"after referral. {pre_ok:.0%} of the intervals in {scope} include 1. After referral "
        f"the median rate ratio is {post['estimate'].median():.2f}."
    )
    return _render(ax, name, caption, alt, analysis, plots.event_study)


def _month(m: int) -> str:
    """An event month as the report prints it (a true minus sign)."""
    return str(m).replace("-", "−")


def _p(p: float | None, *, first: bool) -> str:
    """A p-value in words: ``p = 0.41`` (``first``) or ``0.41``; ``< 0.001`` below 0.001."""
    if p is None or p != p:
        return "p not estimable" if first else "not estimable"
    text = "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.01 else f"{p:.2f}"
    if not first:
        return text
    return f"p {text}" if text.startswith("<") else f"p = {text}"


#: Below this p-value the pre-trend test is said to show evidence of differing trends.
PRETREND_ALPHA = 0.05


def pretrend_sentence(pretrend: dict[str, Any]) -> str:
    """The joint pre-trend test in words, e.g. "No evidence of differing trends in months ...".

    Evidence when both models' p-values are below :data:`PRETREND_ALPHA`, mixed when one is;
    a model without a p-value (no Poisson fit for costs, or a Poisson fit that separates in a
    month without events) is left out and said to be missing.

    Examples
    --------
    >>> pretrend_sentence(
    ...     {"first_month": -24, "last_month": -13, "poisson_p": 0.41, "linear_p": 0.38}
    ... )
    'No evidence of differing trends in months −24 to −13 (p = 0.41, Poisson; 0.38, linear).'
    """
    months = f"months {_month(pretrend['first_month'])} to {_month(pretrend['last_month'])}"
    ps = [
        (model, pretrend.get(f"{model.lower()}_p"))
        for model in ("Poisson", "linear")
        if pretrend.get(f"{model.lower()}_p") is not None
    ]
    if not ps:
        return f"The pre-trend test in {months} could not be computed."
    stated = "; ".join(f"{_p(p, first=i == 0)}, {model}" for i, (model, p) in enumerate(ps))
    if pretrend.get("poisson_p") is None:
        stated += "; no Poisson test"
    below = [p < PRETREND_ALPHA for _, p in ps]
    if all(below):
        return (
            f"Evidence of differing trends in {months} ({stated}): participants' use was "
            "already moving away from their controls' before the months matched on, so the "
            "comparison may be biased."
        )
    if any(below):
        return f"Mixed evidence of differing trends in {months} ({stated})."
    return f"No evidence of differing trends in {months} ({stated})."


def matched_months_caveat(pretrend: dict[str, Any]) -> str:
    """Why the months matched on cannot test the design, and what the test can and cannot say."""
    first, last = pretrend["first_month"], pretrend["last_month"]
    tested = f"months {_month(first)} to {_month(last)}"
    if last >= -2:
        return (
            f"The test covers {tested}; no month was matched on prior use. A test that finds "
            "nothing is no proof of similar trends: it may lack the power to see them."
        )
    ps = [p for p in (pretrend.get("poisson_p"), pretrend.get("linear_p")) if p is not None]
    found = any(p < PRETREND_ALPHA for p in ps)
    return (
        f"Months {_month(last + 1)} to −1 cannot test the design: participants and controls "
        "were matched on their use in those months, so their points sit near 1 by "
        f"construction. Only {tested} can show whether the two groups were on similar paths "
        "before referral"
        + (
            "."
            if found
            else ", and a test that finds nothing there is no proof of similar trends (it may "
            "lack the power to see them)."
        )
    )


def love_figure(
    balance: pd.DataFrame, *, analysis: Any, plot: Callable[..., Any], name: str = "love_plot"
) -> ReportFigure:
    """Absolute standardised mean differences before and after matching (Love plot).

    ``plot`` is the result's method (``MatchResult.plot_love``), called on ``balance``.
    """
    ax = _draw(plot, table=balance)
    b = balance.dropna(subset=["smd_before", "smd_after"], how="all")
    caption = (
        "Love plot: how different participants and controls are on each covariate, before and "
        "after matching. Points left of the dashed line (0.1) are usually taken as balanced. "
        "Rows resting on a suppressed count (1 to 7) are not shown."
    )
    alt = (
        f"Dot plot of {len(b)} covariates; after matching the largest absolute standardised "
        f"difference is {b['smd_after'].abs().max():.2f}."
    )
    return _render(ax, name, caption, alt, analysis, plots.love)


def overlap_figure(
    bins: pd.DataFrame, *, analysis: Any, plot: Callable[..., Any], name: str = "overlap"
) -> ReportFigure:
    """Distribution of the matching distance by group, from disclosure-controlled bin counts.

    ``plot`` is the result's method (``MatchResult.plot_overlap``), called on ``bins``.
    """
    ax = _draw(plot, table=bins)
    caption = (
        "Overlap: the share of each group at each value of the matching distance, from counts "
        "rounded to the nearest 5 (a bin with a suppressed count, 1 to 7, is shown as 0)."
    )
    alt = (
        "Step chart of the matching distance for participants, matched controls and all eligible "
        "person-months; matched controls follow the participants' distribution."
    )
    return _render(ax, name, caption, alt, analysis, plots.overlap)


def wellbeing_figure(
    table: pd.DataFrame, *, analysis: Any, plot: Callable[..., Any], name: str = "wellbeing_change"
) -> ReportFigure:
    """Mean change per instrument with 95% CI, standardised (effect size) for comparability.

    ``plot`` is a pre/post result's method (``PrePostResult.plot_effect_size``), called on the
    table of every measure.
    """
    ax = _draw(plot, table=table)
    t = table.dropna(subset=["effect_size"])
    caption = (
        "Paired change from the start to the end of the programme, per measure, standardised so "
        "measures on different scales can be compared (positive always means better). There is "
        "no control group for questionnaires: this is a change, not an effect. Measures with "
        "a suppressed number (1 to 7) with both scores are not shown."
    )
    alt = "; ".join(
        f"{r.label}: {r.effect_size:+.2f} ({r.effect_size_ci_low:+.2f} to "
        f"{r.effect_size_ci_high:+.2f})"
        for r in t.itertuples()
    )
    return _render(
        ax, name, caption, f"Dot plot of standardised change. {alt}.", analysis, plots.effect_sizes
    )


def comparison_figure(
    table: pd.DataFrame, name: str, label: str, *, analysis: Any, plot: Callable[..., Any]
) -> ReportFigure:
    """Matched DiD beside naive pre/post rate ratios, per window, for one setting.

    ``plot`` is a result's method (``UtilisationResult.plot_comparison``), called on ``table``.
    """
    ax = _draw(plot, table=table)
    t = table.dropna(subset=["estimate"])
    caption = (
        f"{label}: the naive before/after rate ratio (participants alone, no comparison group) "
        "beside the matched difference-in-differences, with 95% CIs. People are referred when "
        "their use is high, so it tends to fall afterwards anyway (regression to the mean); the "
        "naive figure counts that fall as if the programme caused it. The naive figure for the "
        "matched participants (the same people as the matched comparison) shows that fall; the "
        "one for all participants also includes those who could not be matched, so the gap "
        "between the two naive figures is due to who was matched, not to regression to the mean."
    )
    names = {m: lab for m, (_, _, lab) in plots.COMPARISON_METHODS.items()}
    series = plots.comparison_series(t)
    alt = "; ".join(
        f"{names[k]} at {r.window_months} months {r.estimate:.2f}"
        for k, r in zip(series, t.itertuples(), strict=True)
    )
    return _render(
        ax, name, caption, f"Dot plot of rate ratios. {alt}.", analysis, plots.comparison
    )

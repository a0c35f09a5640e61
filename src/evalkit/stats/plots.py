"""The one drawing function for each kind of figure, on a tidy table.

A result's ``plot_*()`` method and the report draw the same figure with the same function here:
the result passes its own ``tidy()``-shaped table, the report the disclosure-controlled copy of
it. Each function draws on ``ax`` (a new figure's axes when None, sized to the table) and returns
the axes; nothing is saved or shown. Colours are the Okabe-Ito palette, which stays
distinguishable under the common colour-vision deficiencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "CONTROLS",
    "OKABE_ITO",
    "PARTICIPANTS",
    "STYLE",
    "comparison",
    "effect_sizes",
    "event_study",
    "forest",
    "honest_bounds",
    "log_axis",
    "love",
    "new_axes",
    "overlap",
    "stacked_bars",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
PARTICIPANTS = OKABE_ITO["blue"]
CONTROLS = OKABE_ITO["orange"]
#: Matplotlib style of every figure (fixed dpi and hash salt: reproducible PNG bytes).
STYLE = {
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "svg.hashsalt": "evalkit",
}


def new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """``ax``, or the axes of a new figure of ``size`` inches in evalkit's style."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    with plt.rc_context(STYLE):
        _, ax = plt.subplots(figsize=size)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return ax


def log_axis(ax: Axes, axis: str = "x") -> None:
    """Log scale with plain tick labels (0.5, 1, 2 rather than 5 x 10^-1)."""
    import matplotlib.ticker as mticker

    scale = ax.set_xscale if axis == "x" else ax.set_yscale
    target = ax.xaxis if axis == "x" else ax.yaxis
    scale("log")
    target.set_major_locator(mticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(mticker.FormatStrFormatter("%.2g"))
    target.set_minor_formatter(mticker.NullFormatter())


def _errors(t: pd.DataFrame, est: str, lo: str, hi: str) -> list[pd.Series]:
    return [(t[est] - t[lo]).clip(lower=0), (t[hi] - t[est]).clip(lower=0)]


def forest(
    table: pd.DataFrame,
    *,
    label_col: str,
    ax: Axes | None = None,
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    log: bool = True,
    title: str = "",
    xlabel: str = "",
) -> Axes:
    """Estimates with 95% CIs, one row each: ratios on a log scale with a line at 1, else at 0.

    Rows without an estimate or interval are left out; on a log scale so is a ratio of 0 (no
    events in the group), which has no place there (the table shows it).
    """
    t = table.dropna(subset=[estimate, ci_low, ci_high])
    if log:
        t = t[(t[estimate] > 0) & (t[ci_low] > 0)]
    t = t.iloc[::-1]
    ax = new_axes(ax, (7, max(2.4, 0.4 * len(t) + 1.2)))
    y = np.arange(len(t))
    ax.errorbar(
        t[estimate], y, xerr=_errors(t, estimate, ci_low, ci_high), fmt="o", color=PARTICIPANTS
    )
    ax.axvline(1 if log else 0, color="0.3", lw=1)
    if log:
        log_axis(ax, "x")
    ax.set_yticks(y, list(t[label_col]))
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return ax


def effect_sizes(
    table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    title: str = "Paired change in wellbeing measures, start to end",
) -> Axes:
    """Standardised change per measure with 95% CIs, positive = better (a :func:`forest`).

    ``table`` has ``label``, ``effect_size``, ``effect_size_ci_low`` and ``effect_size_ci_high``.
    """
    return forest(
        table,
        label_col="label",
        estimate="effect_size",
        ci_low="effect_size_ci_low",
        ci_high="effect_size_ci_high",
        log=False,
        title=title,
        xlabel="Standardised change (positive = better), 95% CI",
        ax=ax,
    )


def event_study(
    table: pd.DataFrame, *, label: str, ax: Axes | None = None, log: bool = True
) -> Axes:
    """Estimates by period relative to the event with 95% CIs, before and after it.

    ``table`` has ``period``, ``estimate``, ``ci_low`` and ``ci_high`` (a DiD event study).
    Rate ratios (``log=True``) are drawn on a log scale with a line at 1; differences on a
    linear scale with a line at 0. Periods below 0 are "before".
    """
    ax = new_axes(ax, (7.5, 3.6))
    t = table.dropna(subset=["estimate"])
    pre, post = t[t["period"] < 0], t[t["period"] >= 0]
    for part, colour, when in ((pre, OKABE_ITO["sky"], "before"), (post, PARTICIPANTS, "after")):
        ax.errorbar(
            part["period"],
            part["estimate"],
            yerr=_errors(part, "estimate", "ci_low", "ci_high"),
            fmt="o",
            ms=4,
            color=colour,
            ecolor=colour,
            elinewidth=1,
            label=f"months {when} referral",
        )
    ax.axhline(1 if log else 0, color="0.3", lw=1)
    ax.axvline(-0.5, color="0.3", lw=1, ls="--")
    if log:
        log_axis(ax, "y")
    ax.set_xlabel("Month relative to referral (month −1 is the reference)")
    ax.set_ylabel("Rate ratio vs matched controls" if log else "Difference vs matched controls")
    ax.set_title(f"{label}: participants against matched controls, month by month")
    ax.legend(frameon=False, loc="best")
    return ax


def love(balance: pd.DataFrame, *, ax: Axes | None = None, threshold: float = 0.1) -> Axes:
    """Absolute standardised mean differences before and after matching (a Love plot).

    ``balance`` is indexed by covariate with ``smd_before`` and ``smd_after`` columns; rows with
    neither (suppressed) are left out.
    """
    b = balance.dropna(subset=["smd_before", "smd_after"], how="all").iloc[::-1]
    ax = new_axes(ax, (7, max(3, 0.22 * len(b) + 1)))
    y = np.arange(len(b))
    ax.scatter(
        b["smd_before"].abs(),
        y,
        marker="o",
        facecolors="none",
        color=CONTROLS,
        label="before matching",
    )
    ax.scatter(b["smd_after"].abs(), y, marker="s", color=PARTICIPANTS, label="after matching")
    ax.axvline(threshold, color="0.3", ls="--", lw=1)
    ax.set_yticks(y, [str(i).replace("_", " ") for i in b.index], fontsize=8)
    ax.set_xlabel(
        f"Absolute standardised mean difference ({threshold:g} = usual balance threshold)"
    )
    ax.set_title("Covariate balance before and after matching")
    ax.legend(frameon=False, loc="lower right")
    return ax


#: Groups of :func:`overlap`: column, colour, legend label, line style.
OVERLAP_GROUPS: tuple[tuple[str, str, str, str], ...] = (
    ("participants", PARTICIPANTS, "participants", "-"),
    ("controls_matched", CONTROLS, "matched controls", "-"),
    ("controls_all", OKABE_ITO["black"], "all eligible person-months", ":"),
)


def overlap(bins: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Share of each group per bin of the matching distance (``bin_mid`` and count columns)."""
    ax = new_axes(ax, (7, 3.4))
    for group, colour, label, style in OVERLAP_GROUPS:
        if group not in bins:
            continue
        counts = bins[group].fillna(0).astype(float)
        share = counts / counts.sum() if counts.sum() else counts
        ax.step(bins["bin_mid"], share, where="mid", color=colour, label=label, ls=style)
    ax.set_xlabel("Matching distance (logit of the propensity score)")
    ax.set_ylabel("Share of group")
    ax.set_title("Overlap of participants and controls")
    ax.legend(frameon=False)
    return ax


#: Series of :func:`comparison` (``method``, or ``method:population`` where the table has a
#: ``population``): offset on the x axis, colour, legend label.
COMPARISON_METHODS: dict[str, tuple[float, str, str]] = {
    "naive_prepost": (-0.12, CONTROLS, "naive before/after"),
    "naive_prepost:all": (-0.26, OKABE_ITO["vermillion"], "naive before/after, all participants"),
    "naive_prepost:matched": (-0.07, CONTROLS, "naive before/after, matched participants"),
    "matched_did": (0.12, PARTICIPANTS, "matched DiD"),
}


def comparison_series(table: pd.DataFrame) -> pd.Series:
    """Each row's series in :data:`COMPARISON_METHODS`: ``method``, with ``:population`` if any.

    A row without a population (a matched DiD row, or a table without the column) keeps its
    method; a matched DiD row is always ``matched_did``.
    """
    method = table["method"].astype(str)
    if "population" not in table:
        return method
    pop = table["population"]
    with_pop = method + ":" + pop.astype(str)
    return method.where(pop.isna() | (method == "matched_did"), with_pop)


def comparison(table: pd.DataFrame, *, label: str, ax: Axes | None = None) -> Axes:
    """Matched DiD beside naive before/after rate ratios per window, for one outcome.

    ``table`` has ``method``, ``window_months``, ``estimate``, ``ci_low`` and ``ci_high``, and
    optionally ``population`` (the naive figure for several populations, each its own series).
    """
    t = table.dropna(subset=["estimate"])
    ax = new_axes(ax, (7, 3))
    windows = sorted(t["window_months"].unique())
    for method, part in t.groupby(comparison_series(t), sort=True):
        offset, colour, name = COMPARISON_METHODS[str(method)]
        x = np.array([windows.index(w) for w in part["window_months"]]) + offset
        ax.errorbar(
            x,
            part["estimate"],
            yerr=_errors(part, "estimate", "ci_low", "ci_high"),
            fmt="o",
            color=colour,
            label=name,
        )
    ax.axhline(1, color="0.3", lw=1)
    ax.set_xticks(range(len(windows)), [f"{w} months" for w in windows])
    log_axis(ax, "y")
    ax.set_ylabel("Rate ratio (log scale)")
    ax.set_title(f"{label}: naive before/after against matched DiD")
    ax.legend(frameon=False)
    return ax


def stacked_bars(
    table: pd.DataFrame,
    *,
    x: str,
    stack: str,
    value: str,
    ax: Axes | None = None,
    title: str = "",
    ylabel: str = "",
    max_ticks: int | None = None,
    suppressed_label: str = "suppressed (too few to show)",
) -> Axes:
    """Bars of ``value`` per ``x``, stacked by ``stack`` (e.g. referrals per period by source).

    A missing ``value`` (a suppressed count, None or NaN) is never drawn as 0: its ``x`` gets a
    hatched band over the whole height (no value implied) and a ``*`` on its tick, with
    ``suppressed_label`` in the legend, so a suppressed period cannot be read as an empty one.
    """
    values = pd.to_numeric(table[value], errors="coerce")
    hidden = sorted(set(table.loc[values.isna(), x]))
    wide = table.assign(**{value: values}).pivot_table(
        index=x, columns=stack, values=value, aggfunc="sum", sort=True
    )
    wide = wide.reindex(sorted(set(wide.index) | set(hidden))).fillna(0)
    ax = new_axes(ax, (7.5, 3.4))
    colours: Sequence[str] = list(OKABE_ITO.values())
    pos = np.arange(len(wide))
    bottom = np.zeros(len(wide))
    for k, col in enumerate(wide.columns):
        ax.bar(
            pos, wide[col], bottom=bottom, color=colours[k % 7], label=str(col).replace("_", " ")
        )
        bottom += wide[col].to_numpy()
    labels = [str(i) for i in wide.index]
    for i, h in enumerate(wide.index):
        if h in hidden:  # the whole height, so no value is implied; its tick gets a *
            first = labels.count("") == 0 and not any(t.endswith(" *") for t in labels)
            ax.axvspan(
                i - 0.4,
                i + 0.4,
                facecolor="none",
                edgecolor="0.6",
                hatch="///",
                lw=0,
                zorder=0,
                label=suppressed_label if first else None,
            )
            labels[i] = f"{labels[i]} *"
    step = max(1, len(wide) // max_ticks) if max_ticks else 1
    ax.set_xticks(pos[::step], labels[::step], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, max(ax.get_ylim()[1], 10.0))  # counts: never below 0, even all suppressed
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


# ----------------------------------------------------------------------------------------------
# Power curves (power and MDE results, evalkit.stats.mde)
# ----------------------------------------------------------------------------------------------
__all__ += ["power_curve"]


def power_curve(
    table: pd.DataFrame,
    *,
    x: str,
    target_power: float,
    ax: Axes | None = None,
    power: str = "power",
    marks: Sequence[float] = (),
    reference: float | None = None,
    log: bool = False,
    xlabel: str = "",
    title: str = "",
) -> Axes:
    """Power against the true effect ``x``, with the target power and the MDEs marked.

    ``table`` has the effect column ``x`` and a ``power`` column (one row per effect, in order);
    ``marks`` are the MDEs (vertical lines; NaN ones are left out), ``reference`` the no-effect
    value (1 for a ratio), ``log`` puts ``x`` on a log scale.
    """
    ax = new_axes(ax, (6, 4))
    ax.plot(table[x], table[power], color=PARTICIPANTS)
    ax.axhline(target_power, color="0.5", ls="--", lw=0.8)
    for value in marks:
        if np.isfinite(value):
            ax.axvline(value, color=CONTROLS, lw=0.8)
    if reference is not None:
        ax.axvline(reference, color="0.3", lw=0.8)
    if log:
        log_axis(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Power")
    ax.set_ylim(0, 1)
    ax.set_title(title, fontsize=9)
    return ax


# ----------------------------------------------------------------------------------------------
# Paired pre/post figures (pre/post results, evalkit.stats.prepost)
# ----------------------------------------------------------------------------------------------
__all__ += ["before_after", "paired_change"]


def paired_change(
    pairs: pd.DataFrame,
    *,
    kind: str = "hist",
    mean_change: float | None = None,
    ci: tuple[float, float] | None = None,
    means: tuple[float, float] | None = None,
    thresholds: tuple[float, float] | None = None,
    labels: tuple[str, str] = ("before", "after"),
    count_label: str = "episodes",
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Each pair's change: a histogram, or one line per pair from before to after.

    ``pairs`` has one row per pair with ``before``, ``after`` and ``change``. ``kind="hist"``
    draws the changes with zero, ``mean_change`` and its ``ci`` and the ``thresholds`` (the
    changes that count as an improvement and as a deterioration); ``kind="slope"`` one line per
    pair with the ``means`` (before, after) in bold. ``labels`` name the two timepoints.
    """
    ax = new_axes(ax, (6, 4))
    if kind == "slope":
        _paired_slopes(ax, pairs, means, labels)
    else:
        _change_histogram(ax, pairs["change"].to_numpy(), mean_change, ci, thresholds)
        ax.set_xlabel(f"change ({labels[1]} − {labels[0]})")
        ax.set_ylabel(count_label)
        ax.legend(loc="best", fontsize="small")
    ax.set_title(title)
    return ax


def _paired_slopes(
    ax: Axes,
    pairs: pd.DataFrame,
    means: tuple[float, float] | None,
    labels: tuple[str, str],
) -> None:
    for b, a in zip(pairs["before"], pairs["after"], strict=True):
        ax.plot([0, 1], [b, a], color="0.6", alpha=0.25, lw=0.8)
    if means is not None:
        ax.plot([0, 1], list(means), color=PARTICIPANTS, lw=3, label="mean")
    ax.set_xticks([0, 1], list(labels))
    ax.set_ylabel("score")
    ax.legend(loc="best")


def _change_histogram(
    ax: Axes,
    change: np.ndarray,
    mean_change: float | None,
    ci: tuple[float, float] | None,
    thresholds: tuple[float, float] | None,
) -> None:
    if change.size:
        ax.hist(change, bins=min(30, max(5, int(np.sqrt(change.size)) * 2)), color="0.75")
    ax.axvline(0, color="0.3", lw=1)
    if mean_change is not None and np.isfinite(mean_change):
        ax.axvline(mean_change, color=PARTICIPANTS, lw=2, label="mean change")
    if ci is not None and np.isfinite(ci[0]):
        ax.axvspan(ci[0], ci[1], color=PARTICIPANTS, alpha=0.2, label="95% CI")
    if thresholds is not None:
        improve, deteriorate = thresholds
        ax.axvline(improve, color=OKABE_ITO["green"], ls="--", label="improvement")
        ax.axvline(deteriorate, color=OKABE_ITO["vermillion"], ls="--", label="deterioration")


def before_after(
    pairs: pd.DataFrame,
    *,
    labels: tuple[str, str] = ("before", "after"),
    norm: float | None = None,
    norm_label: str | None = None,
    count_label: str = "episodes",
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Distributions of the ``before`` and ``after`` scores of the pairs, on shared bins.

    ``pairs`` has one row per pair with ``before`` and ``after``; ``norm`` (a population
    mean, labelled ``norm_label``) is drawn as a dotted line.
    """
    ax = new_axes(ax, (6, 4))
    b, a = pairs["before"], pairs["after"]
    vals = pd.concat([b, a]).to_numpy(dtype="float64")
    if vals.size:
        bins = np.histogram_bin_edges(vals, bins=min(30, max(5, int(np.sqrt(vals.size)))))
        ax.hist(b, bins=bins, histtype="step", lw=2, color=OKABE_ITO["blue"], label=labels[0])
        ax.hist(a, bins=bins, histtype="step", lw=2, color=OKABE_ITO["orange"], label=labels[1])
    if norm is not None:
        ax.axvline(norm, color="k", ls=":", label=norm_label or "norm")
    ax.set_xlabel("score")
    ax.set_ylabel(count_label)
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


# ----------------------------------------------------------------------------------------------
# Bootstrap distributions (costs and economics: matched cost difference, return on investment)
# ----------------------------------------------------------------------------------------------
__all__ += ["bootstrap_histogram"]


def bootstrap_histogram(
    replicates: Sequence[float] | pd.Series | np.ndarray,
    *,
    estimate: float,
    ci_low: float,
    ci_high: float,
    reference: float = 0.0,
    reference_label: str = "no difference",
    estimate_label: str = "estimate",
    xlabel: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Histogram of bootstrap replicates with the estimate, its CI (shaded) and a reference line.

    ``reference`` is the value of no effect on the scale shown (0 for a difference, 1 for a
    return per £1).
    """
    ax = new_axes(ax, (7, 4))
    ax.hist(np.asarray(replicates, dtype=float), bins=40, color=PARTICIPANTS, alpha=0.7)
    ax.axvspan(ci_low, ci_high, color=CONTROLS, alpha=0.15, label="95% CI")
    ax.axvline(estimate, color=CONTROLS, lw=2, label=estimate_label)
    ax.axvline(reference, color="0.3", lw=1.5, ls="--", label=reference_label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("bootstrap resamples")
    ax.legend(frameon=False)
    return ax


# ----------------------------------------------------------------------------------------------
# Funnels and quantile bands (pathway and waiting-time results, evalkit.analysis.equity)
# ----------------------------------------------------------------------------------------------
__all__ += ["funnel", "quantile_band"]

#: Markers of :func:`funnel`'s series, in turn.
FUNNEL_MARKERS = "osD^v<>p"


def funnel(
    table: pd.DataFrame,
    *,
    steps: Sequence[str],
    step: str = "step",
    series: str = "series",
    value: str = "n",
    emphasis: str | None = None,
    ax: Axes | None = None,
    title: str = "",
    ylabel: str = "Share of the first step",
) -> Axes:
    """Share of each series' first-step count still there at each step, as a step chart.

    ``table`` has one row per series and step (``steps`` in order); a missing or non-numeric
    count (suppressed) leaves a gap, and with no first-step count the whole line is a gap.
    Series are drawn in order of appearance, ``emphasis`` (one series, e.g. everyone) bold in
    black; each legend entry gives the series' first-step count.
    """
    ax = new_axes(ax, (7, 4))
    colours: Sequence[str] = list(OKABE_ITO.values())
    x = np.arange(len(steps))
    for k, name in enumerate(pd.unique(table[series])):
        t = table[table[series] == name].set_index(step).reindex(list(steps))
        counts = pd.to_numeric(t[value], errors="coerce").astype(float)
        n0 = counts.iloc[0]
        share = counts / n0 if n0 and np.isfinite(n0) else counts * np.nan
        bold = name == emphasis
        ax.step(
            x,
            share,
            where="mid",
            color=OKABE_ITO["black"] if bold else colours[k % 7],
            lw=2.5 if bold else 1.3,
            marker=FUNNEL_MARKERS[k % len(FUNNEL_MARKERS)],
            label=f"{name} (n={int(n0) if np.isfinite(n0) else '*'})",
        )
    ax.set_xticks(x, [str(s).replace("_", " ") for s in steps], rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", frameon=False)
    return ax


def quantile_band(
    table: pd.DataFrame,
    *,
    x: str,
    middle: str,
    low: str,
    high: str,
    ax: Axes | None = None,
    title: str = "",
    ylabel: str = "",
    labels: tuple[str, str] = ("median", "IQR"),
    max_ticks: int | None = None,
) -> Axes:
    """A middle value per ``x`` (e.g. the median wait per quarter) over its band (e.g. the IQR).

    ``x`` is categorical, drawn in table order; ``labels`` name the line and the band.
    """
    ax = new_axes(ax, (7.5, 3.4))
    pos = np.arange(len(table))
    ax.fill_between(
        pos, table[low], table[high], color=OKABE_ITO["sky"], alpha=0.4, label=labels[1]
    )
    ax.plot(pos, table[middle], color=PARTICIPANTS, marker="o", label=labels[0])
    step = max(1, len(table) // max_ticks) if max_ticks else 1
    ax.set_xticks(pos[::step], list(table[x].iloc[::step]), rotation=45, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize="small", frameon=False)
    return ax


# ----------------------------------------------------------------------------------------------
# Weights (censoring weights: evalkit.stats.censoring)
# ----------------------------------------------------------------------------------------------
__all__ += ["weight_histogram"]


def weight_histogram(
    weights: Sequence[float] | pd.Series | np.ndarray,
    *,
    bounds: tuple[float, float] | None = None,
    ax: Axes | None = None,
    xlabel: str = "Weight",
    title: str = "Distribution of the censoring weights",
) -> Axes:
    """Histogram of weights (log count axis), with 1 and any truncation ``bounds`` marked."""
    ax = new_axes(ax, (7, 3.4))
    w = np.asarray(weights, dtype=float)
    if w.size:
        ax.hist(w, bins=min(50, max(10, int(np.sqrt(w.size)))), color=PARTICIPANTS, alpha=0.7)
        ax.set_yscale("log")
    ax.axvline(1, color="0.3", lw=1, label="weight 1")
    if bounds is not None:
        for b in bounds:
            ax.axvline(b, color=CONTROLS, lw=1.5, ls="--")
        ax.plot([], [], color=CONTROLS, ls="--", label="truncation bounds")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Rows (log scale)")
    ax.set_title(title)
    ax.legend(frameon=False)
    return ax


def honest_bounds(
    table: pd.DataFrame,
    *,
    breakdown: float | None = None,
    ax: Axes | None = None,
    exponentiate: bool = False,
    ylabel: str = "Target (coefficient scale)",
) -> Axes:
    """Robust CI (bars) and identified set (thick bars) against Mbar, with a line at no effect.

    Rambachan-Roth bounds (:func:`evalkit.stats.honest.relative_magnitudes`): ``table`` has
    ``mbar``, ``id_low``, ``id_high``, ``ci_low`` and ``ci_high`` (its ``tidy()``, or the
    published copy); ``exponentiate`` draws log rate ratios as rate ratios on a log axis.
    """
    ax = new_axes(ax, (6.5, 3.4))
    t = table.dropna(subset=["ci_low", "ci_high"])
    f = np.exp if exponentiate else (lambda x: x)
    x = t["mbar"].to_numpy(float)
    ax.vlines(x, f(t["ci_low"]), f(t["ci_high"]), color=PARTICIPANTS, lw=1.5, label="robust 95% CI")
    ax.vlines(
        x,
        f(t["id_low"]),
        f(t["id_high"]),
        color=OKABE_ITO["orange"],
        lw=5,
        alpha=0.8,
        label="identified set",
    )
    ax.axhline(1.0 if exponentiate else 0.0, color="0.3", lw=1)
    if breakdown is not None:
        ax.axvline(breakdown, color="0.3", lw=1, ls="--", label=f"breakdown Mbar {breakdown:.2g}")
    if exponentiate:
        log_axis(ax, "y")
    ax.set_xlabel("Mbar: post-period change in the violation / largest benchmark change")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="best")
    return ax

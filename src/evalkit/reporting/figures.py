"""Report figures, drawn only from disclosure-controlled tables (never from person-level data).

No scanner can read a PNG, so every figure here takes a table that has already been through
:mod:`evalkit.reporting.disclosure`. Each figure carries a caption and alt text and uses the
Okabe-Ito palette, which stays distinguishable under the common colour-vision deficiencies.
PNG bytes are reproducible: fixed size and dpi, and no software/date metadata.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

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
_RC = {
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "svg.hashsalt": "evalkit",
}


@dataclass(frozen=True)
class ReportFigure:
    """A rendered figure: PNG bytes, a caption and alt text; shows as ``<figure>`` in Jupyter."""

    name: str
    png: bytes
    caption: str
    alt: str

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<figure class="ek-figure" id="fig-{html.escape(self.name)}">'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(self.alt)}" '
            f'style="max-width:100%;height:auto">'
            f"<figcaption>{html.escape(self.caption)}</figcaption></figure>"
        )

    def __repr__(self) -> str:  # plain-text view (the PNG bytes are not shown)
        return f"[figure {self.name}: {self.caption}]"

    def save(self, folder: str | Path) -> Path:
        """Write ``<folder>/<name>.png``."""
        path = Path(folder) / f"{self.name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.png)
        return path


def from_axes(name: str, ax: plt.Axes, caption: str, alt: str) -> ReportFigure:
    """A figure drawn by a result object's ``plot_*`` method on a controlled table."""
    fig = ax.figure
    fig.set_dpi(100)
    return _render(name, fig, caption, alt)


def forest_figure(
    table: pd.DataFrame, name: str, *, label_col: str, title: str, xlabel: str, caption: str
) -> ReportFigure:
    """Estimates with 95% CIs by row (log scale, reference line at 1)."""
    t = table.dropna(subset=["estimate", "ci_low", "ci_high"])
    # A ratio of 0 (no events in the group) has no place on a log scale; the table shows it.
    t = t[(t["estimate"] > 0) & (t["ci_low"] > 0)].iloc[::-1]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, max(2.4, 0.4 * len(t) + 1.2)))
        y = np.arange(len(t))
        ax.errorbar(
            t["estimate"],
            y,
            xerr=[
                (t["estimate"] - t["ci_low"]).clip(lower=0),
                (t["ci_high"] - t["estimate"]).clip(lower=0),
            ],
            fmt="o",
            color=PARTICIPANTS,
        )
        ax.axvline(1, color="0.3", lw=1)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks(y, list(t[label_col]))
        ax.set_xlabel(xlabel)
        ax.set_title(title)
    alt = "; ".join(
        f"{getattr(r, label_col)}: {r.estimate:.2f} ({r.ci_low:.2f} to {r.ci_high:.2f})"
        for r in t.iloc[::-1].itertuples()
    )
    return _render(name, fig, caption, f"Dot plot with 95% intervals. {alt}.")


def referrals_figure(table: pd.DataFrame, name: str = "referral_trends") -> ReportFigure:
    """Referrals per quarter by source (stacked bars), from controlled counts."""
    wide = table.pivot_table(
        index="period", columns="referral_source", values="n", aggfunc="sum"
    ).fillna(0)
    colours = list(OKABE_ITO.values())
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 3.4))
        bottom = np.zeros(len(wide))
        for k, col in enumerate(wide.columns):
            ax.bar(
                range(len(wide)),
                wide[col],
                bottom=bottom,
                color=colours[k % 7],
                label=str(col).replace("_", " "),
            )
            bottom += wide[col].to_numpy()
        ax.set_xticks(range(len(wide)), list(wide.index), rotation=45, ha="right", fontsize=8)
        ax.set_ylabel("Referrals (rounded to 5)")
        ax.set_title("Referrals per quarter")
        ax.legend(frameon=False, fontsize=8)
    caption = (
        "Referrals per quarter (every referral episode), rounded to the nearest 5; a quarter "
        "with a count of 1 to 7 is suppressed and drawn as 0."
    )
    alt = (
        f"Bar chart of referrals in {len(wide)} quarters; the busiest quarter "
        f"had about {int(bottom.max())} referrals."
    )
    return _render(name, fig, caption, alt)


def _render(name: str, fig: plt.Figure, caption: str, alt: str) -> ReportFigure:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)
    return ReportFigure(name, buf.getvalue(), caption, alt)


def event_study_figure(table: pd.DataFrame, name: str, label: str) -> ReportFigure:
    """Event-study rate ratios by month relative to referral, with 95% CIs (log scale)."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        t = table.dropna(subset=["estimate"])
        pre = t[t["period"] < 0]
        post = t[t["period"] >= 0]
        for part, colour, lab in ((pre, OKABE_ITO["sky"], "before"), (post, PARTICIPANTS, "after")):
            ax.errorbar(
                part["period"],
                part["estimate"],
                yerr=[
                    (part["estimate"] - part["ci_low"]).clip(lower=0),
                    (part["ci_high"] - part["estimate"]).clip(lower=0),
                ],
                fmt="o",
                ms=4,
                color=colour,
                ecolor=colour,
                elinewidth=1,
                label=f"months {lab} referral",
            )
        ax.axhline(1, color="0.3", lw=1)
        ax.axvline(-0.5, color="0.3", lw=1, ls="--")
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("Month relative to referral (month −1 is the reference)")
        ax.set_ylabel("Rate ratio vs matched controls")
        ax.set_title(f"{label}: participants against matched controls, month by month")
        ax.legend(frameon=False, loc="best")
    caption = (
        f"Event study for {label.lower()}: each point is the rate ratio for that month against "
        "month −1, with its 95% confidence interval. Points before referral near 1 support the "
        "comparison (similar trends before referral)."
    )
    pre_ok = ((pre["ci_low"] <= 1) & (pre["ci_high"] >= 1)).mean() if len(pre) else float("nan")
    alt = (
        f"Dot plot of monthly rate ratios for {label.lower()} from 24 months before to 11 months "
        f"after referral. {pre_ok:.0%} of the pre-referral intervals include 1. After referral "
        f"the median rate ratio is {post['estimate'].median():.2f}."
    )
    return _render(name, fig, caption, alt)


def love_figure(balance: pd.DataFrame, name: str = "love_plot") -> ReportFigure:
    """Absolute standardised mean differences before and after matching (Love plot)."""
    b = balance.dropna(subset=["smd_before", "smd_after"], how="all").copy()
    b = b.iloc[::-1]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, max(3, 0.22 * len(b) + 1)))
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
        ax.axvline(0.1, color="0.3", ls="--", lw=1)
        ax.set_yticks(y, [str(i).replace("_", " ") for i in b.index], fontsize=8)
        ax.set_xlabel("Absolute standardised mean difference (0.1 = usual balance threshold)")
        ax.set_title("Covariate balance before and after matching")
        ax.legend(frameon=False, loc="lower right")
    worst = b["smd_after"].abs().max()
    caption = (
        "Love plot: how different participants and controls are on each covariate, before and "
        "after matching. Points left of the dashed line (0.1) are usually taken as balanced. "
        "Rows resting on a suppressed count (1 to 7) are not shown."
    )
    alt = (
        f"Dot plot of {len(b)} covariates; after matching the largest absolute standardised "
        f"difference is {worst:.2f}."
    )
    return _render(name, fig, caption, alt)


def overlap_figure(bins: pd.DataFrame, name: str = "overlap") -> ReportFigure:
    """Distribution of the matching distance by group, from disclosure-controlled bin counts."""
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 3.4))
        for group, colour, label in (
            ("participants", PARTICIPANTS, "participants"),
            ("controls_matched", CONTROLS, "matched controls"),
            ("controls_all", OKABE_ITO["black"], "all eligible person-months"),
        ):
            if group not in bins:
                continue
            counts = bins[group].fillna(0).astype(float)
            share = counts / counts.sum() if counts.sum() else counts
            ax.step(
                bins["bin_mid"],
                share,
                where="mid",
                color=colour,
                label=label,
                ls="-" if group != "controls_all" else ":",
            )
        ax.set_xlabel("Matching distance (logit of the propensity score)")
        ax.set_ylabel("Share of group")
        ax.set_title("Overlap of participants and controls")
        ax.legend(frameon=False)
    caption = (
        "Overlap: the share of each group at each value of the matching distance, from counts "
        "rounded to the nearest 5 (a bin with a suppressed count, 1 to 7, is shown as 0)."
    )
    alt = (
        "Step chart of the matching distance for participants, matched controls and all eligible "
        "person-months; matched controls follow the participants' distribution."
    )
    return _render(name, fig, caption, alt)


def wellbeing_figure(table: pd.DataFrame, name: str = "wellbeing_change") -> ReportFigure:
    """Mean change per instrument with 95% CI, standardised (effect size) for comparability."""
    t = table.dropna(subset=["effect_size"]).iloc[::-1]
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, max(2.5, 0.45 * len(t) + 1)))
        y = np.arange(len(t))
        ax.errorbar(
            t["effect_size"],
            y,
            xerr=[
                (t["effect_size"] - t["effect_size_ci_low"]).clip(lower=0),
                (t["effect_size_ci_high"] - t["effect_size"]).clip(lower=0),
            ],
            fmt="o",
            color=PARTICIPANTS,
        )
        ax.axvline(0, color="0.3", lw=1)
        ax.set_yticks(y, list(t["label"]))
        ax.set_xlabel("Standardised change (positive = better), 95% CI")
        ax.set_title("Paired change in wellbeing measures, start to end")
    caption = (
        "Paired change from the start to the end of the programme, per measure, standardised so "
        "measures on different scales can be compared (positive always means better). There is "
        "no control group for questionnaires: this is a change, not an effect. Measures with "
        "a suppressed number (1 to 7) with both scores are not shown."
    )
    alt = "; ".join(
        f"{r.label}: {r.effect_size:+.2f} ({r.effect_size_ci_low:+.2f} to "
        f"{r.effect_size_ci_high:+.2f})"
        for r in t.iloc[::-1].itertuples()
    )
    return _render(name, fig, caption, f"Dot plot of standardised change. {alt}.")


def comparison_figure(table: pd.DataFrame, name: str, label: str) -> ReportFigure:
    """Matched DiD beside naive pre/post rate ratios, per window, for one setting."""
    t = table.dropna(subset=["estimate"])
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7, 3))
        offsets = {"naive_prepost": -0.12, "matched_did": 0.12}
        colours = {"naive_prepost": CONTROLS, "matched_did": PARTICIPANTS}
        labels = {"naive_prepost": "naive before/after", "matched_did": "matched DiD"}
        windows = sorted(t["window_months"].unique())
        for method, part in t.groupby("method"):
            x = np.array([windows.index(w) for w in part["window_months"]]) + offsets[method]
            ax.errorbar(
                x,
                part["estimate"],
                yerr=[
                    (part["estimate"] - part["ci_low"]).clip(lower=0),
                    (part["ci_high"] - part["estimate"]).clip(lower=0),
                ],
                fmt="o",
                color=colours[method],
                label=labels[method],
            )
        ax.axhline(1, color="0.3", lw=1)
        ax.set_xticks(range(len(windows)), [f"{w} months" for w in windows])
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel("Rate ratio (log scale)")
        ax.set_title(f"{label}: naive before/after against matched DiD")
        ax.legend(frameon=False)
    caption = (
        f"{label}: the naive before/after rate ratio (participants only) beside the matched "
        "difference-in-differences, with 95% CIs. People are referred when their use is high, "
        "so it tends to fall afterwards anyway (regression to the mean); the naive figure "
        "counts that fall as if the programme caused it."
    )
    alt = "; ".join(
        f"{labels[r.method]} at {r.window_months} months {r.estimate:.2f}" for r in t.itertuples()
    )
    return _render(name, fig, caption, f"Dot plot of rate ratios. {alt}.")

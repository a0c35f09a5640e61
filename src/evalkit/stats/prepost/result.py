"""The result of a pre/post analysis: :class:`PrePostResult`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats.plots import before_after, effect_sizes, paired_change
from evalkit.stats.prepost.shares import Direction
from evalkit.stats.result import Result, format_table

__all__ = ["PrePostResult"]


@dataclass(frozen=True, eq=False, repr=False)
class PrePostResult(Result):
    """Paired pre/post change of one instrument (or one separately reported item).

    Numbers are attributes; ``data`` holds one row per episode with a scorable ``before`` or
    ``after`` score (the episode in ``episode_col``, ``before``, ``after``, ``change``,
    ``completer``, ``category``, ``group``),
    ``by_group`` the same analysis per level of ``by`` and ``covariate_comparison`` the
    completer/non-completer comparison of each covariate. ``tidy()`` is the canonical table.
    """

    analysis: ClassVar[str] = "prepost"

    instrument: str
    title: str
    before: str
    after: str
    direction: Direction
    n_baseline: int
    n_after: int
    n_paired: int
    follow_up_completeness: float
    mean_before: float
    mean_after: float
    mean_change: float
    sd_change: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    t_statistic: float
    df: float
    mde: float
    effect_size: float
    effect_size_ci_low: float
    effect_size_ci_high: float
    effect_size_name: str
    effect_size_method: str
    threshold: float | None
    threshold_kind: str | None
    threshold_source: str | None
    n_improved: int
    n_unchanged: int
    n_deteriorated: int
    share_improved: float
    share_unchanged: float
    share_deteriorated: float
    n_completers: int
    n_noncompleters: int
    baseline_mean_completers: float
    baseline_mean_noncompleters: float
    baseline_difference: float
    baseline_difference_ci_low: float
    baseline_difference_ci_high: float
    baseline_difference_p_value: float
    norm: float | None
    norm_label: str | None
    by: str | None
    by_group: pd.DataFrame
    covariate_comparison: pd.DataFrame
    data: pd.DataFrame
    episode_col: str = "episode_id"
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    # --- style aliases ------------------------------------------------------------------------
    @property
    def estimate(self) -> float:
        """Mean change (alias used across evalkit result objects)."""
        return self.mean_change

    @property
    def n(self) -> int:
        """Paired N."""
        return self.n_paired

    # --- views --------------------------------------------------------------------------------
    def tidy(self) -> pd.DataFrame:
        """One row per figure: ``group``, ``level``, ``term``, ``estimate``, CI, SE, p, ``n``.

        Terms: ``mean_before``, ``mean_after``, ``mean_change``, ``d_z``, ``share_improved``,
        ``share_unchanged``, ``share_deteriorated``, ``follow_up_completeness``,
        ``baseline_mean_completers``, ``baseline_mean_noncompleters``,
        ``baseline_difference`` for ``group == "all"``; then ``mean_change``, ``d_z`` and the
        shares per level of ``by``.
        """
        nan = math.nan
        rows: list[dict[str, Any]] = []

        def add(group, level, term, est, se=nan, lo=nan, hi=nan, p=nan, n=0):
            rows.append(
                {
                    "instrument": self.instrument,
                    "group": group,
                    "level": level,
                    "term": term,
                    "estimate": est,
                    "std_error": se,
                    "ci_low": lo,
                    "ci_high": hi,
                    "p_value": p,
                    "n": n,
                }
            )

        add("all", "all", "mean_before", self.mean_before, n=self.n_paired)
        add("all", "all", "mean_after", self.mean_after, n=self.n_paired)
        add(
            "all",
            "all",
            "mean_change",
            self.mean_change,
            self.std_error,
            self.ci_low,
            self.ci_high,
            self.p_value,
            self.n_paired,
        )
        add(
            "all",
            "all",
            self.effect_size_name,
            self.effect_size,
            lo=self.effect_size_ci_low,
            hi=self.effect_size_ci_high,
            n=self.n_paired,
        )
        add("all", "all", "share_improved", self.share_improved, n=self.n_paired)
        add("all", "all", "share_unchanged", self.share_unchanged, n=self.n_paired)
        add("all", "all", "share_deteriorated", self.share_deteriorated, n=self.n_paired)
        add("all", "all", "follow_up_completeness", self.follow_up_completeness, n=self.n_baseline)
        add(
            "all",
            "all",
            "baseline_mean_completers",
            self.baseline_mean_completers,
            n=self.n_completers,
        )
        add(
            "all",
            "all",
            "baseline_mean_noncompleters",
            self.baseline_mean_noncompleters,
            n=self.n_noncompleters,
        )
        add(
            "all",
            "all",
            "baseline_difference",
            self.baseline_difference,
            lo=self.baseline_difference_ci_low,
            hi=self.baseline_difference_ci_high,
            p=self.baseline_difference_p_value,
            n=self.n_completers + self.n_noncompleters,
        )
        if self.by is not None:
            for r in self.by_group.itertuples(index=False):
                lvl = str(r.level)
                add(
                    self.by,
                    lvl,
                    "mean_change",
                    r.mean_change,
                    r.std_error,
                    r.ci_low,
                    r.ci_high,
                    r.p_value,
                    r.n_paired,
                )
                add(
                    self.by,
                    lvl,
                    self.effect_size_name,
                    r.effect_size,
                    lo=r.effect_size_ci_low,
                    hi=r.effect_size_ci_high,
                    n=r.n_paired,
                )
                add(self.by, lvl, "share_improved", r.share_improved, n=r.n_paired)
                add(self.by, lvl, "share_deteriorated", r.share_deteriorated, n=r.n_paired)
                add(
                    self.by,
                    lvl,
                    "follow_up_completeness",
                    r.follow_up_completeness,
                    n=r.n_baseline,
                )
        out = pd.DataFrame(rows)
        out["n"] = out["n"].astype("int64")
        return out

    def summary_header(self) -> list[str]:
        """What was estimated, how and on how many; the direction and the shares' threshold."""
        thr = (
            f"{self.threshold_kind.replace('_', ' ')} threshold {self.threshold:g}"
            if self.threshold is not None and self.threshold_kind
            else "no published threshold: any change"
        )
        return [
            f"Pre/post change: {self.title} [{self.instrument}]",
            f"Estimand: mean within-episode change, {self.before} to {self.after}, among "
            "episodes scorable at both (complete cases)",
            "Model: paired t (one-sample t on the changes); effect size "
            f"{self.effect_size_name} (SRM)",
            f"Inference: 95% CI from the t distribution, df = {self.df:g}",
            f"N: {self.n_baseline} scorable {self.before}, {self.n_paired} paired "
            f"(follow-up completeness {self.follow_up_completeness:.1%})",
            f"Direction: {self.direction} is better; shares use {thr}",
        ]

    def summary(self) -> str:
        """Plain-text summary: header, table (``tidy()`` without the instrument) and notes.

        The base's layout; the table leaves out the ``instrument`` column, which the header
        names.
        """
        table = format_table(self.tidy().drop(columns="instrument"))
        notes = ["", "Notes:", *(f"- {n}" for n in self.notes)] if self.notes else [""]
        return "\n".join([*self.summary_header(), "", table, *notes])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: the data contract's ``wellbeing`` entry plus extra keys.

        Core keys: ``instrument``, ``timepoints``, ``n_paired``, ``mean_change``, ``ci_low``,
        ``ci_high``; also ``mde``, ``std_error``, ``p_value``, ``n_baseline``,
        ``follow_up_completeness``, ``mean_before``, ``mean_after``, ``direction``,
        ``effect_size``, ``shares``, ``baseline_comparison``, ``by_group``, ``notes``.
        NaN becomes ``None``.
        """
        out: dict[str, Any] = {
            "instrument": self.instrument,
            "timepoints": [self.before, self.after],
            "n_paired": self.n_paired,
            "mean_change": self.mean_change,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "std_error": self.std_error,
            "p_value": self.p_value,
            "mde": self.mde,
            "n_baseline": self.n_baseline,
            "follow_up_completeness": self.follow_up_completeness,
            "mean_before": self.mean_before,
            "mean_after": self.mean_after,
            "sd_change": self.sd_change,
            "direction": self.direction,
            "effect_size": {
                "name": self.effect_size_name,
                "estimate": self.effect_size,
                "ci_low": self.effect_size_ci_low,
                "ci_high": self.effect_size_ci_high,
                "method": self.effect_size_method,
            },
            "shares": {
                "improved": self.share_improved,
                "unchanged": self.share_unchanged,
                "deteriorated": self.share_deteriorated,
                "n_improved": self.n_improved,
                "n_unchanged": self.n_unchanged,
                "n_deteriorated": self.n_deteriorated,
                "threshold": self.threshold,
                "threshold_kind": self.threshold_kind or "any_change",
                "threshold_source": self.threshold_source,
            },
            "baseline_comparison": {
                "n_completers": self.n_completers,
                "n_noncompleters": self.n_noncompleters,
                "mean_completers": self.baseline_mean_completers,
                "mean_noncompleters": self.baseline_mean_noncompleters,
                "difference": self.baseline_difference,
                "ci_low": self.baseline_difference_ci_low,
                "ci_high": self.baseline_difference_ci_high,
                "p_value": self.baseline_difference_p_value,
                "test": "Welch t",
            },
            "by": self.by,
            "by_group": self.by_group.to_dict(orient="records") if self.by else [],
            "covariate_comparison": self.covariate_comparison.to_dict(orient="records"),
            "spec": self.spec,
            "notes": list(self.notes),
        }
        return json_safe(out)

    # --- plots --------------------------------------------------------------------------------
    def paired_table(self) -> pd.DataFrame:
        """The paired episodes, the table the figures draw.

        Columns: the episode (``episode_col``), ``before`` and ``after`` (the scores the
        change compares) and ``change``.
        """
        paired = self.data[self.data["completer"]]
        cols = {"before_paired": "before", "after_paired": "after"}
        return paired[[self.episode_col, *cols, "change"]].rename(columns=cols)

    def plot_paired(self, ax: Any = None, *, kind: Literal["hist", "slope"] = "hist") -> Any:
        """Plot the paired change and return the Axes (:func:`evalkit.stats.plots.paired_change`).

        ``kind="hist"`` (default): histogram of each episode's change with the mean change and
        its 95% CI, zero, and the improvement/deterioration thresholds. ``kind="slope"``: one
        line per episode from ``before`` to ``after`` with the mean in bold.
        """
        thresholds = None
        if self.threshold is not None:
            sign = 1 if self.direction == "higher" else -1
            thresholds = (sign * self.threshold, -sign * self.threshold)
        return paired_change(
            self.paired_table(),
            kind=kind,
            mean_change=self.mean_change,
            ci=(self.ci_low, self.ci_high),
            means=(self.mean_before, self.mean_after),
            thresholds=thresholds,
            labels=(self.before, self.after),
            title=f"{self.instrument}: paired change (n = {self.n_paired})",
            ax=ax,
        )

    def effect_size_table(self) -> pd.DataFrame:
        """The standardised change as one row, oriented so that positive is better.

        The shape of the report's wellbeing table (``label``, ``effect_size``,
        ``effect_size_ci_low``, ``effect_size_ci_high``), so both draw with the same function.
        """
        sign = 1 if self.direction == "higher" else -1
        lo, hi = sign * self.effect_size_ci_low, sign * self.effect_size_ci_high
        return pd.DataFrame(
            {
                "label": [self.title],
                "effect_size": [sign * self.effect_size],
                "effect_size_ci_low": [min(lo, hi)],
                "effect_size_ci_high": [max(lo, hi)],
            }
        )

    def plot_effect_size(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """The standardised change with its 95% CI (positive = better).

        Drawn with :func:`evalkit.stats.plots.effect_sizes`, the function the report's wellbeing
        figure uses for every measure at once.
        """
        if table is not None:  # the report's table: every measure, published values
            return effect_sizes(table, ax=ax)
        return effect_sizes(
            self.effect_size_table(), title=f"{self.title}: paired change, start to end", ax=ax
        )

    def plot_distribution(self, ax: Any = None) -> Any:
        """Before and after score distributions (paired episodes) with the population norm.

        Drawn with :func:`evalkit.stats.plots.before_after`.
        """
        return before_after(
            self.paired_table(),
            labels=(self.before, self.after),
            norm=self.norm,
            norm_label=self.norm_label,
            title=f"{self.instrument}: {self.before} and {self.after} (paired)",
            ax=ax,
        )

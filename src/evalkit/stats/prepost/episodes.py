"""The episode table of a pre/post analysis and the figures for a set of its episodes.

One row per episode with a scorable ``before`` or ``after`` score: both scores (NaN where
missing), the scores the change compares (``before_paired``, ``after_paired``), the
``change``, whether the episode is a ``completer`` (paired) and its change ``category``.
For a goal-based instrument the change is the mean over the goals rated at both timepoints of
(after − before), and before/after are the means over those same goals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.stats.prepost.paired import paired_stats
from evalkit.stats.prepost.shares import CATEGORIES, Direction, change_categories

__all__ = [
    "GROUP_COLUMNS",
    "ScoreColumns",
    "by_group_table",
    "episode_scores",
    "paired_episodes",
    "summarise_episodes",
]

#: Columns of the by-group table (one row per level of ``by``).
GROUP_COLUMNS: tuple[str, ...] = (
    "level",
    "n_baseline",
    "n_paired",
    "follow_up_completeness",
    "mean_before",
    "mean_after",
    "mean_change",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "effect_size",
    "effect_size_ci_low",
    "effect_size_ci_high",
    "share_improved",
    "share_unchanged",
    "share_deteriorated",
)


@dataclass(frozen=True)
class ScoreColumns:
    """The column of each role in a scores table (defaults: the names ``score_measures`` gives).

    Examples
    --------
    >>> ScoreColumns(episode="person").required()
    ('person', 'instrument', 'timepoint', 'score')
    """

    episode: str = "episode_id"
    instrument: str = "instrument"
    timepoint: str = "timepoint"
    score: str = "score"
    scorable: str = "scorable"

    def required(self) -> tuple[str, ...]:
        """The columns every scores table needs (``scorable`` is optional)."""
        return (self.episode, self.instrument, self.timepoint, self.score)


def episode_scores(
    sub: pd.DataFrame,
    timepoint: str,
    extra: Sequence[str],
    columns: ScoreColumns = ScoreColumns(),
) -> pd.DataFrame:
    """Scorable rows of one timepoint indexed by the episode: the score and ``extra``.

    ``sub`` holds one instrument's rows with a boolean ``_scorable`` column; ``columns`` names
    its episode, timepoint and score columns.
    """
    rows = sub[(sub[columns.timepoint] == timepoint) & sub["_scorable"]]
    cols = [columns.episode, columns.score, *extra]
    return rows[cols].set_index(columns.episode)


def _pair_goals(
    ep: pd.DataFrame, b: pd.DataFrame, a: pd.DataFrame, gcols: Sequence[str]
) -> list[str]:
    """Change, completer and paired scores from the goals rated at both timepoints."""
    gcols = list(gcols)
    gb = b[gcols].reindex(ep.index).to_numpy(dtype="float64")
    ga = a[gcols].reindex(ep.index).to_numpy(dtype="float64")
    both = ~np.isnan(gb) & ~np.isnan(ga)
    n_common = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        diff = np.where(both, ga - gb, 0.0).sum(axis=1) / n_common
        mb = np.where(both, gb, 0.0).sum(axis=1) / n_common
        ma = np.where(both, ga, 0.0).sum(axis=1) / n_common
    has_both = ep["before"].notna() & ep["after"].notna()
    no_common = int((has_both & (n_common == 0)).sum())
    ep["change"] = np.where(n_common > 0, diff, np.nan)
    ep["completer"] = has_both & (n_common > 0)
    ep["before_paired"] = np.where(ep["completer"], mb, np.nan)
    ep["after_paired"] = np.where(ep["completer"], ma, np.nan)
    notes = [
        "Goal-based: each episode's change is the mean over its goals rated at both "
        "timepoints of (after − before); before/after means use those same goals."
    ]
    if no_common:
        notes.append(
            f"{no_common} episode(s) had scorable goals at both timepoints but no goal "
            "rated at both; they are not paired."
        )
    return notes


def _pair_scores(ep: pd.DataFrame) -> None:
    """Change, completer and paired scores from the instrument's scores."""
    ep["change"] = ep["after"] - ep["before"]
    ep["completer"] = ep["before"].notna() & ep["after"].notna()
    ep["before_paired"] = ep["before"].where(ep["completer"])
    ep["after_paired"] = ep["after"].where(ep["completer"])


def paired_episodes(
    sub: pd.DataFrame,
    before: str,
    after: str,
    *,
    extra: Sequence[str],
    goal_cols: Sequence[str],
    direction: Direction,
    threshold: float | None,
    columns: ScoreColumns = ScoreColumns(),
) -> tuple[pd.DataFrame, list[str]]:
    """The episode table (see the module docstring) and the notes its pairing gives.

    ``extra`` are episode-level columns read from the ``before`` row; ``goal_cols`` the
    per-goal columns of a goal-based instrument (empty for any other); ``columns`` names the
    episode, timepoint and score columns of ``sub``. The table is indexed by the episode.
    """
    b = episode_scores(sub, before, [*extra, *goal_cols], columns)
    a = episode_scores(sub, after, goal_cols, columns)
    score = columns.score
    ep = pd.DataFrame({"before": b[score]}).join(pd.DataFrame({"after": a[score]}), how="outer")
    notes: list[str] = []
    if goal_cols:
        notes = _pair_goals(ep, b, a, goal_cols)
    else:
        _pair_scores(ep)
    ep["category"] = None
    comp = ep["completer"].to_numpy()
    ep.loc[comp, "category"] = change_categories(
        ep.loc[comp, "change"].to_numpy(dtype="float64"), direction, threshold
    )
    for col in extra:
        ep[col] = b[col].reindex(ep.index) if col in b.columns else np.nan
    return ep, notes


def summarise_episodes(ep: pd.DataFrame, rows: np.ndarray | None = None) -> dict[str, float]:
    """Figures for a set of episodes (all, or the positions ``rows``).

    ``ep`` is the episode table of :func:`paired_episodes`. Works on NumPy arrays because it
    runs once per group.
    """
    sel = slice(None) if rows is None else rows
    comp = ep["completer"].to_numpy(dtype=bool)[sel]
    change = ep["change"].to_numpy(dtype="float64")[sel][comp]
    res = paired_stats(change)
    n_base = int(ep["before"].notna().to_numpy()[sel].sum())
    cats = ep["category"].to_numpy(dtype=object)[sel][comp]
    n_p = int(comp.sum())
    bp = ep["before_paired"].to_numpy(dtype="float64")[sel][comp]
    ap = ep["after_paired"].to_numpy(dtype="float64")[sel][comp]
    res.update(
        n_baseline=n_base,
        n_paired=n_p,
        follow_up_completeness=(n_p / n_base) if n_base else math.nan,
        mean_before=float(bp.mean()) if n_p else math.nan,
        mean_after=float(ap.mean()) if n_p else math.nan,
        n_improved=int((cats == "improved").sum()),
        n_unchanged=int((cats == "unchanged").sum()),
        n_deteriorated=int((cats == "deteriorated").sum()),
    )
    for k in CATEGORIES:
        res[f"share_{k}"] = res[f"n_{k}"] / n_p if n_p else math.nan
    return res


def by_group_table(ep: pd.DataFrame, by: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The figures of :func:`summarise_episodes` per level of ``by`` (sorted), with notes.

    Episodes without a level are left out (a note counts those with a baseline).
    """
    notes: list[str] = []
    group_rows = []
    if by is not None:
        lv = ep[by]
        n_missing = int((lv.isna() & ep["before"].notna()).sum())
        if n_missing:
            notes.append(f"{n_missing} episode(s) have no '{by}' and are left out of the groups.")
        grouped = ep[lv.notna()]
        for level, rows in sorted(grouped.groupby(by).indices.items()):
            r = summarise_episodes(grouped, rows)
            group_rows.append({"level": level, **{k: r[k] for k in GROUP_COLUMNS[1:]}})
    return pd.DataFrame(group_rows, columns=list(GROUP_COLUMNS)), notes

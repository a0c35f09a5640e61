"""Pathway: people at each step from referral to a follow-up wellbeing measure.

Overall and by IMD quintile or ethnicity group; by default a funnel, each step requiring the
earlier ones, so the counts show where people are lost.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from evalkit.analysis.equity.groups import level_order, main_instrument
from evalkit.analysis.equity.text import summary_text
from evalkit.analysis.study import Study
from evalkit.analysis.wellbeing import wellbeing_scores
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.result import Result

__all__ = ["PATHWAY_STEPS", "PathwayResult", "pathway"]

#: Pathway steps in order (data contract ``pathway.step``).
PATHWAY_STEPS: tuple[str, ...] = (
    "referred",
    "started",
    "attended_half",
    "completed",
    "baseline_measure",
    "followup_measure",
)

#: Groups :func:`pathway` counts by, besides everyone.
PATHWAY_GROUPS: tuple[str, ...] = ("imd_quintile", "ethnicity_group")


def _pathway_flags(study: Study) -> pd.DataFrame:
    """One row per index episode with a boolean column per step (own definition, not nested)."""
    ep = study.index_episodes
    inst = main_instrument(study)
    scores = wellbeing_scores(study)
    s = scores[(scores["instrument"] == inst) & scores["scorable"].astype(bool)]
    base = set(s.loc[s["timepoint"] == "baseline", "episode_id"])
    end = set(s.loc[s["timepoint"] == "end", "episode_id"])
    offered = ep["sessions_offered"].fillna(0)
    attended = ep["sessions_attended"].fillna(0)
    return pd.DataFrame(
        {
            "episode_id": ep["episode_id"],
            "imd_quintile": ep["imd_quintile"].astype("Int64").astype(str),
            "ethnicity_group": ep["ethnicity_group"].astype(str),
            "referred": True,
            "started": ep["start_date"].notna().to_numpy(),
            "attended_half": ((offered > 0) & (2 * attended >= offered)).to_numpy(),
            "completed": (ep["discharge_reason"] == "completed").fillna(False).to_numpy(),
            "baseline_measure": ep["episode_id"].isin(base).to_numpy(),
            "followup_measure": ep["episode_id"].isin(end).to_numpy(),
        }
    )


def _nest(flags: pd.DataFrame) -> pd.DataFrame:
    """Each step's flag also requiring every earlier step (a funnel), in place."""
    for prev, step in itertools.pairwise(PATHWAY_STEPS):
        flags[step] = flags[step] & flags[prev]
    return flags


def _step_rows(group: str, level: str, flags: pd.DataFrame) -> list[dict[str, Any]]:
    """``tidy()`` rows of one level: the count at each step and its shares."""
    steps = list(PATHWAY_STEPS)
    counts = flags[steps].sum().astype("int64")
    n0 = int(counts["referred"])
    prev = n0
    rows = []
    for step in steps:
        n = int(counts[step])
        rows.append(
            {
                "step": step,
                "group": group,
                "level": level,
                "n": n,
                "share_of_referred": n / n0 if n0 else math.nan,
                "share_of_previous": n / prev if prev else math.nan,
            }
        )
        prev = n
    return rows


def _pathway_notes(flags: pd.DataFrame, instrument: str, *, nested: bool) -> list[str]:
    """Notes on the measure steps, nesting and episodes attended without a start date."""
    notes = [
        f"Measure steps use {instrument}, the programme's main instrument; a questionnaire "
        "counts when it is scorable under the instrument's missing-item rule."
    ]
    if nested:
        notes.append("Each step counts people who also reached every earlier step.")
    miss = int(((flags["completed"] | flags["attended_half"]) & ~flags["started"]).sum())
    if not nested and miss:
        notes.append(f"{miss} episode(s) attended or completed without a start date.")
    return notes


def _series_name(group: str, level: Any) -> str:
    """A level's name in the pathway figure's legend: ``all``, ``IMD 1``, ``White``."""
    if group == "all":
        return "all"
    return ("IMD " if group == "imd_quintile" else "") + str(level)


@dataclass(frozen=True, repr=False)
class PathwayResult(Result):
    """Counts of people at each pathway step, overall and by group.

    Attributes
    ----------
    table : pd.DataFrame
        ``tidy()``'s table.
    by : str or None
    nested : bool
        True: each step counts people who reached it *and every earlier step* (a funnel).
    instrument : str
        The main instrument behind the measure steps.
    spec : dict
    notes : tuple of str
    """

    analysis = "pathway"

    table: pd.DataFrame
    by: str | None
    nested: bool
    instrument: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """One row per step and level.

        Columns: ``step``, ``group``, ``level``, ``n``, ``share_of_referred``,
        ``share_of_previous`` (n over the previous step's n).
        """
        return self.table.copy()

    def count(self, step: str, group: str = "all", level: str = "all") -> int:
        """The count at one step (overall by default)."""
        t = self.table
        row = t[(t["step"] == step) & (t["group"] == group) & (t["level"] == str(level))]
        return int(row["n"].iloc[0]) if len(row) else 0

    def entries(self) -> list[dict[str, Any]]:
        """The data contract's ``pathway`` entries: ``step``, ``group``, ``level``, ``n`` (raw)."""
        return json_safe(self.table[["step", "group", "level", "n"]].to_dict(orient="records"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``pathway`` (the entries), ``nested``, ``instrument``, ``notes``."""
        return json_safe(
            {
                "pathway": self.entries(),
                "nested": self.nested,
                "instrument": self.instrument,
                "by": self.by,
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary_header(self) -> list[str]:
        """Programme and grouping, what is counted, the instrument behind the measure steps."""
        return [
            f"Pathway: {self.spec.get('programme', '')}" + (f" by {self.by}" if self.by else ""),
            "Counts of people (first referrals) at each step"
            + (", each step requiring the earlier ones" if self.nested else ""),
            f"Measure steps: {self.instrument}",
        ]

    def summary(self) -> str:
        """Steps as rows, levels as columns (counts), then notes."""
        wide = self.table.pivot_table(
            index="step", columns=["group", "level"], values="n", aggfunc="sum", sort=False
        ).reindex(list(PATHWAY_STEPS))
        with pd.option_context("display.width", 140, "display.max_columns", 30):
            table = wide.to_string()
        return summary_text(self.summary_header(), [table], self.notes)

    def plot(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Step plot of the share of referred people retained at each step, one line per level.

        Drawn with :func:`evalkit.stats.plots.funnel`; the overall line is the bold black one,
        each level's legend entry gives its count of referred people.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` (``step``, ``group``, ``level``, ``n``)
            to draw instead; shares are recomputed from its counts, a suppressed count leaves
            a gap.

        Returns
        -------
        matplotlib.axes.Axes
        """
        t = (self.table if table is None else table).copy()
        t["series"] = [_series_name(g, lvl) for g, lvl in zip(t["group"], t["level"], strict=True)]
        return plots.funnel(
            t,
            steps=PATHWAY_STEPS,
            step="step",
            series="series",
            value="n",
            emphasis="all",
            ax=ax,
            title="Pathway" + (f" by {self.by.replace('_', ' ')}" if self.by else ""),
            ylabel="Share of referred people",
        )


def pathway(
    study: Study,
    by: Literal["imd_quintile", "ethnicity_group"] | None = None,
    *,
    nested: bool = True,
) -> PathwayResult:
    """People at each step of the pathway, overall and (optionally) by IMD quintile or ethnicity.

    One person = one index episode (each person's first referral to the programme, as in the
    wellbeing section). Step definitions (the referrals columns of the data contract):

    ``referred``
        Every first referral.
    ``started``
        ``start_date`` recorded (the contract's "first session attended").
    ``attended_half``
        ``sessions_attended >= sessions_offered / 2`` with ``sessions_offered > 0``.
    ``completed``
        ``discharge_reason == "completed"``.
    ``baseline_measure``
        A scorable ``baseline`` questionnaire of the main instrument
        (:func:`~evalkit.analysis.equity.groups.main_instrument`: the first in the programme's
        ``instruments``), scored by evalkit's scoring under the instrument's missing-item rule.
    ``followup_measure``
        A scorable ``end`` questionnaire of the main instrument.

    With ``nested=True`` (default) each step also requires every earlier step, so the counts
    form a funnel and show where people are lost; ``followup_measure`` then counts completers
    with both questionnaires, fewer than the wellbeing section's ``n_paired`` (which counts
    every starter with both). ``nested=False`` counts each step on its own definition.

    Parameters
    ----------
    study : Study
    by : {"imd_quintile", "ethnicity_group"}, optional
        Also count by the levels of this group (group at the index referral).
    nested : bool

    Returns
    -------
    PathwayResult
        Rows for ``group == "all"`` (``level == "all"``) and, with ``by``, for each level.
    """
    if by is not None and by not in PATHWAY_GROUPS:
        raise ValueError("by must be None, 'imd_quintile' or 'ethnicity_group'")
    flags = _pathway_flags(study)
    if nested:
        flags = _nest(flags)
    rows = _step_rows("all", "all", flags)
    notes: list[str] = []
    if by is not None:
        order = level_order(by, flags[by].unique().tolist(), study.programme)
        for lvl in order:
            rows += _step_rows(by, lvl, flags[flags[by] == lvl])
        if by == "imd_quintile" and "<NA>" in order:
            notes.append("Level <NA>: referred people not found in the population table.")
    inst = main_instrument(study)
    notes += _pathway_notes(flags, inst, nested=nested)
    spec = {"programme": study.programme.slug, "by": by, "nested": nested, "instrument": inst}
    return PathwayResult(pd.DataFrame(rows), by, nested, inst, spec, tuple(notes))

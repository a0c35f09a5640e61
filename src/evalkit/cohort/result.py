"""The cohort result: participants, the stacked risk set, exclusions, and their views.

:class:`Cohort` is what :func:`evalkit.cohort.build_cohort` and
:func:`evalkit.cohort.placebo_cohort` return; :class:`EventStore` is the engine-side activity of
its risk set that :func:`evalkit.cohort.build_panel` reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.prior_utilisation import PRIOR_WINDOWS
from evalkit.cohort.tables import Tables
from evalkit.config import Programme, UnitCostTable
from evalkit.contract import CONDITIONS
from evalkit.jsonsafe import json_safe

__all__ = ["Cohort", "EventStore"]


@dataclass(frozen=True)
class EventStore:
    """Engine tables kept alive with a cohort so that panels need not rescan the activity file.

    ``pool`` holds everyone in the risk set with an integer key ``pk``; ``events`` their
    activity (``pk``, ``event_date``, ``setting_code`` = position in ``settings``: the outcome
    settings first, then the negative-control settings the data holds) from
    ``start`` (inclusive) to ``end`` (exclusive): 24 months before the first index month to 12
    months after the last index date, the default panel's reach.
    """

    tables: Tables
    pool: ir.Table
    events: ir.Table
    settings: tuple[str, ...]
    start: dt.date
    end: dt.date


@dataclass(frozen=True, eq=False, repr=False)
class Cohort:
    """Participants and the stacked risk set of one programme.

    Attributes
    ----------
    participants : pd.DataFrame
        One row per eligible participant, sorted by ``index_date`` then ``person_id``:
        ``person_id``, ``row_id`` (their row in ``candidates``), ``episode_id`` (first
        referral), ``index_date`` (= referral date), ``index_month`` (``"YYYY-MM"``),
        ``index_week`` (Monday of its ISO week, ``"YYYY-MM-DD"``), ``started`` (the first
        referral has a start date), ``completed`` (its ``discharge_reason`` is ``completed``;
        for per-protocol), ``n_referrals`` (in the referral period), ``full_history_24m`` and
        ``full_followup_12m`` (complete windows; :meth:`window_coverage`).
    candidates : pd.DataFrame
        The stacked rows for matching, one per (person, index date), index equal to ``row_id``
        (0, 1, ... : participant rows first, then candidate rows, each by index date and
        person): ``row_id``, ``person_id``, ``index_date`` (the participant's referral date;
        a candidate's Monday of the week, or 1st of the month with ``risk_set="month"``),
        ``index_month``, ``index_week`` (categories), ``referred`` (1 participant, 0
        candidate control), ``own_referral_date`` (a candidate's first referral to the
        programme after its index date, NaT if none; for censoring only, never for choosing;
        NaT for participants), ``age``, ``sex``, ``imd_decile``,
        ``imd_quintile``, ``ethnicity_group``, ``cond_<condition>`` for every contract
        condition, ``n_conditions``, ``prior12_<setting>`` and ``prior3_<setting>`` for every
        programme setting.
    excluded : pd.DataFrame
        Referred people who are not participants: ``person_id``, ``index_date``, ``reason``
        (see :data:`evalkit.cohort.eligibility.EXCLUSION_REASONS`).
    data_start, data_end : datetime.date
        Period the activity extract covers; person-time outside it is not at risk.
    spec : dict
        Arguments used, defaults resolved.
    notes : tuple of str
        Plain-English lines: exclusions and why, candidate counts, rules applied.
    programme : Programme
    unit_costs : UnitCostTable
    data_dir : Path
    event_store : EventStore, optional
        Engine tables of the risk set's activity, kept so that :func:`~evalkit.cohort.build_panel`
        need not rescan the activity file; None when not held.
    """

    participants: pd.DataFrame
    candidates: pd.DataFrame
    excluded: pd.DataFrame
    data_start: dt.date
    data_end: dt.date
    spec: dict[str, Any]
    notes: tuple[str, ...]
    programme: Programme
    unit_costs: UnitCostTable
    data_dir: Path
    event_store: EventStore | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- numbers
    @property
    def n_participants(self) -> int:
        """Eligible participants."""
        return len(self.participants)

    @property
    def n_excluded(self) -> int:
        """Referred people excluded at index."""
        return len(self.excluded)

    @property
    def n_candidate_rows(self) -> int:
        """Candidate control rows (person-weeks or person-months), participants not counted."""
        return int((self.candidates["referred"] == 0).sum())

    @property
    def n_candidate_people(self) -> int:
        """Distinct people among the candidate control rows."""
        return int(self.candidates.loc[self.candidates["referred"] == 0, "person_id"].nunique())

    @property
    def settings(self) -> list[str]:
        """Activity settings measured (the programme's outcome settings)."""
        return list(self.programme.outcomes.settings)

    @property
    def negative_controls(self) -> list[str]:
        """Negative-control settings counted in the panels: the configured ones the data holds.

        Never matched on, never costed (``total_cost`` sums :attr:`settings` only).
        """
        return list(self.spec.get("negative_controls", []))

    @property
    def negative_controls_absent(self) -> list[str]:
        """Configured negative-control settings with no row at all in the activity data."""
        return list(self.spec.get("negative_controls_absent", []))

    @property
    def panel_settings(self) -> list[str]:
        """Every setting a panel counts: the outcome settings, then the negative controls."""
        return [*self.settings, *self.negative_controls]

    # ---------------------------------------------------------------- helpers
    def covariate_columns(self, groups: Sequence[str] | None = None) -> list[str]:
        """Candidate columns behind the programme's matching covariates.

        Expands the config's group names: ``conditions`` to every ``cond_<condition>``,
        ``prior_utilisation_12m`` / ``prior_utilisation_3m`` to ``prior12_<setting>`` /
        ``prior3_<setting>``; any other name is a column and is kept as it is.

        Parameters
        ----------
        groups : sequence of str, optional
            Default ``programme.matching.covariates``.
        """
        groups = list(groups if groups is not None else self.programme.matching.covariates)
        out: list[str] = []
        for g in groups:
            if g == "conditions":
                out += [f"cond_{c}" for c in CONDITIONS]
            elif g == "prior_utilisation_12m":
                out += [f"prior{PRIOR_WINDOWS[0]}_{s}" for s in self.settings]
            elif g == "prior_utilisation_3m":
                out += [f"prior{PRIOR_WINDOWS[1]}_{s}" for s in self.settings]
            else:
                if g not in self.candidates.columns:
                    raise KeyError(f"covariate '{g}' is not a column of the candidates table")
                out.append(g)
        return out

    def covariates_at(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The candidates' covariate columns for (person, date) rows, measured at those dates.

        For re-measuring matched controls at the exact index date they inherit from their
        participant (balance, outcome-model covariates): demographics at the date, conditions
        diagnosed by it, prior use to the day (:func:`evalkit.cohort.at_dates.covariates_at`).
        Same index as ``rows``.
        """
        from evalkit.cohort.at_dates import covariates_at

        if rows.empty or not {"person_id", "index_date"} <= set(rows.columns):
            return covariates_at(self, rows)  # its own empty result, or its error message
        # Each (person, date) is measured once per cohort: the sensitivity battery re-measures
        # mostly the same matched controls. Reassembled rows equal a fresh measurement
        # (tests/unit/cohort/test_panel_reuse.py); categories are re-derived from the rows.
        keys = pd.DataFrame(
            {
                "person_id": rows["person_id"].astype(str).to_numpy(),
                "index_date": pd.to_datetime(rows["index_date"])
                .dt.normalize()
                .astype("datetime64[s]")
                .to_numpy(),
            }
        )
        seen: pd.DataFrame | None = self.__dict__.get("_covariates_cache")
        pairs = keys.drop_duplicates(ignore_index=True)
        if seen is not None:
            flag = pairs.merge(
                seen[["person_id", "index_date"]],
                on=["person_id", "index_date"],
                how="left",
                indicator=True,
            )
            pairs = pairs.loc[(flag["_merge"] == "left_only").to_numpy()].reset_index(drop=True)
        if len(pairs):
            fresh = covariates_at(self, pairs).reset_index(drop=True)
            for c in ("sex", "ethnicity_group"):
                fresh[c] = fresh[c].astype(object)
            seen = fresh if seen is None else pd.concat([seen, fresh], ignore_index=True)
            self.__dict__["_covariates_cache"] = seen  # frozen dataclass: no setattr
        assert seen is not None
        out = keys.merge(seen, on=["person_id", "index_date"], how="left", validate="many_to_one")
        for c in ("sex", "ethnicity_group"):
            out[c] = out[c].astype("category")
        out.index = rows.index
        return out

    def window_coverage(self) -> pd.DataFrame:
        """Participants with complete windows: ``window``, ``complete``, ``incomplete``.

        Rows ``history_24m`` (observed from event month -24), ``followup_12m`` (through month
        11) and ``both``. Incomplete windows stay in the analysis (exposure 0 outside the data).
        """
        from evalkit.cohort.coverage import coverage_table

        return coverage_table(self.participants)

    # ---------------------------------------------------------------- views
    def tidy(self) -> pd.DataFrame:
        """Return counts per index month: ``index_month``, ``participants``, ``candidate_rows``.

        Returns
        -------
        pd.DataFrame
            One row per index month in the risk set, in calendar order.
        """
        if "tidy" not in self._cache:
            c = self.candidates
            g = c.groupby(["index_month", "referred"], observed=True).size().unstack(fill_value=0)
            g = g.reindex(columns=[1, 0], fill_value=0)
            out = pd.DataFrame(
                {
                    "index_month": g.index.astype(str),
                    "participants": g[1].to_numpy(dtype=np.int64),
                    "candidate_rows": g[0].to_numpy(dtype=np.int64),
                }
            )
            self._cache["tidy"] = out.sort_values("index_month", ignore_index=True)
        return self._cache["tidy"].copy()

    def summary(self) -> str:
        """Header, counts per index month and notes, as text."""
        head = [
            f"Cohort: {self.programme.slug} ({self.programme.title})",
            f"Participants: {self.n_participants} (excluded at index: {self.n_excluded})",
            f"Candidate control rows: {self.n_candidate_rows} "
            f"({self.n_candidate_people} people, {self.tidy().shape[0]} index months)",
            f"Activity extract: {self.data_start} to {self.data_end}",
        ]
        if self.spec.get("placebo_shift_months"):
            head.append(f"Placebo: index dates {self.spec['placebo_shift_months']} months earlier")
        table = self.tidy().to_string(index=False)
        notes = "\n".join(f"- {n}" for n in self.notes)
        return "\n".join(head) + "\n\n" + table + "\n\nNotes\n" + notes

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(self.summary()) + "</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe counts, spec and notes (no person-level rows)."""
        return json_safe(
            {
                "programme": self.programme.slug,
                "n_participants": self.n_participants,
                "n_excluded": self.n_excluded,
                "excluded_by_reason": self.excluded["reason"].value_counts().to_dict(),
                "n_candidate_rows": self.n_candidate_rows,
                "n_candidate_people": self.n_candidate_people,
                "data_start": self.data_start,
                "data_end": self.data_end,
                "by_month": self.tidy().to_dict(orient="records"),
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def plot_risk_set(self, ax: Any = None) -> Any:
        """Bar chart of candidate rows per index month, participants on a second axis.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3.5))
        t = self.tidy()
        x = np.arange(len(t))
        ax.bar(x, t["candidate_rows"], color="#9ecae1", label="candidate controls")
        ax.set_ylabel("candidate control rows")
        ax2 = ax.twinx()
        ax2.plot(x, t["participants"], color="#08519c", marker="o", label="participants")
        ax2.set_ylabel("participants")
        step = max(1, len(t) // 12)
        ax.set_xticks(x[::step])
        ax.set_xticklabels(t["index_month"].iloc[::step], rotation=45, ha="right")
        ax.set_title(f"Risk set by index month: {self.programme.slug}")
        return ax

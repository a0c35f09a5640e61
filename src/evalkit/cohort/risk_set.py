"""Participants, index dates and the stacked risk set of candidate controls.

The design is docs/design/methods.md, section 1.

:func:`build_cohort` returns a :class:`Cohort`: one row per participant and the stacked
candidate rows that :func:`evalkit.match` matches on. All heavy work (eligibility over the
county, prior utilisation over ~25 million activity rows) runs in the engine as Ibis
expressions; only the participants and the candidate rows (a few million at most, narrow integer
columns) come back into pandas.

Index dates
-----------
- A participant's index date is their first referral to the programme in the referral period
  (later referrals are part of their exposure).
- Candidate controls are stacked per calendar month in which at least one participant was
  referred. A candidate row's index date is the **1st of that month**: the person must be
  eligible on it (see :mod:`evalkit.cohort.eligibility`) and must not have been referred to
  the programme **before the first day of the next month**. So a person is a candidate in the
  months before their own referral, never in the month of it or after it, whatever day of the
  month the matched participant was referred on (matched controls inherit that day).
- Covariates are measured at each row's own index date: the participant's referral date, the
  1st of the month for a candidate. Prior utilisation counts events in ``[index - 12 months,
  index)`` and ``[index - 3 months, index)`` (calendar months, event months -12..-1 and -3..-1
  of the data contract's "Time").

Speed
-----
For candidate rows, whose index is the 1st of a month, prior windows are whole calendar months:
activity is first counted per person and calendar month (one pass over the activity table,
restricted to people in the risk set), each person-month count is fanned out to the 12 index
months it precedes, and joined on (person, month). Participants' exact dates use a direct date
range join, cheap for a few thousand rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort._tables import CohortError, Tables, activity_period, open_tables
from evalkit.cohort.eligibility import (
    EXCLUSION_REASONS,
    add_months,
    available_conditions,
    covariates_at_index,
    eligibility_checks,
    month_index,
)
from evalkit.config import Programme, UnitCostTable
from evalkit.contract import CONDITIONS
from evalkit.jsonsafe import json_safe

__all__ = ["PRIOR_WINDOWS", "Cohort", "build_cohort", "placebo_cohort"]

#: Prior-utilisation windows (months before index) measured as covariates (docs/design/methods.md).
PRIOR_WINDOWS: tuple[int, int] = (12, 3)
#: Event months the cohort's event store covers (the default panel, -24 .. 11).
STORE_MONTHS: tuple[int, int] = (-24, 11)
#: Largest candidate table brought into pandas (county scale is ~2 million rows).
MAX_CANDIDATE_ROWS = 20_000_000


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventStore:
    """Engine tables kept alive with a cohort so that panels need not rescan the activity file.

    ``pool`` holds everyone in the risk set with an integer key ``pk``; ``events`` their
    activity (``pk``, ``event_date``, ``setting_code`` = position in ``settings``) from
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
        ``started`` (the first referral has a start date), ``completed`` (its
        ``discharge_reason`` is ``completed``; for per-protocol), ``n_referrals`` (in the
        referral period).
    candidates : pd.DataFrame
        The stacked rows for matching, one per (person, index date), index equal to ``row_id``
        (0, 1, ... : participant rows first, then candidate rows, each by index date and
        person): ``row_id``, ``person_id``, ``index_date``, ``index_month``, ``referred``
        (1 participant, 0 candidate control), ``age``, ``sex``, ``imd_decile``,
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
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def event_store(self) -> EventStore | None:
        """Engine tables of the risk set's activity, if still held (used by build_panel)."""
        return self._cache.get("event_store")

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
        """Candidate control rows (person-months), participants' rows not counted."""
        return int((self.candidates["referred"] == 0).sum())

    @property
    def n_candidate_people(self) -> int:
        """Distinct people among the candidate control rows."""
        return int(self.candidates.loc[self.candidates["referred"] == 0, "person_id"].nunique())

    @property
    def settings(self) -> list[str]:
        """Activity settings measured (the programme's outcome settings)."""
        return list(self.programme.outcomes.settings)

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


# --------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------
def build_cohort(
    data_dir: Path | str,
    programme: Programme,
    *,
    unit_costs: UnitCostTable,
    con: Any = None,
    referral_period: tuple[dt.date | None, dt.date | None] | None = None,
    data_period: tuple[dt.date, dt.date] | None = None,
) -> Cohort:
    """Participants, their index dates and the stacked risk set of candidate controls.

    Parameters
    ----------
    data_dir : Path or str
        Directory of processed Parquet tables (``population``, ``activity``, ``referrals``).
    programme : Programme
        Eligibility (age range, conditions), outcome settings and baseline months.
    unit_costs : UnitCostTable
        Unit costs, kept for :func:`~evalkit.cohort.build_panel` (every setting must have one).
    con : ibis backend, optional
        Engine connection; default :func:`evalkit.engine.connect` (DuckDB).
    referral_period : (date or None, date or None), optional
        First and last referral date (inclusive) that can be an index; default every referral
        in the table. Referrals outside it still stop a person being a control after them.
    data_period : (date, date), optional
        First and last day the activity extract covers; default its first and last event date.

    Returns
    -------
    Cohort

    Raises
    ------
    CohortError
        A table or column is missing, the programme has no referrals, or no referred person is
        eligible at index.
    """
    missing = [s for s in programme.outcomes.settings if s not in unit_costs.costs]
    if missing:
        raise CohortError(f"no unit cost for setting(s) {missing}")
    tables = open_tables(data_dir, con)
    start, end = data_period if data_period is not None else activity_period(tables)
    period = referral_period or (None, None)
    history = max(programme.outcomes.baseline_months, PRIOR_WINDOWS[0])
    notes: list[str] = []

    first = _first_referrals(tables, programme, period)
    if first.empty:
        raise CohortError(f"no referrals to programme '{programme.slug}' in the referral period")
    checked = _check_participants(tables, first, programme, start, history)
    participants = checked[checked["reason"].isna()].drop(columns="reason")
    excluded = checked.loc[checked["reason"].notna(), ["person_id", "index_date", "reason"]]
    if participants.empty:
        raise CohortError(
            f"none of the {len(first)} people referred to '{programme.slug}' is eligible at "
            f"index: {excluded['reason'].value_counts().to_dict()}"
        )
    notes += _participant_notes(programme, first, excluded, history, period)

    blocks = _referral_blocks(tables, programme)
    candidates, store = _risk_set(tables, participants, blocks, programme, start, history)
    participants = _attach_row_ids(participants, candidates)
    notes += _candidate_notes(tables, programme, candidates, start, end, data_period is None)

    spec = {
        "data_dir": str(data_dir),
        "programme": programme.slug,
        "eligibility": programme.eligibility.model_dump(),
        "settings": list(programme.outcomes.settings),
        "history_months": history,
        "prior_windows_months": list(PRIOR_WINDOWS),
        "referral_period": [p.isoformat() if p else None for p in period],
        "data_period": [start.isoformat(), end.isoformat()],
        "candidate_index_day": 1,
        "unit_costs": unit_costs.name,
        "placebo_shift_months": 0,
    }
    return Cohort(
        participants=participants.reset_index(drop=True),
        candidates=candidates,
        excluded=excluded.reset_index(drop=True),
        data_start=start,
        data_end=end,
        spec=spec,
        notes=tuple(notes),
        programme=programme,
        unit_costs=unit_costs,
        data_dir=Path(data_dir),
        _cache={"event_store": store},
    )


def placebo_cohort(cohort: Cohort, shift_months: int = 18, *, con: Any = None) -> Cohort:
    """Rebuild the cohort with index dates ``shift_months`` calendar months earlier.

    For the placebo sensitivity analysis (docs/design/methods.md): participants without
    ``shift_months + history`` months (30 by default) of observed registration before their
    real index are left out; the others keep their eligibility at the real index (they are the
    same people) and get covariates at the placebo date. Candidate rows are rebuilt at the
    shifted months under the usual rules, with each placebo participant treated as referred on
    their placebo date (never a candidate in that month or after) as well as on their real one.

    Parameters
    ----------
    cohort : Cohort
        From :func:`build_cohort`.
    shift_months : int
        Months to move each index date back (default 18).
    con : ibis backend, optional
        Engine connection; default a new DuckDB connection.

    Returns
    -------
    Cohort
        ``spec["placebo_shift_months"]`` is ``shift_months``; ``excluded`` lists participants
        left out for short history.
    """
    if shift_months < 1:
        raise ValueError("shift_months must be a positive number of months")
    prog = cohort.programme
    history = cohort.spec["history_months"]
    tables = open_tables(cohort.data_dir, con)
    parts = cohort.participants.copy()
    shifted = _add_months_series(parts["index_date"], -shift_months)
    hist = _observed_from(tables, parts["person_id"], cohort.data_start)
    need = _add_months_series(parts["index_date"], -(shift_months + history))
    ok = (parts["person_id"].map(hist) <= need).fillna(False).astype(bool)
    left_out = parts.loc[~ok, ["person_id", "index_date"]].assign(
        reason="short_history_for_placebo"
    )
    parts = parts.loc[ok].copy()
    parts["real_index_date"] = parts["index_date"]
    parts["index_date"] = shifted[ok].to_numpy()
    if parts.empty:
        raise CohortError(
            f"no participant has {shift_months + history} months of history for the placebo"
        )
    parts["index_month"] = parts["index_date"].dt.strftime("%Y-%m")
    parts = parts.drop(columns="row_id").sort_values(["index_date", "person_id"])
    blocks_extra = parts[["person_id", "index_date"]].rename(columns={"index_date": "block_date"})
    blocks = _referral_blocks(tables, prog, extra=blocks_extra)
    candidates, store = _risk_set(tables, parts, blocks, prog, cohort.data_start, history)
    parts = _attach_row_ids(parts, candidates)
    lacking = _lacking_condition(candidates, prog)
    notes = [
        f"Placebo index dates: each participant's referral date minus {shift_months} calendar "
        f"months; {len(parts)} of {cohort.n_participants} participants have the "
        f"{shift_months + history} months of observed registration it needs "
        f"({len(left_out)} left out).",
        "Placebo participants keep their eligibility at the real index; covariates are "
        "measured at the placebo date.",
    ]
    if lacking:
        notes.append(
            f"{lacking} placebo participant(s) had none of the required conditions yet at the "
            "placebo date (kept; candidates must have one)."
        )
    notes += _candidate_notes(tables, prog, candidates, cohort.data_start, cohort.data_end, False)
    spec = dict(cohort.spec, placebo_shift_months=shift_months)
    return Cohort(
        participants=parts.reset_index(drop=True),
        candidates=candidates,
        excluded=pd.concat([cohort.excluded, left_out], ignore_index=True),
        data_start=cohort.data_start,
        data_end=cohort.data_end,
        spec=spec,
        notes=tuple(notes),
        programme=prog,
        unit_costs=cohort.unit_costs,
        data_dir=cohort.data_dir,
        _cache={"event_store": store},
    )


# --------------------------------------------------------------------------------------------
# Participants
# --------------------------------------------------------------------------------------------
def _first_referrals(
    tables: Tables, programme: Programme, period: tuple[dt.date | None, dt.date | None]
) -> pd.DataFrame:
    """First referral per person in the referral period (ties on a date: lowest episode_id)."""
    ref = tables.referrals
    r = ref.filter(ref.programme == programme.slug)
    lo, hi = period
    if lo is not None:
        r = r.filter(r.referral_date >= lo)
    if hi is not None:
        r = r.filter(r.referral_date <= hi)
    by_person = ibis.window(group_by=r.person_id, order_by=[r.referral_date, r.episode_id])
    r = r.mutate(
        _rn=ibis.row_number().over(by_person),
        n_referrals=r.episode_id.count().over(ibis.window(group_by=r.person_id)),
    )
    first = r.filter(r._rn == 0).select(
        "person_id",
        "episode_id",
        index_date=r.referral_date,
        started=r.start_date.notnull(),
        completed=(r.discharge_reason == "completed").fill_null(False),
        n_referrals=r.n_referrals.cast("int32"),
    )
    out = tables.fetch(first)
    out["index_date"] = _to_date_series(out["index_date"])
    return out


def _check_participants(
    tables: Tables, first: pd.DataFrame, programme: Programme, start: dt.date, history: int
) -> pd.DataFrame:
    """Attach the first failing eligibility rule (``reason``; missing = eligible)."""
    pop = tables.population
    rows = ibis.memtable(first[["person_id", "index_date"]]).cast({"index_date": "date"})
    j = rows.left_join(pop, rows.person_id == pop.person_id)
    checks = eligibility_checks(
        j, j.index_date, programme, data_start=start, history_months=history
    )
    flags = j.select(
        person_id=j.person_id,
        not_in_population=j.person_id_right.isnull(),
        **{k: v.fill_null(False) for k, v in checks.items()},
    )
    res = tables.fetch(flags)
    res = first.merge(res, on="person_id", how="left", validate="one_to_one")
    reason = pd.Series(pd.NA, index=res.index, dtype="object")
    for r in EXCLUSION_REASONS:
        fails = res[r].astype(bool) if r == "not_in_population" else ~res[r].astype(bool)
        reason = reason.where(reason.notna() | ~fails, r)
    res["reason"] = reason
    res = res.drop(columns=list(EXCLUSION_REASONS))
    res["index_month"] = res["index_date"].dt.strftime("%Y-%m")
    cols = [
        "person_id",
        "episode_id",
        "index_date",
        "index_month",
        "started",
        "completed",
        "n_referrals",
        "reason",
    ]
    return res[cols].sort_values(["index_date", "person_id"], ignore_index=True)


def _referral_blocks(
    tables: Tables, programme: Programme, extra: pd.DataFrame | None = None
) -> ir.Table | pd.DataFrame:
    """Per referred person, the first date from which they can no longer be a control."""
    ref = tables.referrals
    r = ref.filter(ref.programme == programme.slug).select("person_id", block_date="referral_date")
    if extra is not None and len(extra):
        # Small: bring the programme's referral blocks over and combine in pandas; the result
        # is uploaded as a table by the risk-set builder.
        base = tables.fetch(r)
        both = pd.concat([base, extra[["person_id", "block_date"]]], ignore_index=True)
        both["block_date"] = _to_date_series(both["block_date"])
        return both.groupby("person_id", as_index=False)["block_date"].min()
    return r.group_by("person_id").aggregate(block_date=r.block_date.min())


# --------------------------------------------------------------------------------------------
# Risk set
# --------------------------------------------------------------------------------------------
def _month_table(index_dates: pd.Series) -> pd.DataFrame:
    months = sorted({(d.year, d.month) for d in index_dates})
    first = [dt.date(y, m, 1) for y, m in months]
    return pd.DataFrame(
        {
            "index_date": first,
            "next_month": [_add_months_py(d, 1) for d in first],
            "index_month": [d.strftime("%Y-%m") for d in first],
        }
    )


def _risk_set(
    tables: Tables,
    participants: pd.DataFrame,
    blocks: ir.Table | pd.DataFrame,
    programme: Programme,
    start: dt.date,
    history: int,
) -> tuple[pd.DataFrame, EventStore]:
    """Participant rows plus candidate rows per index month, with covariates at index."""
    pop = tables.population
    settings = list(programme.outcomes.settings)
    conds = available_conditions(pop)

    months = _month_table(participants["index_date"])
    scratch: list[str] = []
    try:
        return _risk_set_inner(
            tables,
            participants,
            months,
            blocks,
            programme,
            start,
            history,
            settings,
            conds,
            scratch,
        )
    finally:
        tables.drop(*scratch)


def _risk_set_inner(
    tables: Tables,
    participants: pd.DataFrame,
    months: pd.DataFrame,
    blocks: Any,
    programme: Programme,
    start: dt.date,
    history: int,
    settings: list[str],
    conds: list[str],
    scratch: list[str],
) -> tuple[pd.DataFrame, EventStore]:
    pop, act = tables.population, tables.activity
    name, mt = tables.upload(
        months, "months", {"index_date": "date", "next_month": "date", "index_month": "string"}
    )
    scratch.append(name)
    if not isinstance(blocks, ir.Table):
        name, blocks = tables.upload(
            blocks, "blocks", {"person_id": "string", "block_date": "date"}
        )
        scratch.append(name)
    name, parts = tables.upload(
        participants,
        "participants",
        {"person_id": "string", "index_date": "date", "index_month": "string"},
    )
    scratch.append(name)

    # 1. The pool: everyone who could be a candidate in some index month (a cheap static
    # pre-filter that keeps the cross join with the months small), plus the participants, with
    # an integer key ``pk`` (in person_id order) that every later join uses instead of the id.
    first_month, last_month = months["index_date"].min(), months["index_date"].max()
    req = [c for c in programme.eligibility.conditions_any if c in pop.columns]
    maybe = (
        ibis.or_(*[pop[c].notnull() & (pop[c] <= last_month) for c in req])
        & (pop.registered_from <= _add_months_py(last_month, -history))
        & (pop.registered_to.isnull() | (pop.registered_to >= first_month))
        & (pop.date_of_death.isnull() | (pop.date_of_death >= first_month))
    )
    pool = pop.filter(maybe | pop.person_id.isin(parts.person_id))
    pool = pool.mutate(
        _maybe=maybe,
        pk=(ibis.row_number().over(order_by=pool.person_id) + 1).cast("int32"),
    )
    pool = tables.materialize(pool, "pool", [])  # kept: the cohort's event store

    # 2. Candidate rows: the pool x the index months, eligible on the 1st, not yet referred.
    grid = pool.filter(pool._maybe).cross_join(mt)
    checks = eligibility_checks(
        grid, grid.index_date, programme, data_start=start, history_months=history
    )
    grid = grid.filter(*checks.values())
    grid = grid.left_join(blocks, grid.person_id == blocks.person_id)
    grid = grid.filter(grid.block_date.isnull() | (grid.block_date >= grid.next_month))
    cand = grid.select("pk", "index_date", "index_month", referred=ibis.literal(0, "int8"))
    pj = parts.join(pool.select("person_id", "pk"), "person_id")
    prow = pj.select("pk", "index_date", "index_month", referred=ibis.literal(1, "int8"))
    stacked = prow.union(cand)
    stacked = stacked.mutate(
        row_id=ibis.row_number().over(
            order_by=[ibis.desc(stacked.referred), stacked.index_date, stacked.pk]
        )
    )
    j = stacked.join(pool, "pk")
    cov = covariates_at_index(j, j.index_date, conds)
    rows = j.select("row_id", "pk", "person_id", "index_date", "index_month", "referred", **cov)
    df = tables.fetch(rows.order_by("row_id"), limit=MAX_CANDIDATE_ROWS)
    df["row_id"] = df["row_id"].astype(np.int64)
    df.index = pd.RangeIndex(len(df))
    if not (df["row_id"].to_numpy() == np.arange(len(df))).all():
        raise CohortError("internal error: row ids are not 0..n-1 in order")
    df["index_date"] = _to_date_series(df["index_date"])

    # 3. Activity of the pool, read once, with integer keys: the prior windows and the default
    # panel's reach (kept with the cohort, so build_panel does not rescan the activity file).
    first_index = min(first_month, df["index_date"].min().date())
    last_index = df["index_date"].max().date()
    lo = _add_months_py(first_index, -max(PRIOR_WINDOWS[0], -STORE_MONTHS[0]))
    hi = _add_months_py(last_index, STORE_MONTHS[1] + 1)
    ev = act.filter(act.event_date >= lo, act.event_date < hi, act.setting.isin(settings)).join(
        pool.select("person_id", "pk"), "person_id"
    )
    ev = ev.select("pk", "event_date", setting_code=_setting_code(ev.setting, settings))
    ev = tables.materialize(ev, "events", [])  # kept: the cohort's event store
    store = EventStore(tables, pool, ev, tuple(settings), lo, hi)

    prior = np.zeros((len(df), 2 * len(settings)), dtype=np.int32)
    is_p = df["referred"].to_numpy() == 1
    prior[is_p] = _prior_exact(tables, ev, df.loc[is_p], settings, scratch)
    prior[~is_p] = _prior_monthly(
        tables, ev.filter(ev.event_date < last_index), df.loc[~is_p], settings
    )
    names = [f"prior{w}_{s}" for w in PRIOR_WINDOWS for s in settings]
    df = pd.concat(
        [df.drop(columns="pk"), pd.DataFrame(prior, columns=names, index=df.index)], axis=1
    )
    for c in ("sex", "ethnicity_group", "index_month"):
        df[c] = df[c].astype("category")
    return df, store


def _setting_code(setting: ir.StringValue, settings: Sequence[str]) -> ir.IntegerValue:
    """Code a setting as a small integer (its position in ``settings``)."""
    return ibis.cases(*[(setting == s, i) for i, s in enumerate(settings)]).cast("int8")


def _prior_exact(
    tables: Tables,
    ev: ir.Table,
    rows: pd.DataFrame,
    settings: Sequence[str],
    scratch: list[str],
) -> np.ndarray:
    """Prior counts by a date-range join of events to each row's own windows (participants)."""
    w12, w3 = PRIOR_WINDOWS
    k = len(settings)
    out = np.zeros((len(rows), 2 * k), dtype=np.int32)
    if rows.empty:
        return out
    name, r = tables.upload(
        rows.assign(pk=rows["pk"].astype(np.int64)),
        "prow",
        {"row_id": "int64", "pk": "int32", "index_date": "date"},
    )
    scratch.append(name)
    j = r.join(ev, "pk")
    j = j.filter(j.event_date >= add_months(j.index_date, -w12), j.event_date < j.index_date)
    in3 = j.event_date >= add_months(j.index_date, -w3)
    agg = {}
    for i in range(k):
        agg[f"a{i}"] = (j.setting_code == i).ifelse(1, 0).sum()
        agg[f"b{i}"] = ((j.setting_code == i) & in3).ifelse(1, 0).sum()
    res = tables.fetch(j.group_by("row_id").aggregate(**agg))
    pos = pd.Index(rows["row_id"].to_numpy()).get_indexer(res["row_id"].to_numpy())
    for i in range(k):
        out[pos, i] = res[f"a{i}"].to_numpy()
        out[pos, k + i] = res[f"b{i}"].to_numpy()
    return out


def _prior_monthly(
    tables: Tables, ev: ir.Table, rows: pd.DataFrame, settings: Sequence[str]
) -> np.ndarray:
    """Prior counts for rows indexed on the 1st of a month, from person-month counts.

    The engine counts events per (person, calendar month, setting): an aggregate of at most
    people x months x settings rows (about 1.3 million at county scale, small integers). The
    moving 12- and 3-month sums are then differences of cumulative sums over a dense
    (person, setting, month) array in numpy. On the shared 2-core machine this was several
    times faster than each SQL formulation tried (a ``RANGE`` window, a month fan-out join,
    ``ASOF`` joins on cumulative sums, a dense ``ROWS`` window); ``docs/decisions/cohort.md``
    has the timings.
    """
    w12, w3 = PRIOR_WINDOWS
    k = len(settings)
    out = np.zeros((len(rows), 2 * k), dtype=np.int32)
    if rows.empty:
        return out
    row_mi = (rows["index_date"].dt.year * 12 + rows["index_date"].dt.month - 1).to_numpy()
    pk = rows["pk"].to_numpy(dtype=np.int64)
    m0 = int(row_mi.min()) - w12
    ev = ev.mutate(mi=month_index(ev.event_date))
    ev = ev.filter(ev.mi >= m0, ev.mi < int(row_mi.max()))
    pm = ev.group_by("pk", "setting_code", "mi").aggregate(n=ev.count())
    pm = tables.fetch(pm, limit=4 * MAX_CANDIDATE_ROWS)
    n_months = int(row_mi.max()) - m0
    n_pk = int(max(pk.max(), pm["pk"].max() if len(pm) else 0)) + 1
    # counts[pk, setting, 1 + month - m0] for months m0 .. m0 + n_months - 1; slot 0 stays 0,
    # so after a cumulative sum, cum[.., t] counts months m0 .. m0 + t - 1.
    counts = np.zeros((n_pk, k, n_months + 1), dtype=np.int32)
    if len(pm):
        slot = pm["mi"].to_numpy(dtype=np.int64) - m0 + 1
        keep = (slot >= 1) & (slot <= n_months)
        np.add.at(
            counts,
            (
                pm["pk"].to_numpy(dtype=np.int64)[keep],
                pm["setting_code"].to_numpy(dtype=np.int64)[keep],
                slot[keep],
            ),
            pm["n"].to_numpy(dtype=np.int32)[keep],
        )
    cum = np.cumsum(counts, axis=2, dtype=np.int32)
    t = row_mi - m0  # cum[.., t] counts the months before the row's month
    for i in range(k):
        c = cum[:, i, :]
        out[:, i] = c[pk, t] - c[pk, t - w12]
        out[:, k + i] = c[pk, t] - c[pk, t - w3]
    return out


def _attach_row_ids(participants: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
    prow = candidates.loc[candidates["referred"] == 1, ["row_id", "person_id"]]
    out = participants.drop(columns=["row_id"], errors="ignore").merge(
        prow, on="person_id", how="left", validate="one_to_one"
    )
    cols = ["person_id", "row_id", *[c for c in out.columns if c not in ("person_id", "row_id")]]
    return out[cols].sort_values(["index_date", "person_id"], ignore_index=True)


# --------------------------------------------------------------------------------------------
# Notes and small helpers
# --------------------------------------------------------------------------------------------
def _participant_notes(
    programme: Programme,
    first: pd.DataFrame,
    excluded: pd.DataFrame,
    history: int,
    period: tuple[dt.date | None, dt.date | None],
) -> list[str]:
    e = programme.eligibility
    where = (
        "in the referral table"
        if period == (None, None)
        else f"between {period[0] or 'the start'} and {period[1] or 'the end'}"
    )
    notes = [
        f"{len(first)} people referred to {programme.slug} {where}; index date = first referral "
        f"(later referrals of the same person are part of their exposure); "
        f"{len(first) - len(excluded)} eligible at index.",
        f"Eligibility at index: age {e.age_min}-{e.age_max} (year of birth only: age = index "
        f"year - year of birth, eligible when {e.age_min} <= age <= {e.age_max + 1}, i.e. "
        f"possibly in range on the index date), any of {', '.join(e.conditions_any)} diagnosed "
        f"on or before index, registered and alive on the index date, with {history} months of "
        "observed registration before it.",
    ]
    if len(excluded):
        counts = excluded["reason"].value_counts()
        parts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items())
        notes.append(f"{len(excluded)} referred people excluded at index ({parts}).")
    return notes


def _candidate_notes(
    tables: Tables,
    programme: Programme,
    candidates: pd.DataFrame,
    start: dt.date,
    end: dt.date,
    inferred: bool,
) -> list[str]:
    c = candidates[candidates["referred"] == 0]
    per_month = candidates.groupby("index_month", observed=True)["referred"].agg(["sum", "size"])
    empty = per_month.index[(per_month["size"] - per_month["sum"]) == 0].astype(str).tolist()
    notes = [
        f"Risk set: {len(c)} candidate control rows ({c['person_id'].nunique()} people) over "
        f"{len(per_month)} index months; a candidate's index date is the 1st of the month, and "
        "people referred to the programme before the end of that month are not candidates "
        "(a person is a control before their own referral, never after).",
        f"Activity extract {start} to {end}"
        + (" (first and last event date in the activity table)" if inferred else " (given)")
        + "; person-time outside it is not at risk.",
    ]
    missing = [x for x in CONDITIONS if x not in tables.population.columns]
    if missing:
        notes.append(f"Conditions not in the extract, recorded as 0: {', '.join(missing)}.")
    if empty:
        notes.append(f"Index months with no candidate controls: {', '.join(empty)}.")
    return notes


def _lacking_condition(candidates: pd.DataFrame, programme: Programme) -> int:
    p = candidates[candidates["referred"] == 1]
    cols = [f"cond_{c}" for c in programme.eligibility.conditions_any]
    return int((p[cols].sum(axis=1) == 0).sum())


def _observed_from(tables: Tables, person_ids: pd.Series, start: dt.date) -> pd.Series:
    pop = tables.population
    ids = ibis.memtable(pd.DataFrame({"person_id": person_ids.unique()}))
    j = pop.semi_join(ids, "person_id")
    res = tables.fetch(
        j.select("person_id", f=ibis.greatest(j.registered_from, ibis.literal(start)))
    )
    return pd.Series(_to_date_series(res["f"]).to_numpy(), index=res["person_id"])


def _add_months_py(d: dt.date, months: int) -> dt.date:
    """Python twin of :func:`evalkit.cohort.eligibility.add_months` (day clamped)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    last = (nxt - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def _to_date_series(s: pd.Series) -> pd.Series:
    """Dates from the engine or the caller as ``datetime64[s]`` (midnight)."""
    return pd.to_datetime(s).dt.normalize().astype("datetime64[s]")


def _add_months_series(s: pd.Series, months: int) -> pd.Series:
    """Vectorised :func:`_add_months_py` on a datetime Series (day clamped to month length)."""
    d = s.to_numpy(dtype="datetime64[D]")
    month_start = d.astype("datetime64[M]")
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.timedelta64(months, "M")
    length = (
        (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    ).astype(np.int64)
    out = target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")
    return pd.Series(out.astype("datetime64[s]"), index=s.index)

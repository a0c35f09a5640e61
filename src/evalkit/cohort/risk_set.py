"""Participants, index dates and the stacked risk set of candidate controls.

The design is docs/design/methods.md, section 1.

:func:`build_cohort` returns a :class:`Cohort`: one row per participant and the stacked
candidate rows that :func:`evalkit.match` matches on. The work over the county (eligibility of
the pool on every index date, the ~25 million activity rows) runs in the engine as Ibis
expressions; only narrow integer columns of the candidate rows (a few million at most) and the
risk set's events (person key, day number, setting code) come back, and numpy turns them into
the covariates.

Index dates
-----------
- A participant's index date is their first referral to the programme in the referral period
  (later referrals are part of their exposure). Each referral date opens a trial: a person
  eligible and not yet referred on it may be a control (docs/design/methods.md, section 1).
- ``risk_set="week"`` (default): candidate controls are stacked per ISO week (Monday to
  Sunday) holding at least one participant's index date. A candidate row's index date is the
  **Monday**; the person must be eligible on it and **not referred to the programme on or
  before it**. People referred later (in that week or after) stay candidates: their first
  referral after the row's date is ``own_referral_date``, for censoring only, never for
  choosing. ``index_week`` (the Monday, ISO text) sits beside ``index_month``.
- ``risk_set="month"`` (the earlier design, kept for comparison): per calendar month with a
  referral, index date the **1st**, and people referred before the next month are not
  candidates.
- Matched controls inherit their participant's exact index date; ``Cohort.covariates_at``
  re-measures them there.

Covariates
----------
Measured at each row's own index date: the participant's referral date, the Monday (or the 1st)
for a candidate; prior use exact to the day. With ``event_months="day_after"`` (default, the
data contract) the prior-``w`` window is ``(index - w months, index]``, the index day included
(the referring consultation is baseline); with ``"index"``, ``[index - w months, index)``.
Demographics and conditions are gathered in numpy from per-person arrays, and prior counts
are computed in numpy from the risk set's events brought over once as integers: only narrow
integer columns of the (millions of) candidate rows leave the engine.

Modules
-------
This module builds the cohort (:func:`build_cohort`, :func:`placebo_cohort`) and its stacked
candidate rows; :mod:`~evalkit.cohort.participants` finds the participants and their index
dates, :mod:`~evalkit.cohort.eligibility` holds the rules and the covariates at index,
:mod:`~evalkit.cohort.prior_utilisation` counts the prior windows (exact to the day, one pass
over the activity of the people in the risk set), :mod:`~evalkit.cohort.at_dates` measures
covariates at any dates, :mod:`~evalkit.cohort.coverage` flags short windows and
:mod:`~evalkit.cohort.result` holds the :class:`Cohort` it returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from evalkit.cohort.at_dates import (
    PeopleArrays,
    covariates_from_attributes,
    fetch_events,
    people_attributes,
)
from evalkit.cohort.coverage import WINDOW_FLAGS, coverage_note, window_flags
from evalkit.cohort.design import INDEX_DAY, RISK_SETS, Design
from evalkit.cohort.eligibility import available_conditions, eligibility_checks
from evalkit.cohort.notes import candidate_notes, negative_control_notes
from evalkit.cohort.participants import (
    attach_row_ids,
    check_participants,
    count_lacking_condition,
    first_referrals,
    observed_from,
    participant_notes,
    referral_blocks,
)
from evalkit.cohort.prior_utilisation import (
    PRIOR_WINDOWS,
    prior_counts_days,
    prior_counts_grid,
)
from evalkit.cohort.result import Cohort, EventStore
from evalkit.cohort.tables import (
    MAX_CANDIDATE_ROWS,
    CohortError,
    Tables,
    activity_period,
    open_tables,
    settings_in_activity,
)
from evalkit.config import Programme, UnitCostTable
from evalkit.dates import (
    EVENT_MONTH_CONVENTIONS,
    add_months,
    add_months_series,
    event_month_start_days,
    iso_week_monday,
    iso_week_monday_series,
)

# Cohort, EventStore and PRIOR_WINDOWS are defined next door and re-exported from here too.
__all__ = [
    "PRIOR_WINDOWS",
    "RISK_SETS",
    "STORE_MONTHS",
    "Cohort",
    "EventStore",
    "build_cohort",
    "placebo_cohort",
]

#: Event months the cohort's event store covers (the default panel, -24 .. 11).
STORE_MONTHS: tuple[int, int] = (-24, 11)


def add_index_week(parts: pd.DataFrame) -> pd.DataFrame:
    """Add ``index_week``: the Monday of the index date's ISO week, as ISO date text."""
    out = parts.copy()
    out["index_week"] = iso_week_monday_series(out["index_date"]).dt.strftime("%Y-%m-%d")
    return out


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
    risk_set: str = "week",
    event_months: str = "day_after",
    index_day: str = "excluded",
) -> Cohort:
    """Participants, their index dates and the stacked risk set of candidate controls.

    Parameters
    ----------
    data_dir : Path or str
        Directory of processed Parquet tables (``population``, ``activity``, ``referrals``).
    programme : Programme
        Eligibility (age range, conditions), outcome settings and baseline months.
    unit_costs : UnitCostTable
        Unit costs, kept for :func:`~evalkit.cohort.build_panel` (every outcome setting must
        have one; the negative-control settings, never costed, need none).
    con : ibis backend, optional
        Engine connection; default :func:`evalkit.engine.connect` (DuckDB).
    referral_period : (date or None, date or None), optional
        First and last referral date (inclusive) that can be an index; default every referral
        in the table. Referrals outside it still stop a person being a control after them.
    data_period : (date, date), optional
        First and last day the activity extract covers; default its first and last event date.
    risk_set : {"week", "month"}
        ``"week"`` (default): one candidate row per person and ISO week (Monday to Sunday)
        holding a participant's index date, indexed on the Monday, for people eligible and not
        yet referred on it. ``"month"``: the earlier design, indexed on the 1st of each index
        month, for people not referred before the next month.
    event_months : {"day_after", "index"}
        ``"day_after"`` (default, the data contract): the index day ends month -1 and prior
        windows are ``(index - w months, index]``. ``"index"``: month 0 starts on the index date
        and prior windows are ``[index - w months, index)`` (the earlier design).
    index_day : {"excluded", "baseline"}
        With ``event_months="day_after"``: ``"excluded"`` (default) leaves the index day's own
        contacts out of the prior-use windows and out of month -1's counts and person-time,
        for participants and (at the date they inherit) controls alike: the consultation that
        makes a referral is part of the referral, and counting it as baseline use biased the
        matched DiD downwards in the hard synthetic world (docs/decisions/index-day.md).
        ``"baseline"``: the data contract's literal reading (contacts on the index date are
        baseline use), kept as a sensitivity analysis.

    Returns
    -------
    Cohort

    Raises
    ------
    CohortError
        A table or column is missing, the programme has no referrals, or no referred person is
        eligible at index.
    ValueError
        ``risk_set`` or ``event_months`` is not one of its values.
    """
    if risk_set not in RISK_SETS:
        raise ValueError(f"risk_set must be one of {RISK_SETS}, got {risk_set!r}")
    if event_months not in EVENT_MONTH_CONVENTIONS:
        raise ValueError(
            f"event_months must be one of {EVENT_MONTH_CONVENTIONS}, got {event_months!r}"
        )
    if index_day not in INDEX_DAY:
        raise ValueError(f"index_day must be one of {INDEX_DAY}, got {index_day!r}")
    design = Design(risk_set, event_months, index_day)
    missing = [s for s in programme.outcomes.settings if s not in unit_costs.costs]
    if missing:
        raise CohortError(f"no unit cost for setting(s) {missing}")
    tables = open_tables(data_dir, con)
    start, end = data_period if data_period is not None else activity_period(tables)
    period = referral_period or (None, None)
    wanted = list(programme.outcomes.negative_controls)
    present = settings_in_activity(tables, wanted)
    history = max(programme.outcomes.baseline_months, PRIOR_WINDOWS[0])
    notes: list[str] = []

    first = first_referrals(tables, programme, period)
    if first.empty:
        raise CohortError(f"no referrals to programme '{programme.slug}' in the referral period")
    checked = check_participants(tables, first, programme, start, history)
    participants = checked[checked["reason"].isna()].drop(columns="reason")
    excluded = checked.loc[checked["reason"].notna(), ["person_id", "index_date", "reason"]]
    if participants.empty:
        raise CohortError(
            f"none of the {len(first)} people referred to '{programme.slug}' is eligible at "
            f"index: {excluded['reason'].value_counts().to_dict()}"
        )
    notes += participant_notes(programme, first, excluded, history, period)

    blocks = referral_blocks(tables, programme)
    participants = add_index_week(participants)
    candidates, store = _risk_set(
        tables, participants, blocks, programme, start, history, design, present
    )
    participants = attach_row_ids(participants, candidates)
    participants = window_flags(tables, participants, start, end, event_months)
    notes += candidate_notes(tables, programme, candidates, start, end, data_period is None, design)
    notes.append(coverage_note(participants))
    notes += negative_control_notes(present, [s for s in wanted if s not in present])

    spec = {
        "data_dir": str(data_dir),
        "programme": programme.slug,
        "eligibility": programme.eligibility.model_dump(),
        "settings": list(programme.outcomes.settings),
        "negative_controls": present,
        "negative_controls_absent": [s for s in wanted if s not in present],
        "history_months": history,
        "prior_windows_months": list(PRIOR_WINDOWS),
        "referral_period": [p.isoformat() if p else None for p in period],
        "data_period": [start.isoformat(), end.isoformat()],
        "candidate_index_day": 1 if risk_set == "month" else "Monday",
        "risk_set": risk_set,
        "event_months": event_months,
        "index_day": index_day if event_months == "day_after" else "follow-up",
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
        event_store=store,
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
    shifted = add_months_series(parts["index_date"], -shift_months)
    hist = observed_from(tables, parts["person_id"], cohort.data_start)
    need = add_months_series(parts["index_date"], -(shift_months + history))
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
    parts = add_index_week(parts)
    parts = parts.drop(columns=["row_id", *WINDOW_FLAGS], errors="ignore")
    parts = parts.sort_values(["index_date", "person_id"])
    blocks_extra = parts[["person_id", "index_date"]].rename(columns={"index_date": "block_date"})
    blocks = referral_blocks(tables, prog, extra=blocks_extra)
    design = Design(
        cohort.spec.get("risk_set", "month"),
        cohort.spec.get("event_months", "index"),
        cohort.spec.get("index_day", "baseline"),
    )
    candidates, store = _risk_set(
        tables, parts, blocks, prog, cohort.data_start, history, design, cohort.negative_controls
    )
    parts = attach_row_ids(parts, candidates)
    parts = window_flags(tables, parts, cohort.data_start, cohort.data_end, design.event_months)
    lacking = count_lacking_condition(candidates, prog)
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
    notes += candidate_notes(
        tables, prog, candidates, cohort.data_start, cohort.data_end, False, design
    )
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
        event_store=store,
    )


# --------------------------------------------------------------------------------------------
# Risk set
# --------------------------------------------------------------------------------------------
def _index_table(index_dates: pd.Series, risk_set: str) -> pd.DataFrame:
    """Candidate index dates: the 1st of each index month or the Monday of each index week.

    ``free_from`` is the first day on which a referral no longer stops the person being a
    candidate on that date: the 1st of the next month (month design), the day after the
    Monday (week design: referred on or before the Monday is not a candidate).
    """
    if risk_set == "month":
        months = sorted({(d.year, d.month) for d in index_dates})
        first = [dt.date(y, m, 1) for y, m in months]
        free = [add_months(d, 1) for d in first]
    else:
        first = sorted({iso_week_monday(d.date()) for d in index_dates})
        free = [d + dt.timedelta(days=1) for d in first]
    return pd.DataFrame(
        {
            "index_date": first,
            "free_from": free,
            "index_month": [d.strftime("%Y-%m") for d in first],
            "index_week": [iso_week_monday(d).isoformat() for d in first],
        }
    )


def _risk_set(
    tables: Tables,
    participants: pd.DataFrame,
    blocks: ir.Table | pd.DataFrame,
    programme: Programme,
    start: dt.date,
    history: int,
    design: Design,
    negative_controls: Sequence[str] = (),
) -> tuple[pd.DataFrame, EventStore]:
    """Participant rows plus candidate rows per index month or week, with covariates at index.

    The event store holds the outcome settings' events and then ``negative_controls``' (for
    the panels); the prior-use covariates count the outcome settings only.
    """
    pop = tables.population
    settings = list(programme.outcomes.settings)
    conds = available_conditions(pop)

    months = _index_table(participants["index_date"], design.risk_set)
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
            design,
            list(negative_controls),
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
    design: Design,
    negative_controls: list[str],
) -> tuple[pd.DataFrame, EventStore]:
    pop, act = tables.population, tables.activity
    months = months.assign(
        ti=np.arange(len(months), dtype=np.int32),
        history_from=[add_months(d, -history) for d in months["index_date"]],
    )
    name, mt = tables.upload(
        months,
        "months",
        {"index_date": "date", "free_from": "date", "history_from": "date", "ti": "int32"},
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
        {
            "person_id": "string",
            "index_date": "date",
            "index_month": "string",
            "index_week": "string",
        },
    )
    scratch.append(name)

    # 1. The pool: everyone who could be a candidate in some index month (a cheap static
    # pre-filter that keeps the cross join with the months small), plus the participants, with
    # an integer key ``pk`` (in person_id order, as bytes on every engine) that every later join
    # uses instead of the id.
    first_month, last_month = months["index_date"].min(), months["index_date"].max()
    req = [c for c in programme.eligibility.conditions_any if c in pop.columns]
    maybe = (
        ibis.or_(*[pop[c].notnull() & (pop[c] <= last_month) for c in req])
        & (pop.registered_from <= add_months(last_month, -history))
        & (pop.registered_to.isnull() | (pop.registered_to >= first_month))
        & (pop.date_of_death.isnull() | (pop.date_of_death >= first_month))
    )
    pool = pop.filter(maybe | pop.person_id.isin(parts.person_id))
    pool = pool.mutate(
        _maybe=maybe,
        pk=(ibis.row_number().over(order_by=tables.byte_order(pool.person_id)) + 1).cast("int32"),
    )
    pool = tables.materialize(pool, "pool", [])  # kept: the cohort's event store

    # 2. Candidate rows: the pool x the index dates (1st of the month or Monday of the week),
    # eligible on that date and not referred before ``free_from``. The first referral, which
    # is then after the index date, is kept for censoring only.
    # The person-level columns the rules read, and the first referral, joined before the cross
    # join so that it carries as few and as narrow columns as possible.
    need = ["pk", "year_of_birth", "registered_from", "registered_to", "date_of_death", *req]
    people = pool.filter(pool._maybe).select(*need, "person_id")
    people = people.left_join(blocks, people.person_id == blocks.person_id).select(
        *need, "block_date"
    )
    grid = people.cross_join(mt)
    checks = eligibility_checks(
        grid,
        grid.index_date,
        programme,
        data_start=start,
        history_months=history,
        history_from=grid.history_from,
    )
    grid = grid.filter(*checks.values())
    grid = grid.filter(grid.block_date.isnull() | (grid.block_date >= grid.free_from))
    # Only narrow integer columns come back (person key, day numbers); the covariates are
    # gathered from the pool's per-person attributes in numpy (:func:`people_attributes`),
    # which keeps the transfer of millions of rows of strings out of the build.
    cand = grid.select(
        pk=grid.pk.cast("int32"),
        ti=grid.ti.cast("int32"),
        own=grid.block_date.epoch_days().cast("int32"),
    )
    pj = parts.join(pool.select("person_id", "pk"), "person_id")
    prow = pj.select(pk=pj.pk.cast("int32"), day=pj.index_date.epoch_days().cast("int32"))
    c_rows = tables.fetch(cand, limit=MAX_CANDIDATE_ROWS)
    # By index date, then person (numpy sorts the integer key faster than the engine here).
    n_pk = int(c_rows["pk"].max()) + 1 if len(c_rows) else 1
    key = c_rows["ti"].to_numpy(np.int64) * n_pk + c_rows["pk"].to_numpy(np.int64)
    c_rows = c_rows.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    p_rows = tables.fetch(prow.order_by(["day", "pk"]), limit=MAX_CANDIDATE_ROWS)
    attrs = people_attributes(tables, pool, conds)
    week_days = months["index_date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    cols = _stack_rows(p_rows, c_rows, week_days, attrs)

    # 3. Activity of the pool, read once, with integer keys: the prior windows and the default
    # panel's reach (kept with the cohort, so build_panel does not rescan the activity file).
    row_day = cols["index_date"].astype("datetime64[D]").astype(np.int64)
    first_index = min(first_month, _day_to_date(row_day.min()))
    last_index = _day_to_date(row_day.max())
    lo = add_months(first_index, -max(PRIOR_WINDOWS[0], -STORE_MONTHS[0]))
    # + 1 day: with the contract's event months, month 11 ends on index + 12 months.
    hi = add_months(last_index, STORE_MONTHS[1] + 1) + dt.timedelta(days=1)
    stored = [*settings, *negative_controls]
    ev = act.filter(act.event_date >= lo, act.event_date < hi, act.setting.isin(stored)).join(
        pool.select("person_id", "pk"), "person_id"
    )
    ev = ev.select("pk", "event_date", setting_code=_setting_code(ev.setting, stored))
    ev = tables.materialize(ev, "events", [])  # kept: the cohort's event store
    store = EventStore(tables, pool, ev, tuple(stored), lo, hi)

    pk = cols.pop("pk")
    outcome_events = ev.filter(ev.setting_code < len(settings))  # prior use: outcomes only
    cols.update(
        _prior_columns(
            tables, outcome_events, pk, row_day, cols["referred"], week_days, settings, design
        )
    )
    return pd.DataFrame(cols), store


def _day_to_date(day: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=int(day))


def _stack_rows(
    p_rows: pd.DataFrame, c_rows: pd.DataFrame, index_days: np.ndarray, attrs: PeopleArrays
) -> dict[str, Any]:
    """Columns of the participant rows then the candidate rows (each by index date and person).

    The candidates' columns in order up to the covariates, plus ``pk``; one DataFrame is built
    from them at the end, so the table of millions of rows is copied once.

    ``p_rows`` holds ``pk`` and ``day`` (day number), sorted by day then pk; ``c_rows`` holds
    ``pk``, ``ti`` (position in ``index_days``) and ``own`` (the first referral's day number,
    null if none), sorted by ti then pk; ``attrs`` is :func:`people_attributes`.
    """
    n_p = len(p_rows)
    ti = c_rows["ti"].to_numpy(np.int64)
    pk = np.concatenate([p_rows["pk"].to_numpy(np.int64), c_rows["pk"].to_numpy(np.int64)])
    day = np.concatenate([p_rows["day"].to_numpy(np.int64), index_days[ti]])
    own = np.concatenate(
        [
            np.full(n_p, np.datetime64("NaT"), dtype="datetime64[D]"),
            _days_to_dates(c_rows["own"]),
        ]
    )
    referred = np.zeros(len(pk), dtype=np.int8)
    referred[:n_p] = 1
    # Month and week labels per distinct day: the participants' days, then the index table's.
    p_days, p_inv = np.unique(p_rows["day"].to_numpy(np.int64), return_inverse=True)
    label_days = np.concatenate([p_days, index_days])
    which = np.concatenate([p_inv.ravel(), len(p_days) + ti])
    u = pd.Series(label_days.astype("datetime64[D]").astype("datetime64[s]"))
    months = u.dt.strftime("%Y-%m").to_numpy()
    weeks = iso_week_monday_series(u).dt.strftime("%Y-%m-%d").to_numpy()
    cov = covariates_from_attributes(attrs, pk, day)
    return {
        "row_id": np.arange(len(pk), dtype=np.int64),
        "pk": pk,
        "person_id": cov.pop("person_id"),
        "index_date": day.astype("datetime64[D]").astype("datetime64[s]"),
        "index_month": _categories(months, which),
        "index_week": _categories(weeks, which),
        "referred": referred,
        "own_referral_date": own.astype("datetime64[s]"),
        **cov,
    }


def _categories(labels: np.ndarray, inv: np.ndarray) -> pd.Categorical:
    """Categorical of ``labels[inv]`` without building the long array of strings."""
    cats, codes = np.unique(labels, return_inverse=True)
    return pd.Categorical.from_codes(codes[inv], categories=cats)


def _days_to_dates(s: pd.Series) -> np.ndarray:
    """Nullable day numbers as ``datetime64[D]`` (NaT for null)."""
    v = pd.array(s, dtype="Int64")
    out = np.full(len(v), np.datetime64("NaT"), dtype="datetime64[D]")
    ok = ~v.isna()
    out[ok] = v[ok].to_numpy(np.int64).astype("datetime64[D]")
    return out


def _prior_columns(
    tables: Tables,
    ev: ir.Table,
    pk: np.ndarray,
    row_day: np.ndarray,
    referred: np.ndarray,
    grid_days: np.ndarray,
    settings: list[str],
    design: Design,
) -> dict[str, np.ndarray]:
    """Prior counts for every row, exact to the day.

    The events of the risk set's people are brought over once (integer key, day number,
    setting code). Candidate rows sit on the grid of index dates (:func:`prior_counts_grid`);
    participants' rows, on any day, are counted by :func:`prior_counts_days`.
    """
    lo_day = int(event_month_start_days(row_day.min(), -PRIOR_WINDOWS[0], "index"))
    hi_day = int(row_day.max()) + 2
    evs = fetch_events(tables, ev, lo_day, hi_day)
    k = len(settings)
    # int32, as before: int16 would halve these columns, but numpy turns int16 into float32
    # in ufuncs (np.log1p of a count), a silent loss of precision for every consumer.
    dtype = np.int32
    prior = np.empty((len(pk), 2 * k), dtype=dtype)
    is_p = referred == 1
    args = (evs["pk"], evs["day"], evs["code"])
    excl = design.exclude_index_day
    prior[is_p] = prior_counts_days(
        *args, pk[is_p], row_day[is_p], k, design.event_months, exclude_index_day=excl
    )
    ti = np.searchsorted(grid_days, row_day[~is_p])
    prior[~is_p] = prior_counts_grid(
        *args,
        pk[~is_p],
        ti,
        grid_days,
        k,
        design.event_months,
        dtype=dtype,
        exclude_index_day=excl,
    )
    names = [f"prior{w}_{s}" for w in PRIOR_WINDOWS for s in settings]
    return {n: prior[:, i] for i, n in enumerate(names)}


def _setting_code(setting: ir.StringValue, settings: Sequence[str]) -> ir.IntegerValue:
    """Code a setting as a small integer (its position in ``settings``)."""
    return ibis.cases(*[(setting == s, i) for i, s in enumerate(settings)]).cast("int8")

"""Data-quality faults injected at a set rate, with a sidecar saying which rows and how.

Each fault makes exactly one row wrong in exactly one way, so intake must give it one specific
reason (``contract.FAULT_REASONS``). Rows that depend on a faulty person or episode (their
activity, referrals and measures) are listed as dependents, which intake quarantines as
``parent_quarantined``. Duplicates are inserted straight after the row they copy, so "first
occurrence kept" keeps the clean row. A conflicting submission is a copy of a referral from
another provider (:data:`OTHER_PROVIDER`): the same episode with different data, so intake
quarantines both rows (``conflicting_submissions``) and the episode's measures as dependents.
Row numbers are 1-based data rows (header not counted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.contract import FAULT_REASONS

IMPOSSIBLE_DATES_CSV = ("2021-02-30", "2019-13-01", "1800-01-01")
IMPOSSIBLE_DATE_PARQUET = -62_091  # 1800-01-01 as days since 1970
#: The provider of a conflicting copy of a referral (the same episode from a second provider).
OTHER_PROVIDER = "Second Provider (synthetic conflict)"


@dataclass
class TablePlan:
    """Faults planned for one table, on its original row positions."""

    n: int
    duplicate: list[int] = field(default_factory=list)  # insert a copy after these rows
    edits: dict[str, dict[int, object]] = field(default_factory=dict)  # column -> row -> value
    faults: list[tuple[int, str]] = field(default_factory=list)  # (row, kind); copies: row = orig
    dependents: list[int] = field(default_factory=list)
    copy_edits: dict[str, dict[int, object]] = field(default_factory=dict)  # of inserted copies

    def edit(self, column: str, row: int, value: object) -> None:
        """Set one cell (``None`` = empty)."""
        self.edits.setdefault(column, {})[row] = value

    def edit_copy(self, column: str, row: int, value: object) -> None:
        """Set one cell of the copy inserted after original row ``row`` (text columns only)."""
        self.copy_edits.setdefault(column, {})[row] = value


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _count(rate: float, n: int, kinds: int) -> int:
    """Faulty rows for a table: the rate's share, but at least one of each kind (when rate > 0)."""
    return 0 if rate <= 0 or n == 0 else min(n // 4, max(kinds, round(rate * n)))


def _kinds(table: str, k: int) -> list[str]:
    kinds = list(FAULT_REASONS[table])
    return [kinds[i % len(kinds)] for i in range(k)]


def _bad_date(fmt: str, rng: np.random.Generator) -> object:
    if fmt == "csv":
        return IMPOSSIBLE_DATES_CSV[int(rng.integers(len(IMPOSSIBLE_DATES_CSV)))]
    return IMPOSSIBLE_DATE_PARQUET


def _fresh_ids(rng: np.random.Generator, k: int, taken: set[str], hexlen: int = 16) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        cand = "".join(rng.choice(list("0123456789abcdef"), size=hexlen))
        if cand not in taken:
            taken.add(cand)
            out.append(cand)
    return out


def plan_faults(
    rate: float,
    fmt: str,
    rng: np.random.Generator,
    *,
    person_ids: np.ndarray,
    reg_from: np.ndarray,
    act_person: np.ndarray,
    ref_person: np.ndarray,
    ref_started: np.ndarray,
    ref_date: np.ndarray,
    ref_offered: np.ndarray,
    meas_episode_row: np.ndarray,
    meas_item_max: np.ndarray,
    episode_ids: np.ndarray,
) -> dict[str, TablePlan]:
    """Choose faulty rows for every table; nothing is applied yet.

    Population faults are drawn first; activity and referral faults only among rows of people
    without a population fault, and measures faults only among rows of clean episodes, so that
    every faulty row has exactly one reason. The tables are planned in that order from the one
    ``rng``.
    """
    plans = {
        t: TablePlan(n)
        for t, n in (
            ("population", person_ids.size),
            ("activity", act_person.size),
            ("referrals", ref_person.size),
            ("measures", meas_episode_row.size),
        )
    }
    taken_ids = set(person_ids.tolist())
    bad_person, malformed = _population_faults(
        plans["population"], rate, fmt, rng, person_ids, reg_from
    )
    # dependents of faulty people
    act_dep = np.flatnonzero(bad_person[act_person])
    ref_dep = np.flatnonzero(bad_person[ref_person])
    _mark_dependents(plans["activity"], act_dep, act_person, malformed)
    _mark_dependents(plans["referrals"], ref_dep, ref_person, malformed)
    act_clean = np.flatnonzero(~bad_person[act_person])
    _activity_faults(plans["activity"], rate, fmt, rng, act_clean, act_person, reg_from, taken_ids)
    bad_episode = np.zeros(ref_person.size, dtype=bool)
    bad_episode[ref_dep] = True
    ref_clean = np.flatnonzero(~bad_person[ref_person])
    _referral_faults(
        plans["referrals"],
        rate,
        rng,
        ref_clean,
        bad_episode,
        (ref_started, ref_date, ref_offered),
        taken_ids,
    )
    _measure_faults(
        plans["measures"], rate, rng, bad_episode, meas_episode_row, meas_item_max, episode_ids
    )
    return plans


def _population_faults(
    p: TablePlan,
    rate: float,
    fmt: str,
    rng: np.random.Generator,
    person_ids: np.ndarray,
    reg_from: np.ndarray,
) -> tuple[np.ndarray, dict[int, str]]:
    """Plan population faults; return who is faulty and the malformed ids given to people."""
    n_pop = person_ids.size
    k = _count(rate, n_pop, len(FAULT_REASONS["population"]))
    rows = rng.choice(n_pop, size=k, replace=False)
    bad_person = np.zeros(n_pop, dtype=bool)
    malformed: dict[int, str] = {}
    for r, kind in zip(rows.tolist(), _kinds("population", k), strict=True):
        p.faults.append((r, kind))
        if kind == "duplicate_person_id":
            p.duplicate.append(r)
            continue
        bad_person[r] = True
        if kind == "malformed_person_id":
            malformed[r] = "X" + str(person_ids[r])[1:].upper() + "-"
            p.edit("person_id", r, malformed[r])
        elif kind == "missing_required":
            p.edit(["sex", "lsoa", "year_of_birth"][r % 3], r, None)
        elif kind == "impossible_date":
            p.edit("registered_from", r, _bad_date(fmt, rng))
        elif kind == "dates_out_of_order":
            p.edit("registered_to", r, int(reg_from[r]) - 30 - int(rng.integers(0, 300)))
            p.edit("date_of_death", r, None)
    return bad_person, malformed


def _mark_dependents(
    p: TablePlan, dependents: np.ndarray, person: np.ndarray, malformed: dict[int, str]
) -> None:
    """Rows of faulty people; those of people given a malformed id carry that id too."""
    p.dependents = dependents.tolist()
    for r in dependents.tolist():
        if person[r] in malformed:
            p.edit("person_id", r, malformed[person[r]])


def _activity_faults(
    p: TablePlan,
    rate: float,
    fmt: str,
    rng: np.random.Generator,
    clean: np.ndarray,
    act_person: np.ndarray,
    reg_from: np.ndarray,
    taken_ids: set[str],
) -> None:
    """Plan activity faults among the ``clean`` rows (of people without a fault)."""
    k = min(_count(rate, p.n, len(FAULT_REASONS["activity"])), clean.size)
    rows = rng.choice(clean, size=k, replace=False)
    for r, kind in zip(rows.tolist(), _kinds("activity", k), strict=True):
        p.faults.append((r, kind))
        if kind == "duplicate_event_id":
            p.duplicate.append(r)
        elif kind == "unknown_person":
            p.edit("person_id", r, _fresh_ids(rng, 1, taken_ids)[0])
        elif kind == "missing_required":
            p.edit(["event_date", "setting"][r % 2], r, None)
        elif kind == "impossible_date":
            p.edit("event_date", r, _bad_date(fmt, rng))
        elif kind == "event_outside_registration":
            p.edit("event_date", r, int(reg_from[act_person[r]]) - 1 - int(rng.integers(0, 365)))


def _referral_faults(
    p: TablePlan,
    rate: float,
    rng: np.random.Generator,
    clean: np.ndarray,
    bad_episode: np.ndarray,
    referrals: tuple[np.ndarray, np.ndarray, np.ndarray],
    taken_ids: set[str],
) -> None:
    """Plan referral faults among the ``clean`` rows (of people without a fault).

    ``referrals`` holds each row's started flag, referral date and sessions offered; the episodes
    made faulty are marked in ``bad_episode`` (their measures become dependents).
    """
    ref_started, ref_date, ref_offered = referrals
    k = min(_count(rate, p.n, len(FAULT_REASONS["referrals"])), clean.size)
    rows = rng.choice(clean, size=k, replace=False)
    for r, kind in zip(rows.tolist(), _kinds("referrals", k), strict=True):
        p.faults.append((r, kind))
        bad_episode[r] = True
        if kind == "conflicting_submissions":
            p.duplicate.append(r)
            p.edit_copy("provider", r, OTHER_PROVIDER)
        if kind == "unknown_person":
            p.edit("person_id", r, _fresh_ids(rng, 1, taken_ids)[0])
        elif kind == "missing_required":
            p.edit(["referral_date", "programme"][r % 2], r, None)
        elif kind == "dates_out_of_order":
            # The start date if the course started, else the end date, before the referral.
            column = "start_date" if ref_started[r] else "end_date"
            p.edit(column, r, int(ref_date[r]) - 1 - int(rng.integers(0, 30)))
        elif kind == "attended_exceeds_offered":
            p.edit("sessions_attended", r, int(ref_offered[r]) + 1 + int(rng.integers(0, 3)))


def _fresh_episode_id(rng: np.random.Generator, taken: set[str]) -> str:
    """An episode id (``EP9`` and seven digits) not in ``taken``; it is added to ``taken``."""
    while True:
        cand = f"EP9{int(rng.integers(0, 10**7)):07d}"
        if cand not in taken:
            taken.add(cand)
            return cand


def _measure_faults(
    p: TablePlan,
    rate: float,
    rng: np.random.Generator,
    bad_episode: np.ndarray,
    meas_episode_row: np.ndarray,
    meas_item_max: np.ndarray,
    episode_ids: np.ndarray,
) -> None:
    """Plan measures faults among rows of clean episodes; rows of faulty ones are dependents."""
    p.dependents = np.flatnonzero(bad_episode[meas_episode_row]).tolist()
    clean = np.flatnonzero(~bad_episode[meas_episode_row])
    k = min(_count(rate, p.n, len(FAULT_REASONS["measures"])), clean.size)
    rows = rng.choice(clean, size=k, replace=False)
    taken_eps = set(episode_ids.tolist())
    for r, kind in zip(rows.tolist(), _kinds("measures", k), strict=True):
        p.faults.append((r, kind))
        if kind == "response_out_of_range":
            p.edit("response", r, int(meas_item_max[r]) + 1 + int(rng.integers(0, 3)))
        elif kind == "missing_required":
            p.edit(["timepoint", "instrument"][r % 2], r, None)
        elif kind == "unknown_episode":
            p.edit("episode_id", r, _fresh_episode_id(rng, taken_eps))


def apply_plan(table: pa.Table, plan: TablePlan) -> tuple[pa.Table, np.ndarray]:
    """Apply edits and insert duplicates; return the table and each original row's position."""
    n = table.num_rows
    for column, cells in plan.edits.items():
        col = table.column(column)
        rows = np.fromiter(cells.keys(), dtype=np.int64)
        values = list(cells.values())
        arr = col.combine_chunks()
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(pa.string())
        typ = arr.type
        if pa.types.is_date32(typ):
            new = pa.array(values, type=pa.int32()).cast(pa.date32())
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            values = [_iso(v) if isinstance(v, int) else v for v in values]
            new = pa.array(values, type=typ)
        else:
            new = pa.array(values, type=typ)
        mask = np.zeros(n, dtype=bool)
        mask[rows] = True
        # Place new values in row order for replace_with_mask.
        order = np.argsort(rows, kind="stable")
        arr = pc.replace_with_mask(arr, pa.array(mask), new.take(pa.array(order)))
        table = table.set_column(table.schema.get_field_index(column), column, arr)
    dup = np.zeros(n, dtype=np.int64)
    dup[np.asarray(plan.duplicate, dtype=np.int64)] = 1
    take = np.repeat(np.arange(n), 1 + dup)
    new_pos = np.arange(n) + np.concatenate([[0], np.cumsum(dup)[:-1]])
    if dup.any():
        table = table.take(pa.array(take))
    for column, cells in plan.copy_edits.items():
        i = table.schema.get_field_index(column)
        values = table.column(i).to_pylist()
        for r, v in cells.items():
            values[int(new_pos[r]) + 1] = v
        table = table.set_column(i, column, pa.array(values, type=table.schema.field(i).type))
    return table, new_pos


def global_positions(plan: TablePlan) -> np.ndarray:
    """Each original row's position in the written file, after inserted duplicates."""
    dup = np.zeros(plan.n, dtype=np.int64)
    dup[np.asarray(plan.duplicate, dtype=np.int64)] = 1
    return np.arange(plan.n) + np.concatenate([[0], np.cumsum(dup)[:-1]])


def slice_plan(plan: TablePlan, a: int, b: int) -> TablePlan:
    """The part of a plan that touches original rows ``a`` to ``b - 1``, shifted to start at 0."""
    out = TablePlan(b - a)
    out.duplicate = [r - a for r in plan.duplicate if a <= r < b]
    for column, cells in plan.edits.items():
        for r, v in cells.items():
            if a <= r < b:
                out.edit(column, r - a, v)
    for column, cells in plan.copy_edits.items():
        for r, v in cells.items():
            if a <= r < b:
                out.edit_copy(column, r - a, v)
    return out


def sidecar_entries(table: str, plan: TablePlan, new_pos: np.ndarray) -> tuple[list, list]:
    """Fault and dependent rows with 1-based row numbers in the written file."""
    faults = []
    for r, kind in plan.faults:
        # A duplicate is the inserted copy; a conflict is the original and its copy.
        shifts = {"duplicate_person_id": (1,), "duplicate_event_id": (1,)}
        for shift in shifts.get(kind, (0, 1) if kind == "conflicting_submissions" else (0,)):
            faults.append(
                {
                    "table": table,
                    "row_number": int(new_pos[r] + shift) + 1,
                    "kind": kind,
                    "reason": FAULT_REASONS[table][kind],
                }
            )
    deps = [
        {"table": table, "row_number": int(new_pos[r]) + 1, "reason": "parent_quarantined"}
        for r in plan.dependents
    ]
    faults.sort(key=lambda f: f["row_number"])
    deps.sort(key=lambda f: f["row_number"])
    return faults, deps

"""The contract's raw tables as Arrow tables, and writing them as CSV or Parquet.

The generator works on numpy arrays (people as row indices, dates as day numbers with
:data:`~evalkit.synth.calendar.NONE` for "no date"); the functions here turn them into the
contract's columns and types. Activity (tens of millions of rows at county scale) is built and
written in slices of :data:`ACTIVITY_SLICE` rows, its planned faults applied slice by slice, so
memory stays bounded. Every file goes through :func:`evalkit.files.atomic_path`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from evalkit.config import InstrumentDefinition
from evalkit.contract import COLUMNS, CONDITIONS
from evalkit.files import atomic_path
from evalkit.synth.calendar import NONE
from evalkit.synth.faults import TablePlan, apply_plan, slice_plan
from evalkit.synth.people import Population
from evalkit.synth.programmes import Attendance
from evalkit.synth.questionnaires import Questionnaires

__all__ = [
    "ACTIVITY_SLICE",
    "activity_table",
    "concat_referrals",
    "date_array",
    "dates_to_text",
    "measures_table",
    "population_table",
    "referral_rows",
    "referrals_table",
    "submission_days",
    "write_activity",
    "write_table",
]

#: Activity rows built and written at a time.
ACTIVITY_SLICE = 2_000_000
#: Order of the timepoints within an episode's measures.
TIMEPOINT_ORDER = {"baseline": 0, "end": 1, "followup_3m": 2, "followup_6m": 3}


def date_array(days: np.ndarray) -> pa.Array:
    """Day numbers as an Arrow ``date32`` array; :data:`NONE` (or later) becomes null."""
    days = np.asarray(days, dtype=np.int64)
    mask = days >= NONE
    return pa.array(np.where(mask, 0, days).astype(np.int32), mask=mask).cast(pa.date32())


def population_table(pop: Population, person_ids: np.ndarray) -> pa.Table:
    """The ``population`` table: one row per person, in person order."""
    data = {
        "person_id": pa.array(person_ids, pa.string()),
        "year_of_birth": pa.array(pop.year_of_birth, pa.int32()),
        "sex": pa.array(pop.sex, pa.string()),
        "ethnicity": pa.array(pop.ethnicity, pa.string()),
        "lsoa": pa.array(pop.lsoa, pa.string()),
        "imd_decile": pa.array(pop.imd_decile, pa.int32()),
        "district": pa.array(pop.district, pa.string()),
        "pcn": pa.array(pop.pcn, pa.string()),
        "registered_from": date_array(pop.reg_from),
        "registered_to": date_array(pop.reg_to),
        "date_of_death": date_array(pop.death),
    }
    for j, cond in enumerate(CONDITIONS):
        data[cond] = date_array(pop.diagnosis[:, j].astype(np.int64))
    return pa.table(data)


def referral_rows(
    slug: str,
    persons: np.ndarray,
    ref_day: np.ndarray,
    episode_ids: np.ndarray,
    att: Attendance,
) -> dict[str, np.ndarray]:
    """One programme's referral rows as columns, with the person index as ``_person``."""
    return {
        "_person": persons,
        "episode_id": episode_ids,
        "programme": np.full(persons.size, slug, dtype=object),
        "provider": att.provider,
        "referral_date": ref_day,
        "referral_source": att.referral_source,
        "start_date": att.start_date,
        "end_date": att.end_date,
        "sessions_offered": att.sessions_offered,
        "sessions_attended": att.sessions_attended,
        "discharge_reason": att.discharge_reason,
    }


def concat_referrals(parts: list[dict]) -> dict[str, np.ndarray]:
    """All programmes' :func:`referral_rows`, sorted by referral date, then episode id."""
    if not parts:
        cols = [c for c in COLUMNS["referrals"] if c != "submitted_on"]  # drawn afterwards
        return {k: np.array([]) for k in ("_person", *cols)}
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["episode_id"], cols["referral_date"]))
    return {k: v[order] for k, v in cols.items()}


#: Days from a referral to the provider's monthly return that carries it: the return is made
#: after the month ends, ``SUBMISSION_DELAY_DAYS`` (gamma: shape, scale) later; a few rows
#: (``LATE_SHARE``) wait for a later return, ``LATE_EXTRA_DAYS`` (uniform) more.
SUBMISSION_DELAY_DAYS = (2.0, 6.0)
LATE_SHARE = 0.05
LATE_EXTRA_DAYS = (60, 240)


def submission_days(
    rng: np.random.Generator,
    ref_day: np.ndarray,
    last_day: int,
    end_day: np.ndarray | None = None,
) -> np.ndarray:
    """The day each referral row was submitted (``referrals.submitted_on``), as day numbers.

    A row holds its episode's end, so it goes in the return after the calendar month of its
    end (``end_day``; :data:`~evalkit.synth.calendar.NONE` or absent: of its referral): day 1 of
    the next month plus a gamma delay, a few rows in a much later return; never after
    ``last_day`` (the extract end). Three draws per row from ``rng``, in row order (the
    ``submissions`` stream, which no other table reads, so the column moves no other draw).

    Examples
    --------
    >>> d = submission_days(np.random.default_rng(1), np.array([18_000, 18_010]), 18_100)
    >>> bool((d > 18_010).all() and (d <= 18_100).all())
    True
    """
    ref_day = np.asarray(ref_day, dtype=np.int64)
    n = ref_day.size
    if end_day is not None:
        end_day = np.asarray(end_day, dtype=np.int64)
        ref_day = np.where(end_day < NONE, np.maximum(end_day, ref_day), ref_day)
    months = ref_day.astype("datetime64[D]").astype("datetime64[M]")
    next_month = (months + 1).astype("datetime64[D]").astype(np.int64)
    delay = np.ceil(rng.gamma(*SUBMISSION_DELAY_DAYS, size=n)).astype(np.int64)
    late = rng.random(n) < LATE_SHARE
    extra = rng.integers(*LATE_EXTRA_DAYS, size=n, endpoint=True)
    days = next_month + delay + np.where(late, extra, 0)
    return np.minimum(days, last_day)


def referrals_table(
    r: dict[str, np.ndarray], person: np.ndarray, person_ids: np.ndarray
) -> pa.Table:
    """The ``referrals`` table from :func:`concat_referrals` columns and each row's person."""
    return pa.table(
        {
            "episode_id": pa.array(r["episode_id"], pa.string()),
            "person_id": pa.array(np.asarray(person_ids)[person.astype(np.int64)], pa.string()),
            "programme": pa.array(r["programme"], pa.string()),
            "provider": pa.array(r["provider"], pa.string()),
            "referral_date": date_array(r["referral_date"]),
            "referral_source": pa.array(r["referral_source"], pa.string()),
            "start_date": date_array(r["start_date"]),
            "end_date": date_array(r["end_date"]),
            "sessions_offered": pa.array(r["sessions_offered"], pa.int32()),
            "sessions_attended": pa.array(r["sessions_attended"], pa.int32()),
            "discharge_reason": pa.array(r["discharge_reason"], pa.string()),
            **({"submitted_on": date_array(r["submitted_on"])} if "submitted_on" in r else {}),
        }
    )


def measures_table(
    parts: list[Questionnaires],
    referrals: pa.Table,
    defs: dict[str, InstrumentDefinition],
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The ``measures`` table, sorted by episode, timepoint, instrument and item position.

    Also returns, per row, the row of its episode in ``referrals`` and its instrument's highest
    item value (what fault planning needs).
    """

    def cat(name: str) -> np.ndarray:
        return (
            np.concatenate([x for p in parts for x in getattr(p, name)]) if parts else np.array([])
        )

    episode, instrument, timepoint = cat("episode"), cat("instrument"), cat("timepoint")
    assessed, item, response = cat("assessed_on"), cat("item"), cat("response")
    tp_code = np.array([TIMEPOINT_ORDER[t] for t in timepoint])
    item_pos = np.array(
        [defs[ins].items.index(it) for ins, it in zip(instrument, item, strict=True)]
    )
    order = np.lexsort((item_pos, instrument, tp_code, episode))
    episode, instrument, timepoint = episode[order], instrument[order], timepoint[order]
    assessed, item, response = assessed[order], item[order], response[order]
    ep_ids = np.asarray(referrals["episode_id"])
    ep_index = {e: i for i, e in enumerate(ep_ids.tolist())}
    ep_row = np.array([ep_index[e] for e in episode], dtype=np.int64)
    item_max = np.array([defs[i].item_max for i in instrument])
    resp_mask = np.isnan(response)
    table = pa.table(
        {
            "episode_id": pa.array(episode, pa.string()),
            "instrument": pa.array(instrument, pa.string()),
            "timepoint": pa.array(timepoint, pa.string()),
            "assessed_on": date_array(assessed.astype(np.int64)),
            "item": pa.array(item, pa.string()),
            "response": pa.array(
                np.where(resp_mask, 0, response).astype(np.int32), pa.int32(), mask=resp_mask
            ),
        }
    )
    return table, ep_row, item_max


def activity_table(
    person: np.ndarray,
    day: np.ndarray,
    setting: np.ndarray,
    beds: np.ndarray,
    person_ids: np.ndarray,
    settings: tuple[str, ...],
    first_id: int,
) -> pa.Table:
    """A slice of the ``activity`` table; event ids count on from ``first_id`` (``E0000000001``)."""
    n = person.size
    ids = pa.array(np.arange(first_id, first_id + n, dtype=np.int64)).cast(pa.string())
    event_id = pc.binary_join_element_wise("E", pc.utf8_lpad(ids, 10, "0"), "")
    pid = pa.array(np.asarray(person_ids)[person], pa.string())
    st = pa.DictionaryArray.from_arrays(
        pa.array(setting, pa.int8()), pa.array(list(settings), pa.string())
    )
    return pa.table(
        {
            "event_id": event_id,
            "person_id": pid,
            "event_date": date_array(day.astype(np.int64)),
            "setting": st.cast(pa.string()),
            "bed_days": pa.array(beds, pa.int32(), mask=beds < 0),
        }
    )


def dates_to_text(table: pa.Table) -> pa.Table:
    """Date (and dictionary) columns as ISO text, as a CSV extract holds them."""
    for i, f in enumerate(table.schema):
        if pa.types.is_date32(f.type) or pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    """Write one table as CSV (with header) or zstd Parquet, atomically."""
    with atomic_path(path) as tmp:
        if fmt == "csv":
            pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(include_header=True))
        else:
            pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
    return path


def _activity_writer(tmp: Path, fmt: str, schema: pa.Schema) -> pacsv.CSVWriter | pq.ParquetWriter:
    if fmt == "csv":
        return pacsv.CSVWriter(tmp, schema)
    return pq.ParquetWriter(
        tmp,
        schema,
        compression="zstd",
        use_dictionary=["person_id", "event_date", "setting"],
    )


def write_activity(
    path: Path,
    fmt: str,
    person: np.ndarray,
    day: np.ndarray,
    setting: np.ndarray,
    beds: np.ndarray,
    person_ids: np.ndarray,
    settings: tuple[str, ...],
    plan: TablePlan | None,
) -> Path:
    """Write the activity table in slices, applying any planned faults slice by slice."""
    with atomic_path(path) as tmp:
        writer = None
        try:
            for a in range(0, max(person.size, 1), ACTIVITY_SLICE):
                b = min(person.size, a + ACTIVITY_SLICE)
                table = activity_table(
                    person[a:b],
                    day[a:b],
                    setting[a:b],
                    beds[a:b],
                    person_ids,
                    settings,
                    first_id=a + 1,
                )
                if fmt == "csv":
                    table = dates_to_text(table)
                if plan is not None:
                    table, _ = apply_plan(table, slice_plan(plan, a, b))
                if writer is None:
                    writer = _activity_writer(tmp, fmt, table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
    return path

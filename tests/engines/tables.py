"""Processed tables for the engine tests, written as intake writes them (date32, int64).

Rows are plain dicts in the data contract's columns (:data:`evalkit.contract.COLUMNS`); a
column a row leaves out is empty (NULL), except the defaults below, so a spec names only the
columns it is about.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.contract import COLUMNS

D = dt.date

_ARROW = {"string": pa.string(), "int": pa.int64(), "date": pa.date32()}

#: A person eligible for mindsong (adult, COPD since 2010) registered since 2005.
PERSON = {
    "year_of_birth": 1960,
    "sex": "F",
    "ethnicity": "A",
    "lsoa": "E01000001",
    "imd_decile": 3,
    "district": "Stroud",
    "pcn": "U00001",
    "registered_from": D(2005, 1, 1),
    "copd": D(2010, 1, 1),
}
REFERRAL = {
    "programme": "mindsong",
    "provider": "Mindsong Community Choirs",
    "referral_source": "gp",
    "sessions_offered": 12,
    "sessions_attended": 10,
    "discharge_reason": "completed",
}


def person(pid: str, **kw: object) -> dict:
    """A population row: :data:`PERSON` with ``kw`` on top (``copd=None`` removes COPD)."""
    return {"person_id": pid, **PERSON, **kw}


def event(pid: str, day: dt.date, setting: str = "gp_appointment") -> dict:
    """An activity row (``event_id`` is given when the table is written)."""
    return {"person_id": pid, "event_date": day, "setting": setting}


def referral(pid: str, day: dt.date, episode_id: str | None = None, **kw: object) -> dict:
    """A mindsong referral (``episode_id`` defaults to one from the row's position)."""
    return {"person_id": pid, "referral_date": day, "episode_id": episode_id, **REFERRAL, **kw}


def _table(name: str, rows: Sequence[dict]) -> pa.Table:
    schema = pa.schema([(c, _ARROW[t]) for c, t in COLUMNS[name].items()])
    full = [{c: r.get(c) for c in schema.names} for r in rows]
    return pa.Table.from_pylist(full, schema=schema)


def write_tables(
    out: Path, people: Sequence[dict], events: Sequence[dict], referrals: Sequence[dict]
) -> Path:
    """Write ``population``, ``activity`` and ``referrals`` Parquet into ``out``; returns it."""
    out.mkdir(parents=True, exist_ok=True)
    acts = [{**e, "event_id": e.get("event_id") or f"ev{i:05d}"} for i, e in enumerate(events)]
    refs = [
        {**r, "episode_id": r.get("episode_id") or f"ep{i:04d}"} for i, r in enumerate(referrals)
    ]
    pq.write_table(_table("population", people), out / "population.parquet")
    pq.write_table(_table("activity", acts), out / "activity.parquet")
    pq.write_table(_table("referrals", refs), out / "referrals.parquet")
    return out

"""Hand-made processed tables for the cohort tests (DATE columns, as intake writes them)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.contract import CONDITIONS

D = dt.date


def person(pid: str, **kw: object) -> dict:
    row = {
        "person_id": pid,
        "year_of_birth": 1960,
        "sex": "F",
        "ethnicity": "A",
        "lsoa": "E01000001",
        "imd_decile": 3,
        "district": "Stroud",
        "pcn": "U00001",
        "registered_from": D(2010, 1, 1),
        "registered_to": None,
        "date_of_death": None,
        **{c: None for c in CONDITIONS},
    }
    row["copd"] = D(2015, 1, 1)
    row.update(kw)
    return row


def write_tables(
    tmp: Path, people: list[dict], events: list[tuple], referrals: list[tuple]
) -> Path:
    """Write processed tables with DATE columns (pyarrow date32), as intake does."""
    tmp.mkdir(parents=True, exist_ok=True)
    pop_schema = pa.schema(
        [
            ("person_id", pa.string()),
            ("year_of_birth", pa.int32()),
            ("sex", pa.string()),
            ("ethnicity", pa.string()),
            ("lsoa", pa.string()),
            ("imd_decile", pa.int32()),
            ("district", pa.string()),
            ("pcn", pa.string()),
            ("registered_from", pa.date32()),
            ("registered_to", pa.date32()),
            ("date_of_death", pa.date32()),
            *[(c, pa.date32()) for c in CONDITIONS],
        ]
    )
    pq.write_table(pa.Table.from_pylist(people, schema=pop_schema), tmp / "population.parquet")
    act = [
        {"event_id": f"e{i}", "person_id": p, "event_date": d, "setting": s, "bed_days": None}
        for i, (p, d, s) in enumerate(events)
    ]
    schema = pa.schema(
        [
            ("event_id", pa.string()),
            ("person_id", pa.string()),
            ("event_date", pa.date32()),
            ("setting", pa.string()),
            ("bed_days", pa.int32()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(act, schema=schema), tmp / "activity.parquet")
    refs = [
        {
            "episode_id": f"ep{i}",
            "person_id": p,
            "programme": prog,
            "provider": "Mindsong Community Choirs",
            "referral_date": d,
            "referral_source": "gp",
            "start_date": d + dt.timedelta(days=20),
            "end_date": None,
            "sessions_offered": 12,
            "sessions_attended": 10,
            "discharge_reason": reason,
        }
        for i, (p, d, prog, reason) in enumerate(referrals)
    ]
    ref_schema = pa.schema(
        [
            ("episode_id", pa.string()),
            ("person_id", pa.string()),
            ("programme", pa.string()),
            ("provider", pa.string()),
            ("referral_date", pa.date32()),
            ("referral_source", pa.string()),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("sessions_offered", pa.int32()),
            ("sessions_attended", pa.int32()),
            ("discharge_reason", pa.string()),
        ]
    )
    pq.write_table(pa.Table.from_pylist(refs, schema=ref_schema), tmp / "referrals.parquet")
    return tmp

"""A tiny, valid raw extract in the contract's names, for tests, docs and trying intake out.

Every row passes intake with the default contract mapping, ``EXAMPLE_PROGRAMMES`` and
``EXAMPLE_INSTRUMENTS`` and an extract end of ``EXAMPLE_EXTRACT_END``; tests edit single cells to
make one row fail in one way.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from evalkit import contract as C

__all__ = [
    "EXAMPLE_EXTRACT_END",
    "EXAMPLE_INSTRUMENTS",
    "EXAMPLE_PROGRAMMES",
    "example_tables",
    "write_tables",
]

EXAMPLE_EXTRACT_END = dt.date(2024, 3, 31)
EXAMPLE_PROGRAMMES: dict[str, object] = {"mindsong": None, "cyp": None}
EXAMPLE_INSTRUMENTS: dict[str, dict[str, object]] = {
    "swemwbs": {"items": [str(i) for i in range(1, 8)], "item_min": 1, "item_max": 5},
    "ons4": {
        "items": ["life_satisfaction", "worthwhile", "happiness", "anxiety"],
        "item_min": 0,
        "item_max": 10,
    },
}

P = [f"{i:016x}" for i in (0xA1, 0xA2, 0xA3, 0xA4, 0xA5)]


def example_tables() -> dict[str, pd.DataFrame]:
    """Return the four raw tables as all-text DataFrames (empty string = empty cell)."""
    cond_empty = {c: "" for c in C.CONDITIONS}
    pop_rows = [
        (P[0], "1950", "F", "A", "E01022001", "3", "Cheltenham", "P01", "2015-01-01", "", ""),
        (P[1], "1972", "M", "H", "E01022002", "1", "Gloucester", "P02", "2016-06-01", "", ""),
        (
            P[2],
            "1988",
            "X",
            "99",
            "E01022003",
            "10",
            "Stroud",
            "P03",
            "2014-02-01",
            "2023-01-31",
            "",
        ),
        (
            P[3],
            "1940",
            "F",
            "Z",
            "E01022004",
            "5",
            "Tewkesbury",
            "P01",
            "2010-01-01",
            "2022-12-01",
            "2022-12-01",
        ),
        (P[4], "2009", "M", "M", "E01022005", "7", "Forest of Dean", "P04", "2009-03-01", "", ""),
    ]
    cols = [c for c in C.COLUMNS["population"] if c not in C.CONDITIONS]
    population = pd.DataFrame([dict(zip(cols, r, strict=True)) for r in pop_rows])
    for c, v in cond_empty.items():
        population[c] = v
    population.loc[0, "copd"] = "2018-05-01"
    population.loc[1, "anxiety"] = "2020-02-11"
    population.loc[3, "chd"] = "2001-07-15"

    activity = pd.DataFrame(
        [
            ("e001", P[0], "2022-01-05", "gp_appointment", ""),
            ("e002", P[0], "2022-01-05", "gp_appointment", ""),
            ("e003", P[0], "2022-03-10", "emergency_admission", "4"),
            ("e004", P[1], "2021-11-20", "ae_attendance", ""),
            ("e005", P[2], "2022-06-30", "outpatient_attendance", ""),
            ("e006", P[3], "2022-11-30", "ooh_contact", ""),
            ("e007", P[4], "2023-08-01", "gp_appointment", ""),
            ("e008", P[1], "2023-02-02", "emergency_admission", "0"),
        ],
        columns=list(C.COLUMNS["activity"]),
    )
    referrals = pd.DataFrame(
        [
            (
                "r01",
                P[0],
                "mindsong",
                "Art Shape",
                "2022-04-01",
                "gp",
                "2022-04-20",
                "2022-07-06",
                "12",
                "11",
                "completed",
            ),
            (
                "r02",
                P[1],
                "mindsong",
                "Art Shape",
                "2022-05-03",
                "social_prescriber",
                "",
                "",
                "12",
                "0",
                "did_not_start",
            ),
            (
                "r03",
                P[4],
                "cyp",
                "Music Works",
                "2023-01-09",
                "school",
                "2023-01-30",
                "",
                "10",
                "4",
                "ongoing",
            ),
        ],
        columns=[c for c in C.COLUMNS["referrals"] if c not in C.OPTIONAL_COLUMNS["referrals"]],
    )
    meas = []
    for item in range(1, 8):
        meas.append(("r01", "swemwbs", "baseline", "2022-04-20", str(item), str(1 + item % 5)))
        meas.append(("r01", "swemwbs", "end", "2022-07-06", str(item), str(1 + (item + 1) % 5)))
    meas[3] = (*meas[3][:5], "")  # a missing item: accepted, never quarantined
    for item in EXAMPLE_INSTRUMENTS["ons4"]["items"]:  # type: ignore[union-attr]
        meas.append(("r03", "ons4", "baseline", "2023-01-30", item, "6"))
    measures = pd.DataFrame(meas, columns=list(C.COLUMNS["measures"]))
    return {
        "population": population,
        "activity": activity,
        "referrals": referrals,
        "measures": measures,
    }


def write_tables(
    tables: dict[str, pd.DataFrame], raw_dir: Path, fmt: str = "csv"
) -> dict[str, Path]:
    """Write all-text tables as ``<table>.csv`` or ``<table>.parquet`` in ``raw_dir``.

    Empty strings become empty CSV cells, or nulls in Parquet.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, df in tables.items():
        if fmt == "csv":
            p = raw_dir / f"{name}.csv"
            df.to_csv(p, index=False)
        else:
            p = raw_dir / f"{name}.parquet"
            df.astype("string").replace("", pd.NA).to_parquet(p, index=False)
        out[name] = p
    return out

"""Fault injection end to end: intake quarantines exactly the generator's faulty rows.

The generator's sidecar (``synthetic_faults.json``) says which rows it broke and how; intake never
reads it. Every faulty row must be quarantined with its specific reason (a catch-all reason would
fail), every dependent row as ``parent_quarantined``, and every other row accepted.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalkit import config
from evalkit.contract import TABLES
from evalkit.intake import run_intake
from evalkit.synth import generate_county


@pytest.fixture(scope="module", params=["csv", "parquet"])
def faulty_county(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    fmt = request.param
    base = tmp_path_factory.mktemp(f"faults_{fmt}")
    raw, processed = base / "raw", base / "processed"
    generate_county(
        raw,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=8_000,
        seed=11,
        faults=0.02,
        fmt=fmt,
        progress=False,
    )
    report = run_intake(raw, processed, progress=False)
    sidecar = json.loads((raw / "synthetic_faults.json").read_text())
    return raw, processed, report, sidecar


def _expected(sidecar: dict, table: str) -> pd.DataFrame:
    rows = [
        (f["row_number"], f["reason"])
        for f in sidecar["faults"] + sidecar["dependents"]
        if f["table"] == table
    ]
    return pd.DataFrame(rows, columns=["row_number", "reason"]).sort_values("row_number")


@pytest.mark.parametrize("table", TABLES)
def test_intake_quarantines_exactly_the_injected_faults(faulty_county, table: str) -> None:
    _, processed, _, sidecar = faulty_county
    expected = _expected(sidecar, table).reset_index(drop=True)
    got = pd.read_parquet(processed / "quarantine" / f"{table}.parquet")
    got = got[["row_number", "reason"]].sort_values("row_number").reset_index(drop=True)
    got["row_number"] = got["row_number"].astype("int64")
    expected["row_number"] = expected["row_number"].astype("int64")
    merged = expected.merge(got, on="row_number", how="outer", suffixes=("_expected", "_got"))
    wrong = merged[merged["reason_expected"] != merged["reason_got"]]
    assert wrong.empty, f"{table}: {len(wrong)} rows differ, e.g.\n{wrong.head(10)}"


def test_intake_faults_cover_every_kind(faulty_county) -> None:
    _, _, _, sidecar = faulty_county
    from evalkit.contract import FAULT_REASONS

    kinds = {(f["table"], f["kind"]) for f in sidecar["faults"]}
    assert kinds == {(t, k) for t, ks in FAULT_REASONS.items() for k in ks}
    assert any(d["table"] == "activity" for d in sidecar["dependents"])
    assert any(d["table"] == "measures" for d in sidecar["dependents"])


def test_intake_reconciles_and_accepts_every_clean_row(faulty_county) -> None:
    _, processed, _, sidecar = faulty_county
    summary = json.loads((processed / "intake_report.json").read_text())
    for table in TABLES:
        t = summary["tables"][table]
        assert t["rows_read"] == t["rows_accepted"] + t["rows_quarantined"]
        n_bad = len(_expected(sidecar, table))
        assert t["rows_quarantined"] == n_bad
        accepted = pd.read_parquet(processed / f"{table}.parquet")
        assert len(accepted) == t["rows_read"] - n_bad
        assert len(t["sha256"]) == 64

"""The source record: intake says what a processed folder was made from (source.json)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from evalkit.intake import is_stale, run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from evalkit.intake.source_record import SOURCE_FILE, data_source, read_source
from helpers.intake_example import example_kw

KW = example_kw(extract_end=False, validate=False)
MAPPING = "source: Test warehouse\nextract_end: 2024-03-31\n"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_source_record_contract_extract_lists_every_raw_file_with_its_hash(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tables(example_tables(), raw, "csv")
    run_intake(raw, tmp_path / "out", **KW)
    record = json.loads((tmp_path / "out" / SOURCE_FILE).read_text())
    assert record["kind"] == "extract"
    assert record["mapping"] is None and record["mapping_sha256"] is None
    assert record["synthetic"] is None
    files = {f["name"]: f["sha256"] for f in record["raw_files"]}
    assert files == {p.name: _sha(p) for p in raw.iterdir()}
    # The latest activity date in the example tables (the analysis's data end).
    latest = pd.to_datetime(example_tables()["activity"]["event_date"]).max().date()
    assert record["extract_end"] == latest.isoformat()
    assert record["engine"] == "duckdb"


def test_source_record_mapping_gives_its_source_name_and_hash(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tables(example_tables(), raw, "csv")
    mapping = tmp_path / "warehouse.yaml"
    mapping.write_text(MAPPING)
    run_intake(raw, tmp_path / "out", mapping=mapping, **KW)
    ds = data_source(tmp_path / "out")
    assert ds["kind"] == "extract" and ds["source"] == "Test warehouse"
    assert ds["mapping_sha256"] == _sha(mapping)
    assert ds["mapping"] == "warehouse.yaml"  # outside the project: the file name only
    assert set(ds) == {"kind", "source", "mapping", "mapping_sha256", "extract_end", "engine"}


def test_source_record_truth_file_marks_a_synthetic_county(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tables(example_tables(), raw, "csv")
    truth = {"seed": 7, "regime": "observables", "world": "hard", "scale": "demo"}
    (raw / "synthetic_truth.json").write_text(json.dumps(truth))
    run_intake(raw, tmp_path / "out", **KW)
    record = read_source(tmp_path / "out")
    assert record is not None and record["kind"] == "synthetic"
    assert record["synthetic"]["seed"] == 7
    assert record["source"] == "synthetic demo county, seed 7, regime observables, world hard"
    # The truth file is never an input table: not among the raw files.
    assert "synthetic_truth.json" not in {f["name"] for f in record["raw_files"]}


def test_is_stale_without_source_record_reruns_intake(tmp_path: Path) -> None:
    """Processed data from before 0.4 (no source.json) are rebuilt, so they get one."""
    raw = tmp_path / "raw"
    write_tables(example_tables(), raw, "csv")
    run_intake(raw, tmp_path / "out", **KW)
    assert not is_stale(raw, tmp_path / "out")
    (tmp_path / "out" / SOURCE_FILE).unlink()
    assert is_stale(raw, tmp_path / "out")

"""Fuzzing intake's cheap stages: reading raw files and validating mapping files (issue #20).

Most file-level faults stop before any row is checked: the mapping is loaded and validated
(:func:`evalkit.intake.load_mapping`), every table's file is found and its header checked
(:func:`evalkit.intake.sources.find_sources`), and the fuzzed table is staged in DuckDB
(:func:`evalkit.intake.combine.combine`), which parses every line. These layers cost a few
milliseconds a case, so they get most of the cases: a few hundred in ``make test`` and
thousands under ``slow``. The full pipeline is fuzzed in ``test_fuzz_pipeline.py``.

Invariants: only :class:`~evalkit.intake.IntakeError` escapes, naming the file (and, for a parse
error, the line); a clean file (see :mod:`fuzz_strategies`) is read, exactly its rows.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from evalkit import contract as C
from evalkit import engine
from evalkit.intake import MappingError, load_mapping
from evalkit.intake.combine import combine
from evalkit.intake.example import example_tables
from evalkit.intake.sources import find_sources

from .fuzz_strategies import (
    DELIMITERS,
    EXTRA_FILES,
    RawCase,
    assert_names_file,
    mapping_texts,
    parquet_cases,
    raw_cases,
)

#: Cases per layer: (make test, slow). The slow counts are in the closing note of issue #20.
READ_CASES = (200, 5200)
PARQUET_CASES = (50, 1200)
MAPPING_CASES = (200, 3300)


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


_EXAMPLE_CSV = {
    d: {t: df.to_csv(index=False, sep=d).encode() for t, df in example_tables().items()}
    for d in DELIMITERS
}
_CON: list[Any] = []


def _connection() -> Any:
    """One DuckDB connection for the module's cases, emptied after each (a fresh one is 25 ms)."""
    if not _CON:
        _CON.append(engine.connect(":memory:", threads=1, memory_limit="256MB"))
    return _CON[0]


def _empty(con: Any) -> None:
    """Drop every table and view a case made (``combine`` appends to an existing table)."""
    views = con.raw_sql("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    for (name,) in views:
        con.drop_view(name, force=True)
    for (name,) in con.raw_sql("SELECT table_name FROM duckdb_tables()").fetchall():
        con.drop_table(name, force=True)


def write_raw(raw: Path, case: RawCase | None = None) -> None:
    """The example extract as CSV in ``raw`` (plus the extra files mappings name), one fuzzed.

    The example files are split by the case's declared delimiter (the mapping's, for every file).
    """
    raw.mkdir(parents=True, exist_ok=True)
    example = _EXAMPLE_CSV[case.delimiter if case is not None else ","]
    for t, data in example.items():
        (raw / f"{t}.csv").write_bytes(data)
    for name, t in EXTRA_FILES.items():
        (raw / name).write_bytes(example[t])
    if case is not None:
        (raw / f"{case.table}.csv").unlink()
        (raw / case.file_name).write_bytes(case.data)


def read_stage(raw: Path, mapping: Path | None, tables: tuple[str, ...]) -> dict[str, int]:
    """Load the mapping, check every header, stage ``tables``: rows read per table."""
    m = load_mapping(mapping)
    sources, _ = find_sources(raw, m, mapping)
    con = _connection()
    try:
        out = {}
        for table in tables:
            comb = combine(con, [s for s in sources if s.table == table], m)
            out[table] = sum(f.rows_read for f in comb.files)
            engine.to_pandas(con, comb.named, limit=10_000)  # every value cast, as checks will
        return out
    finally:
        _empty(con)


def check_raw_case(case: RawCase) -> None:
    """Read-stage invariants of one raw case (see the module docstring)."""
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw"
        write_raw(raw, case)
        mapping = None
        if case.delimiter != ",":
            mapping = Path(d) / "mapping.yaml"
            mapping.write_text(f"delimiter: {json.dumps(case.delimiter)}\n")
        path = raw / case.file_name
        try:
            rows = read_stage(raw, mapping, (case.table,))
        except Exception as exc:
            assert not case.clean, f"clean file refused ({case.faults}): {exc}"
            assert_names_file(exc, path)
            event("raw: refused")
            return
        if case.clean:
            assert rows[case.table] == case.rows, case.faults
        event("raw: clean, read" if case.clean else "raw: damaged, read")


def check_mapping_text(data: bytes, kind: str) -> None:
    """Mapping invariants: a MappingError naming the mapping (and the line of a repeated key),
    an IntakeError naming a file, or a mapping whose files are found and read."""
    with tempfile.TemporaryDirectory() as d:
        raw = Path(d) / "raw"
        write_raw(raw)
        mapping = Path(d) / "fuzz.yaml"
        mapping.write_bytes(data)
        try:
            m = load_mapping(mapping)
        except Exception as exc:
            assert_names_file(exc, mapping)
            assert isinstance(exc, MappingError), exc
            if kind == "duplicate_key":
                assert "line" in str(exc), exc
            event("mapping: refused by load_mapping")
            return
        assert kind != "duplicate_key", f"a key given twice was accepted:\n{data.decode()}"
        try:
            read_stage(raw, mapping, C.TABLES)
        except Exception as exc:
            named = [raw / n for n in (*EXTRA_FILES, *(f"{t}.csv" for t in C.TABLES))]
            assert_names_file(exc, mapping, raw, *named)
            event("mapping: refused at its files")
            return
        assert m.tables.keys() <= set(C.TABLES)
        event("mapping: files read")


@_settings(READ_CASES[0])
@given(raw_cases())
def test_fuzz_read_raw_files_read_or_refused_naming_the_file(case: RawCase) -> None:
    check_raw_case(case)


@pytest.mark.slow
@_settings(READ_CASES[1])
@given(raw_cases())
def test_fuzz_read_raw_files_slow(case: RawCase) -> None:
    check_raw_case(case)


@_settings(MAPPING_CASES[0])
@given(mapping_texts())
def test_fuzz_mapping_files_valid_or_refused_naming_the_file(case: tuple[bytes, str]) -> None:
    check_mapping_text(*case)


@pytest.mark.slow
@_settings(MAPPING_CASES[1])
@given(mapping_texts())
def test_fuzz_mapping_files_slow(case: tuple[bytes, str]) -> None:
    check_mapping_text(*case)


@_settings(PARQUET_CASES[0])
@given(parquet_cases())
def test_fuzz_read_parquet_files_read_or_refused_naming_the_file(case: RawCase) -> None:
    check_raw_case(case)


@pytest.mark.slow
@_settings(PARQUET_CASES[1])
@given(parquet_cases())
def test_fuzz_read_parquet_files_slow(case: RawCase) -> None:
    check_raw_case(case)


@settings(_settings(50))
@given(st.sampled_from(C.TABLES), st.binary(max_size=300))
def test_fuzz_read_random_bytes_refused_or_read(table: str, data: bytes) -> None:
    check_raw_case(RawCase(table, data, ",", None, ("random bytes",)))

"""Fuzzing the whole intake pipeline: fuzzed rows and valid mappings, every row accounted for.

Each case runs :func:`evalkit.intake.run_intake` end to end (about a second), so this layer gets
fewer cases than the read stage (``test_fuzz_read.py``): a few dozen in ``make test``, hundreds
under ``slow``. Invariants: only :class:`~evalkit.intake.IntakeError` escapes, naming a file;
otherwise ``intake_report.json`` reconciles per table and per file with the rows written, and
every quarantined row names its file, row and column (:func:`fuzz_strategies.assert_reconciles`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from evalkit import contract as C
from evalkit.intake import run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

from .fuzz_strategies import (
    PipelineCase,
    RawCase,
    assert_names_file,
    assert_reconciles,
    parquet_cases,
    pipeline_cases,
    raw_cases,
)

#: Cases per layer: (make test, slow). The slow counts are in the closing note of issue #20.
RAW_CASES = (8, 220)
MAPPING_CASES = (3, 80)

#: Fuzzed rows in a clean CSV file, a damaged CSV file, or a Parquet file with odd types.
RAW = st.one_of(raw_cases(rough=False), raw_cases(), parquet_cases())

KW = example_kw(threads=1)


def _settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def check_raw_pipeline(case: RawCase, validate: bool) -> None:
    """Intake of the example extract with one table fuzzed: refused naming it, or reconciled."""
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw", Path(d) / "out"
        write_tables(example_tables(), raw, "csv")
        (raw / f"{case.table}.csv").unlink()
        path = raw / case.file_name
        path.write_bytes(case.data)
        mapping = None
        if case.delimiter != ",":  # every file split by the declared delimiter
            mapping = Path(d) / "mapping.yaml"
            mapping.write_text(f'delimiter: "{case.delimiter}"\n'.replace("\t", "\\t"))
            for t, df in example_tables().items():
                if t != case.table:
                    df.to_csv(raw / f"{t}.csv", index=False, sep=case.delimiter)
        try:
            run_intake(raw, out, mapping=mapping, validate=validate, **KW)
        except Exception as exc:
            assert_names_file(exc, path)
            event("pipeline raw: refused")
            return
        expected = {t: len(df) for t, df in example_tables().items()}
        expected[case.table] = case.rows
        assert_reconciles(out, expected)
        event("pipeline raw: reconciled")


def check_mapping_pipeline(case: PipelineCase, validate: bool) -> None:
    """Intake under a valid mapping over fuzzed files: refused naming a file, or reconciled."""
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw", Path(d) / "out"
        raw.mkdir()
        for name, data in case.files.items():
            (raw / name).write_bytes(data)
        mapping = Path(d) / "mapping.yaml"
        mapping.write_text(case.mapping)
        try:
            report = run_intake(raw, out, mapping=mapping, validate=validate, **KW)
        except Exception as exc:
            assert_names_file(exc, mapping, *(raw / n for n in case.files))
            event("pipeline mapping: refused")
            return
        assert_reconciles(out, {t: sum(f.values()) for t, f in case.rows.items()})
        for table in C.TABLES:
            got = {s.file: s.rows_read for s in report.tables[table].sources}
            assert got == case.rows[table], (table, got)
        event("pipeline mapping: reconciled")


@_settings(RAW_CASES[0])
@given(RAW)
def test_fuzz_pipeline_rows_reconcile_or_file_named(case: RawCase) -> None:
    check_raw_pipeline(case, validate=False)


@pytest.mark.slow
@_settings(RAW_CASES[1])
@given(RAW)
def test_fuzz_pipeline_rows_slow(case: RawCase) -> None:
    check_raw_pipeline(case, validate=False)


@_settings(MAPPING_CASES[0])
@given(pipeline_cases())
def test_fuzz_pipeline_mappings_reconcile_per_file(case: PipelineCase) -> None:
    check_mapping_pipeline(case, validate=True)


@pytest.mark.slow
@_settings(MAPPING_CASES[1])
@given(pipeline_cases())
def test_fuzz_pipeline_mappings_slow(case: PipelineCase) -> None:
    check_mapping_pipeline(case, validate=True)

"""Property tests: malformed rows and files never crash intake, and rows always reconcile.

Hypothesis feeds random text into typed cells, empties cells, drops columns, changes delimiters
and truncates files. The only exception allowed is ``IntakeError`` naming the file; otherwise every
row is either accepted or quarantined with a message naming the file, row and column.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit import contract as C
from evalkit.intake import IntakeError, run_intake
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

KW = example_kw(validate=False, threads=1)
# Each example that passes the header checks runs the whole pipeline (about 1 s of CPU), so the
# row-level property gets fewer examples than the file-level ones, which mostly stop early.
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
ROW_SETTINGS = settings(SETTINGS, max_examples=12)

cell_text = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "2021-02-30",
            "1800-01-01",
            "9999-12-31",
            "abc",
            "-1",
            "1e3",
            "3.5",
            "NULL",
            " ",
            "0x10",
            "99999999999999999999",
            "2021/01/01",
            "１２",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=12,
    ),
)
typed_cells = [(t, c) for t in C.TABLES for c, k in C.COLUMNS[t].items() if k in ("int", "date")]


def _assert_reconciles(raw: Path, out: Path, report) -> None:
    for table in C.TABLES:
        tr = report.tables[table]
        assert tr.rows_read == tr.rows_accepted + tr.rows_quarantined
        q = pd.read_parquet(out / "quarantine" / f"{table}.parquet")
        assert len(q) == tr.rows_quarantined
        assert len(pd.read_parquet(out / f"{table}.parquet")) == tr.rows_accepted
        assert set(q["reason"]) <= set(C.REASONS)
        for r in q.itertuples():
            assert r.message.startswith(f"{tr.source_file} row {r.row_number}, column {r.column}")
            assert r.column


@ROW_SETTINGS
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from([*typed_cells, ("population", "sex"), ("measures", "item")]),
            st.integers(0, 7),
            cell_text,
        ),
        min_size=1,
        max_size=8,
    ),
    fmt=st.sampled_from(["csv", "parquet"]),
)
def test_run_intake_random_cells_reconcile_without_crashing(edits, fmt) -> None:
    tables = example_tables()
    touched: dict[str, set[int]] = {}
    for (table, col), row, value in edits:
        df = tables[table]
        r = row % len(df)
        df.loc[r, col] = value
        touched.setdefault(table, set()).add(r + 1)
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw", Path(d) / "out"
        write_tables(tables, raw, fmt)
        report = run_intake(raw, out, **KW)
        _assert_reconciles(raw, out, report)
        # Untouched population rows are never quarantined by edits elsewhere in population.
        q = pd.read_parquet(out / "quarantine" / "population.parquet")
        assert set(q["row_number"]) <= touched.get("population", set())


@SETTINGS
@given(
    table=st.sampled_from(C.TABLES),
    content=st.one_of(
        st.just(""),
        st.just("\n"),
        st.text(max_size=200),
        st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    ),
)
def test_run_intake_garbage_file_raises_intake_error_naming_it(table, content) -> None:
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw", Path(d) / "out"
        write_tables(example_tables(), raw, "csv")
        (raw / f"{table}.csv").write_bytes(content.encode("utf-8", "surrogatepass"))
        try:
            report = run_intake(raw, out, **KW)
        except IntakeError as exc:
            assert f"{table}.csv" in str(exc)
        else:  # garbage that happens to be a valid table (e.g. a lucky header): must reconcile
            _assert_reconciles(raw, out, report)


@SETTINGS
@given(
    table=st.sampled_from(C.TABLES),
    data=st.data(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    n_rows=st.integers(0, 3),
)
def test_run_intake_missing_columns_or_wrong_delimiter_names_file_and_column(
    table, data, delimiter, n_rows
) -> None:
    tables = example_tables()
    required = [c for c in C.COLUMNS[table] if c not in C.OPTIONAL_COLUMNS[table]]
    drop = data.draw(st.lists(st.sampled_from(required), unique=True, max_size=3))
    df = tables[table].drop(columns=drop).head(n_rows)  # n_rows = 0: header only
    with tempfile.TemporaryDirectory() as d:
        raw, out = Path(d) / "raw", Path(d) / "out"
        write_tables(tables, raw, "csv")
        df.to_csv(raw / f"{table}.csv", index=False, sep=delimiter, quoting=csv.QUOTE_MINIMAL)
        try:
            report = run_intake(raw, out, **KW)
        except IntakeError as exc:
            msg = str(exc)
            assert f"{table}.csv" in msg
            missing = drop or (required if delimiter != "," else [])
            assert "missing required column" in msg
            assert any(f"'{c}'" in msg for c in missing)
        else:
            assert not drop and delimiter == ","
            _assert_reconciles(raw, out, report)
            assert report.tables[table].rows_read == n_rows
        shutil.rmtree(out, ignore_errors=True)

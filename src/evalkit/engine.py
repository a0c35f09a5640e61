"""The engine layer: the one module where DuckDB, SQL and connection code live.

Everything else in evalkit prepares data with Ibis expressions, which compile to the SQL of
whichever backend runs them. DuckDB (embedded, no server) is the default; swapping it for a SQL
warehouse or Spark means changing :func:`connect` and the few file helpers below, not the checks
or the cohort code. Raw SQL is written only here, and only where Ibis has no portable spelling:
reading a CSV with every column as text and a stable source row number, and ``DESCRIBE``.

Only small, aggregated results are brought back into pandas (:func:`to_pandas` refuses large ones).

Notes
-----
Row numbers. DuckDB's CSV reader has no row-number column, so a CSV is first copied, in file order,
to a staging Parquet file (``preserve_insertion_order`` is on, which DuckDB documents as keeping the
source order for statements without ``ORDER BY``); the staging file's ``file_row_number`` is then
the source row. A Parquet input is read directly with ``file_row_number``. Either way
``row_number`` is 1-based and counts data rows only (a CSV header is not a row).

Version pin. ibis 12.0.0 with sqlglot 30.x fails on ``create_table(name, dataframe)``
(``../shared/reference/stack.md``); the lock file pins sqlglot 28 and ``tests/unit/test_engine.py``
exercises that call so an upgrade that breaks it fails in CI.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends.duckdb import Backend as DuckDBBackend

#: Default number of DuckDB threads: the target machine has two cores shared with other work.
DEFAULT_THREADS = 2
#: Default DuckDB buffer limit; operators spill to ``temp_directory`` beyond it.
DEFAULT_MEMORY_LIMIT = "3GB"
#: Largest result :func:`to_pandas` brings back without ``limit`` being raised explicitly.
MAX_PANDAS_ROWS = 2_000_000

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_THREADS",
    "EngineError",
    "atomic_path",
    "connect",
    "describe_parquet",
    "materialize",
    "open_processed",
    "read_parquet",
    "sql",
    "stage_raw_csv",
    "stage_raw_parquet",
    "table",
    "to_pandas",
    "write_parquet",
]


class EngineError(RuntimeError):
    """The engine could not read or write a file; the message names the file."""


def connect(
    database: str | Path = ":memory:",
    *,
    threads: int = DEFAULT_THREADS,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
    temp_directory: str | Path | None = None,
) -> DuckDBBackend:
    """Open an Ibis connection to an embedded DuckDB database.

    Parameters
    ----------
    database : str or Path
        ``":memory:"`` (default) or a database file (lets large intermediate tables live on disk).
    threads : int
        DuckDB worker threads. Pinned (default 2) so timings and memory are predictable.
    memory_limit : str
        DuckDB buffer-manager limit, e.g. ``"3GB"``; larger operators spill to disk.
    temp_directory : str or Path, optional
        Where DuckDB spills; default is DuckDB's own (next to a database file).

    Returns
    -------
    ibis.backends.duckdb.Backend
        The connection. ``preserve_insertion_order`` is on, so outputs written without
        ``ORDER BY`` keep their input order.
    """
    config: dict[str, Any] = {
        "threads": int(threads),
        "memory_limit": memory_limit,
        "preserve_insertion_order": True,
    }
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    return ibis.duckdb.connect(database=str(database), **config)


def _raw(con: DuckDBBackend) -> duckdb.DuckDBPyConnection:
    return con.con


def table(con: DuckDBBackend, name: str) -> ir.Table:
    """Return an *unbound* Ibis table with the schema of ``name`` in ``con``.

    Expressions built on unbound tables refer to tables by name only, so the same checks compile
    to the same SQL whatever the connection, and :func:`sql` can cache the compiled text.
    """
    return ibis.table(con.table(name).schema(), name=name)


@lru_cache(maxsize=128)
def _compile(node: Any) -> str:
    return ibis.to_sql(node.to_expr(), dialect="duckdb")


def sql(expr: ir.Expr) -> str:
    """DuckDB SQL for an Ibis expression, cached by the expression's structure.

    Compiling a large Ibis expression costs about a second of CPU; intake compiles the same
    checks for every run, so the text is cached (keyed on the unbound expression tree).
    """
    return _compile(expr.op())


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place with ``os.replace``.

    An interrupted write leaves at most a ``.<name>.tmp-*`` file behind, never a half-written
    ``path``. The temporary file is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def stage_raw_csv(
    con: DuckDBBackend,
    path: Path,
    *,
    columns: Sequence[str],
    staging_path: Path,
    name: str,
    delimiter: str = ",",
) -> ir.Table:
    """Read a CSV with every column as text and a 1-based ``row_number``.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    path : Path
        The CSV file (UTF-8, first line a header, ``"`` quotes).
    columns : sequence of str
        The header's column names, in file order (read by the caller); output columns keep them.
    staging_path : Path
        Where the file-ordered staging Parquet goes (the caller deletes it).
    name : str
        Name of the view to create.
    delimiter : str
        Field separator.

    Returns
    -------
    ibis.Table
        ``row_number`` (int64, 1-based data row) and one string column per header column.

    Raises
    ------
    EngineError
        The file cannot be parsed (wrong number of fields on a line, bad quoting, not UTF-8); the
        message names the file and repeats DuckDB's description, which gives the line.
    """
    placeholders = [f"c{i}" for i in range(len(columns))]
    col_spec = "{" + ", ".join(f"{_quote_str(p)}: 'VARCHAR'" for p in placeholders) + "}"
    select = ", ".join(
        f"{_quote_ident(p)} AS {_quote_ident(c)}"
        for p, c in zip(placeholders, columns, strict=True)
    )
    sql = (
        f"COPY (SELECT {select} FROM read_csv({_quote_str(str(path))}, header = true, "
        f"auto_detect = false, columns = {col_spec}, delim = {_quote_str(delimiter)}, "
        f"quote = '\"', escape = '\"', all_varchar = true)) "
        f"TO {_quote_str(str(staging_path))} (FORMAT parquet, COMPRESSION zstd)"
    )
    try:
        _raw(con).execute(sql)
    except duckdb.Error as exc:
        raise EngineError(f"{path}: cannot be read as CSV: {_first_line(exc)}") from None
    return _numbered_view(con, staging_path, name, {c: None for c in columns})


def describe_parquet(con: DuckDBBackend, path: Path) -> dict[str, str]:
    """Column names and DuckDB types of a Parquet file, in file order.

    Raises
    ------
    EngineError
        The file is not readable Parquet; the message names it.
    """
    try:
        rows = (
            _raw(con)
            .execute(f"DESCRIBE SELECT * FROM read_parquet({_quote_str(str(path))})")
            .fetchall()
        )
    except duckdb.Error as exc:
        raise EngineError(f"{path}: cannot be read as Parquet: {_first_line(exc)}") from None
    return {r[0]: str(r[1]) for r in rows}


def stage_raw_parquet(
    con: DuckDBBackend,
    path: Path,
    *,
    columns: Sequence[str],
    name: str,
    date_format: str = "%Y-%m-%d",
) -> ir.Table:
    """Read a Parquet file with every column as text and a 1-based ``row_number``.

    Typed columns are rendered as the text a CSV export would hold, so a CSV and a Parquet copy
    of the same data give the same strings: dates and timestamps through ``date_format`` (a
    timestamp keeps its date only), everything else by a plain cast to text.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    path : Path
        The Parquet file.
    columns : sequence of str
        Columns to read (must exist in the file).
    name : str
        Name of the view to create.
    date_format : str
        ``strftime`` format that date columns are rendered with.

    Returns
    -------
    ibis.Table
        ``row_number`` (int64, 1-based) and one string column per requested column.
    """
    types = describe_parquet(con, path)
    exprs: dict[str, str | None] = {}
    for c in columns:
        t = types[c].upper()
        q = _quote_ident(c)
        if t == "DATE" or t.startswith("TIMESTAMP"):
            exprs[c] = f"strftime(CAST({q} AS DATE), {_quote_str(date_format)})"
        else:
            exprs[c] = f"CAST({q} AS VARCHAR)"
    return _numbered_view(con, path, name, exprs)


def _numbered_view(
    con: DuckDBBackend, path: Path, name: str, exprs: Mapping[str, str | None]
) -> ir.Table:
    cols = ", ".join(
        f"{e if e is not None else 'CAST(' + _quote_ident(c) + ' AS VARCHAR)'} AS {_quote_ident(c)}"
        for c, e in exprs.items()
    )
    sql = (
        f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS SELECT "
        f"CAST(file_row_number AS BIGINT) + 1 AS row_number"
        f"{', ' + cols if cols else ''} "
        f"FROM read_parquet({_quote_str(str(path))}, file_row_number = true)"
    )
    try:
        _raw(con).execute(sql)
    except duckdb.Error as exc:
        raise EngineError(f"{path}: cannot be read as Parquet: {_first_line(exc)}") from None
    return table(con, name)


def read_parquet(con: DuckDBBackend, path: Path, name: str | None = None) -> ir.Table:
    """Open a Parquet file as a lazy Ibis table (nothing is loaded)."""
    try:
        return con.read_parquet(str(path), table_name=name)
    except duckdb.Error as exc:
        raise EngineError(f"{path}: cannot be read as Parquet: {_first_line(exc)}") from None


def materialize(con: DuckDBBackend, expr: ir.Table, name: str) -> ir.Table:
    """Compute ``expr`` once into a table of the connection's database and return that table.

    With an on-disk database the table lives on disk, so a 25-million-row intermediate does not
    have to fit in memory.
    """
    try:
        _raw(con).execute(f"CREATE OR REPLACE TABLE {_quote_ident(name)} AS {sql(expr)}")
    except duckdb.Error as exc:
        raise EngineError(f"cannot compute table {name}: {_first_line(exc)}") from None
    return table(con, name)


def write_parquet(
    con: DuckDBBackend,
    expr: ir.Table,
    path: Path,
    *,
    order_by: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    check: Callable[[Path], None] | None = None,
) -> None:
    """Write ``expr`` to ``path`` as Parquet (zstd), sorted by ``order_by``; atomic.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    expr : ibis.Table
        What to write; it streams from the engine to the file, nothing passes through pandas.
    path : Path
        Destination; written to a temporary name beside it and moved into place at the end.
    order_by : sequence of str, optional
        Sort keys. Sorting by a unique key (``row_number``) makes the file byte-identical across
        runs and thread counts.
    drop : sequence of str
        Columns to leave out of the file (e.g. the sort key).
    check : callable, optional
        Called with the temporary path before it is moved into place; raise to abandon the write.
    """
    if order_by:
        expr = expr.order_by(list(order_by))
    if drop:
        expr = expr.drop(*drop)
    with atomic_path(Path(path)) as tmp:
        try:
            _raw(con).execute(
                f"COPY ({sql(expr)}) TO {_quote_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
            )
        except duckdb.Error as exc:
            raise EngineError(f"{path}: cannot be written: {_first_line(exc)}") from None
        if check is not None:
            check(tmp)


def to_pandas(con: DuckDBBackend, expr: ir.Expr, *, limit: int = MAX_PANDAS_ROWS) -> pd.DataFrame:
    """Execute an Ibis expression on ``con`` and return a small result as pandas.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect` (unbound tables are looked up in it by name).
    expr : ibis expression
        A table (or scalar/column) expression, usually an aggregate.
    limit : int
        Refuse results with more rows than this: large tables stay in the engine.

    Returns
    -------
    pandas.DataFrame
        The result (a scalar or column is wrapped in a one-column frame).
    """
    if isinstance(expr, ir.Table):
        out = con.execute(expr.limit(limit + 1))
        if len(out) > limit:
            raise EngineError(
                f"result has more than {limit} rows, the limit for pandas: "
                "aggregate it in the engine first, or raise `limit`"
            )
        return out
    out = con.execute(expr)
    if isinstance(out, pd.Series):
        return out.to_frame()
    return pd.DataFrame({"value": [out]})


def open_processed(
    con: DuckDBBackend, processed_dir: Path, tables: Sequence[str] | None = None
) -> dict[str, ir.Table]:
    """Open intake's validated Parquet tables in ``processed_dir`` as lazy Ibis tables.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    processed_dir : Path
        Intake's output directory (``data/processed``).
    tables : sequence of str, optional
        Which tables (default: every contract table).

    Returns
    -------
    dict of str to ibis.Table
        One lazy table per name, registered under that name.
    """
    from evalkit.contract import TABLES

    out = {}
    for t in tables or TABLES:
        p = Path(processed_dir) / f"{t}.parquet"
        if not p.is_file():
            raise EngineError(f"{p}: processed table not found; run `evalkit intake` first")
        out[t] = read_parquet(con, p, name=t)
    return out

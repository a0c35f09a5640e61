"""The engine layer: the one module where DuckDB, SQL and connection code live.

Everything else in evalkit prepares data with Ibis expressions, which compile to the SQL of
whichever backend runs them. DuckDB (embedded, no server) is the default; swapping it for a SQL
warehouse or Spark means changing :func:`connect` and the few file helpers below, not the checks
or the cohort code. Raw SQL is written only here, and only where Ibis has no portable spelling:
reading a CSV with every column as text and a stable source row number, ``DESCRIBE``, writing a
file in source order, and the file-order shortcut of :func:`duplicate_keys`.

Only small, aggregated results are brought back into pandas (:func:`to_pandas` refuses large ones).

Notes
-----
Row numbers. A CSV is loaded, every value as text, into a table of the (in-memory) database with
``row_number() OVER ()``, which DuckDB documents as numbering rows in their original order; a
Parquet input is read in place with ``file_row_number``. Either way ``row_number`` is 1-based and
counts data rows only (a CSV header is not a row).

Order. DuckDB keeps insertion order (``preserve_insertion_order``) through scans, projections,
filters and ``COPY``, but not across joins: a test here found rows of an anti join written out of
order. :func:`write_parquet` with ``source_order`` therefore reads the physical plan first and
writes without sorting only when every operator between the source scan and the file is a
projection or a filter; otherwise it sorts by the row number. Rows to leave out (intake's
rejected rows) are removed with a filter on a bitmap of their row numbers (``bitstring_agg`` and
``get_bit``), not with a join, so the accepted rows are written in file order without a sort,
which for 30 million rows would cost more than the rest of intake together.

Version pin. ibis 12.0.0 with sqlglot 30.x fails on ``create_table(name, dataframe)``
(``docs/reference/stack.md``); the lock file pins sqlglot 28 and ``tests/unit/test_engine.py``
exercises that call so an upgrade that breaks it fails in CI.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends.duckdb import Backend as DuckDBBackend

from evalkit.files import atomic_path

#: Default number of DuckDB threads: the target machine has two cores shared with other work.
DEFAULT_THREADS = 2
#: Default DuckDB buffer limit; operators spill to ``temp_directory`` beyond it. County-scale
#: intake needs about 2 GB of it; the limit leaves room so that nothing spills, while the whole
#: process stays inside a 6 GB memory target (the machine has 24 GB).
DEFAULT_MEMORY_LIMIT = "4GB"
#: Largest result :func:`to_pandas` brings back without ``limit`` being raised explicitly.
MAX_PANDAS_ROWS = 2_000_000

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_THREADS",
    "EngineError",
    "append",
    "connect",
    "count_rows",
    "describe_parquet",
    "duplicate_keys",
    "materialize",
    "open_processed",
    "plan_keeps_order",
    "read_parquet",
    "read_parquet_sample",
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


def stage_raw_csv(
    con: DuckDBBackend,
    path: Path,
    *,
    columns: Sequence[str],
    name: str,
    delimiter: str = ",",
) -> ir.Table:
    """Load a CSV into table ``name`` with every column as text and a 1-based ``row_number``.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    path : Path
        The CSV file (UTF-8, first line a header, ``"`` quotes).
    columns : sequence of str
        The header's column names, in file order (read by the caller); output columns keep them.
    name : str
        Name of the table to create (in the connection's database; it spills to the temporary
        directory if it outgrows the memory limit).
    delimiter : str
        Field separator.

    Returns
    -------
    ibis.Table
        ``row_number`` (int64, 1-based data row, from ``row_number() OVER ()``: the file order)
        and one string column per header column.

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
        f"CREATE OR REPLACE TABLE {_quote_ident(name)} AS SELECT "
        f"CAST(row_number() OVER () AS BIGINT) AS row_number, {select} "
        f"FROM read_csv({_quote_str(str(path))}, header = true, "
        f"auto_detect = false, columns = {col_spec}, delim = {_quote_str(delimiter)}, "
        f"quote = '\"', escape = '\"', all_varchar = true)"
    )
    try:
        _raw(con).execute(sql)
    except duckdb.Error as exc:
        raise EngineError(f"{path}: cannot be read as CSV: {_first_line(exc)}") from None
    return table(con, name)


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


#: Parquet types passed through natively as ``int`` (they always fit in int64).
NATIVE_INT_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
)
#: Parquet types passed through natively as ``date`` (a timestamp keeps its date).
#: (``TIMESTAMP WITH TIME ZONE`` is not: its date depends on the session's time zone.)
NATIVE_DATE_TYPES = frozenset({"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"})


def stage_raw_parquet(
    con: DuckDBBackend,
    path: Path,
    *,
    columns: Mapping[str, str],
    name: str,
    date_format: str = "%Y-%m-%d",
) -> ir.Table:
    """Read a Parquet file with a 1-based ``row_number``, each column as text or natively typed.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    path : Path
        The Parquet file.
    columns : mapping of str to str
        Column -> how to read it: ``"text"`` renders it as the text a CSV export would hold
        (dates and timestamps through ``date_format``, a timestamp keeping its date; anything
        else by a plain cast), so a CSV and a Parquet copy of the same data give the same
        strings; ``"date"`` passes a ``DATE``/``TIMESTAMP`` column through as a date and
        ``"int"`` an integer column as int64 (see :data:`NATIVE_DATE_TYPES` and
        :data:`NATIVE_INT_TYPES`), which saves rendering and re-parsing 30 million values.
    name : str
        Name of the view to create.
    date_format : str
        ``strftime`` format that date columns read as text are rendered with.

    Returns
    -------
    ibis.Table
        ``row_number`` (int64, 1-based) and one column per requested column.
    """
    types = describe_parquet(con, path)
    exprs: dict[str, str] = {}
    for c, how in columns.items():
        t = types[c].upper()
        q = _quote_ident(c)
        if how == "date":
            if t not in NATIVE_DATE_TYPES:
                raise EngineError(f"{path}: column {c} is {t}, not a date")
            exprs[c] = f"CAST({q} AS DATE)"
        elif how == "int":
            if t not in NATIVE_INT_TYPES:
                raise EngineError(f"{path}: column {c} is {t}, not an integer")
            exprs[c] = f"CAST({q} AS BIGINT)"
        elif t == "DATE" or t.startswith("TIMESTAMP"):
            exprs[c] = f"strftime(CAST({q} AS DATE), {_quote_str(date_format)})"
        elif t == "VARCHAR":
            exprs[c] = q
        else:
            exprs[c] = f"CAST({q} AS VARCHAR)"
    return _numbered_view(con, path, name, exprs)


def _numbered_view(con: DuckDBBackend, path: Path, name: str, exprs: Mapping[str, str]) -> ir.Table:
    cols = ", ".join(f"{e} AS {_quote_ident(c)}" for c, e in exprs.items())
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


def read_parquet_sample(
    con: DuckDBBackend, path: Path, name: str, *, max_rows: int
) -> tuple[ir.Table, int]:
    """Open every k-th row of a Parquet file (a systematic, deterministic sample) as a view.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    path : Path
        The Parquet file.
    name : str
        Name of the view.
    max_rows : int
        At most this many rows: ``k`` is the smallest step that keeps the sample below it.

    Returns
    -------
    (ibis.Table, int)
        The sampled rows (the file's columns; a table bound to ``con``, as pandera needs) and the
        step ``k`` (1 = every row).
    """
    n = int(
        _raw(con)
        .execute(f"SELECT count(*) FROM read_parquet({_quote_str(str(path))})")
        .fetchone()[0]
    )
    step = max(1, -(-n // max(1, int(max_rows))))
    where = "" if step == 1 else f" WHERE file_row_number % {step} = 0"
    _raw(con).execute(
        f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS SELECT * EXCLUDE (file_row_number) "
        f"FROM read_parquet({_quote_str(str(path))}, file_row_number = true){where}"
    )
    return con.table(name), step


def count_rows(con: DuckDBBackend, expr: ir.Table) -> int:
    """Number of rows of a table expression, counted in the engine."""
    # fetchall, not fetchone: it finishes the result, so Ibis may use the connection next.
    return int(_raw(con).execute(f"SELECT count(*) FROM ({sql(expr)})").fetchall()[0][0])


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


def append(con: DuckDBBackend, expr: ir.Table, name: str) -> ir.Table:
    """Add the rows of ``expr`` to table ``name`` (created from them if it does not exist).

    Each call inserts in ``expr``'s own order, so tables appended one after another (the files
    of one contract table) keep their rows in file order, one file after the next.
    """
    exists = bool(
        _raw(con)
        .execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
        .fetchall()[0][0]
    )
    verb = (
        f"INSERT INTO {_quote_ident(name)} " if exists else f"CREATE TABLE {_quote_ident(name)} AS "
    )
    try:
        _raw(con).execute(f"{verb}{sql(expr)}")
    except duckdb.Error as exc:
        raise EngineError(f"cannot compute table {name}: {_first_line(exc)}") from None
    return table(con, name)


_ORDER_KEEPING = {"PROJECTION", "FILTER"}
_SCANS = {"READ_PARQUET", "SEQ_SCAN", "TABLE_SCAN", "PARQUET_SCAN"}


def plan_keeps_order(con: DuckDBBackend, query: str, source: str) -> bool:
    """Whether DuckDB's physical plan for ``query`` emits rows in the order of ``source``.

    The plan must be a chain of projections and filters (the operators DuckDB documents as
    keeping insertion order) ending at a scan of ``source`` (a table name, or any
    ``READ_PARQUET`` when ``source`` is a view over a Parquet file). Joins do not count, even
    where the probe side streams in order: an anti join was seen writing rows out of order.
    Anything else, or a plan that cannot be read, counts as not keeping order.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    query : str
        A ``SELECT`` statement.
    source : str
        The table or view whose order is wanted.
    """
    try:
        rows = _raw(con).execute(f"EXPLAIN (FORMAT json) {query}").fetchall()
        plan = json.loads(rows[0][1])
    except (duckdb.Error, ValueError, IndexError, TypeError):
        return False
    try:
        is_view = bool(
            _raw(con)
            .execute(
                "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal",
                [source],
            )
            .fetchone()[0]
        )
    except duckdb.Error:
        return False
    node = plan[0] if isinstance(plan, list) and plan else None
    while isinstance(node, dict):
        name = str(node.get("name", "")).strip()
        info = node.get("extra_info")
        info = info if isinstance(info, dict) else {}
        children = node.get("children") or []
        if name in _SCANS or not children:
            table_name = str(info.get("Table", ""))
            if name == "READ_PARQUET" or info.get("Function") == "READ_PARQUET":
                return is_view
            return table_name.split(".")[-1] == source
        if name not in _ORDER_KEEPING or len(children) != 1:
            return False
        node = children[0]
    return False


def write_parquet(
    con: DuckDBBackend,
    expr: ir.Table,
    path: Path,
    *,
    order_by: Sequence[str] | None = None,
    source_order: tuple[str, str] | None = None,
    skip_rows: ir.Table | None = None,
    drop: Sequence[str] = (),
    check: Callable[[Path], None] | None = None,
) -> int:
    """Write ``expr`` to ``path`` as Parquet (zstd); atomic. Returns the number of rows written.

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
    source_order : (str, str), optional
        ``(source, column)``: keep the order of table or view ``source``, whose unique 1-based
        ``column`` (the row number) ``expr`` carries. The file is written unsorted when
        :func:`plan_keeps_order` confirms the plan keeps that order, else sorted by ``column``;
        either way the rows come out in source order.
    skip_rows : ibis.Table, optional
        A table (of the connection) whose only column holds values of ``source_order``'s column
        to leave out. They are removed by a bitmap filter, which keeps the order (a join would
        not). Requires ``source_order``.
    drop : sequence of str
        Columns to leave out of the file (e.g. the row number).
    check : callable, optional
        Called with the temporary path before it is moved into place; raise to abandon the write.
    """
    if order_by:
        expr = expr.order_by(list(order_by))
    keep = [c for c in expr.columns if c not in drop]
    cols = ", ".join(_quote_ident(c) for c in keep)
    query = f"SELECT {cols} FROM ({sql(expr)})"
    if source_order is not None:
        source, column = source_order
        if skip_rows is not None:
            var = f"_skip_{uuid.uuid4().hex[:12]}"
            (skip_col,) = skip_rows.columns
            src = f"SELECT {_quote_ident(skip_col)} AS k FROM ({sql(skip_rows)})"
            try:
                top = _raw(con).execute(f"SELECT max(k) FROM ({src})").fetchone()[0]
                if top is not None:
                    _raw(con).execute(
                        f"SET VARIABLE {var} = (SELECT bitstring_agg(CAST(k - 1 AS BIGINT), 0, "
                        f"{int(top) - 1}) FROM ({src}))"
                    )
                    c = _quote_ident(column)
                    query = (
                        f"SELECT {cols} FROM ({sql(expr)}) WHERE {c} > {int(top)} OR "
                        f"get_bit(getvariable('{var}'), CAST({c} - 1 AS INTEGER)) = 0"
                    )
            except duckdb.Error as exc:
                raise EngineError(f"{path}: cannot be written: {_first_line(exc)}") from None
        if not plan_keeps_order(con, query, source):
            query += f" ORDER BY {_quote_ident(column)}"
    elif skip_rows is not None:
        raise ValueError("skip_rows needs source_order (the row-number column)")
    with atomic_path(Path(path)) as tmp:
        try:
            res = _raw(con).execute(
                f"COPY ({query}) TO {_quote_str(str(tmp))} (FORMAT parquet, COMPRESSION zstd)"
            )
            written = int(res.fetchone()[0])
        except duckdb.Error as exc:
            raise EngineError(f"{path}: cannot be written: {_first_line(exc)}") from None
        if check is not None:
            check(tmp)
    return written


def duplicate_keys(con: DuckDBBackend, expr: ir.Table, keys: Sequence[str], name: str) -> ir.Table:
    """Key values that occur on more than one row of ``expr``, as table ``name``.

    Rows with a null in any key column are ignored. ``expr`` must keep its source's row order
    (a projection of a scan). For a single key column whose non-null values never decrease in
    file order (ids written in sequence, as warehouse exports often are), repeated values sit
    next to each other, so comparing each value with the one before it (``lag() OVER ()``, which
    keeps insertion order) finds them in one streaming pass; otherwise, or when the values go
    down anywhere, a ``GROUP BY ... HAVING count(*) > 1``. Both give the same set.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect`.
    expr : ibis.Table
        Table with the key columns.
    keys : sequence of str
        Key columns.
    name : str
        Name of the table to create (distinct key values).

    Returns
    -------
    ibis.Table
        The key columns, one row per repeated key.
    """
    k = [_quote_ident(c) for c in keys]
    base = sql(expr.select(*keys))
    not_null = " AND ".join(f"{c} IS NOT NULL" for c in k)
    q = None
    if len(keys) == 1:
        c = k[0]
        try:  # one streaming pass: does the key ever go down, and which values repeat?
            down, reps = (
                _raw(con)
                .execute(
                    f"SELECT count(*) FILTER (WHERE {c} < _prev), "
                    f"list(DISTINCT {c}) FILTER (WHERE {c} = _prev) "
                    f"FROM (SELECT {c}, lag({c}) OVER () AS _prev FROM ({base}) WHERE {not_null})"
                )
                .fetchone()
            )
        except duckdb.Error as exc:
            raise EngineError(f"cannot compute table {name}: {_first_line(exc)}") from None
        if down == 0:
            typ = _raw(con).execute(f"SELECT typeof({c}) FROM ({base}) LIMIT 1").fetchone()
            typ = typ[0] if typ else "VARCHAR"
            q = f"SELECT CAST(unnest(?) AS {typ}) AS {c}"
            try:
                _raw(con).execute(
                    f"CREATE OR REPLACE TABLE {_quote_ident(name)} AS {q}", [list(reps or [])]
                )
            except duckdb.Error as exc:
                raise EngineError(f"cannot compute table {name}: {_first_line(exc)}") from None
            return table(con, name)
    cols = ", ".join(k)
    q = f"SELECT {cols} FROM ({base}) WHERE {not_null} GROUP BY {cols} HAVING count(*) > 1"
    try:
        _raw(con).execute(f"CREATE OR REPLACE TABLE {_quote_ident(name)} AS {q}")
    except duckdb.Error as exc:
        raise EngineError(f"cannot compute table {name}: {_first_line(exc)}") from None
    return table(con, name)


#: Rows and columns fetched into pandas in this process, per stage (:func:`fetch_log`).
_FETCHED: dict[str, dict[str, Any]] = {}


def fetch_log(reset: bool = False) -> dict[str, dict[str, Any]]:
    """What :func:`to_pandas` brought into Python, per stage: calls, rows, largest, columns.

    Lets a test bound what each stage fetches from a server or Spark (and show that no
    activity rows come back), whichever engine ran it.
    """
    out = {k: {**v, "columns": set(v["columns"])} for k, v in _FETCHED.items()}
    if reset:
        _FETCHED.clear()
    return out


def _record_fetch(stage: str, df: pd.DataFrame) -> None:
    rec = _FETCHED.setdefault(stage, {"calls": 0, "rows": 0, "largest": 0, "columns": set()})
    rec["calls"] += 1
    rec["rows"] += len(df)
    rec["largest"] = max(rec["largest"], len(df))
    rec["columns"].update(map(str, df.columns))


def to_pandas(
    con: DuckDBBackend, expr: ir.Expr, *, limit: int = MAX_PANDAS_ROWS, stage: str = "other"
) -> pd.DataFrame:
    """Execute an Ibis expression on ``con`` and return a small result as pandas.

    Parameters
    ----------
    con : Backend
        Connection from :func:`connect` (unbound tables are looked up in it by name).
    expr : ibis expression
        A table (or scalar/column) expression, usually an aggregate.
    limit : int
        Refuse results with more rows than this: large tables stay in the engine.
    stage : str
        Which stage fetches (``cohort``, ``study``, ``equity``...), for :func:`fetch_log`.

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
    else:
        out = con.execute(expr)
        out = out.to_frame() if isinstance(out, pd.Series) else pd.DataFrame({"value": [out]})
    _record_fetch(stage, out)
    return out


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

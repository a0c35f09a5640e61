"""One table through intake: stage it, check every row, write the accepted and quarantined rows.

For each table, parents first (``population`` -> ``activity``, ``referrals`` -> ``measures``):

1. stage it in DuckDB with its source ``row_number``: a CSV loaded as text, a Parquet file read
   in place (integer and date columns typed, the rest as text);
2. find the primary-key values that occur more than once, then run every row and referential
   check in one pass (:func:`evalkit.intake.checks.flag_rows`), keeping only the rows that fail
   or share a key; settle duplicates and reasons on that small set;
3. write the accepted rows typed, in source order, leaving out the rejected row numbers (checked
   with the pandera schema before the file is kept); the rejected rows with their original text,
   ``row_number``, ``reason``, ``column`` and ``message``; and the counts, which must reconcile.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandera.errors

from evalkit import contract as C
from evalkit import engine
from evalkit.intake.checks import (
    COLUMN,
    PARENT,
    REASON,
    ROW,
    CheckContext,
    decide,
    flag_rows,
    normalise,
    parent_lookup,
    typed_rows,
)
from evalkit.intake.errors import IntakeError
from evalkit.intake.identifiers import refuse_nhs_number_ids
from evalkit.intake.mapping import IntakeMapping
from evalkit.intake.masking import example_masks, identifying_masks, nhs_numbers
from evalkit.intake.report import REASON_TEXT, TableReport
from evalkit.intake.schemas import accepted_schema
from evalkit.intake.sources import Source, csv_line_problem, file_sha256

__all__ = [
    "SCHEMA_FULL_ROWS",
    "SCHEMA_SAMPLE_ROWS",
    "ProcessedTable",
    "process_table",
    "quarantine_message",
]

#: Accepted tables up to this many rows are checked against their pandera schema in full.
SCHEMA_FULL_ROWS = 1_000_000
#: Larger ones (activity) on a systematic sample of about this many rows (every k-th row).
SCHEMA_SAMPLE_ROWS = 250_000


@dataclass
class ProcessedTable:
    """What a child table needs of a processed parent table."""

    accepted: Path
    rejected: ir.Table


def quarantine_message(
    q: ir.Table,
    file_name: str,
    present: list[str],
    recode: Mapping[str, Mapping[str, str]] | None = None,
    shown: Mapping[str, ir.StringValue] | None = None,
) -> ir.StringValue:
    """The plain-English message of each quarantined row: file, row, column, value, reason.

    Where the mapping recodes the named column, the value the checks saw is shown after the
    source value (``'9' recoded to 'U'``), or that the mapping does not list the source value.
    ``shown`` gives the value to show of each column (masked, :mod:`evalkit.intake.masking`);
    by default the column itself.
    """
    col = q[COLUMN]
    shown = shown or {c: q[c] for c in present}
    value = ibis.cases(*[(col == c, shown[c]) for c in present], else_=ibis.null("string"))
    value_text = ibis.ifelse(value.isnull(), "empty", ibis.literal("'").concat(value, "'"))
    recoded = [(c, dict(r)) for c, r in (recode or {}).items() if r and c in present]
    if recoded:
        value_text = value_text.concat(
            ibis.cases(
                *[(col == c, _recode_text(q[c], c, r)) for c, r in recoded], else_=ibis.literal("")
            )
        )
    explain = q[REASON].substitute(REASON_TEXT, else_=q[REASON])
    return ibis.literal(f"{file_name} row ").concat(
        q[ROW].cast("string"),
        ", column ",
        col.fill_null("?"),
        " = ",
        ibis.ifelse(col.contains(","), "key", value_text),
        ": ",
        q[REASON],
        " (",
        explain,
        ")",
    )


def _recode_text(source: ir.StringValue, column: str, recode: dict[str, str]) -> ir.StringValue:
    """`` recoded to 'U'``, or that the mapping's recode of ``column`` does not list the value."""
    key = source.strip()
    return ibis.cases(
        (source.isnull() | (key == ""), ibis.literal("")),
        (
            key.isin(list(recode)),
            ibis.literal(" recoded to '").concat(key.substitute(recode, else_=key), "'"),
        ),
        else_=ibis.literal(f" (not listed in the mapping's recode of {column})"),
    )


def _validator(con: Any, st: Source, schema: Any) -> Callable[[Path], None]:
    """Check a written accepted file against its pandera schema.

    Files up to :data:`SCHEMA_FULL_ROWS` rows are checked in full; larger ones (county activity)
    on every k-th row, about :data:`SCHEMA_SAMPLE_ROWS` rows, so the second look costs a second,
    not a minute. The row checks that wrote the file have already looked at every row.
    """

    def validate(tmp: Path) -> None:
        name = f"check_{st.table}"
        tab, step = engine.read_parquet_sample(con, tmp, name, max_rows=SCHEMA_FULL_ROWS)
        if step > 1:
            tab, step = engine.read_parquet_sample(con, tmp, name, max_rows=SCHEMA_SAMPLE_ROWS)
        if int(tab.count().execute()) == 0:
            # Nothing accepted (a header-only file, or every row quarantined): pandera's Ibis
            # backend reports every non-nullable column of an empty table as holding nulls, so
            # only the columns are checked; there are no values to look at.
            if list(tab.columns) != list(schema.columns):
                raise IntakeError(
                    f"{st.path}: accepted {st.table} file has columns {list(tab.columns)}, "
                    f"expected {list(schema.columns)} (an intake bug, please report it)"
                )
            return
        try:
            schema.validate(tab, lazy=True)
        except (pandera.errors.SchemaErrors, pandera.errors.SchemaError) as exc:
            raise IntakeError(
                f"{st.path}: accepted rows fail the {st.table} contract schema (an intake bug, "
                f"please report it): {str(exc)[:2000]}"
            ) from None

    return validate


def _stage(con: Any, st: Source, m: IntakeMapping) -> ir.Table:
    """The raw rows in DuckDB with their ``row_number`` (CSV as text; Parquet read in place)."""
    raw_name = f"raw_{st.table}"
    try:
        if st.fmt == "csv":
            return engine.stage_raw_csv(
                con,
                st.path,
                columns=list(st.source_cols) + st.ignored,
                name=raw_name,
                delimiter=m.delimiter,
            )
        return engine.stage_raw_parquet(
            con,
            st.path,
            columns={src: st.native.get(c, "text") for src, c in st.source_cols.items()},
            name=raw_name,
            date_format=m.date_format_for(st.table),
        )
    except engine.EngineError as exc:
        raise IntakeError(_with_cause(str(exc), st, m)) from None


def _with_cause(message: str, st: Source, m: IntakeMapping) -> str:
    """A CSV parse error's message with its cause (column count, encoding, quoting) added."""
    found = re.search(r"CSV Error on Line: (\d+)", message)
    if st.fmt != "csv" or not found:
        return message
    line = int(found.group(1))
    n_columns = len(st.source_cols) + len(st.ignored)
    problem = csv_line_problem(st.path, line, m.delimiter, n_columns)
    return f"{message} ({problem})" if problem else message


def _reject(
    con: Any,
    st: Source,
    named: ir.Table,
    present: list[str],
    ctx: CheckContext,
    done: dict[str, ProcessedTable],
) -> ir.Table:
    """The rejected rows, each with its one reason (materialised: a small table)."""
    table = st.table
    try:
        # 1. Primary-key values that occur more than once (normally none: a small table).
        pk = list(C.PRIMARY_KEY[table])
        norm = normalise(named, table, present, ctx)
        repeated: ir.Table | None = engine.duplicate_keys(
            con,
            norm.select(**{f"_d_{k}": norm[k] for k in pk}),
            [f"_d_{k}" for k in pk],
            f"repeated_{table}",
        )
        if engine.count_rows(con, repeated) == 0:
            repeated = None
        # 2. Every check in one pass; only failing or repeated-key rows come out.
        parent = None
        if table in PARENT:
            ptable, key = PARENT[table]
            lookup = parent_lookup(
                engine.read_parquet(con, done[ptable].accepted, name=f"accepted_{ptable}_{table}"),
                done[ptable].rejected,
                key,
                table,
            )
            parent = engine.materialize(con, lookup, f"lookup_{table}")
        flagged, pre, post = flag_rows(named, table, present, ctx, repeated=repeated, parent=parent)
        flagged = engine.materialize(con, flagged, f"flagged_{table}")
        # 3. One reason per rejected row (duplicates settled here).
        return engine.materialize(
            con, decide(flagged, table, present, pre, post), f"rejected_{table}"
        )
    except engine.EngineError as exc:
        raise IntakeError(f"{st.path}: {exc}") from None


def _refuse_identifiers(
    con: Any,
    st: Source,
    named: ir.Table,
    present: list[str],
    ctx: CheckContext,
    source_column: str,
) -> None:
    """Stop if ``person_id`` holds NHS numbers (:mod:`evalkit.intake.identifiers`)."""
    norm = normalise(named, st.table, present, ctx)
    try:
        refuse_nhs_number_ids(
            con, norm, column="person_id", path=st.path, source_column=source_column
        )
    except engine.EngineError as exc:
        raise IntakeError(f"{st.path}: {exc}") from None


def _counts_by_reason(con: Any, rejected: ir.Table) -> dict[str, int]:
    """Quarantined rows per reason, in the order of :data:`evalkit.contract.REASONS`."""
    counts = engine.to_pandas(
        con, rejected.group_by(REASON).aggregate(n=rejected.count()), limit=len(C.REASONS) + 1
    )
    by_reason = {str(r): int(n) for r, n in zip(counts[REASON], counts["n"], strict=True)}
    return {r: by_reason[r] for r in C.REASONS if r in by_reason}


def _write_quarantine(
    con: Any,
    st: Source,
    rejected: ir.Table,
    present: list[str],
    out_tmp: Path,
    n: int,
    recode: Mapping[str, Mapping[str, str]],
) -> tuple[str, ...]:
    """Write the quarantined rows with their messages; return up to five example messages.

    The rows are the source's text, except identifying values (NHS numbers, postcodes, dates of
    birth), which are masked in the columns and in the messages alike.
    """
    masked = identifying_masks(rejected, present, nhs_numbers(con, rejected, present) if n else [])
    message = quarantine_message(rejected, st.path.name, present, recode, masked)
    engine.write_parquet(
        con,
        rejected.select(
            ROW, *[masked[c].name(c) for c in present], REASON, COLUMN, message=message
        ),
        out_tmp / "quarantine" / f"{st.table}.parquet",
        order_by=[ROW],
    )
    if not n:
        return ()
    first = engine.materialize(con, rejected.order_by(ROW).limit(5), f"examples_{st.table}")
    masked = identifying_masks(first, present, nhs_numbers(con, first, present))
    shown = example_masks(masked)
    message = quarantine_message(first, st.path.name, present, recode, shown)
    ex = engine.to_pandas(con, first.order_by(ROW).select(message=message), limit=5)
    return tuple(ex["message"].tolist())


def process_table(
    con: Any,
    st: Source,
    ctx: CheckContext,
    done: dict[str, ProcessedTable],
    out_tmp: Path,
    m: IntakeMapping,
    ibis_schema_kwargs: dict[str, Any],
    validate_output: bool,
) -> TableReport:
    """Take one table through intake into ``out_tmp``; record it in ``done`` for its children.

    Parameters
    ----------
    con
        The DuckDB connection (:func:`evalkit.engine.connect`).
    st : Source
        The table's raw file, found and its header checked.
    ctx : CheckContext
        What the row checks depend on besides the data.
    done : dict
        Tables processed so far (a child's parent must be there).
    out_tmp : Path
        Work directory: ``<table>.parquet`` and ``quarantine/<table>.parquet`` are written here.
    m : IntakeMapping
        The mapping (delimiter, date formats).
    ibis_schema_kwargs : dict
        Arguments of :func:`evalkit.intake.schemas.accepted_schema` besides the table.
    validate_output : bool
        Check the accepted file against its pandera schema before it is kept.

    Returns
    -------
    TableReport
        Counts that reconcile: read = accepted + quarantined.
    """
    table = st.table
    raw = _stage(con, st, m)
    # Contract names, source values.
    present = [c for c in C.COLUMNS[table] if c in st.source_cols.values()]
    by_contract = {c: s for s, c in st.source_cols.items()}
    named = raw.select(ROW, **{c: raw[by_contract[c]] for c in present})
    if "person_id" in present:  # NHS numbers where a pseudonym belongs stop intake
        _refuse_identifiers(con, st, named, present, ctx, by_contract["person_id"])
    rejected = _reject(con, st, named, present, ctx, done)
    done[table] = ProcessedTable(accepted=out_tmp / f"{table}.parquet", rejected=rejected)
    by_reason = _counts_by_reason(con, rejected)
    quarantined_n = sum(by_reason.values())
    rows_read = engine.count_rows(con, named)

    # Accepted rows, typed, in source order; the rejected row numbers left out.
    accepted = typed_rows(named, table, present, ctx)
    schema = accepted_schema(table, columns=present, **ibis_schema_kwargs)
    accepted_n = engine.write_parquet(
        con,
        accepted.select(ROW, *present),
        out_tmp / f"{table}.parquet",
        source_order=(f"raw_{table}", ROW),
        skip_rows=rejected.select(ROW) if quarantined_n else None,
        drop=[ROW],
        check=_validator(con, st, schema) if validate_output else None,
    )
    if rows_read != accepted_n + quarantined_n:  # an invariant, checked even under python -O
        raise RuntimeError(
            f"{st.path}: rows do not reconcile: read {rows_read}, accepted {accepted_n}, "
            f"quarantined {quarantined_n}"
        )
    examples = _write_quarantine(con, st, rejected, present, out_tmp, quarantined_n, ctx.recode)
    return TableReport(
        table=table,
        source_file=st.path.name,
        format=st.fmt,
        rows_read=rows_read,
        rows_accepted=accepted_n,
        rows_quarantined=quarantined_n,
        quarantined_by_reason=by_reason,
        sha256=file_sha256(st.path),
        ignored_columns=tuple(st.ignored),
        absent_optional_columns=tuple(st.absent),
        examples=examples,
        size_bytes=st.size,
    )

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

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
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
from evalkit.intake.combine import Combined, combine
from evalkit.intake.episodes import apply_episode_rule
from evalkit.intake.errors import IntakeError
from evalkit.intake.identifiers import refuse_nhs_number_ids
from evalkit.intake.mapping import IntakeMapping
from evalkit.intake.masking import example_masks, identifying_masks, nhs_numbers
from evalkit.intake.report import REASON_TEXT, SourceReport, TableReport
from evalkit.intake.schemas import accepted_schema
from evalkit.intake.sources import Source, file_sha256

__all__ = [
    "SCHEMA_FULL_ROWS",
    "SCHEMA_SAMPLE_ROWS",
    "ProcessedTable",
    "late_rules",
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
    file_name: str | ir.StringValue,
    present: list[str],
    recode: Mapping[str, Mapping[str, str]] | None = None,
    shown: Mapping[str, ir.StringValue] | None = None,
    *,
    row: ir.IntegerValue | None = None,
    became: Mapping[str, ir.StringValue] | None = None,
) -> ir.StringValue:
    """The plain-English message of each quarantined row: file, row, column, value, reason.

    Where the mapping recodes the named column, the value the checks saw is shown after the
    source value (``'9' recoded to 'U'``), or that the mapping does not list the source value.
    ``shown`` gives the value to show of each column (masked, :mod:`evalkit.intake.masking`);
    by default the column itself. For a table of several files, ``file_name`` and ``row`` are
    expressions (each row's file and its row there), and ``became`` gives, per recoded or
    derived column, what the checks saw (:func:`_became_text`).
    """
    col = q[COLUMN]
    shown = shown or {c: q[c] for c in present}
    value = ibis.cases(*[(col == c, shown[c]) for c in present], else_=ibis.null("string"))
    value_text = ibis.ifelse(value.isnull(), "empty", ibis.literal("'").concat(value, "'"))
    recoded = [(c, dict(r)) for c, r in (recode or {}).items() if r and c in present]
    extra = [(col == c, _recode_text(q[c], c, r)) for c, r in recoded]
    extra += [(col == c, _became_text(q[c], v)) for c, v in (became or {}).items()]
    if extra:
        value_text = value_text.concat(ibis.cases(*extra, else_=ibis.literal("")))
    explain = q[REASON].substitute(REASON_TEXT, else_=q[REASON])
    name = ibis.literal(file_name) if isinstance(file_name, str) else file_name
    return name.concat(
        " row ",
        (q[ROW] if row is None else row).cast("string"),
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


def _became_text(source: ir.StringValue, became: ir.StringValue) -> ir.StringValue:
    """`` recoded to 'U'`` where a file's recode or derive changed the value, or why it could not.

    A derive whose rule does not list the code holds the explanation itself
    (:data:`evalkit.intake.combine.DERIVE_UNLISTED`), shown in brackets.
    """
    return ibis.cases(
        (became.isnull(), ibis.literal("")),
        (became.contains(" not listed in the mapping's "), ibis.literal(" (").concat(became, ")")),
        (became != source, ibis.literal(" recoded to '").concat(became, "'")),
        else_=ibis.literal(""),
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


def _reject(
    con: Any,
    table: str,
    label: str,
    named: ir.Table,
    present: list[str],
    ctx: CheckContext,
    done: dict[str, ProcessedTable],
) -> ir.Table:
    """The rejected rows, each with its one reason (materialised: a small table)."""
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
        raise IntakeError(f"{label}: {exc}") from None


def _refuse_identifiers(
    con: Any,
    comb: Combined,
    named: ir.Table,
    ctx: CheckContext,
) -> None:
    """Stop if ``person_id`` holds NHS numbers (:mod:`evalkit.intake.identifiers`)."""
    table = comb.files[0].source.table
    norm = normalise(named, table, comb.present, ctx)
    names = [s for f in comb.files for s, c in f.source.source_cols.items() if c == "person_id"]
    path = comb.files[0].source.path
    if comb.multi:
        path = path.parent / ", ".join(f.source.path.name for f in comb.files)
    try:
        refuse_nhs_number_ids(
            con, norm, column="person_id", path=path, source_column=", ".join(dict.fromkeys(names))
        )
    except engine.EngineError as exc:
        raise IntakeError(f"{path}: {exc}") from None


def _counts_by_reason(con: Any, rejected: ir.Table, comb: Combined) -> list[dict[str, int]]:
    """Quarantined rows per file and reason, in the order of :data:`evalkit.contract.REASONS`."""
    t = rejected.select(_file=comb.file_of(rejected[ROW]), reason=rejected[REASON])
    counts = engine.to_pandas(
        con,
        t.group_by(["_file", REASON]).aggregate(n=t.count()),
        limit=(len(C.REASONS) + 1) * len(comb.files),
    )
    out: list[dict[str, int]] = []
    for i in range(len(comb.files)):
        mine = counts[counts["_file"] == i]
        by_reason = {str(r): int(n) for r, n in zip(mine[REASON], mine["n"], strict=True)}
        out.append({r: by_reason[r] for r in C.REASONS if r in by_reason})
    return out


def late_rules(
    con: Any,
    table: str,
    named: ir.Table,
    present: list[str],
    ctx: CheckContext,
    rejected: ir.Table,
    out_tmp: Path,
) -> tuple[ir.Table, ir.Table | None]:
    """Table-level rules after the checks: ``(rejected, late)``.

    ``late`` is a table (``row_number``, ``rule``) of rows a rule filters out after the checks:
    counted per file and rule like the ``keep`` filters and left out of the accepted file; a
    rule may also replace ``rejected``. The referrals' episode rule (one episode however often
    it was submitted: :func:`evalkit.intake.episodes.apply_episode_rule`) is the one so far.
    """
    if table != "referrals":
        return rejected, None
    rule = apply_episode_rule(con, named, present, ctx, rejected, out_tmp)
    return rule.rejected, rule.late


def _late_counts(con: Any, late: ir.Table | None, comb: Combined) -> list[dict[str, int]]:
    """Rows filtered after the checks, per file and rule (empty dicts when there are none)."""
    if late is None:
        return [{} for _ in comb.files]
    t = late.select(_file=comb.file_of(late[ROW]), rule=late["rule"])
    counts = engine.to_pandas(con, t.group_by(["_file", "rule"]).aggregate(n=t.count()))
    out: list[dict[str, int]] = [{} for _ in comb.files]
    for i, rule, n in zip(counts["_file"], counts["rule"], counts["n"], strict=True):
        out[int(i)][str(rule)] = int(n)
    return out


def _skip(rejected: ir.Table, late: ir.Table | None) -> ir.Table:
    """Row numbers the accepted file leaves out: the quarantined and the late-filtered rows."""
    skip = rejected.select(ROW)
    return skip if late is None else skip.union(late.select(ROW))


def _shown_rows(con: Any, comb: Combined, rejected: ir.Table, table: str) -> ir.Table:
    """The rejected rows with each column as its source held it, and what the checks saw.

    Recoded, derived and rewritten columns are shown as the source text (``_src_<column>`` of
    the union, joined back on the row number: the rejected rows are few); ``_saw_<column>`` is
    what the checks read, for the message.
    """
    if not comb.display:
        return rejected
    src = comb.named.select(ROW, *[f"_src_{c}" for c in comb.display]).rename({"_j_row": ROW})
    j = rejected.left_join(src, rejected[ROW] == src._j_row)
    cols: dict[str, ir.Value] = {ROW: j[ROW]}
    for c in comb.present:
        cols[c] = j[f"_src_{c}"] if c in comb.display else j[c]
    cols.update({f"_saw_{c}": j[c] for c in comb.explained})
    cols.update({REASON: j[REASON], COLUMN: j[COLUMN]})
    return engine.materialize(con, j.select(**cols), f"shown_{table}")


def _messages(
    q: ir.Table, comb: Combined, ctx: CheckContext, shown: Mapping[str, ir.StringValue]
) -> ir.StringValue:
    """Each quarantined row's message, naming its own file and its row in that file."""
    first = comb.files[0].source.path.name
    return quarantine_message(
        q,
        comb.file_name(q[ROW]) if comb.multi else first,
        comb.present,
        ctx.recode,
        shown,
        row=comb.source_row(q[ROW]),
        became={c: q[f"_saw_{c}"] for c in comb.explained},
    )


def _write_quarantine(
    con: Any,
    comb: Combined,
    rejected: ir.Table,
    out_tmp: Path,
    n: int,
    ctx: CheckContext,
) -> tuple[str, ...]:
    """Write the quarantined rows with their messages; return up to five example messages.

    The rows are the source's text, except identifying values (NHS numbers, postcodes, dates of
    birth), which are masked in the columns and in the messages alike. A table of several files
    names each row's file in ``source_file`` and numbers it within that file.
    """
    table = comb.files[0].source.table
    present = comb.present
    q = _shown_rows(con, comb, rejected, table)
    masked = identifying_masks(q, present, nhs_numbers(con, q, present) if n else [])
    where = {ROW: comb.source_row(q[ROW])}
    if comb.multi:
        where["source_file"] = comb.file_name(q[ROW])
    engine.write_parquet(
        con,
        q.select(
            **where,
            **{c: masked[c].name(c) for c in present},
            **{REASON: q[REASON], COLUMN: q[COLUMN]},
            message=_messages(q, comb, ctx, masked),
            _order=q[ROW],
        ),
        out_tmp / "quarantine" / f"{table}.parquet",
        order_by=["_order"],
        drop=["_order"],
    )
    if not n:
        return ()
    first = engine.materialize(con, q.order_by(ROW).limit(5), f"examples_{table}")
    masked = identifying_masks(first, present, nhs_numbers(con, first, present))
    message = _messages(first, comb, ctx, example_masks(masked))
    ex = engine.to_pandas(con, first.order_by(ROW).select(message=message), limit=5)
    return tuple(ex["message"].tolist())


def _table_sha256(sources: list[Source]) -> str:
    """A table's SHA-256: its file's, or for several files that of their hashes in order."""
    hashes = [file_sha256(st.path) for st in sources]
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("\n".join(hashes).encode("ascii")).hexdigest()


def process_table(
    con: Any,
    sources: list[Source],
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
    sources : list of Source
        The table's raw files (one, or a mapping's several), found and their headers checked.
    ctx : CheckContext
        What the row checks depend on besides the data (its date format, recode and native
        columns are replaced by those of the union, :func:`evalkit.intake.combine.combine`).
    done : dict
        Tables processed so far (a child's parent must be there).
    out_tmp : Path
        Work directory: ``<table>.parquet`` and ``quarantine/<table>.parquet`` are written here.
    m : IntakeMapping
        The mapping (delimiter, date formats, the files' rules).
    ibis_schema_kwargs : dict
        Arguments of :func:`evalkit.intake.schemas.accepted_schema` besides the table.
    validate_output : bool
        Check the accepted file against its pandera schema before it is kept.

    Returns
    -------
    TableReport
        Counts that reconcile, per table and per file: read = accepted + filtered + quarantined.
    """
    table = sources[0].table
    comb = combine(con, sources, m)
    ctx = replace(ctx, date_format=comb.date_format, recode=comb.recode, native=comb.native)
    present = comb.present
    named = comb.named.select(ROW, *present)
    label = ", ".join(str(st.path) for st in sources)
    if "person_id" in present:  # NHS numbers where a pseudonym belongs stop intake
        _refuse_identifiers(con, comb, named, ctx)
    rejected = _reject(con, table, label, named, present, ctx, done)
    rejected, late = late_rules(con, table, named, present, ctx, rejected, out_tmp)
    done[table] = ProcessedTable(accepted=out_tmp / f"{table}.parquet", rejected=rejected)
    per_file = _counts_by_reason(con, rejected, comb)
    late_per_file = _late_counts(con, late, comb)
    late_n = sum(n for f in late_per_file for n in f.values())
    by_reason = {
        r: sum(f.get(r, 0) for f in per_file) for r in C.REASONS if any(r in f for f in per_file)
    }
    quarantined_n = sum(by_reason.values())
    rows_kept = engine.count_rows(con, named)

    # Accepted rows, typed, in source order; the rejected row numbers left out.
    accepted = typed_rows(named, table, present, ctx)
    schema = accepted_schema(table, columns=present, **ibis_schema_kwargs)
    accepted_n = engine.write_parquet(
        con,
        accepted.select(ROW, *present),
        out_tmp / f"{table}.parquet",
        source_order=(comb.order_source, ROW),
        skip_rows=_skip(rejected, late) if quarantined_n or late_n else None,
        drop=[ROW],
        check=_validator(con, sources[0], schema) if validate_output else None,
    )
    files = [
        SourceReport(
            file=f.source.path.name,
            sha256=file_sha256(f.source.path),
            format=f.source.fmt,
            rows_read=f.rows_read,
            rows_kept=f.rows_kept - sum(q.values()) - sum(lf.values()),
            rows_filtered={**f.filtered, **lf},
            rows_quarantined=q,
            size_bytes=f.source.size,
        )
        for f, q, lf in zip(comb.files, per_file, late_per_file, strict=True)
    ]
    rows_read = sum(f.rows_read for f in comb.files)
    filtered: dict[str, int] = {}
    for s in files:
        for r, n in s.rows_filtered.items():
            filtered[r] = filtered.get(r, 0) + n
    # Invariants, checked even under python -O.
    kept_ok = rows_kept == accepted_n + quarantined_n + late_n
    if not kept_ok or sum(s.rows_kept for s in files) != accepted_n:
        raise RuntimeError(
            f"{label}: rows do not reconcile: kept {rows_kept}, accepted {accepted_n}, "
            f"quarantined {quarantined_n}, filtered after the checks {late_n}"
        )
    if rows_read != rows_kept + sum(filtered.values()) - late_n:
        raise RuntimeError(
            f"{label}: rows do not reconcile: read {rows_read}, kept {rows_kept}, "
            f"filtered {sum(filtered.values())}"
        )
    examples = _write_quarantine(con, comb, rejected, out_tmp, quarantined_n, ctx)
    return TableReport(
        table=table,
        source_file=", ".join(st.path.name for st in sources),
        format=", ".join(dict.fromkeys(st.fmt for st in sources)),
        rows_read=rows_read,
        rows_accepted=accepted_n,
        rows_quarantined=quarantined_n,
        quarantined_by_reason=by_reason,
        sha256=_table_sha256(sources),
        ignored_columns=tuple(dict.fromkeys(c for st in sources for c in st.ignored)),
        absent_optional_columns=tuple(
            c for c in C.COLUMNS[table] if c in C.OPTIONAL_COLUMNS[table] and c not in present
        ),
        examples=examples,
        size_bytes=sum(st.size for st in sources),
        rows_filtered=sum(filtered.values()),
        filtered_by_rule=filtered,
        sources=tuple(files),
    )

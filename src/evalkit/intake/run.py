"""``run_intake``: read raw tables, check them, write typed Parquet, quarantine and a report.

Flow for each table, parents first (``population`` -> ``activity``, ``referrals`` -> ``measures``):

1. find the file (``<table>.csv`` or ``<table>.parquet``, or the mapping's file name) and read its
   header; a missing file or required column stops intake (:class:`IntakeError`);
2. stage it in DuckDB with its source ``row_number``: a CSV loaded as text, a Parquet file read
   in place (integer and date columns typed, the rest as text);
3. find the primary-key values that occur more than once, then run every row and referential
   check in one pass (:func:`evalkit.intake.checks.flag_rows`), keeping only the rows that fail
   or share a key; settle duplicates and reasons on that small set;
4. write the accepted rows typed, in source order, leaving out the rejected row numbers (checked
   with the pandera schema before the file is kept); the rejected rows with their original text,
   ``row_number``, ``reason``, ``column`` and ``message``; and the counts, which must reconcile.

All outputs are written to a work directory inside ``out_dir`` and moved into place with
``os.replace`` only after every table has succeeded, so an interrupted or failed run never leaves a
half-written table or a mix of old and new tables.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pandera.errors

from evalkit import contract as C
from evalkit import engine
from evalkit.files import atomic_path
from evalkit.intake.checks import (
    COLUMN,
    PARENT,
    REASON,
    ROW,
    CheckContext,
    InstrumentRule,
    date_regex,
    decide,
    flag_rows,
    normalise,
    parent_lookup,
    typed_rows,
)
from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping, load_mapping
from evalkit.intake.schemas import accepted_schema

__all__ = ["REASON_TEXT", "IntakeReport", "TableReport", "is_stale", "run_intake"]

#: Plain-English meaning of each quarantine reason (used in messages and the docs).
REASON_TEXT: dict[str, str] = {
    C.MISSING_REQUIRED: "a required value is empty",
    C.MALFORMED_PERSON_ID: "person_id does not match the person id pattern",
    C.INVALID_TYPE: "not a number, or not a date in the expected format",
    C.IMPOSSIBLE_DATE: "not a real calendar date, before 1900-01-02 or after the extract end",
    C.INVALID_CODE: "value not in the code list",
    C.OUT_OF_RANGE: "number outside its allowed range",
    C.UNKNOWN_PROGRAMME: "programme is not a configured programme",
    C.UNKNOWN_INSTRUMENT: "instrument is not a defined instrument",
    C.UNKNOWN_ITEM: "the instrument has no such item",
    C.RESPONSE_OUT_OF_RANGE: "response outside the instrument's item range",
    C.DATES_OUT_OF_ORDER: "date earlier than the date that must precede it",
    C.ATTENDED_EXCEEDS_OFFERED: "sessions_attended above sessions_offered",
    C.DUPLICATE_PERSON_ID: "person_id already seen on an earlier accepted row",
    C.DUPLICATE_EVENT_ID: "event_id already seen on an earlier accepted row",
    C.DUPLICATE_EPISODE: "episode_id already seen on an earlier accepted row",
    C.DUPLICATE_RESPONSE: "same episode, instrument, timepoint and item on an earlier row",
    C.PARENT_QUARANTINED: "its person or episode was quarantined",
    C.UNKNOWN_PERSON: "person_id not in the population table",
    C.UNKNOWN_EPISODE: "episode_id not in the referrals table",
    C.EVENT_OUTSIDE_REGISTRATION: "event outside the person's registration or after death",
}

#: Accepted tables up to this many rows are checked against their pandera schema in full.
SCHEMA_FULL_ROWS = 1_000_000
#: Larger ones (activity) on a systematic sample of about this many rows (every k-th row).
SCHEMA_SAMPLE_ROWS = 250_000


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableReport:
    """Intake of one raw table: counts that reconcile, where it came from, what was ignored."""

    table: str
    source_file: str
    format: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    sha256: str
    ignored_columns: tuple[str, ...] = ()
    absent_optional_columns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the per-table entry of ``intake_report.json``)."""
        return {
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "source_file": self.source_file,
            "format": self.format,
            "ignored_columns": list(self.ignored_columns),
            "absent_optional_columns": list(self.absent_optional_columns),
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class IntakeReport:
    """What intake read, accepted and quarantined, per table.

    Attributes
    ----------
    tables : dict of str to TableReport
        One entry per contract table, in processing order.
    out_dir : Path
        Where the processed tables, ``quarantine/`` and ``intake_report.json`` were written.
    spec : dict
        Arguments actually used (mapping, extract end, programmes, instruments, threads).
    notes : tuple of str
        Plain-English notes (ignored columns, defaults assumed).
    """

    tables: dict[str, TableReport]
    out_dir: Path
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        """Rows read over all tables."""
        return sum(t.rows_read for t in self.tables.values())

    @property
    def rows_accepted(self) -> int:
        """Rows accepted over all tables."""
        return sum(t.rows_accepted for t in self.tables.values())

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined over all tables."""
        return sum(t.rows_quarantined for t in self.tables.values())

    def tidy(self) -> pd.DataFrame:
        """One row per table and outcome (``accepted`` or a quarantine reason) with its count."""
        rows = []
        for name, t in self.tables.items():
            rows.append({"table": name, "outcome": "accepted", "n": t.rows_accepted})
            for reason, n in t.quarantined_by_reason.items():
                rows.append({"table": name, "outcome": reason, "n": n})
        return pd.DataFrame(rows, columns=["table", "outcome", "n"])

    def summary(self) -> str:
        """Plain-text summary: header, one line per table and reason, notes."""
        lines = [
            "Intake: raw tables checked against the data contract",
            f"Output: {self.out_dir}",
            f"Extract end: {self.spec.get('extract_end')}   Mapping: {self.spec.get('mapping')}",
            "",
            f"{'table':<12}{'read':>12}{'accepted':>12}{'quarantined':>13}  file",
        ]
        for name, t in self.tables.items():
            lines.append(
                f"{name:<12}{t.rows_read:>12,}{t.rows_accepted:>12,}{t.rows_quarantined:>13,}"
                f"  {t.source_file}"
            )
            for reason, n in t.quarantined_by_reason.items():
                lines.append(f"{'':<12}{'':>12}{reason:>24}: {n:,}")
        if self.notes:
            lines += ["", "Notes:", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: the content of ``intake_report.json``."""
        return {
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "reconciled": all(
                t.rows_read == t.rows_accepted + t.rows_quarantined for t in self.tables.values()
            ),
            "spec": self.spec,
            "notes": list(self.notes),
            "reason_order": list(C.REASONS),
        }

    def plot_quarantine(self, ax: Any = None) -> Any:
        """Horizontal bar chart of quarantined rows by table and reason; returns the Axes."""
        import matplotlib.pyplot as plt

        df = self.tidy()
        df = df[df["outcome"] != "accepted"]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * max(len(df), 2) + 1))
        labels = [f"{r.table}: {r.outcome}" for r in df.itertuples()]
        ax.barh(labels, df["n"].to_numpy())
        ax.set_xlabel("rows quarantined")
        ax.set_title("Intake quarantine by reason")
        ax.invert_yaxis()
        return ax


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------
_HASHES: dict[tuple[str, int, int, int], str] = {}


def _sha256(path: Path) -> str:
    """SHA-256 of a file, remembered for this process while its size, mtime and inode hold.

    ``make data`` asks :func:`is_stale` and then runs intake in one process: the 1.4 GB county
    activity file is read for its hash once, not twice.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    if key in _HASHES:
        return _HASHES[key]
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def _find_file(raw_dir: Path, table: str, m: IntakeMapping, mapping_path: Path | None) -> Path:
    named = m.table(table).file
    if named:
        p = raw_dir / named
        if not p.is_file():
            raise IntakeError(
                f"{p}: file not found (table '{table}', named in mapping {mapping_path})"
            )
        return p
    found = [raw_dir / f"{table}{ext}" for ext in (".csv", ".parquet")]
    exist = [p for p in found if p.is_file()]
    if not exist:
        raise IntakeError(
            f"{found[0]}: file not found (table '{table}' needs {found[0].name} or "
            f"{found[1].name} in {raw_dir})"
        )
    if len(exist) > 1:
        raise IntakeError(
            f"{exist[0]} and {exist[1]}: both exist for table '{table}'; keep exactly one"
        )
    return exist[0]


def _csv_header(path: Path, delimiter: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError as exc:
        raise IntakeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise IntakeError(f"{path}: line 1 (header) cannot be read: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise IntakeError(f"{path}: empty file, no header row")
    return header


def _resolve_columns(
    path: Path, table: str, header: list[str], renames: Mapping[str, str]
) -> tuple[dict[str, str], list[str], list[str]]:
    """Map source to contract columns: ``(source -> contract, ignored, absent optional)``."""
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise IntakeError(f"{path}: column(s) {dups} appear more than once in the header")
    contract_cols = C.COLUMNS[table]
    chosen: dict[str, str] = {}
    ignored: list[str] = []
    for h in header:
        target = renames.get(h, h if h not in renames.values() else None)
        if target in contract_cols:
            if target in chosen.values():
                raise IntakeError(f"{path}: two columns map to contract column '{target}'")
            chosen[h] = target
        else:
            ignored.append(h)
    have = set(chosen.values())
    missing = [c for c in contract_cols if c not in have and c not in C.OPTIONAL_COLUMNS[table]]
    if missing:
        inverse = {v: k for k, v in renames.items()}
        named = ", ".join(
            f"'{inverse[c]}' (contract '{c}')" if c in inverse else f"'{c}'" for c in missing
        )
        raise IntakeError(f"{path}: missing required column(s) {named} [{C.MISSING_COLUMN}]")
    absent = [c for c in contract_cols if c not in have]
    return chosen, ignored, absent


def _instrument_rules(instrument_defs: Mapping[str, Any]) -> dict[str, InstrumentRule]:
    out = {}
    for name, d in instrument_defs.items():
        get = d.get if isinstance(d, Mapping) else lambda k, _d=d: getattr(_d, k)
        out[name] = InstrumentRule(
            items=tuple(str(i) for i in get("items")),
            item_min=int(get("item_min")),
            item_max=int(get("item_max")),
        )
    return out


def _write_json(path: Path, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------
# One table
# --------------------------------------------------------------------------------------------
@dataclass
class _Staged:
    table: str
    path: Path
    fmt: str
    source_cols: dict[str, str]  # source name -> contract name
    ignored: list[str]
    absent: list[str]
    native: dict[str, str] = field(default_factory=dict)  # contract column -> "int" | "date"
    size: int = 0


def _native_columns(
    types: Mapping[str, str], st: _Staged, m: IntakeMapping, null_values: tuple[str, ...]
) -> dict[str, str]:
    """Contract columns a Parquet file already holds as integers or dates, to use as they are.

    A column stays text when the mapping recodes it, or when a null marker could be the text of
    one of its values (``0`` for an integer, a date for a date): then only text handling gives
    the same result as the CSV copy of the file.
    """
    kinds = C.COLUMNS[st.table]
    recode = m.table(st.table).recode
    rx = re.compile(date_regex(m.date_format_for(st.table)))
    out: dict[str, str] = {}
    for src, c in st.source_cols.items():
        t = types[src].upper()
        if c in recode:
            continue
        if kinds[c] == "int" and t in engine.NATIVE_INT_TYPES:
            if not any(re.fullmatch(r"[+-]?[0-9]+(\.0+)?", v) for v in null_values):
                out[c] = "int"
        elif kinds[c] == "date" and t in engine.NATIVE_DATE_TYPES:
            if not any(rx.search(v) for v in null_values):
                out[c] = "date"
    return out


def _message(q: ir.Table, file_name: str, present: list[str]) -> ir.StringValue:
    col = q[COLUMN]
    value = ibis.cases(*[(col == c, q[c]) for c in present], else_=ibis.null("string"))
    value_text = ibis.ifelse(value.isnull(), "empty", ibis.literal("'").concat(value, "'"))
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


def _validator(con: Any, st: _Staged, schema: Any) -> Callable[[Path], None]:
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
        try:
            schema.validate(tab, lazy=True)
        except (pandera.errors.SchemaErrors, pandera.errors.SchemaError) as exc:
            raise IntakeError(
                f"{st.path}: accepted rows fail the {st.table} contract schema (an intake bug, "
                f"please report it): {str(exc)[:2000]}"
            ) from None

    return validate


@dataclass
class _Done:
    """What a child table needs of a processed parent table."""

    accepted: Path
    rejected: ir.Table


def _process_table(
    con: Any,
    st: _Staged,
    ctx: CheckContext,
    done: dict[str, _Done],
    out_tmp: Path,
    m: IntakeMapping,
    ibis_schema_kwargs: dict[str, Any],
    validate_output: bool,
) -> TableReport:
    table = st.table
    name_in_msgs = st.path.name
    raw_name = f"raw_{table}"
    try:
        if st.fmt == "csv":
            raw = engine.stage_raw_csv(
                con,
                st.path,
                columns=list(st.source_cols) + st.ignored,
                name=raw_name,
                delimiter=m.delimiter,
            )
        else:
            raw = engine.stage_raw_parquet(
                con,
                st.path,
                columns={src: st.native.get(c, "text") for src, c in st.source_cols.items()},
                name=raw_name,
                date_format=m.date_format_for(table),
            )
    except engine.EngineError as exc:
        raise IntakeError(str(exc)) from None
    # Contract names, source values.
    present = [c for c in C.COLUMNS[table] if c in st.source_cols.values()]
    by_contract = {c: s for s, c in st.source_cols.items()}
    named = raw.select(ROW, **{c: raw[by_contract[c]] for c in present})

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
        rejected = engine.materialize(
            con, decide(flagged, table, present, pre, post), f"rejected_{table}"
        )
    except engine.EngineError as exc:
        raise IntakeError(f"{st.path}: {exc}") from None
    done[table] = _Done(accepted=out_tmp / f"{table}.parquet", rejected=rejected)

    counts = engine.to_pandas(
        con, rejected.group_by(REASON).aggregate(n=rejected.count()), limit=len(C.REASONS) + 1
    )
    by_reason = {str(r): int(n) for r, n in zip(counts[REASON], counts["n"], strict=True)}
    by_reason = {r: by_reason[r] for r in C.REASONS if r in by_reason}
    quarantined_n = sum(by_reason.values())
    rows_read = engine.count_rows(con, named)

    # 4. Accepted rows, typed, in source order; the rejected row numbers left out.
    accepted = typed_rows(named, table, present, ctx)
    schema = accepted_schema(table, columns=present, **ibis_schema_kwargs)
    accepted_n = engine.write_parquet(
        con,
        accepted.select(ROW, *present),
        out_tmp / f"{table}.parquet",
        source_order=(raw_name, ROW),
        skip_rows=rejected.select(ROW) if quarantined_n else None,
        drop=[ROW],
        check=_validator(con, st, schema) if validate_output else None,
    )
    if rows_read != accepted_n + quarantined_n:  # an invariant, checked even under python -O
        raise RuntimeError(
            f"{st.path}: rows do not reconcile: read {rows_read}, accepted {accepted_n}, "
            f"quarantined {quarantined_n}"
        )

    q = rejected.mutate(message=_message(rejected, name_in_msgs, present))
    engine.write_parquet(
        con,
        q.select(ROW, *present, REASON, COLUMN, "message"),
        out_tmp / "quarantine" / f"{table}.parquet",
        order_by=[ROW],
    )
    examples: tuple[str, ...] = ()
    if quarantined_n:
        ex = engine.to_pandas(con, q.order_by(ROW).select("message").limit(5), limit=5)
        examples = tuple(ex["message"].tolist())

    return TableReport(
        table=table,
        source_file=st.path.name,
        format=st.fmt,
        rows_read=rows_read,
        rows_accepted=accepted_n,
        rows_quarantined=quarantined_n,
        quarantined_by_reason=by_reason,
        sha256=_sha256(st.path),
        ignored_columns=tuple(st.ignored),
        absent_optional_columns=tuple(st.absent),
        examples=examples,
        size_bytes=st.size,
    )


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------
def run_intake(
    raw_dir: Path,
    out_dir: Path,
    *,
    mapping: Path | None = None,
    programmes: dict | None = None,
    instrument_defs: dict | None = None,
    progress: bool = True,
    extract_end: dt.date | None = None,
    threads: int = engine.DEFAULT_THREADS,
    memory_limit: str = engine.DEFAULT_MEMORY_LIMIT,
    validate: bool = True,
) -> IntakeReport:
    """Validate the raw contract tables and write typed Parquet, quarantine and a report.

    Parameters
    ----------
    raw_dir : Path
        Directory holding ``population``, ``activity``, ``referrals`` and ``measures`` as CSV or
        Parquet (or the files a mapping names). Other files (``synthetic_truth.json``,
        ``synthetic_faults.json``) are never read.
    out_dir : Path
        Where ``<table>.parquet``, ``quarantine/<table>.parquet`` and ``intake_report.json`` go.
    mapping : Path, optional
        Intake mapping YAML for a data source whose names and codes differ from the contract.
    programmes : dict, optional
        Known programmes by slug (default :func:`evalkit.config.load_programmes`).
    instrument_defs : dict, optional
        Instrument definitions by name, each with ``items``, ``item_min`` and ``item_max``
        (default :func:`evalkit.config.instruments`).
    progress : bool
        Show a progress bar.
    extract_end : datetime.date, optional
        Last date the extract covers (dates after it are impossible); default the mapping's
        ``extract_end``, else today.
    threads : int
        DuckDB threads.
    memory_limit : str
        DuckDB memory limit (it spills to a work directory inside ``out_dir`` beyond it).
    validate : bool
        Check each accepted table against its pandera schema before it is written (default).
        The schemas restate what the row checks already enforce, so turning this off never
        changes the output; it only skips the second look (used to keep unit tests fast).

    Returns
    -------
    IntakeReport
        Counts per table and reason; ``rows_read == rows_accepted + rows_quarantined`` per table.

    Raises
    ------
    IntakeError
        A table's file is missing (or both CSV and Parquet exist), a required column is missing, a
        file cannot be parsed, or the mapping file is invalid. The message names the file and, where
        one applies, the column or line. Nothing in ``out_dir`` is changed.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"{raw_dir}: raw data directory not found")
    m = load_mapping(mapping)
    if programmes is None:
        from evalkit.config import load_programmes

        programmes = load_programmes()
    if instrument_defs is None:
        from evalkit.config import instruments

        instrument_defs = instruments()
    rules = _instrument_rules(instrument_defs)
    end = extract_end or m.extract_end or dt.date.today()
    notes: list[str] = []
    if extract_end is None and m.extract_end is None:
        notes.append(f"Extract end not given: assumed today ({end}); later dates are impossible.")

    # Find every file and check every header before doing any work.
    staged: list[_Staged] = []
    for table in C.TABLES:
        path = _find_file(raw_dir, table, m, mapping)
        fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
        types: dict[str, str] = {}
        if fmt == "csv":
            header = _csv_header(path, m.delimiter)
        else:
            probe = engine.connect(threads=1, memory_limit="256MB")
            try:
                types = engine.describe_parquet(probe, path)
            except engine.EngineError as exc:
                raise IntakeError(str(exc)) from None
            finally:
                probe.disconnect()
            header = list(types)
        chosen, ignored, absent = _resolve_columns(path, table, header, m.table(table).columns)
        st = _Staged(table, path, fmt, chosen, ignored, absent, size=path.stat().st_size)
        if types:
            st.native = _native_columns(types, st, m, tuple(m.null_values))
        staged.append(st)
        if ignored:
            notes.append(f"{path.name}: column(s) {ignored} are not in the contract: ignored.")
        if absent:
            notes.append(f"{path.name}: optional column(s) {absent} absent: not in the output.")

    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / f".intake-work-{uuid.uuid4().hex[:12]}"
    out_tmp = work / "out"
    (out_tmp / "quarantine").mkdir(parents=True)
    con = engine.connect(
        ":memory:",
        threads=threads,
        memory_limit=memory_limit,
        temp_directory=work / "spill",
    )
    spec: dict[str, Any] = {
        "mapping": str(mapping) if mapping else None,
        "mapping_sha256": _sha256(Path(mapping)) if mapping else None,
        "mapping_source": m.source,
        "extract_end": end.isoformat(),
        "date_format": m.date_format,
        "person_id_pattern": m.person_id_pattern,
        "programmes": sorted(programmes),
        "instruments": sorted(rules),
        "threads": threads,
        "memory_limit": memory_limit,
        "schema_validation": validate,
        "schema_full_rows": SCHEMA_FULL_ROWS,
        "schema_sample_rows": SCHEMA_SAMPLE_ROWS,
    }
    tables: dict[str, TableReport] = {}
    try:
        from tqdm.auto import tqdm

        done: dict[str, _Done] = {}
        bar = tqdm(staged, desc="intake", unit="table", disable=not progress)
        for st in bar:
            bar.set_postfix_str(f"{st.table} ({st.path.name})")
            tm = m.table(st.table)
            ctx = CheckContext(
                person_id_pattern=m.person_id_pattern,
                extract_end=end,
                date_format=m.date_format_for(st.table),
                programmes=tuple(programmes),
                instruments=rules,
                null_values=tuple(m.null_values),
                recode=tm.recode,
                native=st.native,
            )
            tables[st.table] = _process_table(
                con,
                st,
                ctx,
                done,
                out_tmp,
                m,
                {
                    "person_id_pattern": m.person_id_pattern,
                    "extract_end": end,
                    "programmes": tuple(programmes),
                    "instruments": rules,
                },
                validate,
            )
        report = IntakeReport(tables=tables, out_dir=out_dir, spec=spec, notes=tuple(notes))
        _write_json(out_tmp / "intake_report.json", report.to_dict())
        con.disconnect()
        # Everything succeeded: move into place (each move atomic).
        (out_dir / "quarantine").mkdir(exist_ok=True)
        for t in C.TABLES:
            os.replace(
                out_tmp / "quarantine" / f"{t}.parquet", out_dir / "quarantine" / f"{t}.parquet"
            )
            os.replace(out_tmp / f"{t}.parquet", out_dir / f"{t}.parquet")
        os.replace(out_tmp / "intake_report.json", out_dir / "intake_report.json")
    finally:
        try:
            con.disconnect()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)
    return report


def is_stale(raw_dir: Path, out_dir: Path, *, mapping: Path | None = None) -> bool:
    """Whether ``out_dir`` must be rebuilt from ``raw_dir``.

    Stale when ``intake_report.json`` or any processed or quarantine table is missing, when the
    report was made with another mapping, or when any raw table's SHA-256 differs from the one
    the report recorded (a raw file that cannot be found also counts as stale, so that running
    intake gives the proper error). A file whose size differs is stale without being hashed, and
    a hash computed here is remembered for the intake run that follows in the same process.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    report_path = out_dir / "intake_report.json"
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
        m = load_mapping(mapping)
    except (OSError, ValueError):
        return True
    spec = report.get("spec", {})
    if spec.get("mapping") != (str(mapping) if mapping else None):
        return True
    if mapping is not None and spec.get("mapping_sha256") != _sha256(Path(mapping)):
        return True
    for table in C.TABLES:
        if not (out_dir / f"{table}.parquet").is_file():
            return True
        if not (out_dir / "quarantine" / f"{table}.parquet").is_file():
            return True
        entry = report.get("tables", {}).get(table)
        try:
            path = _find_file(raw_dir, table, m, mapping)
        except IntakeError:
            return True
        if not entry or entry.get("source_file") != path.name:
            return True
        size = entry.get("size_bytes")
        if size is not None and size != path.stat().st_size:
            return True
        if entry.get("sha256") != _sha256(path):
            return True
    return False

"""A contract table's source files, staged and mapped to contract columns, then unioned.

A table comes from one file or from several (a mapping's ``sources``: SUS+ spells, ECDS, GP
appointments...), each with its own column names, date format, recodes, code-list filters and
constants. Each file is staged in the engine with its own ``row_number`` and mapped, still in
the engine, to the table's contract columns as text:

- rows whose ``keep`` codes are not listed are filtered out by the named rule ``keep <column>``
  (counted per file, written nowhere: they are expected rows of another kind);
- ``derive`` makes a contract value from a source code; a code the rule does not list becomes
  a text that fails the column's code list, so the row is quarantined (``invalid_code``) with a
  message naming the source column and code;
- ``constants`` give one value to every row of the file;
- ``datetimes`` lose their time; a ``date_of_birth`` gives ``year_of_birth`` only (the date and
  month of birth never leave this step, not even into quarantine);
- with several files, each file's recodes are applied and its dates rewritten as ISO text here,
  since the checks that follow read the union with one date format and no recode.

Rows keep their file order, one file after the next: a row's number in the union is its row
number in its file plus the rows of the files before it (filtered ones included), so the
quarantine can name the file and the file's own row. One file is mapped lazily over its staged
rows; several are appended, file by file, into one table of the engine (never through pandas).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from evalkit import contract as C
from evalkit import engine
from evalkit.intake.checks import ROW, date_regex
from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping
from evalkit.intake.sources import Source, csv_first_problem, csv_line_problem

__all__ = [
    "DERIVE_UNLISTED",
    "ISO",
    "TIME_PART",
    "Combined",
    "FileRows",
    "combine",
    "keep_rule",
]

ISO = "%Y-%m-%d"
#: A time after a date (``13:45``, ``T13:45:00.000``, a zone ``Z`` or ``+01:00``): dropped from
#: ``datetimes`` columns.
TIME_PART = r"[T ]+[0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
#: What a derived column holds when the rule does not list the source code (it fails every
#: code list: it has spaces); ``{source}`` and ``{column}`` are filled in.
DERIVE_UNLISTED = "{source} code not listed in the mapping's derive of {column}"
#: What ``year_of_birth`` holds when the date of birth is not a date in its format (the value
#: itself is never shown).
_DOB_INVALID = "<date of birth not a date in {format}>"


def keep_rule(column: str) -> str:
    """The name of the filter rule of a ``keep`` column, as the report counts it."""
    return f"keep {column}"


@dataclass
class FileRows:
    """One source file's place in its table: where its rows start, how many, what was filtered."""

    source: Source
    offset: int  # the union's row number is the file's row number plus this
    rows_read: int
    filtered: dict[str, int] = field(default_factory=dict)  # rule -> rows

    @property
    def last_row(self) -> int:
        """The union row number of the file's last row."""
        return self.offset + self.rows_read

    @property
    def rows_kept(self) -> int:
        """Rows left after the filters (accepted or quarantined)."""
        return self.rows_read - sum(self.filtered.values())


@dataclass
class Combined:
    """A table's rows from all its files, as the checks read them.

    Attributes
    ----------
    named : ibis.Table
        ``row_number`` (the union's), each present contract column (text, or typed for the
        ``native`` ones) and ``_src_<column>`` for the :attr:`display` columns.
    order_source : str
        The engine table or view whose order ``named`` keeps (``raw_<table>``).
    present : list of str
        Contract columns some file gives, in contract order.
    display : list of str
        Columns whose source text differs from what the checks read (recoded, derived, dates
        rewritten): the quarantine shows ``_src_<column>``.
    explained : list of str
        Display columns whose quarantine message says what the value became (recode, derive).
    files : list of FileRows
        The files, in order.
    native, date_format, recode
        What the checks are told (:class:`evalkit.intake.checks.CheckContext`).
    """

    named: ir.Table
    order_source: str
    present: list[str]
    display: list[str]
    explained: list[str]
    files: list[FileRows]
    native: dict[str, str]
    date_format: str
    recode: Mapping[str, Mapping[str, str]]

    @property
    def multi(self) -> bool:
        """Whether the table has more than one file."""
        return len(self.files) > 1

    def file_of(self, row: ir.IntegerValue) -> ir.IntegerValue:
        """The index of the file holding each union row number."""
        return ibis.cases(*[(row <= f.last_row, i) for i, f in enumerate(self.files)], else_=-1)

    def file_name(self, row: ir.IntegerValue) -> ir.StringValue:
        """The file name of each union row number."""
        names = [(row <= f.last_row, ibis.literal(f.source.path.name)) for f in self.files]
        return ibis.cases(*names, else_=ibis.null("string"))

    def source_row(self, row: ir.IntegerValue) -> ir.IntegerValue:
        """The row number within its own file of each union row number."""
        if not self.multi:
            return row
        return ibis.cases(*[(row <= f.last_row, row - f.offset) for f in self.files], else_=row)


def _stage(con: Any, st: Source, m: IntakeMapping, name: str) -> ir.Table:
    """A file's raw rows in the engine with their ``row_number`` (CSV as text; Parquet in place)."""
    try:
        if st.fmt == "csv":
            return engine.stage_raw_csv(
                con, st.path, columns=st.header, name=name, delimiter=m.delimiter
            )
        cols = {src: st.native.get(c, "text") for src, c in st.source_cols.items()}
        for src in st.used:
            cols[src] = "text"
        dob = st.spec.date_of_birth
        if dob is not None and st.dob_native:
            cols[dob.column] = "date"
        return engine.stage_raw_parquet(
            con, st.path, columns=cols, name=name, date_format=st.date_format
        )
    except engine.EngineError as exc:
        raise IntakeError(_with_cause(str(exc), st, m)) from None


def _with_cause(message: str, st: Source, m: IntakeMapping) -> str:
    """A CSV parse error's message with its cause (column count, encoding, quoting) added.

    DuckDB names the line of most parse errors; for those it does not ("the CSV Parser state
    machine reached an invalid state"), the first line Python's ``csv`` module finds at fault.
    """
    if st.fmt != "csv":
        return message
    found = re.search(r"CSV Error on Line: (\d+)", message)
    if not found:
        problem = csv_first_problem(st.path, m.delimiter, len(st.header))
        return f"{message} ({problem})" if problem else message
    problem = csv_line_problem(st.path, int(found.group(1)), m.delimiter, len(st.header))
    return f"{message} ({problem})" if problem else message


def _trim(v: ir.Value) -> ir.StringValue:
    return v.cast("string").strip()


def _empty(t: ir.StringValue, nulls: Sequence[str]) -> ir.BooleanValue:
    """Trimmed text that means empty: null, ``""`` or a null spelling (any case)."""
    return t.isnull() | t.lower().isin(list(nulls))


def _ymd(t: ir.StringValue, fmt: str) -> tuple[ir.BooleanValue, ir.StringValue, ir.StringValue]:
    """``(shape ok, year, ISO text)`` of text in date format ``fmt`` (ISO text may be no date)."""
    rx = date_regex(fmt)
    order = [d for d in re.findall(r"%.", fmt) if d in ("%Y", "%m", "%d")]
    group = {d: i + 1 for i, d in enumerate(order)}
    y = t.re_extract(rx, group["%Y"])
    m = t.re_extract(rx, group["%m"]).lpad(2, "0")
    d = t.re_extract(rx, group["%d"]).lpad(2, "0")
    return t.re_search(rx), y, y.concat("-", m, "-", d)


def _to_iso(v: ir.Value, fmt: str, nulls: Sequence[str]) -> ir.StringValue:
    """A date written in ``fmt`` as ISO text; empty stays as it was, a misfit fails ISO too."""
    t = _trim(v)
    shape, _, iso = _ymd(t, fmt)
    return ibis.cases(
        (_empty(t, nulls), v.cast("string")), (shape, iso), else_=ibis.literal("?").concat(t)
    )


def _dob_year(v: ir.Value, st: Source, nulls: Sequence[str]) -> ir.StringValue:
    """``year_of_birth`` as text from a date of birth; the rest of the date is dropped here."""
    dob = st.spec.date_of_birth
    assert dob is not None
    if st.dob_native:
        return v.year().cast("string")
    t = _trim(v).re_replace(TIME_PART, "")
    shape, y, iso = _ymd(t, dob.format)
    real = shape & iso.try_cast("date").notnull()
    return ibis.cases(
        (_empty(t, nulls), ibis.null("string")),
        (real, y),
        else_=ibis.literal(_DOB_INVALID.format(format=dob.format)),
    )


def _derived(raw: ir.Table, st: Source, column: str, nulls: Sequence[str]) -> ir.StringValue:
    """A derived contract value: the rule's value for the code, empty, or the unlisted text."""
    rule = st.spec.derive[column]
    code = _trim(raw[rule.from_])
    unlisted = DERIVE_UNLISTED.format(source=rule.from_, column=column)
    return ibis.cases(
        (_empty(code, nulls), ibis.null("string")),
        (code.isin(list(rule.codes)), code.substitute(dict(rule.codes))),
        else_=ibis.literal(unlisted),
    )


def _keep_failed(raw: ir.Table, st: Source) -> ir.IntegerValue | None:
    """The index of the first ``keep`` rule a row fails (null: kept); None without rules."""
    if not st.spec.keep:
        return None
    cases = []
    for i, (col, codes) in enumerate(st.spec.keep.items()):
        listed = _trim(raw[col]).isin(list(codes)).fill_null(False)
        cases.append((~listed, ibis.literal(i, type="int16")))
    return ibis.cases(*cases, else_=ibis.null("int16"))


def _filter_counts(con: Any, raw: ir.Table, st: Source, failed: ir.IntegerValue) -> dict[str, int]:
    """Rows filtered out per ``keep`` rule (rules in the mapping's order, zeros included)."""
    t = raw.select(_f=failed)
    t = t.filter(t._f.notnull())
    counts = engine.to_pandas(con, t.group_by("_f").aggregate(n=t.count()), limit=100)
    by = {int(i): int(n) for i, n in zip(counts["_f"], counts["n"], strict=True)}
    return {keep_rule(col): by.get(i, 0) for i, col in enumerate(st.spec.keep)}


@dataclass(frozen=True)
class _Plan:
    """What the table's union looks like: present columns, typed ones, shown-as-source ones."""

    present: list[str]
    native: dict[str, str]
    display: list[str]
    explained: list[str]
    iso: bool


def _plan(sources: list[Source]) -> _Plan:
    table = sources[0].table
    multi = len(sources) > 1
    have: set[str] = set()
    for st in sources:
        have |= set(st.source_cols.values()) | st.spec.provided()
    present = [c for c in C.COLUMNS[table] if c in have]
    native: dict[str, str] = {}
    for c in present:
        kinds = {st.native.get(c) for st in sources if c in st.source_cols.values()}
        made = any(c in st.spec.provided() for st in sources)
        if len(kinds) == 1 and None not in kinds and not made:
            native[c] = kinds.pop()  # type: ignore[assignment]
    explained = [c for c in present if any(c in st.spec.derive for st in sources)]
    if multi:
        explained += [
            c for c in present if c not in explained and any(c in st.spec.recode for st in sources)
        ]
    display = list(explained)
    display += [
        c
        for c in present
        if any(st.source_cols.get(src) == c for st in sources for src in st.spec.datetimes)
    ]
    if multi:
        display += [
            c
            for c in present
            if C.COLUMNS[table][c] == "date" and c not in native and c not in display
        ]
    display = [c for c in present if c in display]
    return _Plan(present, native, display, [c for c in present if c in explained], multi)


def _map_file(
    raw: ir.Table, st: Source, plan: _Plan, offset: int, nulls: Sequence[str]
) -> ir.Table:
    """One file's rows (kept by its filters) as the table's contract columns and source texts."""
    table = st.table
    kinds = C.COLUMNS[table]
    by_contract = {c: s for s, c in st.source_cols.items()}
    out: dict[str, ir.Value] = {}
    shown: dict[str, ir.Value] = {}
    for c in plan.present:
        if c in st.spec.constants:
            v: ir.Value = ibis.literal(st.spec.constants[c], type="string")
        elif c in st.spec.derive:
            v = _derived(raw, st, c, nulls)
            shown[c] = raw[st.spec.derive[c].from_].cast("string")
        elif c == "year_of_birth" and st.spec.date_of_birth is not None:
            v = _dob_year(raw[st.spec.date_of_birth.column], st, nulls)
        elif c in by_contract:
            src = raw[by_contract[c]]
            v = src
            # A format with a time part (``%d/%m/%Y %H:%M``) reads the time and ignores it.
            timed = any(d in st.date_format for d in ("%H", "%M", "%S"))
            if by_contract[c] in st.spec.datetimes and c not in plan.native and not timed:
                t = _trim(src)
                v = ibis.ifelse(t.re_search(TIME_PART), t.re_replace(TIME_PART, ""), src)
            if plan.iso and c in st.spec.recode:
                t = _trim(v)
                v = ibis.ifelse(t.isin(list(st.spec.recode[c])), t.substitute(st.spec.recode[c]), v)
            if plan.iso and kinds[c] == "date" and c not in plan.native:
                v = _to_iso(v, st.date_format, nulls)
            shown[c] = src.cast("string")
        else:
            kind = plan.native.get(c)
            v = ibis.null({"int": "int64", "date": "date"}.get(kind or "", "string"))
        out[c] = v
    for c in plan.display:
        out[f"_src_{c}"] = shown.get(c, out[c].cast("string"))
    row = raw[ROW] if offset == 0 else (raw[ROW] + offset)
    failed = _keep_failed(raw, st)
    kept = raw if failed is None else raw.filter(failed.isnull())
    return kept.select(**{ROW: row}, **out)


def combine(con: Any, sources: list[Source], m: IntakeMapping) -> Combined:
    """Stage a table's files and map them to its contract columns (see the module docstring).

    Parameters
    ----------
    con
        The engine connection.
    sources : list of Source
        The table's files, in the mapping's order (one or more).
    m : IntakeMapping
        The mapping (delimiter, null spellings).

    Returns
    -------
    Combined
        The rows the checks read, and each file's place and filter counts.
    """
    table = sources[0].table
    plan = _plan(sources)
    nulls = ("", *dict.fromkeys(v.lower() for v in m.null_values if v))
    single = len(sources) == 1
    files: list[FileRows] = []
    union: ir.Table | None = None
    offset = 0
    for i, st in enumerate(sources):
        st.native = {c: k for c, k in st.native.items() if plan.native.get(c) == k}
        raw = _stage(con, st, m, f"raw_{table}" if single else f"raw_{table}_{i}")
        n = engine.count_rows(con, raw)
        failed = _keep_failed(raw, st)
        filtered = _filter_counts(con, raw, st, failed) if failed is not None else {}
        mapped = _map_file(raw, st, plan, offset, nulls)
        files.append(FileRows(st, offset, n, filtered))
        if single:
            union = mapped
        else:
            try:
                union = engine.append(con, mapped, f"raw_{table}")
            except engine.EngineError as exc:
                raise IntakeError(f"{st.path}: {exc}") from None
            if st.fmt == "csv":
                con.drop_table(f"raw_{table}_{i}", force=True)
        offset += n
    assert union is not None
    first = sources[0]
    return Combined(
        named=union,
        order_source=f"raw_{table}",
        present=plan.present,
        display=plan.display,
        explained=plan.explained,
        files=files,
        native=plan.native,
        date_format=ISO if plan.iso else first.date_format,
        recode={} if plan.iso else first.spec.recode,
    )

"""Finding and reading the raw files: which file is each table, its header, its columns.

Every table's file is found and its header checked before any work is done, so a missing file
or required column stops intake (:class:`~evalkit.intake.errors.IntakeError`) at once, naming
the file and the column. Hashes of the raw files (for the report and :func:`is_stale`) are
remembered for the process.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from evalkit import contract as C
from evalkit import engine
from evalkit.intake.checks import date_regex
from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping, SourceMapping

__all__ = [
    "DELIMITERS",
    "Source",
    "csv_first_problem",
    "csv_header",
    "csv_line_problem",
    "delimiter_hint",
    "file_sha256",
    "find_file",
    "find_sources",
    "first_non_utf8",
    "native_columns",
    "near_misses",
    "resolve_columns",
]

_HASHES: dict[tuple[str, int, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered for this process while its size, mtime and inode hold.

    ``make data`` asks :func:`~evalkit.intake.is_stale` and then runs intake in one process: the
    1.4 GB county activity file is read for its hash once, not twice.
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


def find_file(
    raw_dir: Path,
    table: str,
    m: IntakeMapping,
    mapping_path: Path | None,
    spec: SourceMapping | None = None,
) -> Path:
    """A raw file of ``table``: the mapping's file name, else ``<table>.csv`` or ``.parquet``.

    ``spec`` is one of the table's sources (:meth:`TableMapping.files`); default its first.
    """
    named = (spec or m.table(table).files()[0]).file
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


#: What a file that starts with a UTF-16 or UTF-32 byte-order mark or holds NUL bytes is.
_NOT_UTF8 = "it looks like UTF-16 (or binary), not UTF-8 text: save it as UTF-8"


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The header row of a CSV file (UTF-8, a byte-order mark allowed)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh, delimiter=delimiter), None)
    except UnicodeDecodeError:
        raise IntakeError(f"{path}: {first_non_utf8(path)}") from None
    except csv.Error as exc:
        raise IntakeError(f"{path}: line 1 (header) cannot be read: {exc}") from None
    if not header or all(not h.strip() for h in header):
        raise IntakeError(f"{path}: empty file, no header row")
    if any("\x00" in h for h in header):
        raise IntakeError(f"{path}: line 1 (header) holds NUL bytes: {_NOT_UTF8}")
    unnamed = [i for i, h in enumerate(header, start=1) if h == ""]
    if unnamed:
        raise IntakeError(
            f"{path}: line 1 (header), column(s) {unnamed} of {len(header)} have no name "
            "(a delimiter at the end of the header?): name them or remove them"
        )
    return header


def first_non_utf8(path: Path) -> str:
    r"""Where a file first stops being UTF-8: ``line N: not UTF-8 text (byte 0x.., column C)``.

    The column is the byte's position in its line (1-based). A UTF-16 byte-order mark is said.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "population.csv"
    >>> _ = p.write_bytes(b"person_id,district\nab,Tewkesbury\ncd,Ch\xe9ltenham\n")
    >>> first_non_utf8(p)
    'line 3: not UTF-8 text (byte 0xe9 at column 6)'
    """
    with path.open("rb") as fh:
        if fh.read(4)[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return f"line 1: a UTF-16 byte-order mark: {_NOT_UTF8}"
        fh.seek(0)
        for i, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                byte = f"byte 0x{line[exc.start]:02x} at column {exc.start + 1}"
                return f"line {i}: not UTF-8 text ({byte})"
    return "not UTF-8 text"


def _line_endings(path: Path) -> str | None:
    r"""``line N: ends with CR, line 1 with LF`` when a file mixes line endings (quotes ignored)."""
    names = {b"\r\n": "CR LF", b"\r": "CR", b"\n": "LF"}
    first: bytes | None = None
    with path.open("rb") as fh:
        data = fh.read(64 << 20)  # a parse error's cause, looked for in the first 64 MB
    for i, found in enumerate(re.finditer(rb"\r\n|\r|\n", data), start=1):
        end = found.group()
        if first is None:
            first = end
        elif end != first:
            return f"line {i} ends with {names[end]}, line 1 with {names[first]}"
    return None


def csv_first_problem(path: Path, delimiter: str, n_columns: int) -> str | None:
    """The first line of a CSV file that is not well formed, and why (``line N: ...``).

    For a DuckDB parse error that names no line: bytes that are not UTF-8, a line with the
    wrong number of fields, a quote left open, or line endings that change. ``None`` if
    Python's ``csv`` module reads the file without fault.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            start = 1
            for record in reader:
                if len(record) != n_columns:
                    return f"line {start}: expected {n_columns} columns, found {len(record)}"
                start = reader.line_num + 1
    except UnicodeDecodeError:
        return first_non_utf8(path)
    except csv.Error as exc:
        return f"line {start}: bad quoting ({exc})"
    if "\x00" in path.read_text(encoding="utf-8-sig"):
        return "the file holds NUL bytes"
    mixed = _line_endings(path)
    if mixed:
        return f"mixed line endings: {mixed}"
    return None


#: Field separators a CSV export commonly uses, tried when the header does not split.
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")


def delimiter_hint(path: Path, delimiter: str) -> str | None:
    r"""Which delimiter the header of ``path`` is split by, when it is not ``delimiter``.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "population.csv"
    >>> _ = p.write_text("person_id;sex;imd_decile\n")
    >>> print(delimiter_hint(p, ","))
    the header is split by ';', not ',': set delimiter: ';' in the mapping
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError:
        return None
    counts = {d: first.count(d) for d in DELIMITERS if d != delimiter}
    found = max(counts, key=lambda d: counts[d])
    if counts[found] == 0 or first.count(delimiter) >= counts[found]:
        return None
    shown = {"\t": "\\t"}.get(found, found)
    return (
        f"the header is split by '{shown}', not '{delimiter}': "
        f"set delimiter: '{shown}' in the mapping"
    )


def csv_line_problem(path: Path, line: int, delimiter: str, n_columns: int) -> str | None:
    """What is wrong with physical ``line`` of a CSV file that DuckDB could not parse.

    DuckDB names the line but its first message line drops the cause; this reads the file with
    Python's ``csv`` module up to that line and says why: the wrong number of fields, bytes that
    are not UTF-8, or a quote left open. ``None`` if the line looks well formed here.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter, strict=True)
            for record in reader:
                if reader.line_num < line:
                    continue
                if len(record) != n_columns:
                    return f"expected {n_columns} columns, found {len(record)}"
                return None
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text: {exc.reason}, byte 0x{exc.object[exc.start]:02x}"
    except csv.Error as exc:
        return f"bad quoting ({exc})"
    return "a quoted field is not closed before the end of the file"


def _squash(name: str) -> str:
    """A column name without case, spaces or separators (``' Person-ID'`` -> ``personid``)."""
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def near_misses(missing: list[str], header: list[str]) -> str:
    """Header names that look like missing contract columns (case, spaces, separators, typos).

    Examples
    --------
    >>> print(near_misses(["person_id", "sex", "lsoa"], ["Person_ID", "sex ", "GP_NOTES"]))
    ... # doctest: +NORMALIZE_WHITESPACE
    did you mean 'Person_ID' for 'person_id', 'sex ' for 'sex'? (rename the column,
    or map it under columns: in an intake mapping)
    """
    pairs = []
    for c in missing:
        same = [h for h in header if _squash(h) == _squash(c)]
        close = same or difflib.get_close_matches(c, header, n=1, cutoff=0.85)
        if close:
            pairs.append(f"'{close[0]}' for '{c}'")
    if not pairs:
        return ""
    return (
        f"did you mean {', '.join(pairs)}? "
        "(rename the column, or map it under columns: in an intake mapping)"
    )


def resolve_columns(
    path: Path,
    table: str,
    header: list[str],
    renames: Mapping[str, str],
    provided: frozenset[str] = frozenset(),
) -> tuple[dict[str, str], list[str], list[str]]:
    """Map source to contract columns: ``(source -> contract, ignored, absent optional)``.

    ``provided`` are contract columns the mapping makes itself (constants, derive, a date of
    birth): a header column of that name is ignored, and they are never missing.
    """
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise IntakeError(f"{path}: column(s) {dups} appear more than once in the header")
    contract_cols = C.COLUMNS[table]
    chosen: dict[str, str] = {}
    ignored: list[str] = []
    for h in header:
        target = renames.get(h, h if h not in renames.values() else None)
        if target in contract_cols and target not in provided:
            if target in chosen.values():
                raise IntakeError(f"{path}: two columns map to contract column '{target}'")
            chosen[h] = target
        else:
            ignored.append(h)
    have = set(chosen.values()) | set(provided)
    missing = [c for c in contract_cols if c not in have and c not in C.OPTIONAL_COLUMNS[table]]
    if missing:
        inverse = {v: k for k, v in renames.items()}
        named = ", ".join(
            f"'{inverse[c]}' (contract '{c}')" if c in inverse else f"'{c}'" for c in missing
        )
        hints = near_misses([inverse.get(c, c) for c in missing], ignored)
        hint = f"; {hints}" if hints else ""
        raise IntakeError(f"{path}: missing required column(s) {named} [{C.MISSING_COLUMN}]{hint}")
    absent = [c for c in contract_cols if c not in have]
    return chosen, ignored, absent


@dataclass
class Source:
    """One raw file of a table, as found and checked before intake reads its rows.

    A table has one such file, or several (a mapping's ``sources``) whose rows are unioned.
    """

    table: str
    path: Path
    fmt: str  # "csv" or "parquet"
    source_cols: dict[str, str]  # source name -> contract name
    ignored: list[str]
    absent: list[str]
    native: dict[str, str] = field(default_factory=dict)  # contract column -> "int" | "date"
    size: int = 0
    spec: SourceMapping = field(default_factory=SourceMapping)  # how the mapping reads it
    header: list[str] = field(default_factory=list)  # every column, in file order
    used: list[str] = field(default_factory=list)  # columns read by keep, derive, date of birth
    date_format: str = "%Y-%m-%d"
    dob_native: bool = False  # the date-of-birth column is a Parquet date or timestamp


def native_columns(
    types: Mapping[str, str], st: Source, m: IntakeMapping, null_values: tuple[str, ...]
) -> dict[str, str]:
    """Contract columns a Parquet file already holds as integers or dates, to use as they are.

    A column stays text when the mapping recodes it, or when a null marker could be the text of
    one of its values (``0`` for an integer, a date for a date): then only text handling gives
    the same result as the CSV copy of the file.
    """
    kinds = C.COLUMNS[st.table]
    recode = st.spec.recode
    rx = re.compile(date_regex(st.date_format))
    out: dict[str, str] = {}
    for src, c in st.source_cols.items():
        t = types[src].upper()
        if c in recode or src in st.spec.datetimes:
            continue
        if kinds[c] == "int" and t in engine.NATIVE_INT_TYPES:
            if not any(re.fullmatch(r"[+-]?[0-9]+(\.0+)?", v) for v in null_values):
                out[c] = "int"
        elif kinds[c] == "date" and t in engine.NATIVE_DATE_TYPES:
            if not any(rx.search(v) for v in null_values):
                out[c] = "date"
    return out


def _parquet_types(path: Path) -> dict[str, str]:
    """Column name -> DuckDB type of a Parquet file."""
    probe = engine.connect(threads=1, memory_limit="256MB")
    try:
        return engine.describe_parquet(probe, path)
    except engine.EngineError as exc:
        raise IntakeError(str(exc)) from None
    finally:
        probe.disconnect()


def _rule_columns(spec: SourceMapping) -> list[str]:
    """Source columns the file's rules read: keep, derive and the date of birth."""
    cols = [*spec.keep, *(d.from_ for d in spec.derive.values())]
    if spec.date_of_birth is not None:
        cols.append(spec.date_of_birth.column)
    return list(dict.fromkeys(cols))


def _check_rule_columns(path: Path, spec: SourceMapping, header: list[str]) -> None:
    """Every column a keep, derive, date of birth or datetimes names is in the file's header."""
    wanted = [*_rule_columns(spec), *spec.datetimes]
    missing = [c for c in dict.fromkeys(wanted) if c not in header]
    if missing:
        hints = near_misses(missing, header)
        hint = f"; {hints}" if hints else ""
        raise IntakeError(
            f"{path}: column(s) {missing} named in the mapping (keep, derive, date_of_birth or "
            f"datetimes) are not in the header [{C.MISSING_COLUMN}]{hint}"
        )


def _source(
    raw_dir: Path, table: str, m: IntakeMapping, mapping: Path | None, spec: SourceMapping
) -> Source:
    """Find one file of a table and check its header."""
    path = find_file(raw_dir, table, m, mapping, spec)
    fmt = "parquet" if path.suffix.lower() == ".parquet" else "csv"
    types: dict[str, str] = {}
    if fmt == "csv":
        header = csv_header(path, m.delimiter)
    else:
        types = _parquet_types(path)
        header = list(types)
    try:
        chosen, ignored, absent = resolve_columns(
            path, table, header, spec.columns, frozenset(spec.provided())
        )
        _check_rule_columns(path, spec, header)
    except IntakeError as exc:
        hint = delimiter_hint(path, m.delimiter) if fmt == "csv" else None
        if hint is None:
            raise
        rest = str(exc).removeprefix(f"{path}: ")
        raise IntakeError(f"{path}: {hint}; as read, {rest}") from None
    used = [c for c in _rule_columns(spec) if c not in chosen]
    st = Source(
        table,
        path,
        fmt,
        chosen,
        [c for c in ignored if c not in used],
        absent,
        size=path.stat().st_size,
        spec=spec,
        header=header,
        used=used,
        date_format=m.date_format_for(table, spec),
    )
    if types:
        st.native = native_columns(types, st, m, tuple(m.null_values))
        dob = spec.date_of_birth
        st.dob_native = dob is not None and types[dob.column].upper() in engine.NATIVE_DATE_TYPES
    return st


def find_sources(
    raw_dir: Path, m: IntakeMapping, mapping: Path | None
) -> tuple[list[Source], list[str]]:
    """Every contract table's files, headers checked, in processing order; and notes on them.

    A table with several files (a mapping's ``sources``) gives one :class:`Source` per file,
    in the mapping's order.
    """
    sources: list[Source] = []
    notes: list[str] = []
    for table in C.TABLES:
        files = [_source(raw_dir, table, m, mapping, spec) for spec in m.table(table).files()]
        sources += files
        # With several files, a column only some files lack is empty in their rows only.
        nowhere = set.intersection(*(set(st.absent) for st in files))
        for st in files:
            if st.ignored:
                notes.append(
                    f"{st.path.name}: column(s) {st.ignored} are not in the contract: ignored."
                )
            name = st.path.name
            gone = [c for c in st.absent if c in nowhere]
            if gone:
                notes.append(f"{name}: optional column(s) {gone} absent: not in the output.")
            empty = [c for c in st.absent if c not in nowhere]
            if empty:
                notes.append(f"{name}: optional column(s) {empty} absent: empty in its rows.")
    return sources, notes

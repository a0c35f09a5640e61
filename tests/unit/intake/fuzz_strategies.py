"""Hypothesis strategies and invariants for fuzzing intake (issue #20, item 3).

A raw-table case is the bytes of one contract table's CSV file, drawn from the example extract
(:mod:`evalkit.intake.example`) and damaged in the ways real extracts are: nasty cell values
(wrong types, huge and tiny numbers, dates out of range, quotes, delimiters and newlines inside
cells), duplicate and conflicting keys, duplicate, missing or renamed columns, header-only and
empty files, other delimiters, quoting styles and line endings, other encodings (latin-1,
cp1252, UTF-16, a byte-order mark), truncation mid-row or mid-quote and NUL bytes. A mapping case
is the text of an intake mapping YAML file, valid or broken (not YAML, wrong types, unknown and
missing keys, duplicate keys, columns that are not in the file, several files per table).

Each case says what is known about it: a *clean* raw case is UTF-8 (a byte-order mark allowed),
split by the declared delimiter, quoted properly, with every required column once; intake must
read exactly its rows. The invariants (:func:`assert_names_file`, :func:`assert_reconciles`) are
shared by the cheap read-stage tests and the full-pipeline tests.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from hypothesis import strategies as st

from evalkit import contract as C
from evalkit.intake.example import example_tables

# --------------------------------------------------------------------------- raw tables

#: Cell values that break naive readers: wrong types, huge and tiny numbers, odd dates, text.
NASTY_NUMBERS = (
    "0", "-0", "+5", "007", "1e3", "3.5", "-1", "1,000", " 12 ", "12\u00a0", "１２", "0x10",
    "99999999999999999999", "9223372036854775807", "9223372036854775808",
    "-9223372036854775809", "1e308", "1e309", "-1e309", "4.9e-324", "inf", "NaN", "-inf",
    "1_000", "٣",
)  # fmt: skip
NASTY_DATES = (
    "0001-01-01", "1900-01-01", "1900-01-02", "9999-12-31", "10000-01-01", "2021-02-29",
    "2020-02-29", "2021-13-01", "2021-00-10", "2021-01-32", "2021-1-5", "05/01/2021",
    "2021-01-01T10:00:00", "2021-01-01 00:00", "-2021-01-01", "+2021-01-01", "20210101",
    "2262-04-12", "1677-09-21", "294247-01-10", "2021-01-01Z",
)  # fmt: skip
NASTY_TEXT = (
    "", " ", "NULL", "null", "N/A", 'a"b', '"', "a,b", "a;b", "a\tb", "a|b", "a\nb", "a\r\nb",
    "\r", "\ufeffx", "é", "€", "💥", "\u2028", " lead", "trail ", "=1+1", "x" * 3000,
    "\\", "\\N", "0123456789", "4010232137",
)  # fmt: skip
cell_value = st.one_of(
    st.sampled_from(NASTY_NUMBERS + NASTY_DATES + NASTY_TEXT),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=10,
    ),
)

ENCODINGS = ("utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le")
LINE_ENDINGS = ("\n", "\r\n", "\r")
QUOTING = (csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE)
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class RawCase:
    """One fuzzed raw file: its bytes, the delimiter the mapping declares, what is known of it.

    ``rows`` is the number of data rows when the file is *clean* (see the module docstring),
    else ``None``; ``faults`` lists what was done, for the failure report.
    """

    table: str
    data: bytes
    delimiter: str
    rows: int | None
    faults: tuple[str, ...]

    @property
    def file_name(self) -> str:
        """``<table>.csv``, or ``<table>.parquet`` for a Parquet case (its bytes say which)."""
        return f"{self.table}.parquet" if self.data.startswith(b"PAR1") else f"{self.table}.csv"

    @property
    def clean(self) -> bool:
        """Whether intake must read the file (and exactly ``rows`` rows)."""
        return self.rows is not None


def _required(table: str) -> list[str]:
    return [c for c in C.COLUMNS[table] if c not in C.OPTIONAL_COLUMNS[table]]


@st.composite
def table_rows(draw: st.DrawFn, table: str, max_rows: int = 8) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``table`` drawn from the example (repeats: duplicate keys), some cells edited.

    Returns the all-text frame and the faults applied (duplicate and conflicting keys, edits).
    """
    base = example_tables()[table]
    picks = draw(st.lists(st.integers(0, len(base) - 1), max_size=max_rows))
    df = base.iloc[picks].reset_index(drop=True).copy()
    faults: list[str] = []
    if len(set(picks)) < len(picks):
        faults.append("duplicate rows")
    if len(df):
        edits = draw(
            st.lists(
                st.tuples(
                    st.integers(0, len(df) - 1), st.sampled_from(list(df.columns)), cell_value
                ),
                max_size=6,
            )
        )
        for r, col, v in edits:
            df.loc[r, col] = v
        if edits:
            faults.append(f"{len(edits)} cell edits")
        if len(df) > 1 and draw(st.booleans()):
            # A conflicting key: another row's key with this row's other values.
            a, b = draw(st.integers(0, len(df) - 1)), draw(st.integers(0, len(df) - 1))
            for k in C.PRIMARY_KEY[table]:
                df.loc[b, k] = df.loc[a, k]
            faults.append("conflicting keys")
    return df, faults


@st.composite
def header_fault(draw: st.DrawFn, table: str, df: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """Possibly damage the header: a column twice, a required column gone or renamed, an extra."""
    kind = draw(st.sampled_from([None, None, None, "duplicate", "drop", "rename", "extra"]))
    cols = list(df.columns)
    if kind == "duplicate":
        c = draw(st.sampled_from(cols))
        df = pd.concat([df, df[[c]]], axis=1)
    elif kind == "drop":
        df = df.drop(columns=[draw(st.sampled_from(_required(table)))])
    elif kind == "rename":
        c = draw(st.sampled_from(_required(table)))
        df = df.rename(columns={c: draw(st.sampled_from([c.upper(), f" {c}", f"{c}_x", ""]))})
    elif kind == "extra":
        df = df.assign(**{draw(st.sampled_from(["GP_NOTES", "nhs_number", "x y"])): "1"})
    return df, kind


def _needs_escaping(df: pd.DataFrame, delimiter: str) -> bool:
    """Whether some header or cell cannot be written without quotes."""
    special = {delimiter, '"', "\n", "\r", "\\"}
    texts = [*map(str, df.columns), *(str(v) for v in df.to_numpy().ravel())]
    return any(ch in t for t in texts for ch in special)


def _bare_line_break(df: pd.DataFrame, newline: str) -> bool:
    """Whether ``QUOTE_MINIMAL`` leaves a CR or LF unquoted (it quotes only ``newline``'s)."""
    other = {"\r", "\n"} - set(newline)
    return any(ch in str(v) for v in df.to_numpy().ravel() for ch in other)


def to_csv_text(df: pd.DataFrame, delimiter: str, quoting: int, newline: str) -> str:
    """The frame as CSV text (``QUOTE_NONE`` escapes with a backslash, which intake never reads)."""
    buf = io.StringIO()
    kw = {"escapechar": "\\"} if quoting == csv.QUOTE_NONE else {}
    w = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline, **kw)
    w.writerow(list(df.columns))
    w.writerows(df.astype(str).to_numpy().tolist())
    return buf.getvalue()


def _encode(text: str, encoding: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, errors="replace")


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@st.composite
def damage(draw: st.DrawFn, data: bytes) -> tuple[bytes, str | None]:
    """Possibly truncate (anywhere, or just inside a quoted field) or plant a NUL byte."""
    kind = draw(st.sampled_from([None, None, None, "truncate", "truncate_in_quote", "nul"]))
    if not data or kind is None:
        return data, None
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))], kind
    if kind == "truncate_in_quote":
        quotes = [m.start() for m in re.finditer(b'"', data)]
        if not quotes:
            return data[: len(data) // 2], "truncate"
        return data[: draw(st.sampled_from(quotes)) + 1], kind
    at = draw(st.integers(0, len(data)))
    return data[:at] + b"\x00" + data[at:], kind


@st.composite
def raw_cases(draw: st.DrawFn, tables: tuple[str, ...] = C.TABLES, rough: bool = True) -> RawCase:
    """A fuzzed raw CSV file of one of ``tables`` (see :class:`RawCase`).

    ``rough=False`` keeps the file's structure clean (UTF-8, declared delimiter, proper quoting,
    a full header) and fuzzes only its rows: what the full pipeline is for.
    """
    table = draw(st.sampled_from(tables))
    df, faults = draw(table_rows(table))
    header = None
    if rough:
        df, header = draw(header_fault(table, df))
    delimiter = draw(st.sampled_from(DELIMITERS)) if rough else ","
    quoting = draw(st.sampled_from(QUOTING)) if rough else csv.QUOTE_MINIMAL
    newline = draw(st.sampled_from(LINE_ENDINGS))
    encoding = draw(st.sampled_from(ENCODINGS)) if rough else draw(st.sampled_from(ENCODINGS[:3]))
    if draw(st.integers(0, 9)) == 0 and rough:
        data = draw(st.sampled_from([b"", b"\n", b"\r\n", b"\xef\xbb\xbf", b" \n"]))
        return RawCase(table, data, delimiter, None, ("empty file",))
    text = to_csv_text(df, delimiter, quoting, newline)
    if draw(st.booleans()):  # no newline after the last row
        text = text.removesuffix(newline)
    data = _encode(text, encoding)
    declared = delimiter
    if rough and draw(st.integers(0, 5)) == 0:
        declared = draw(st.sampled_from(DELIMITERS))
    broken = None
    if rough:
        data, broken = draw(damage(data))
    body = data.removeprefix(b"\xef\xbb\xbf")
    clean = (
        header in (None, "extra")
        and broken is None
        and declared == delimiter
        and _utf8(body)
        and b"\x00" not in body  # UTF-16 of ASCII text is UTF-8, with NULs
        and not (quoting == csv.QUOTE_NONE and _needs_escaping(df, delimiter))
        and not (quoting == csv.QUOTE_MINIMAL and _bare_line_break(df, newline))
    )
    faults += [
        f"delimiter {delimiter!r} declared {declared!r}",
        f"quoting {quoting}",
        f"newline {newline!r}",
        f"encoding {encoding}",
        *(f"header {header}" for _ in [0] if header),
        *(f"damage {broken}" for _ in [0] if broken),
    ]
    return RawCase(table, data, declared, len(df) if clean else None, tuple(faults))


# --------------------------------------------------------------------------- invariants


def assert_names_file(exc: Exception, *paths: Path) -> None:
    """The error is one intake documents, and its message names one of ``paths``.

    A CSV parse error also names the line (DuckDB's ``Line: N``, or the header line).
    """
    from evalkit.intake import IntakeError

    assert isinstance(exc, IntakeError), f"{type(exc).__name__} escaped: {exc}"
    msg = str(exc)
    assert any(str(p) in msg for p in paths), f"message names none of {paths}: {msg}"
    if "cannot be read as CSV" in msg:
        assert re.search(r"[Ll]ine:? \d+", msg), f"parse error without its line: {msg}"


def assert_reconciles(out: Path, expected_rows: dict[str, int | None]) -> None:
    """``intake_report.json`` and the output files agree, and every input row is accounted for.

    Per table and per source file: read = accepted (kept) + filtered + quarantined; the files
    hold exactly the accepted and quarantined rows; a table whose row count is known read
    exactly that many; every quarantined row names its file, row and column and a reason.
    """
    report = json.loads((out / "intake_report.json").read_text())
    assert report["reconciled"] is True
    for table, t in report["tables"].items():
        assert t["rows_read"] == t["rows_accepted"] + t["rows_filtered"] + t["rows_quarantined"]
        assert sum(t["quarantined_by_reason"].values()) == t["rows_quarantined"]
        for s in t["sources"]:
            filtered = sum(s["rows_filtered"].values())
            assert s["rows_read"] == s["rows_kept"] + filtered + sum(s["rows_quarantined"].values())
        assert sum(s["rows_read"] for s in t["sources"]) == t["rows_read"]
        if expected_rows.get(table) is not None:
            assert t["rows_read"] == expected_rows[table], (table, t["rows_read"])
        accepted = pd.read_parquet(out / f"{table}.parquet")
        assert len(accepted) == t["rows_accepted"]
        q = pd.read_parquet(out / "quarantine" / f"{table}.parquet")
        assert len(q) == t["rows_quarantined"]
        assert set(q["reason"]) <= set(C.REASONS)
        files = q["source_file"] if "source_file" in q else [t["source_file"]] * len(q)
        for f, r in zip(files, q.itertuples(), strict=True):
            assert r.column, r.message
            assert r.message.startswith(f"{f} row {r.row_number}, column {r.column}"), r.message


# --------------------------------------------------------------------------- mapping files

#: Extra raw files a mapping may name (copies of the example tables under other names).
EXTRA_FILES = {
    "GP_REG.csv": "population",
    "SUS_APC.csv": "activity",
    "ECDS.csv": "activity",
    "MDS_REF.csv": "referrals",
    "MDS_OUT.csv": "measures",
}
FILE_NAMES = (*EXTRA_FILES, "missing.csv", "population.csv", "x.parquet", "../etc.csv", "a.txt")
_ANY_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
    st.sampled_from(["", "x", "%d/%m/%Y", "%Y-%m-%d", "%Q", "[", "2024-03-31", "NULL"]),
)  # fmt: skip
_ANY = st.recursive(
    _ANY_SCALAR,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _source_column(table: str) -> st.SearchStrategy[str]:
    return st.sampled_from([*C.COLUMNS[table], "NO_SUCH_COLUMN", "GP_NOTES", ""])


@st.composite
def source_spec(draw: st.DrawFn, table: str, multi: bool) -> dict:
    """One file's mapping entry for ``table``: valid parts, wrong parts, unknown keys."""
    cols = list(C.COLUMNS[table])
    spec: dict = {}
    if multi or draw(st.booleans()):
        spec["file"] = draw(st.sampled_from(FILE_NAMES))
    if draw(st.booleans()):
        spec["columns"] = draw(
            st.dictionaries(_source_column(table), st.sampled_from([*cols, "nope"]), max_size=3)
        )
    if draw(st.integers(0, 3)) == 0:
        col = draw(st.sampled_from([*cols, "nope"]))
        spec["recode"] = {col: draw(st.dictionaries(st.sampled_from(["1", "2", 3]), _ANY_SCALAR))}
    if draw(st.integers(0, 3)) == 0:
        spec["keep"] = {draw(_source_column(table)): draw(st.lists(_ANY_SCALAR, max_size=2))}
    if draw(st.integers(0, 4)) == 0:
        spec["derive"] = {
            draw(st.sampled_from([*cols, "nope"])): {
                "from": draw(_source_column(table)),
                "codes": draw(st.dictionaries(st.sampled_from(["a", "b", 1]), _ANY_SCALAR)),
            }
        }
    spec.update(draw(_made_columns(table)))
    return spec


@st.composite
def _made_columns(draw: st.DrawFn, table: str) -> dict:
    """Constants, datetimes, a date of birth, a date format and a misplaced key, or none."""
    cols = list(C.COLUMNS[table])
    spec: dict = {}
    if draw(st.integers(0, 4)) == 0:
        spec["constants"] = {draw(st.sampled_from([*cols, "nope"])): draw(_ANY_SCALAR)}
    if draw(st.integers(0, 4)) == 0:
        spec["datetimes"] = draw(st.lists(_source_column(table), max_size=2))
    if draw(st.integers(0, 5)) == 0:
        spec["date_of_birth"] = {"column": draw(_source_column(table)), "format": draw(_ANY_SCALAR)}
    if draw(st.integers(0, 3)) == 0:
        spec["date_format"] = draw(_ANY_SCALAR)
    if draw(st.integers(0, 6)) == 0:
        spec[draw(st.sampled_from(["colums", "sources", "file", "keep"]))] = draw(_ANY)
    return spec


@st.composite
def mapping_dicts(draw: st.DrawFn) -> dict:
    """A mapping as a Python object: valid top-level keys with fuzzed values, tables, junk."""
    out: dict = {}
    for key, good in (
        ("source", st.just("fuzz")),
        ("date_format", st.sampled_from(["%Y-%m-%d", "%d/%m/%Y"])),
        ("person_id_pattern", st.sampled_from([C.PERSON_ID_PATTERN, "^[0-9a-f]{16}$", "(["])),
        ("extract_end", st.sampled_from(["2024-03-31", "2024-02-30", "soon"])),
        ("delimiter", st.sampled_from([",", ";", ",,", ""])),
        ("null_values", st.sampled_from([["NULL"], [], "NULL", [1, None]])),
    ):
        if draw(st.integers(0, 3)) == 0:
            out[key] = draw(good | _ANY) if draw(st.integers(0, 4)) == 0 else draw(good)
    tables: dict = {}
    for table in draw(st.lists(st.sampled_from([*C.TABLES, "bogus"]), unique=True, max_size=4)):
        if table == "bogus" or draw(st.integers(0, 9)) == 0:
            tables[table] = draw(_ANY)
        elif draw(st.integers(0, 3)) == 0:
            n = draw(st.integers(0, 3))
            tables[table] = {"sources": [draw(source_spec(table, multi=True)) for _ in range(n)]}
        else:
            tables[table] = draw(source_spec(table, multi=False))
    if tables or draw(st.booleans()):
        out["tables"] = tables
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["tabels", "extra", "Tables"]))] = draw(_ANY)
    return out


@st.composite
def mapping_texts(draw: st.DrawFn) -> tuple[bytes, str]:
    """A mapping file's bytes (YAML as dumped, or broken as text), and how it was made.

    ``duplicate_key`` is said only when a key was repeated (intake must then refuse the file).
    """
    obj = draw(mapping_dicts())
    text = yaml.safe_dump(obj, sort_keys=False, allow_unicode=True)
    kinds = ["dumped"] * 6 + ["duplicate_key", "not_yaml", "truncated", "scalar", "tab"]
    kind = draw(st.sampled_from(kinds))
    lines = text.splitlines(keepends=True)
    keyed = [i for i, ln in enumerate(lines) if re.match(r"\s*[^\s#-][^:]*:( |$)", ln)]
    if kind == "duplicate_key" and keyed:
        # Repeat a line holding a key at its own indent: the same key twice in one mapping.
        i = draw(st.sampled_from(keyed))
        key = lines[i].split(":")[0]
        lines.insert(i + 1, f"{key}: duplicate\n" if lines[i].rstrip().endswith(":") else lines[i])
        text = "".join(lines)
    elif kind == "duplicate_key":
        kind = "dumped"
    elif kind == "not_yaml":
        text += draw(
            st.sampled_from(["[unclosed\n", "a: b: c\n", "- x\ny: 1\n", "{a: 1\n", "@x\n"])
        )
    elif kind == "truncated" and text:
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif kind == "scalar":
        text = draw(st.sampled_from(["", "42\n", "- a\n- b\n", "null\n", "'x'\n"]))
    elif kind == "tab":
        text = text.replace("  ", "\t", 1)
    data = text.encode("utf-8")
    if draw(st.integers(0, 19)) == 0:
        data, kind = (
            "# Café\n".encode(draw(st.sampled_from(["latin-1", "utf-16"]))) + data,
            "encoding",
        )
    return data, kind


# --------------------------------------------------------------------------- pipeline mappings

#: A code column per table that ``keep`` and ``constants`` can use, and its codes in the example.
_CODE_COLUMN = {
    "population": ("sex", ["F", "M", "X"]),
    "activity": ("setting", ["gp_appointment", "ae_attendance", "emergency_admission"]),
    "referrals": ("programme", ["mindsong", "cyp"]),
    "measures": ("timepoint", ["baseline", "end"]),
}
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class PipelineCase:
    """Raw files (name -> bytes) and a mapping naming them; rows per file as written."""

    files: dict[str, bytes]
    mapping: str
    rows: dict[str, dict[str, int]]  # table -> file -> data rows


@st.composite
def _source_file(draw: st.DrawFn, table: str, name: str) -> tuple[dict, bytes, int]:
    """One file of ``table`` under its own upper-case column names, with some of a file's rules."""
    df, _ = draw(table_rows(table))
    spec: dict = {"file": name}
    code_col, codes = _CODE_COLUMN[table]
    rule = draw(st.sampled_from([None, None, "keep", "constant", "recode", "dmy", "datetimes"]))
    dates = [c for c, k in C.COLUMNS[table].items() if k == "date" and c in df]
    if rule == "keep":
        spec["keep"] = {code_col.upper(): draw(st.lists(st.sampled_from(codes), min_size=1))}
    elif rule == "constant":
        spec["constants"] = {code_col: draw(st.sampled_from(codes))}
        df = df.drop(columns=[code_col])
    elif rule == "recode":
        spec["recode"] = {code_col: {c.upper() + "_": c for c in codes}}
        df[code_col] = [
            f"{v.upper()}_" if v in codes and draw(st.booleans()) else v for v in df[code_col]
        ]
    elif rule == "dmy" and dates:
        spec["date_format"] = "%d/%m/%Y"
        for c in dates:
            df[c] = [_ISO.sub(r"\3/\2/\1", v) for v in df[c].astype(str)]
    elif rule == "datetimes" and dates:
        c = draw(st.sampled_from(dates))
        spec["datetimes"] = [c.upper()]
        df[c] = [v + " 13:45" if _ISO.match(v) else v for v in df[c].astype(str)]
    spec["columns"] = {c.upper(): c for c in df.columns}
    df = df.rename(columns=str.upper)
    return spec, df.to_csv(index=False).encode("utf-8"), len(df)


@st.composite
def pipeline_cases(draw: st.DrawFn) -> PipelineCase:
    """Valid mappings over fuzzed rows: each table from its contract file, one renamed file, or
    two files unioned (``sources``), each file with a keep, constant, recode or date rule."""
    files: dict[str, bytes] = {}
    rows: dict[str, dict[str, int]] = {}
    tables: dict = {}
    for table in C.TABLES:
        form = draw(st.sampled_from(["contract", "single", "multi"]))
        if form == "contract":
            df = example_tables()[table]
            files[f"{table}.csv"] = df.to_csv(index=False).encode("utf-8")
            rows[table] = {f"{table}.csv": len(df)}
            continue
        names = [f"{table.upper()}_A.csv", f"{table.upper()}_B.csv"][: 1 if form == "single" else 2]
        specs = []
        rows[table] = {}
        for name in names:
            spec, data, n = draw(_source_file(table, name))
            specs.append(spec)
            files[name] = data
            rows[table][name] = n
        tables[table] = specs[0] if form == "single" else {"sources": specs}
    mapping = {"source": "fuzz", "null_values": ["NULL"], "tables": tables}
    return PipelineCase(files, yaml.safe_dump(mapping, sort_keys=False), rows)


# --------------------------------------------------------------------------- Parquet files


def _num(v: str) -> float | None:
    try:
        return float(v)
    except ValueError:
        return None


def _ints(kind: str, values: list[str]) -> object:
    """Integers of Arrow type ``kind`` (int8 clipped, uint64 beyond int64 for odd values)."""
    import pyarrow as pa

    ints = [None if (x := _num(v)) is None or x != x or abs(x) > 1e18 else int(x) for v in values]
    if kind == "int8":
        ints = [None if i is None else max(-128, min(127, i)) for i in ints]
    if kind == "uint64":
        ints = [None if i is None else abs(i) + 2**63 * (i % 2) for i in ints]
    return pa.array(ints, getattr(pa, kind)())


def _dates(kind: str, values: list[str]) -> object:
    """ISO dates as an Arrow date, timestamp or zoned timestamp (other text becomes null)."""
    import datetime as dt

    import pyarrow as pa

    out: list[dt.date | None] = []
    for v in values:
        try:
            out.append(dt.date.fromisoformat(v))
        except ValueError:
            out.append(None)
    if kind == "date":
        return pa.array(out, pa.date32())
    stamps = [None if d is None else dt.datetime(d.year, d.month, d.day, 23, 59) for d in out]
    tz = "Europe/London" if kind == "timestamp_tz" else None
    return pa.array(stamps, pa.timestamp("us", tz=tz))


def _arrow_column(kind: str, values: list[str]) -> object:
    """``values`` (text) as an Arrow array of ``kind``: what a warehouse export might type them."""
    import pyarrow as pa

    if kind in ("int8", "int64", "uint64"):
        return _ints(kind, values)
    if kind in ("date", "timestamp", "timestamp_tz"):
        return _dates(kind, values)
    made = {
        "float": lambda: pa.array([_num(v) for v in values], pa.float64()),
        "bool": lambda: pa.array([None if v == "" else len(v) % 2 == 0 for v in values]),
        "binary": lambda: pa.array([v.encode() for v in values], pa.binary()),
        "list": lambda: pa.array([[v] for v in values], pa.list_(pa.string())),
        "null": lambda: pa.nulls(len(values)),
        "dictionary": lambda: pa.array(values, pa.string()).dictionary_encode(),
    }
    return made.get(kind, lambda: pa.array(values, pa.string()))()


PARQUET_KINDS = (
    "string", "string", "float", "int8", "int64", "uint64", "bool", "date", "timestamp",
    "timestamp_tz", "binary", "list", "null", "dictionary",
)  # fmt: skip


@st.composite
def parquet_cases(draw: st.DrawFn, tables: tuple[str, ...] = C.TABLES) -> RawCase:
    """A Parquet file of one table, its columns given Arrow types a warehouse might use (some
    wrong: a list, binary, a zoned timestamp), or its bytes truncated. ``rows`` is known unless
    the bytes are damaged (intake must then refuse the file)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = draw(st.sampled_from(tables))
    df, faults = draw(table_rows(table))
    arrays = {}
    for c in df.columns:
        kind = draw(st.sampled_from(PARQUET_KINDS))
        arrays[c] = _arrow_column(kind, [str(v) for v in df[c]])
        if kind != "string":
            faults.append(f"{c} {kind}")
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf)
    data = buf.getvalue()
    rows: int | None = len(df)
    if draw(st.integers(0, 5)) == 0:
        data, rows = data[: draw(st.integers(0, len(data) - 1))], None
        faults.append("truncated")
    return RawCase(table, data, ",", rows, tuple(faults))

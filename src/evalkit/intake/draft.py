"""A first draft of an intake mapping for an extract whose names match no preset.

``evalkit mapping draft RAW_DIR`` reads the first rows of every CSV and Parquet file in a folder
(a row limit, so a 10 GB file takes as long as a small one) and says, per column, what kind of
values it holds: dates (with their format guessed), codes (few distinct values, shown with their
counts), numbers, identifiers or free text. It writes a mapping YAML with one ``sources:`` entry
per file, the columns it could match to the data contract's names (exact or near-miss, or a
preset's source name), and comments for everything else, so that the user fills in ``recode``,
``keep`` and ``derive`` from the comments. The draft is valid as written
(:func:`evalkit.intake.mapping.load_mapping` reads it).

Nothing identifying is shown: NHS-number-shaped columns (:mod:`evalkit.intake.identifiers`),
dates of birth, postcodes, person tokens and free text are described by their kind only, every
sample code is screened by the masking shapes (:mod:`evalkit.intake.masking`) and counts under
10 are shown as ``<10``.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit import engine
from evalkit.contract import COLUMNS, PERSON_ID_PATTERN, TABLES
from evalkit.intake.errors import IntakeError
from evalkit.intake.identifiers import nhs_number_problem, nhs_number_shares, normalise_nhs_number
from evalkit.intake.masking import EXAMPLE_MAX_CHARS, NHS_NUMBER_SHAPE, POSTCODE_SHAPE
from evalkit.intake.sources import DELIMITERS, csv_header, csv_line_problem

__all__ = [
    "DATE_FORMATS",
    "DEFAULT_ROWS",
    "MAX_CODES",
    "ColumnProfile",
    "FileProfile",
    "MappingDraft",
    "draft_mapping",
    "profile_file",
]

#: Rows read from the start of each file.
DEFAULT_ROWS = 20_000
#: Most sample codes shown per code-like column.
MAX_CODES = 8
#: A column with at most this many distinct values in the sample is code-like.
_MAX_DISTINCT_CODES = 25
#: Counts below this are shown as ``<10``.
_SMALL = 10
#: Share of non-empty values that must fit a shape for a column to be of that kind.
_SHARE = 0.95

#: Date formats tried, most common in NHS extracts first (a time part is matched separately).
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%d-%m-%Y",
    "%Y%m%d",
    "%Y/%m/%d",
    "%d.%m.%Y",
)
_TIME = re.compile(r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_DATE_LIKE = re.compile(r"\d{1,4}[-/. ]\d{1,2}[-/. ]\d{1,4}|(?:19|20)\d{6}|\d{4}(?:19|20)\d{2}")
#: Column names that mark a value as identifying, whatever it looks like.
_IDENTIFYING_NAME = re.compile(
    r"nhs|birth|dob|postcode|post_code|address|forename|surname|first_?name|last_?name"
    r"|full_?name|patient_?name|phone|email",
    re.IGNORECASE,
)
_BIRTH_NAME = re.compile(r"birth|dob", re.IGNORECASE)
#: Column names of identifiers (person, episode, event ids): their values are never shown.
_ID_NAME = re.compile(r"(?:^|[_\s.-])id$|^id(?:[_\s.-]|$)|_id_|token|pseudo", re.IGNORECASE)

#: Kinds of column; the identifying ones never show a value.
KIND_EMPTY = "empty"
KIND_DATE = "date"
KIND_CODE = "code"
KIND_NUMBER = "numeric"
KIND_NHS = "NHS number"
KIND_BIRTH = "date of birth"
KIND_POSTCODE = "postcode"
KIND_TOKEN = "person token"
KIND_ID = "identifier"
KIND_TEXT = "free text or many distinct values"
IDENTIFYING = frozenset({KIND_NHS, KIND_BIRTH, KIND_POSTCODE, KIND_TOKEN, KIND_ID, KIND_TEXT})


@dataclass(frozen=True)
class ColumnProfile:
    """What one column holds, as far as the sample shows; never an identifying value."""

    name: str
    kind: str
    date_format: str | None = None
    has_time: bool = False
    codes: tuple[tuple[str, str], ...] = ()  # (code, count shown: "123" or "<10")
    hidden: int = 0  # codes left out because they look like an NHS number, postcode or date
    distinct: int = 0
    non_empty: int = 0

    def describe(self) -> str:
        """One line for the draft's comments."""
        text = self.kind
        if self.date_format:
            text += f", format {self.date_format}" + (" with a time" if self.has_time else "")
        if self.codes:
            shown = ", ".join(f"{json.dumps(c)} ({n})" for c, n in self.codes)
            more = f" of {self.distinct}" if self.distinct > len(self.codes) else ""
            text += f"; codes{more}: {shown}"
        if self.hidden:
            text += f" ({self.hidden} code(s) not shown: shaped like an identifier or a date)"
        if self.kind in IDENTIFYING:
            text += " (values not shown)"
        return text


@dataclass(frozen=True)
class FileProfile:
    """One raw file: its columns' profiles and the table and columns guessed for it."""

    file: str
    rows_sampled: int
    columns: tuple[ColumnProfile, ...]
    table: str | None
    renames: dict[str, str] = field(default_factory=dict)  # source -> contract
    date_format: str | None = None
    datetimes: tuple[str, ...] = ()
    date_of_birth: ColumnProfile | None = None


@dataclass(frozen=True)
class MappingDraft:
    """The draft of a whole folder: the files' profiles and the mapping YAML text."""

    raw_dir: Path
    files: tuple[FileProfile, ...]
    delimiter: str
    rows: int

    def yaml(self) -> str:
        """The draft mapping, valid as written; unguessed columns only in comments."""
        return _render(self)

    def summary(self) -> str:
        """One line per file: the table guessed and how many columns were matched."""
        lines = [f"mapping draft of {len(self.files)} file(s) in {self.raw_dir}:"]
        for f in self.files:
            lines.append(
                f"  {f.file}: table {f.table or '?'}, {len(f.renames)} of {len(f.columns)} "
                f"column(s) matched, {f.rows_sampled:,} row(s) sampled"
            )
        return "\n".join(lines)


# --- reading a sample ------------------------------------------------------------------------


def _sniff_delimiter(path: Path) -> str:
    """The separator the header line is split by (the most frequent of :data:`DELIMITERS`)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            first = fh.readline()
    except UnicodeDecodeError as exc:
        raise IntakeError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _sample(con: Any, path: Path, rows: int, delimiter: str) -> pd.DataFrame:
    """The first ``rows`` rows of a CSV or Parquet file, every value as text (empty -> None)."""
    try:
        if path.suffix.lower() == ".parquet":
            t = engine.read_parquet(con, path)
        else:
            header = csv_header(path, delimiter)
            dups = sorted({h for h in header if header.count(h) > 1})
            if dups:
                raise IntakeError(f"{path}: column(s) {dups} appear more than once in the header")
            t = con.read_csv(
                str(path),
                columns={f"c{i}": "VARCHAR" for i in range(len(header))},
                header=True,
                auto_detect=False,
                delim=delimiter,
                quote='"',
                escape='"',
            )
            t = t.rename({h: f"c{i}" for i, h in enumerate(header)})
        t = t.select(**{c: t[c].cast("string") for c in t.columns})
        df = engine.to_pandas(con, t.limit(rows), limit=rows)
    except IntakeError:
        raise
    except engine.EngineError as exc:
        raise IntakeError(str(exc)) from None
    except Exception as exc:  # a parse error: its text may quote a row, so only its line
        raise IntakeError(
            f"{path}: cannot be read as CSV{_parse_cause(path, exc, delimiter)}"
        ) from None
    return df.apply(lambda s: s.str.strip().replace("", None))


def _parse_cause(path: Path, exc: Exception, delimiter: str) -> str:
    """``: line N: why`` for a CSV DuckDB could not parse, never a value.

    The line number is taken from DuckDB's message (which also quotes the line, so the message
    itself is never shown), the cause from :func:`~evalkit.intake.sources.csv_line_problem`.
    """
    found = re.search(r"\bline:? (\d+)", str(exc), re.IGNORECASE)
    if found is None:
        return f" ({type(exc).__name__})"
    line = int(found.group(1))
    n = len(csv_header(path, delimiter))
    problem = csv_line_problem(path, line, delimiter, n)
    return f": line {line}" + (f": {problem}" if problem else "")


# --- kinds -----------------------------------------------------------------------------------


def _date_format(values: list[str]) -> tuple[str | None, bool]:
    """The first of :data:`DATE_FORMATS` nearly every value parses with; whether a time follows."""
    stripped = [_TIME.sub("", v) for v in values]
    has_time = any(s != v for s, v in zip(stripped, values, strict=True))
    for fmt in DATE_FORMATS:
        ok = 0
        for s in stripped:
            try:
                dt.datetime.strptime(s, fmt)
                ok += 1
            except ValueError:
                pass
        if ok >= _SHARE * len(stripped):
            return fmt, has_time
    return None, False


def _share(values: list[str], pattern: str | re.Pattern[str]) -> float:
    rx = re.compile(pattern)
    return sum(bool(rx.search(v)) for v in values) / len(values)


def _safe_code(code: str) -> bool:
    """Whether a code may be shown: not an NHS number, postcode or full date."""
    if re.search(NHS_NUMBER_SHAPE, code) and nhs_number_problem(normalise_nhs_number(code)) is None:
        return False
    return not (re.search(POSTCODE_SHAPE, code) or _DATE_LIKE.fullmatch(code))


def _by_count(counts: Counter[str]) -> list[tuple[str, int]]:
    """Codes from the most to the least frequent; equal counts by code."""
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _shown_count(n: int) -> str:
    return f"<{_SMALL}" if n < _SMALL else str(n)


def _hidden_kind(name: str, sample: list[str]) -> str | None:
    """The identifying kind of a column by its values' shape or its name, if it has one."""
    if _share(sample, PERSON_ID_PATTERN) >= _SHARE:
        return KIND_TOKEN
    if _share(sample, POSTCODE_SHAPE) >= 0.5:
        return KIND_POSTCODE
    if _IDENTIFYING_NAME.search(name):
        return KIND_TEXT
    if _ID_NAME.search(name):
        return KIND_ID
    return None


def profile_column(name: str, values: pd.Series) -> ColumnProfile:
    """The kind of one column's sample values (text, None for empty)."""
    present = [str(v) for v in values.dropna()]
    if not present:
        return ColumnProfile(name, KIND_EMPTY)
    counts = Counter(present)
    distinct = len(counts)
    n = len(present)
    base = {"distinct": distinct, "non_empty": n}
    sample = list(counts)[:2000]
    if nhs_number_shares(present).looks_like_nhs_numbers:
        return ColumnProfile(name, KIND_NHS, **base)
    fmt, has_time = _date_format(sample) if _share(sample, r"^\d") >= _SHARE else (None, False)
    if fmt is not None:
        kind = KIND_BIRTH if _BIRTH_NAME.search(name) else KIND_DATE
        return ColumnProfile(name, kind, date_format=fmt, has_time=has_time, **base)
    hidden = _hidden_kind(name, sample)
    if hidden is not None:
        return ColumnProfile(name, hidden, **base)
    long = any(len(c) > EXAMPLE_MAX_CHARS for c in sample)
    if distinct <= _MAX_DISTINCT_CODES and distinct < n and not long:
        shown = [(c, _shown_count(k)) for c, k in _by_count(counts) if _safe_code(c)]
        codes = tuple(shown[:MAX_CODES])
        return ColumnProfile(name, KIND_CODE, codes=codes, hidden=distinct - len(shown), **base)
    if all(_NUMBER.fullmatch(v) for v in sample):
        return ColumnProfile(name, KIND_NUMBER, **base)
    if _share(sample, r"\s") < 0.5 and distinct >= 0.5 * n:
        return ColumnProfile(name, KIND_ID, **base)
    return ColumnProfile(name, KIND_TEXT, **base)


# --- guessing the table and columns ------------------------------------------------------

#: File names that say which table a file is, when none of its column names do.
_FILE_NAMES: dict[str, re.Pattern[str]] = {
    "population": re.compile(r"regist|population|demog|patient_list", re.IGNORECASE),
    "activity": re.compile(
        r"apc|spell|ecds|a_?and_?e|emergency|outpat|(?:^|_)op(?:_|$)|appoint|111|ooh|activity",
        re.IGNORECASE,
    ),
    "referrals": re.compile(r"referr", re.IGNORECASE),
    "measures": re.compile(r"measure|outcome|questionnaire|wemwbs|ons4", re.IGNORECASE),
}


def _squash(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", name.strip().lower())


def preset_names(presets_dir: Path | None) -> dict[str, dict[str, str]]:
    """Source column -> contract column per table, from every preset in ``presets_dir``."""
    out: dict[str, dict[str, str]] = {t: {} for t in TABLES}
    if presets_dir is None or not Path(presets_dir).is_dir():
        return out
    import yaml

    for p in sorted(Path(presets_dir).glob("*.yaml")):
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        for table, entry in (doc.get("tables") or {}).items():
            for src in (entry or {}).get("sources") or []:
                for a, b in (src.get("columns") or {}).items():
                    if table in out and b in COLUMNS[table]:
                        out[table].setdefault(str(a), str(b))
    return out


def _guess(name: str, table: str, known: dict[str, str]) -> str | None:
    """The contract column of ``table`` a source column is: exact, near miss, or a preset's."""
    contract = list(COLUMNS[table])
    squashed = {_squash(c): c for c in contract}
    if _squash(name) in squashed:
        return squashed[_squash(name)]
    if name in known:
        return known[name]
    close = difflib.get_close_matches(name.strip().lower(), contract, n=1, cutoff=0.85)
    return close[0] if close else None


def _renames(cols: tuple[ColumnProfile, ...], table: str, known: dict[str, str]) -> dict[str, str]:
    """Source -> contract column for the columns guessed, each contract column once."""
    out: dict[str, str] = {}
    for c in cols:
        if c.kind == KIND_BIRTH:
            continue
        target = _guess(c.name, table, known)
        if target is not None and target not in out.values():
            if COLUMNS[table][target] == "date" and c.kind not in (KIND_DATE, KIND_EMPTY):
                continue
            out[c.name] = target
    return out


def profile_file(
    path: Path,
    *,
    rows: int = DEFAULT_ROWS,
    delimiter: str | None = None,
    known: dict[str, dict[str, str]] | None = None,
    con: Any = None,
) -> FileProfile:
    """Profile one file and guess its table (the one most of its columns match)."""
    sep = delimiter or (_sniff_delimiter(path) if path.suffix.lower() == ".csv" else ",")
    own = con is None
    con = engine.connect(threads=1, memory_limit="512MB") if own else con
    try:
        df = _sample(con, path, rows, sep)
    finally:
        if own:
            con.disconnect()
    cols = tuple(profile_column(str(c), df[c]) for c in df.columns)
    known = known or {t: {} for t in TABLES}
    scored = [(len(_renames(cols, t, known[t])), -i, t) for i, t in enumerate(TABLES)]
    best, _, table = max(scored)
    if best == 0:
        by_name = [t for t, rx in _FILE_NAMES.items() if rx.search(path.stem)]
        if not by_name:
            return FileProfile(path.name, len(df), cols, None)
        table = by_name[0]
    renames = _renames(cols, table, known[table])
    dates = [c for c in cols if c.kind == KIND_DATE]
    fmt = Counter(c.date_format for c in dates).most_common(1)[0][0] if dates else None
    datetimes = tuple(c.name for c in dates if c.has_time and c.name in renames)
    births = [c for c in cols if c.kind == KIND_BIRTH]
    dob = births[0] if births and "year_of_birth" in COLUMNS[table] else None
    if dob is not None and "year_of_birth" in renames.values():
        dob = None
    return FileProfile(path.name, len(df), cols, table, renames, fmt, datetimes, dob)


def draft_mapping(
    raw_dir: Path, *, rows: int = DEFAULT_ROWS, presets_dir: Path | None = None
) -> MappingDraft:
    """Profile every CSV and Parquet file in ``raw_dir`` and draft a mapping for them.

    Parameters
    ----------
    raw_dir : Path
        The extract's folder (only read).
    rows : int
        Rows read from the start of each file (codes and counts are of these rows).
    presets_dir : Path, optional
        Mapping presets whose source column names are also recognised.

    Raises
    ------
    IntakeError
        The folder is missing or holds no CSV or Parquet file, or a file cannot be read.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"{raw_dir}: not a directory")
    paths = sorted(
        p for p in raw_dir.iterdir() if p.is_file() and p.suffix.lower() in (".csv", ".parquet")
    )
    if not paths:
        raise IntakeError(f"{raw_dir}: no .csv or .parquet file to draft a mapping for")
    csvs = [_sniff_delimiter(p) for p in paths if p.suffix.lower() == ".csv"]
    delimiter = Counter(csvs).most_common(1)[0][0] if csvs else ","
    known = preset_names(presets_dir)
    con = engine.connect(threads=1, memory_limit="512MB")
    try:
        files = tuple(
            profile_file(p, rows=rows, delimiter=delimiter, known=known, con=con) for p in paths
        )
    finally:
        con.disconnect()
    return MappingDraft(raw_dir, files, delimiter, rows)


# --- writing the YAML ------------------------------------------------------------------------


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text)


def _source_lines(f: FileProfile) -> list[str]:
    out = [f"      - file: {_q(f.file)}"]
    if f.date_format:
        out.append(f"        date_format: {_q(f.date_format)}")
    out.append(f"        # {f.rows_sampled:,} row(s) sampled; per column: kind, codes (counts)")
    if f.renames:
        out.append("        columns:")
    for c in f.columns:
        if c.name in f.renames:
            out.append(f"          {_q(c.name)}: {f.renames[c.name]}  # {c.describe()}")
    for c in f.columns:
        if c.name not in f.renames:
            out.append(f"          # {_q(c.name)}: ?  # {c.describe()}")
    if f.datetimes:
        out.append(f"        datetimes: [{', '.join(_q(c) for c in f.datetimes)}]")
    if f.date_of_birth is not None:
        d = f.date_of_birth
        out.append(
            f"        date_of_birth: {{column: {_q(d.name)}, format: {_q(d.date_format or '')}}}"
            "  # gives year_of_birth; the date itself is dropped"
        )
    codes = [c for c in f.columns if c.kind == KIND_CODE and c.name not in f.renames]
    if codes:
        out.append("        # recode / keep / derive from the codes above, e.g.")
        out.append(f'        # keep: {{{_q(codes[0].name)}: ["..."]}}')
    return out


def _render(d: MappingDraft) -> str:
    lines = [
        "# Draft intake mapping written by `evalkit mapping draft`: check every line.",
        f"# Sampled: the first {d.rows:,} rows of each file; codes are of those rows, counts",
        "# under 10 shown as <10; identifying columns (NHS numbers, dates of birth, postcodes,",
        "# person tokens, free text) by their kind only. Columns it could not match are",
        "# comments (`# SOURCE_COL: ?`): map them under columns:, recode, keep or derive",
        "# (intake_mappings/README.md).",
        f"source: {_q('draft of ' + d.raw_dir.name)}",
        f"delimiter: {_q(d.delimiter)}",
    ]
    by_table: dict[str, list[FileProfile]] = {}
    for f in d.files:
        if f.table is not None:
            by_table.setdefault(f.table, []).append(f)
    lines.append("tables:" if by_table else "tables: {}")
    for table in TABLES:
        if table not in by_table:
            continue
        lines += [f"  {table}:", "    sources:"]
        for f in by_table[table]:
            lines += _source_lines(f)
    unknown = [f for f in d.files if f.table is None]
    for f in unknown:
        lines.append(
            f"# {f.file}: neither its columns nor its name match a contract table; its columns:"
        )
        lines += [f"#   {_q(c.name)}: ?  # {c.describe()}" for c in f.columns]
    return "\n".join(lines) + "\n"


def as_dict(d: MappingDraft) -> dict[str, Any]:  # pragma: no cover - convenience
    """The draft's YAML read back (for inspection in Python)."""
    import yaml

    return yaml.safe_load(d.yaml())

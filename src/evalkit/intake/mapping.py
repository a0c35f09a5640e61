"""Intake mapping files: how a data source's extract maps onto the data contract.

A warehouse export never uses the contract's names and codes. One YAML file per data source says
which file holds each table, which source column is which contract column, how values are recoded,
how dates are written and what a person id looks like. Without a mapping, intake expects the
contract's own file and column names (``<table>.csv`` or ``<table>.parquet``).

A typo in a mapping file stops with a message naming the file and the field, e.g.
``intake_mappings/x.yaml: tables.population.colums: Extra inputs are not permitted``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evalkit.contract import COLUMNS, PERSON_ID_PATTERN, TABLES
from evalkit.definitions.base import validation_message
from evalkit.intake.errors import IntakeError

__all__ = [
    "CODED",
    "DATE_DIRECTIVES",
    "DateOfBirth",
    "DeriveRule",
    "IntakeMapping",
    "MappingError",
    "SourceMapping",
    "TableMapping",
    "load_mapping",
]

#: ``strftime`` directives a date format may use (each becomes a regular expression group).
DATE_DIRECTIVES: dict[str, str] = {
    "%Y": r"(\d{4})",
    "%m": r"(\d{1,2})",
    "%d": r"(\d{1,2})",
    "%H": r"\d{1,2}",
    "%M": r"\d{1,2}",
    "%S": r"\d{1,2}(?:\.\d+)?",
    "%%": "%",
}


#: Columns with a code list intake checks, per table: the columns a ``derive`` may make (a code
#: the rule does not list then fails that check; a free-text column would take anything).
CODED: dict[str, tuple[str, ...]] = {
    "population": ("sex", "ethnicity"),
    "activity": ("setting",),
    "referrals": ("programme", "referral_source", "discharge_reason"),
    "measures": ("instrument", "timepoint"),
}


class MappingError(IntakeError):
    """A mapping file is missing or invalid; the message names the file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_date_format(v: str) -> str:
    directives = re.findall(r"%.", v)
    unknown = sorted({d for d in directives if d not in DATE_DIRECTIVES})
    if unknown:
        raise ValueError(
            f"unsupported directive(s) {unknown}; use {', '.join(sorted(DATE_DIRECTIVES))}"
        )
    for need in ("%Y", "%m", "%d"):
        if directives.count(need) != 1:
            raise ValueError(f"a date format needs {need} exactly once")
    return v


def _codes(v: Any) -> Any:
    """Codes as text: YAML reads ``1: M`` or ``[11, 12]`` as numbers, a CSV holds text."""
    if isinstance(v, dict):
        return {str(a): str(b) for a, b in v.items()}
    if isinstance(v, list):
        return [str(a) for a in v]
    return v


class DeriveRule(_Strict):
    """A contract value derived from a source code (``setting`` from an admission method).

    Attributes
    ----------
    from_ : str
        Source column holding the code (``from:`` in YAML).
    codes : dict
        Source code -> contract value. A code not listed quarantines the row (``invalid_code``,
        the message naming the file, the source column and the code); an empty code leaves the
        contract value empty.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: str = Field(alias="from", min_length=1)
    codes: dict[str, str] = Field(min_length=1)

    @field_validator("codes", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return _codes(v)


class DateOfBirth(_Strict):
    """A date-of-birth column: intake keeps its year as ``year_of_birth`` and drops the rest.

    Attributes
    ----------
    column : str
        Source column holding the date of birth.
    format : str
        How it is written (``%Y %m %d``, an optional time ignored).
    """

    column: str = Field(min_length=1)
    format: str = "%Y-%m-%d"

    @field_validator("format")
    @classmethod
    def _fmt(cls, v: str) -> str:
        return _check_date_format(v)


class SourceMapping(_Strict):
    """How one source file of a contract table is read (see ``intake_mappings/README.md``).

    Attributes
    ----------
    file : str, optional
        File name in the raw directory (``.csv`` or ``.parquet``); default ``<table>.csv`` or
        ``<table>.parquet``, whichever exists (the single-file form only).
    columns : dict
        Source column name -> contract column name. Columns not named keep their own name.
    recode : dict
        Contract column -> {source value: contract value}. Values not listed pass through
        unchanged (and are then checked against the contract's code list).
    date_format : str, optional
        How this file writes dates; default the table's, then the mapping's.
    keep : dict
        Source column -> codes kept. A row whose code (trimmed) is not listed, or is empty, is
        filtered out by the rule ``keep <column>`` (counted, not quarantined); with several
        columns a row is kept when every one's code is listed.
    derive : dict
        Contract column -> :class:`DeriveRule`.
    constants : dict
        Contract column -> one value for every row of this file.
    datetimes : list of str
        Source columns holding a date and time: the date is kept, the time dropped.
    date_of_birth : DateOfBirth, optional
        A date-of-birth column that gives ``year_of_birth`` and is then dropped.
    """

    file: str | None = None
    columns: dict[str, str] = {}
    recode: dict[str, dict[str, str]] = {}
    date_format: str | None = None
    keep: dict[str, list[str]] = {}
    derive: dict[str, DeriveRule] = {}
    constants: dict[str, str] = {}
    datetimes: list[str] = []
    date_of_birth: DateOfBirth | None = None

    @field_validator("file")
    @classmethod
    def _file(cls, v: str | None) -> str | None:
        if v is not None and not v.lower().endswith((".csv", ".parquet")):
            raise ValueError("file must end in .csv or .parquet")
        if v is not None and Path(v).name != v:
            raise ValueError("file must be a file name inside the raw directory, not a path")
        return v

    @field_validator("recode", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: _codes(m) for k, m in v.items()}
        return v

    @field_validator("keep", mode="before")
    @classmethod
    def _keep(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: _codes(m) for k, m in v.items()}
        return v

    @field_validator("keep")
    @classmethod
    def _keep_nonempty(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        empty = sorted(k for k, codes in v.items() if not codes)
        if empty:
            raise ValueError(f"{empty}: a keep list needs at least one code")
        return v

    @field_validator("constants", mode="before")
    @classmethod
    def _constants(cls, v: Any) -> Any:
        return _codes(v)

    @field_validator("date_format")
    @classmethod
    def _fmt(cls, v: str | None) -> str | None:
        return None if v is None else _check_date_format(v)

    @property
    def transforms(self) -> bool:
        """Whether rows are filtered or values made beyond renaming and recoding."""
        return bool(
            self.keep or self.derive or self.constants or self.datetimes or self.date_of_birth
        )

    def provided(self) -> set[str]:
        """Contract columns this file's values come from other than a source column of that name."""
        out = set(self.derive) | set(self.constants)
        if self.date_of_birth is not None:
            out.add("year_of_birth")
        return out

    def problems(self, table: str) -> list[str]:
        """What is wrong with this source for ``table``, as ``field: message`` lines."""
        return self._column_problems(table) + self._made_problems(table)

    def _column_problems(self, table: str) -> list[str]:
        """Renames, recodes, constants and derive targets that are not the table's columns."""
        contract = COLUMNS[table]
        out: list[str] = []
        targets = list(self.columns.values())
        bad = sorted(set(targets) - set(contract))
        if bad:
            out.append(f"columns: {bad} are not columns of {table}; known: {', '.join(contract)}")
        dup = sorted({t for t in targets if targets.count(t) > 1})
        if dup:
            out.append(f"columns: {dup} mapped from more than one column")
        bad = sorted(set(self.recode) - set(contract))
        if bad:
            out.append(f"recode: {bad} are not columns of {table}")
        for name, given in (("constants", self.constants), ("derive", self.derive)):
            bad = sorted(set(given) - set(contract))
            if bad:
                out.append(
                    f"{name}: {bad} are not columns of {table}; known: {', '.join(contract)}"
                )
        uncoded = sorted(c for c in self.derive if c in contract and c not in CODED[table])
        if uncoded:
            out.append(
                f"derive: {uncoded} have no code list to check a derived value against; "
                f"derive only {', '.join(CODED[table]) or 'nothing'} in {table} (or use constants)"
            )
        return out

    def _made_problems(self, table: str) -> list[str]:
        """Columns made twice (constants, derive, date of birth, a rename), datetimes not dates."""
        contract = COLUMNS[table]
        out: list[str] = []
        targets = list(self.columns.values())
        both = sorted(set(self.constants) & set(self.derive))
        if both:
            out.append(f"constants and derive: {both} given twice")
        made = self.provided()
        both = sorted(made & set(targets))
        if both:
            out.append(f"columns: {both} also given by constants, derive or date_of_birth")
        both = sorted(made & set(self.recode))
        if both:
            out.append(f"recode: {both} are made by constants, derive or date_of_birth")
        if self.date_of_birth is not None:
            if "year_of_birth" not in contract:
                out.append(f"date_of_birth: {table} has no year_of_birth")
            if "year_of_birth" in self.constants or "year_of_birth" in self.derive:
                out.append("date_of_birth: year_of_birth also given by constants or derive")
            if self.date_of_birth.column in self.columns:
                out.append(
                    f"date_of_birth: {self.date_of_birth.column!r} is also mapped under "
                    "columns (a date of birth never reaches processed data)"
                )
        for src in self.datetimes:
            target = self.columns.get(src, src)
            if contract.get(target) != "date":
                out.append(
                    f"datetimes: {src!r} gives {target!r}, which is not a date column of {table}"
                )
        return out


class TableMapping(SourceMapping):
    """How one contract table is found and read: one source file, or several unioned.

    The single-file form gives :class:`SourceMapping`'s fields at table level; the multi-file
    form lists them per file under ``sources`` (then only ``date_format`` may also be given at
    table level, as the files' default).

    Attributes
    ----------
    sources : list of SourceMapping, optional
        The table's files, each with its own columns, date format, recodes, filters and
        constants; their rows are unioned by contract column (a column one file lacks is empty
        there).
    """

    sources: list[SourceMapping] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> TableMapping:
        if self.sources is None:
            return self
        if not self.sources:
            raise ValueError("sources: list at least one file")
        table_level = sorted(
            f for f in self.model_fields_set if f not in ("sources", "date_format")
        )
        if table_level:
            raise ValueError(
                f"{table_level} given at table level beside sources: give them per file "
                "under sources (or drop sources for the single-file form)"
            )
        missing = [i for i, s in enumerate(self.sources) if s.file is None]
        if missing:
            raise ValueError(f"sources{missing}: each file under sources needs file:")
        names = [s.file for s in self.sources]
        dup = sorted({n for n in names if n is not None and names.count(n) > 1})
        if dup:
            raise ValueError(f"sources: {dup} listed more than once")
        return self

    def files(self) -> list[SourceMapping]:
        """The table's sources: the listed files, or the table itself as its one file."""
        if self.sources is not None:
            return list(self.sources)
        return [SourceMapping.model_validate(self.model_dump(exclude={"sources"}, by_alias=True))]


class IntakeMapping(_Strict):
    """One data source's mapping onto the data contract (see ``intake_mappings/README.md``).

    Attributes
    ----------
    source : str
        Plain-English name of the data source.
    date_format : str
        ``strftime``-style format of dates in text files (default ISO ``%Y-%m-%d``); supports
        ``%Y %m %d %H %M %S``. A time part is accepted and ignored.
    person_id_pattern : str
        Regular expression a ``person_id`` must match in full.
    extract_end : date, optional
        Last date the extract covers; dates after it are impossible. Default: the day intake runs.
    delimiter : str
        CSV field separator.
    null_values : list of str
        Text meaning "empty" (after trimming spaces), e.g. ``NULL``. The empty string always is.
    tables : dict
        Per-table :class:`TableMapping`.
    """

    source: str = "data contract"
    date_format: str = "%Y-%m-%d"
    person_id_pattern: str = PERSON_ID_PATTERN
    extract_end: dt.date | None = None
    delimiter: str = Field(",", min_length=1, max_length=1)
    null_values: list[str] = []
    tables: dict[str, TableMapping] = {}

    @field_validator("date_format")
    @classmethod
    def _fmt(cls, v: str) -> str:
        return _check_date_format(v)

    @field_validator("person_id_pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @field_validator("null_values")
    @classmethod
    def _nulls(cls, v: list[str]) -> list[str]:
        return [str(x).strip() for x in v]

    @model_validator(mode="after")
    def _check(self) -> IntakeMapping:
        unknown = set(self.tables) - set(TABLES)
        if unknown:
            raise ValueError(f"tables: unknown table(s) {sorted(unknown)}; known: {TABLES}")
        problems = []
        for name, tm in self.tables.items():
            if tm.sources is None:
                problems += [f"tables.{name}.{p}" for p in tm.problems(name)]
                continue
            for i, src in enumerate(tm.sources):
                where = f"tables.{name}.sources[{i}] ({src.file})"
                problems += [f"{where}.{p}" for p in src.problems(name)]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def table(self, name: str) -> TableMapping:
        """Return the mapping for one table (the identity mapping if the file does not name it)."""
        return self.tables.get(name, TableMapping())

    def date_format_for(self, name: str, source: SourceMapping | None = None) -> str:
        """Date format of one table's file: the file's, else the table's, else the mapping's."""
        if source is not None and source.date_format:
            return source.date_format
        return self.table(name).date_format or self.date_format


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a second ``population:`` (or a
    second ``columns:``) silently replaced the first; a mapping must say one thing once.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
                seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: PyYAML's own error says so
                continue
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"key {key!r} given twice (first on line {first})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


def load_mapping(path: Path | None) -> IntakeMapping:
    """Load and validate a mapping YAML file; ``None`` gives the contract's identity mapping.

    Raises
    ------
    MappingError
        The file is missing, not YAML, or has an unknown or invalid field (named in the message).
    """
    if path is None:
        return IntakeMapping()
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: mapping file not found")
    try:
        with path.open(encoding="utf-8") as fh:  # marks in messages name the file
            raw = yaml.load(fh, Loader=_UniqueKeyLoader)  # a safe loader
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise MappingError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping at the top level")
    try:
        return IntakeMapping.model_validate(raw)
    except ValidationError as exc:
        raise MappingError(validation_message(path, exc)) from None

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

__all__ = ["DATE_DIRECTIVES", "IntakeMapping", "MappingError", "TableMapping", "load_mapping"]

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


class TableMapping(_Strict):
    """How one contract table is found and read in a source's extract.

    Attributes
    ----------
    file : str, optional
        File name in the raw directory (``.csv`` or ``.parquet``); default ``<table>.csv`` or
        ``<table>.parquet``, whichever exists.
    columns : dict
        Source column name -> contract column name. Columns not named keep their own name.
    recode : dict
        Contract column -> {source value: contract value}. Values not listed pass through
        unchanged (and are then checked against the contract's code list).
    date_format : str, optional
        Overrides the mapping's ``date_format`` for this table.
    """

    file: str | None = None
    columns: dict[str, str] = {}
    recode: dict[str, dict[str, str]] = {}
    date_format: str | None = None

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
        # YAML reads 1: M as an int key; codes are text in a CSV, so compare as text.
        if isinstance(v, dict):
            return {
                k: ({str(a): str(b) for a, b in m.items()} if isinstance(m, dict) else m)
                for k, m in v.items()
            }
        return v

    @field_validator("date_format")
    @classmethod
    def _fmt(cls, v: str | None) -> str | None:
        return None if v is None else _check_date_format(v)


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
        for name, tm in self.tables.items():
            contract = COLUMNS[name]
            targets = list(tm.columns.values())
            bad = sorted(set(targets) - set(contract))
            if bad:
                raise ValueError(
                    f"tables.{name}.columns: {bad} are not columns of {name}; "
                    f"known: {', '.join(contract)}"
                )
            dup = sorted({t for t in targets if targets.count(t) > 1})
            if dup:
                raise ValueError(f"tables.{name}.columns: {dup} mapped from more than one column")
            bad = sorted(set(tm.recode) - set(contract))
            if bad:
                raise ValueError(f"tables.{name}.recode: {bad} are not columns of {name}")
        return self

    def table(self, name: str) -> TableMapping:
        """Return the mapping for one table (the identity mapping if the file does not name it)."""
        return self.tables.get(name, TableMapping())

    def date_format_for(self, name: str) -> str:
        """Date format used for one table."""
        return self.table(name).date_format or self.date_format


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: expected a mapping at the top level")
    try:
        return IntakeMapping.model_validate(raw)
    except ValidationError as exc:
        raise MappingError(validation_message(path, exc)) from None

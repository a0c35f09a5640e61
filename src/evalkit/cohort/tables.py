"""Opening the processed tables for the cohort layer (the one place it touches the engine).

Swapping DuckDB for a SQL warehouse means changing :func:`open_tables` (and
:mod:`evalkit.engine`), not the cohort rules, which are Ibis expressions.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from evalkit import engine, engines
from evalkit.contract import COLUMNS, OPTIONAL_COLUMNS

__all__ = [
    "COHORT_TABLES",
    "MAX_CANDIDATE_ROWS",
    "CohortError",
    "Tables",
    "activity_period",
    "open_tables",
    "settings_in_activity",
    "to_date_series",
]

#: Tables the cohort layer reads.
COHORT_TABLES: tuple[str, ...] = ("population", "activity", "referrals")
#: Largest candidate table brought into pandas. Weekly risk sets give 8.5 million rows for
#: mindsong at county scale (660,000 people) and about 26 million for 2 million people (the
#: scaling benchmark; about 250 bytes a row in pandas, so 6.5 GB); beyond this the matching
#: belongs on the engine's executors (docs/national_run.md), not in one Python process.
MAX_CANDIDATE_ROWS = 40_000_000


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_convert_to(text: str, encoding: str) -> bytes:  # type: ignore[empty-body]
    """PostgreSQL's ``convert_to``: the text's bytes in ``encoding`` (``bytea``)."""


class CohortError(ValueError):
    """The cohort cannot be built (missing table or column, no participants); says which."""


@dataclass(frozen=True)
class Tables:
    """Lazy Ibis tables of one processed directory on one connection."""

    con: BaseBackend
    population: ir.Table
    activity: ir.Table
    referrals: ir.Table

    def scratch_name(self, stem: str) -> str:
        """Return a unique name for an intermediate table on this connection."""
        return f"_cohort_{stem}_{uuid.uuid4().hex[:10]}"

    def upload(self, df: pd.DataFrame, stem: str, types: dict[str, str]) -> tuple[str, ir.Table]:
        """Copy a small DataFrame into the engine as a table (cast to ``types``).

        Used instead of ``ibis.memtable`` where the expression is later materialised through
        compiled SQL, which does not register memtables. Drop it with :meth:`drop`.
        """
        name = self.scratch_name(stem)
        table = engines.upload(self.con, df[list(types)].reset_index(drop=True), name)
        return name, table.cast(types)

    def fetch(self, expr: ir.Expr, *, limit: int | None = None) -> pd.DataFrame:
        """Execute ``expr`` on this connection and return it as pandas (see ``engine.to_pandas``).

        ``limit`` raises the engine's row limit for the two large results the cohort layer is
        allowed to bring back (candidate rows and person-month counts).
        """
        if limit is None:
            return engine.to_pandas(self.con, expr, stage="cohort")
        return engine.to_pandas(self.con, expr, limit=limit, stage="cohort")

    def byte_order(self, text: ir.StringValue) -> ir.Value:
        """A sort key for ``text`` that orders it as UTF-8 bytes on every engine.

        DuckDB and Spark compare text as bytes; PostgreSQL by the column's collation, which in
        a warehouse is usually linguistic (en-GB puts "alpha" before "Zeta", "p10" before
        "P2"), so keys numbered, or ties broken, by a text column would differ by engine
        (docs/engines.md, "Semantics pinned").
        """
        if engines.kind_of(self.con) == "postgres":
            return _pg_convert_to(text, "UTF8")
        return text

    def materialize(self, expr: ir.Table, stem: str, scratch: list[str]) -> ir.Table:
        """Compute ``expr`` once into an engine table; its name is appended to ``scratch``."""
        name = self.scratch_name(stem)
        scratch.append(name)
        return engines.materialize(self.con, expr, name)

    def drop(self, *names: str) -> None:
        """Drop intermediate tables created by :meth:`upload` or materialisation."""
        for name in names:
            self.con.drop_table(name, force=True)


def open_tables(data_dir: Path | str, con: BaseBackend | None = None) -> Tables:
    """Open the processed ``population``, ``activity`` and ``referrals`` tables lazily.

    Parameters
    ----------
    data_dir : Path or str
        Directory holding ``<table>.parquet`` with the data contract's columns (on PostgreSQL,
        the tables are the warehouse schema's, :func:`evalkit.engines.open_table`).
    con : ibis backend, optional
        Connection to use; default :func:`evalkit.engines.connect`: the chosen engine
        (``EVALKIT_ENGINE``), embedded DuckDB unless another was chosen.

    Raises
    ------
    CohortError
        A table file or a required column is missing; the message names it.
    """
    con = con if con is not None else engines.connect()
    data_dir = Path(data_dir)
    out = {}
    tag = uuid.uuid4().hex[:10]
    for name in COHORT_TABLES:
        path = data_dir / f"{name}.parquet"
        try:
            table = engines.open_table(con, data_dir, name, alias=f"_cohort_{name}_{tag}")
        except engine.EngineError as exc:
            raise CohortError(str(exc)) from None
        required = [c for c in COLUMNS[name] if name != "population" or c in _POP_REQUIRED]
        if name == "referrals":  # submitted_on is optional (provider reports read it, not cohorts)
            required = [c for c in required if c not in OPTIONAL_COLUMNS[name]]
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise CohortError(f"{path}: missing column(s) {missing}")
        out[name] = table
    return Tables(con=con, **out)


_POP_REQUIRED = (
    "person_id",
    "year_of_birth",
    "sex",
    "ethnicity",
    "imd_decile",
    "registered_from",
    "registered_to",
    "date_of_death",
)


def activity_period(tables: Tables) -> tuple[dt.date, dt.date]:
    """First and last event date in the activity table (the extract's coverage)."""
    act = tables.activity
    res = tables.fetch(act.aggregate(lo=act.event_date.min(), hi=act.event_date.max()))
    lo, hi = res["lo"].iloc[0], res["hi"].iloc[0]
    if lo is None or hi is None or lo != lo or hi != hi:
        raise CohortError("the activity table is empty: give data_period explicitly")
    return _as_date(lo), _as_date(hi)


def settings_in_activity(tables: Tables, settings: Sequence[str]) -> list[str]:
    """Those of ``settings`` with at least one row in the activity table, in the order given.

    A negative-control setting the extract does not hold at all is reported as "not in the
    data" rather than counted as zero events (docs/decisions/negative-control.md).
    """
    if not settings:
        return []
    act = tables.activity
    res = tables.fetch(act.filter(act.setting.isin(list(settings))).select("setting").distinct())
    have = set(res["setting"])
    return [s for s in settings if s in have]


def to_date_series(s: pd.Series) -> pd.Series:
    """Dates from the engine or the caller as ``datetime64[s]`` (midnight)."""
    return pd.to_datetime(s).dt.normalize().astype("datetime64[s]")


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])

"""pandera schemas of the *accepted* (typed, deduplicated) tables that intake writes.

The schemas use pandera's Ibis backend (``pandera.ibis``), so a 25-million-row activity table is
validated inside DuckDB, never loaded into pandas. They restate the contract for clean data: types,
nullability, code lists, ranges, the person-id pattern, date bounds and primary-key uniqueness.
Row-level reasons for *rejected* rows come from :mod:`evalkit.intake.checks`; these schemas are the
independent second look that intake's own output must pass before it replaces the old file.

Cross-column rules (dates in order, attended <= offered, responses inside each instrument's range)
are written as pandera dataframe checks on Ibis expressions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandera.ibis as pa

from evalkit import contract as C
from evalkit.intake.checks import REQUIRED, InstrumentRule

__all__ = ["IBIS_TYPES", "accepted_schema"]

#: Ibis type of each logical contract type in the processed Parquet files.
IBIS_TYPES: dict[str, str] = {"string": "string", "int": "int64", "date": "date"}


def _dtype(kind: str) -> object:
    return ibis.dtype(IBIS_TYPES[kind])


def accepted_schema(
    table: str,
    *,
    columns: Sequence[str],
    person_id_pattern: str = C.PERSON_ID_PATTERN,
    extract_end: dt.date,
    programmes: Sequence[str] = (),
    instruments: Mapping[str, InstrumentRule] | None = None,
) -> pa.DataFrameSchema:
    """Build the pandera (Ibis) schema an accepted table must satisfy.

    Parameters
    ----------
    table : str
        Contract table name.
    columns : sequence of str
        Columns the accepted table carries (optional ones may be absent).
    person_id_pattern : str
        Regular expression for ``person_id``.
    extract_end : datetime.date
        No date may be later.
    programmes : sequence of str
        Known programme slugs (referrals).
    instruments : dict, optional
        Instrument rules (measures).

    Returns
    -------
    pandera.ibis.DataFrameSchema
        Strict schema (no other columns), in ``columns`` order.
    """
    types = C.COLUMNS[table]
    codes: dict[str, Sequence[str]] = {
        "sex": C.SEXES,
        "ethnicity": C.ETHNICITY_CODES,
        "setting": (*C.SETTINGS, *C.OPTIONAL_SETTINGS),
        "referral_source": C.REFERRAL_SOURCES,
        "discharge_reason": C.DISCHARGE_REASONS,
        "timepoint": C.TIMEPOINTS,
    }
    if table == "referrals":
        codes["programme"] = tuple(programmes)
    if table == "measures" and instruments is not None:
        codes["instrument"] = tuple(instruments)
    ranges: dict[str, tuple[int | None, int | None]] = {
        "imd_decile": (1, 10),
        "year_of_birth": (C.EARLIEST_DATE.year, extract_end.year),
        "bed_days": (0, None),
        "sessions_offered": (0, None),
        "sessions_attended": (0, None),
    }
    cols: dict[str, pa.Column] = {}
    for c in columns:
        kind = types[c]
        checks: list[pa.Check] = []
        if c in codes:
            checks.append(pa.Check.isin(list(codes[c])))
        if c == "person_id":
            checks.append(pa.Check.str_matches(f"^(?:{person_id_pattern})$"))
        if kind == "date":
            checks.append(pa.Check.in_range(C.EARLIEST_DATE, extract_end))
        if c in ranges:
            lo, hi = ranges[c]
            if lo is not None:
                checks.append(pa.Check.ge(lo))
            if hi is not None:
                checks.append(pa.Check.le(hi))
        cols[c] = pa.Column(
            _dtype(kind), checks=checks, nullable=c not in REQUIRED[table], required=True
        )
    frame_checks = _frame_checks(table, columns, instruments or {})
    return pa.DataFrameSchema(
        cols,
        checks=frame_checks,
        strict=True,
        ordered=True,
        unique=list(C.PRIMARY_KEY[table]),
        name=f"accepted_{table}",
    )


def _frame_checks(
    table: str, columns: Sequence[str], instruments: Mapping[str, InstrumentRule]
) -> list[pa.Check]:
    def not_before(first: str, second: str) -> pa.Check:
        def check(data: pa.IbisData) -> ir.BooleanColumn:
            t = data.table
            return (t[second] >= t[first]).fill_null(True)

        return pa.Check(check, name=f"{second}_not_before_{first}")

    out: list[pa.Check] = []
    if table == "population":
        for second in ("registered_to", "date_of_death"):
            out.append(not_before("registered_from", second))
    elif table == "referrals":
        out += [
            not_before("referral_date", "start_date"),
            not_before("start_date", "end_date"),
            not_before("referral_date", "end_date"),
        ]

        def attended(data: pa.IbisData) -> ir.BooleanColumn:
            t = data.table
            return t.sessions_attended <= t.sessions_offered

        out.append(pa.Check(attended, name="attended_not_above_offered"))
    elif table == "measures" and instruments:

        def in_item_range(data: pa.IbisData) -> ir.BooleanColumn:
            t = data.table
            lo = ibis.cases(*[(t.instrument == n, r.item_min) for n, r in instruments.items()])
            hi = ibis.cases(*[(t.instrument == n, r.item_max) for n, r in instruments.items()])
            return t.response.isnull() | ((t.response >= lo) & (t.response <= hi))

        out.append(pa.Check(in_item_range, name="response_inside_item_range"))
    return [c for c in out if all(x in columns for x in _cols_of(c.name))]


def _cols_of(check_name: str) -> list[str]:
    """Columns a named frame check reads (so checks on absent optional columns are skipped)."""
    if "_not_before_" in check_name:
        second, first = check_name.split("_not_before_")
        return [first, second]
    return []

"""Row, duplicate and referential checks as Ibis expressions.

Every check here is an Ibis expression, so it runs inside the engine (DuckDB by default) over
tables far larger than memory, and would run unchanged on another Ibis backend. Nothing here
touches files or SQL; :mod:`evalkit.engine` does that.

Precedence. Each rejected row gets exactly one reason, the first that applies in this order:

1. Row checks, in the order of :data:`evalkit.contract.REASONS` (``missing_required``,
   ``malformed_person_id``, ``invalid_type``, ``impossible_date``, ``invalid_code``,
   ``out_of_range``, ``unknown_programme``, ``unknown_instrument``, ``unknown_item``,
   ``response_out_of_range``, ``dates_out_of_order``, ``attended_exceeds_offered``); within one
   reason, the first column in contract column order is named.
2. Duplicates of the primary key, among rows that passed the row checks: the first occurrence in
   file order is kept, later ones are ``duplicate_*``.
3. Referential checks against the parent table's *accepted* rows: ``parent_quarantined`` if the key
   belongs only to quarantined parent rows, else ``unknown_person`` / ``unknown_episode``.
4. ``event_outside_registration`` (activity only): the event is before ``registered_from``, after
   ``registered_to`` or after ``date_of_death`` of its (accepted) person.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir

from evalkit import contract as C
from evalkit.intake.mapping import DATE_DIRECTIVES

__all__ = [
    "REQUIRED",
    "CheckContext",
    "InstrumentRule",
    "date_regex",
    "flag_duplicates",
    "normalise",
    "parse_date",
    "parse_int",
    "referential_checks",
    "row_checks",
]

#: Required columns of each table: every column that is not nullable.
REQUIRED: dict[str, tuple[str, ...]] = {
    t: tuple(c for c in cols if c not in C.NULLABLE[t]) for t, cols in C.COLUMNS.items()
}

_INT_SHAPE = r"^[+-]?[0-9]+(\.0+)?$"
_REASON_RANK = {r: i for i, r in enumerate(C.REASONS)}
REASON = "reason"
COLUMN = "column"
ROW = "row_number"


@dataclass(frozen=True)
class InstrumentRule:
    """What intake needs to know of one instrument: its item names and item range."""

    items: tuple[str, ...]
    item_min: int
    item_max: int


@dataclass(frozen=True)
class CheckContext:
    """Everything the row checks depend on besides the data.

    Attributes
    ----------
    person_id_pattern : str
        Regular expression a person id must match in full.
    extract_end : datetime.date
        Dates after this are impossible.
    date_format : str
        ``strftime``-style format of dates in the source text.
    programmes : tuple of str
        Known programme slugs.
    instruments : dict
        Instrument name -> :class:`InstrumentRule`.
    null_values : tuple of str
        Texts meaning empty, besides the empty string.
    recode : dict
        Contract column -> {source value: contract value}.
    """

    person_id_pattern: str = C.PERSON_ID_PATTERN
    extract_end: dt.date = field(default_factory=dt.date.today)
    date_format: str = "%Y-%m-%d"
    programmes: tuple[str, ...] = ()
    instruments: Mapping[str, InstrumentRule] = field(default_factory=dict)
    null_values: tuple[str, ...] = ()
    recode: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def date_regex(fmt: str) -> str:
    r"""Regular expression for a ``strftime`` format, capturing year, month and day in that order.

    Examples
    --------
    >>> print(date_regex("%d/%m/%Y"))
    ^(\d{1,2})/(\d{1,2})/(\d{4})$
    """
    out = []
    for piece in re.split(r"(%.)", fmt):
        if piece in DATE_DIRECTIVES:
            out.append(DATE_DIRECTIVES[piece])
        else:
            out.append(re.escape(piece))
    return "^" + "".join(out) + "$"


def _group_order(fmt: str) -> dict[str, int]:
    """1-based regex group index of %Y, %m and %d in ``fmt``."""
    captured = [d for d in re.findall(r"%.", fmt) if d in ("%Y", "%m", "%d")]
    return {d: i + 1 for i, d in enumerate(captured)}


def parse_int(s: ir.StringValue) -> tuple[ir.BooleanValue, ir.IntegerValue]:
    """Parse text as an integer: ``(well_formed, value)``.

    Accepts an optional sign and a ``.0`` tail (a float export of an integer column, e.g. ``3.0``);
    a value too large for int64 is well formed but gives a null value. Both are null for null text.
    """
    shape = s.re_search(_INT_SHAPE)
    value = s.re_extract(r"^([+-]?[0-9]+)", 1).try_cast("int64")
    return shape, value


def parse_date(s: ir.StringValue, fmt: str) -> tuple[ir.BooleanValue, ir.DateValue]:
    """Parse text as a date in ``fmt``: ``(well_formed, value)``.

    ``well_formed`` says the text has the format's shape (else the value is ``invalid_type``);
    the value is null when the shape is right but the calendar date does not exist (2021-02-30,
    month 13: ``impossible_date``). Built from regular expressions and a cast of an ISO string, so
    it is the same on every Ibis backend.
    """
    rx = date_regex(fmt)
    groups = _group_order(fmt)
    shape = s.re_search(rx)
    y = s.re_extract(rx, groups["%Y"])
    m = s.re_extract(rx, groups["%m"]).lpad(2, "0")
    d = s.re_extract(rx, groups["%d"]).lpad(2, "0")
    iso = y.concat("-", m, "-", d)
    return shape, iso.try_cast("date")


def normalise(raw: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> ir.Table:
    """Trim every value, turn empty or null-marker text into null, and apply recodes.

    ``raw`` has ``row_number`` and the present contract columns as text (already renamed).
    """
    nulls = ("", *ctx.null_values)
    cols: dict[str, ir.Value] = {ROW: raw[ROW]}
    for c in present:
        v = raw[c].strip()
        v = v.nullif("") if nulls == ("",) else ibis.ifelse(v.isin(nulls), ibis.null("string"), v)
        rec = ctx.recode.get(c)
        if rec:
            v = v.substitute(dict(rec), else_=v)
        cols[c] = v
    return raw.select(**cols)


def row_checks(t: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> ir.Table:
    """Typed columns plus the first row-check ``reason`` and its ``column`` (null when clean).

    Built in three projections so that each parse is written once in the SQL: (1) parse every
    column (typed value and a well-formed flag), (2) evaluate every rule on the parsed values in
    precedence order as one ``CASE`` giving a rule number, (3) decode the rule number into
    ``reason`` and ``column``.

    Parameters
    ----------
    t : ibis.Table
        Output of :func:`normalise`.
    table : str
        Contract table name.
    present : sequence of str
        Contract columns present in the source.
    ctx : CheckContext
        Code lists, ranges and formats.

    Returns
    -------
    ibis.Table
        ``row_number``, each present column typed (null where it failed), ``reason``, ``column``.
    """
    types = C.COLUMNS[table]
    # (1) parse
    layer1: dict[str, ir.Value] = {ROW: t[ROW]}
    for c in present:
        s = t[c]
        layer1[f"_s_{c}"] = s
        if types[c] == "int":
            shape, value = parse_int(s)
        elif types[c] == "date":
            shape, value = parse_date(s, ctx.date_format)
        else:
            continue
        layer1[f"_ok_{c}"] = shape
        layer1[f"_v_{c}"] = value
    p = t.select(**layer1)

    def raw(c: str) -> ir.StringValue:
        return p[f"_s_{c}"]

    def val(c: str) -> ir.Value:
        return p[f"_v_{c}"] if types[c] in ("int", "date") else p[f"_s_{c}"]

    # (2) rules
    rules: list[tuple[str, str, ir.BooleanValue]] = []

    def add(reason: str, col: str, cond: ir.BooleanValue) -> None:
        rules.append((reason, col, cond))

    end = ibis.literal(ctx.extract_end, type="date")
    earliest = ibis.literal(C.EARLIEST_DATE, type="date")
    for c in present:
        s = raw(c)
        if c in REQUIRED[table]:
            add(C.MISSING_REQUIRED, c, s.isnull())
        if types[c] == "int":
            add(C.INVALID_TYPE, c, s.notnull() & (~p[f"_ok_{c}"] | val(c).isnull()))
        elif types[c] == "date":
            v = val(c)
            add(C.INVALID_TYPE, c, s.notnull() & ~p[f"_ok_{c}"])
            add(C.IMPOSSIBLE_DATE, c, s.notnull() & (v.isnull() | (v < earliest) | (v > end)))
        if c == "person_id":
            pattern = f"^(?:{ctx.person_id_pattern})$"
            add(C.MALFORMED_PERSON_ID, c, s.notnull() & ~s.re_search(pattern))

    def code(col: str, allowed: Sequence[str], reason: str = C.INVALID_CODE) -> None:
        if col in present:
            add(reason, col, raw(col).notnull() & ~raw(col).isin(list(allowed)))

    def int_range(col: str, lo: int | None, hi: int | None) -> None:
        if col not in present:
            return
        v = val(col)
        cond = ibis.literal(False)
        if lo is not None:
            cond = cond | (v < lo)
        if hi is not None:
            cond = cond | (v > hi)
        add(C.OUT_OF_RANGE, col, v.notnull() & cond)

    def before(first: str, second: str) -> None:
        """``second`` earlier than ``first`` is out of order (``second`` is named)."""
        if first in present and second in present:
            add(C.DATES_OUT_OF_ORDER, second, val(second) < val(first))

    if table == "population":
        code("sex", C.SEXES)
        code("ethnicity", C.ETHNICITY_CODES)
        int_range("imd_decile", 1, 10)
        int_range("year_of_birth", C.EARLIEST_DATE.year, ctx.extract_end.year)
        before("registered_from", "registered_to")
        before("registered_from", "date_of_death")
    elif table == "activity":
        code("setting", (*C.SETTINGS, *C.OPTIONAL_SETTINGS))
        int_range("bed_days", 0, None)
    elif table == "referrals":
        code("referral_source", C.REFERRAL_SOURCES)
        code("discharge_reason", C.DISCHARGE_REASONS)
        int_range("sessions_offered", 0, None)
        int_range("sessions_attended", 0, None)
        code("programme", ctx.programmes, C.UNKNOWN_PROGRAMME)
        before("referral_date", "start_date")
        before("start_date", "end_date")
        before("referral_date", "end_date")
        add(
            C.ATTENDED_EXCEEDS_OFFERED,
            "sessions_attended",
            val("sessions_attended") > val("sessions_offered"),
        )
    elif table == "measures":
        code("timepoint", C.TIMEPOINTS)
        insts = dict(ctx.instruments)
        inst, item = raw("instrument"), raw("item")
        add(C.UNKNOWN_INSTRUMENT, "instrument", inst.notnull() & ~inst.isin(list(insts)))
        pairs = [f"{name}\x1f{it}" for name, r in insts.items() for it in r.items]
        key = inst.concat("\x1f", item)
        add(C.UNKNOWN_ITEM, "item", inst.isin(list(insts)) & item.notnull() & ~key.isin(pairs))
        if insts:
            lo = ibis.cases(*[(inst == n, r.item_min) for n, r in insts.items()])
            hi = ibis.cases(*[(inst == n, r.item_max) for n, r in insts.items()])
            resp = val("response")
            add(C.RESPONSE_OUT_OF_RANGE, "response", resp.notnull() & ((resp < lo) | (resp > hi)))

    rules.sort(key=lambda r: _REASON_RANK[r[0]])  # stable: column order kept within a reason
    rule_no = ibis.cases(*[(cond, i) for i, (_, _, cond) in enumerate(rules)], else_=-1)
    typed = {c: val(c) for c in present}
    q = p.select(ROW, **{f"_t_{c}": v for c, v in typed.items()}, _rule=rule_no)
    # (3) decode
    reason_of = {i: r for i, (r, _, _) in enumerate(rules)}
    column_of = {i: c for i, (_, c, _) in enumerate(rules)}
    return q.select(
        ROW,
        **{c: q[f"_t_{c}"] for c in present},
        **{
            REASON: q._rule.substitute(reason_of, else_=ibis.null("string")),
            COLUMN: q._rule.substitute(column_of, else_=ibis.null("string")),
        },
    )


def flag_duplicates(t: ir.Table, table: str) -> ir.Table:
    """Mark later copies of a primary key among rows that passed the row checks.

    The first occurrence in file order (smallest ``row_number``) is kept. Only keys that occur more
    than once are joined back, so the join's build side stays small on clean data.
    """
    pk = list(C.PRIMARY_KEY[table])
    reason = {
        "population": C.DUPLICATE_PERSON_ID,
        "activity": C.DUPLICATE_EVENT_ID,
        "referrals": C.DUPLICATE_EPISODE,
        "measures": C.DUPLICATE_RESPONSE,
    }[table]
    ok = t.filter(t[REASON].isnull())
    firsts = (
        ok.group_by(pk)
        .aggregate(_first=ok[ROW].min(), _n=ok.count())
        .filter(lambda x: x._n > 1)
        .rename({f"_k_{k}": k for k in pk})
    )
    j = t.left_join(firsts, [t[k] == firsts[f"_k_{k}"] for k in pk])
    is_dup = t[REASON].isnull() & j._first.notnull() & (j[ROW] != j._first)
    return j.select(
        *[j[c] for c in t.columns if c not in (REASON, COLUMN)],
        **{
            REASON: ibis.ifelse(is_dup, ibis.literal(reason), j[REASON]),
            COLUMN: ibis.ifelse(is_dup, ibis.literal(",".join(pk)), j[COLUMN]),
        },
    )


def referential_checks(t: ir.Table, table: str, parent: ir.Table) -> ir.Table:
    """Check a child table's keys against its parent's checked rows.

    Parameters
    ----------
    t : ibis.Table
        Output of :func:`flag_duplicates` for ``activity``, ``referrals`` or ``measures``.
    table : str
        Which child table.
    parent : ibis.Table
        The checked parent table (``population`` for activity and referrals, ``referrals`` for
        measures), with its final ``reason`` (null = accepted).

    Returns
    -------
    ibis.Table
        ``t`` with ``reason`` and ``column`` updated.
    """
    key, unknown = (
        ("episode_id", C.UNKNOWN_EPISODE)
        if table == "measures"
        else (
            "person_id",
            C.UNKNOWN_PERSON,
        )
    )
    keep = [key]
    if table == "activity":
        keep += [c for c in ("registered_from", "registered_to", "date_of_death") if c in parent]
    good = parent.filter(parent[REASON].isnull()).select(*keep)
    good = good.rename({f"_p_{c}": c for c in keep})
    bad = (
        parent.filter(parent[REASON].notnull() & parent[key].notnull())
        .select(_b_key=parent[key])
        .distinct()
    )
    j1 = t.left_join(good, t[key] == good[f"_p_{key}"])
    j1 = j1.select(*[j1[c] for c in t.columns], *[j1[c] for c in good.columns])
    j = t = j1.view()
    j = j.left_join(bad, j[key] == bad._b_key)
    j = j.select(*[j[c] for c in t.columns], j._b_key)
    clean = j[REASON].isnull()
    cases = [
        (clean & j[f"_p_{key}"].isnull() & j._b_key.notnull(), C.PARENT_QUARANTINED, key),
        (clean & j[f"_p_{key}"].isnull(), unknown, key),
    ]
    if table == "activity":
        ev = j["event_date"]
        outside = ev < j["_p_registered_from"]
        if "_p_registered_to" in j.columns:
            outside = outside | (ev > j["_p_registered_to"]).fill_null(False)
        if "_p_date_of_death" in j.columns:
            outside = outside | (ev > j["_p_date_of_death"]).fill_null(False)
        cases.append((clean & outside, C.EVENT_OUTSIDE_REGISTRATION, "event_date"))
    reason = ibis.cases(*[(c, r) for c, r, _ in cases], else_=j[REASON])
    column = ibis.cases(*[(c, col) for c, _, col in cases], else_=j[COLUMN])
    return j.select(
        *[j[c] for c in t.columns if c not in (REASON, COLUMN) and not c.startswith("_p_")],
        **{REASON: reason, COLUMN: column},
    )

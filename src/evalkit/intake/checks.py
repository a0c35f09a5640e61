"""Row, duplicate and referential checks as Ibis expressions.

Every check here is an Ibis expression, so it runs inside the engine (DuckDB by default) over
tables far larger than memory, and would run unchanged on another Ibis backend. Nothing here
touches files or SQL; :mod:`evalkit.engine` does that.

Precedence. Each rejected row gets exactly one reason, the first that applies in this order:

0. ``parent_quarantined`` (child tables only: ``activity`` and ``referrals`` -> ``population``,
   ``measures`` -> ``referrals``): the row's key (``person_id`` / ``episode_id``, as text after
   trimming and recoding, before any format check) belongs to a quarantined parent row and to no
   accepted one. It comes first because the row cannot be used whatever else is wrong with it.
1. Row checks, in the order of :data:`evalkit.contract.REASONS` (``missing_required``,
   ``malformed_person_id``, ``invalid_type``, ``impossible_date``, ``invalid_code``,
   ``out_of_range``, ``unknown_programme``, ``unknown_instrument``, ``unknown_item``,
   ``response_out_of_range``, ``dates_out_of_order``, ``registered_before_birth``,
   ``attended_exceeds_offered``); within one reason, the first column in contract column order
   is named.
2. Duplicates of the primary key, among rows without a reason from 0-1: the first occurrence in
   file order is kept, later ones are ``duplicate_*``.
3. ``unknown_person`` / ``unknown_episode``: the key is not among the parent's accepted rows.
4. Dates against the (accepted) parent row: ``event_outside_registration`` (activity: before
   ``registered_from``, after ``registered_to`` or after ``date_of_death``);
   ``referral_after_death_or_deregistration`` and then ``born_after_referral`` (referrals: after
   the person's ``registered_to`` or ``date_of_death``; in a year before ``year_of_birth``);
   ``assessed_outside_episode`` (measures: more than
   :data:`~evalkit.contract.ASSESSED_BEFORE_REFERRAL_DAYS` days before the referral or
   :data:`~evalkit.contract.ASSESSED_AFTER_END_DAYS` days after the episode's end).

How the work is split (so that a 30-million-row table is read a few times and never sorted):
:func:`flag_rows` evaluates steps 0, 1, 3 and 4 for every row in one pass and keeps only the rows
that fail something or whose key occurs more than once (:func:`evalkit.engine.duplicate_keys`);
:func:`decide` settles step 2 on that small set and gives each row its one reason; and
:func:`typed_rows` converts the rows for the accepted file, whose writer leaves out the rejected
row numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from evalkit import contract as C
from evalkit.intake.mapping import DATE_DIRECTIVES

__all__ = [
    "COLUMN",
    "LOOKUP_COLUMNS",
    "PARENT",
    "REASON",
    "REQUIRED",
    "ROW",
    "CheckContext",
    "InstrumentRule",
    "date_regex",
    "decide",
    "flag_rows",
    "instrument_rules",
    "normalise",
    "parent_lookup",
    "parse_date",
    "parse_int",
    "source_text",
    "typed_rows",
]

#: Required columns of each table: every column that is not nullable.
REQUIRED: dict[str, tuple[str, ...]] = {
    t: tuple(c for c in cols if c not in C.NULLABLE[t]) for t, cols in C.COLUMNS.items()
}
#: Child table -> (parent table, key column shared with the parent's primary key).
PARENT: dict[str, tuple[str, str]] = {
    "activity": ("population", "person_id"),
    "referrals": ("population", "person_id"),
    "measures": ("referrals", "episode_id"),
}

_INT_SHAPE = r"^[+-]?[0-9]+(\.0+)?$"
_ISO = "%Y-%m-%d"
#: Characters trimmed from both ends of every text value (those Ibis' ``strip`` removes).
WHITESPACE = " \t\n\r\x0b\x0c"
_REASON_RANK = {r: i for i, r in enumerate(C.REASONS)}
_DUPLICATE = {
    "population": C.DUPLICATE_PERSON_ID,
    "activity": C.DUPLICATE_EVENT_ID,
    "referrals": C.DUPLICATE_EPISODE,
    "measures": C.DUPLICATE_RESPONSE,
}
REASON = "reason"
COLUMN = "column"
ROW = "row_number"


@dataclass(frozen=True)
class InstrumentRule:
    """What intake needs to know of one instrument: its item names and item range."""

    items: tuple[str, ...]
    item_min: int
    item_max: int


def instrument_rules(instrument_defs: Mapping[str, Any]) -> dict[str, InstrumentRule]:
    """The :class:`InstrumentRule` of each instrument definition.

    A definition is a mapping or an object (e.g. :class:`evalkit.config.InstrumentDefinition`)
    with ``items``, ``item_min`` and ``item_max``.

    Examples
    --------
    >>> instrument_rules({"ons4": {"items": ["happiness"], "item_min": 0, "item_max": 10}})
    {'ons4': InstrumentRule(items=('happiness',), item_min=0, item_max=10)}
    """
    out = {}
    for name, d in instrument_defs.items():
        get = d.get if isinstance(d, Mapping) else lambda k, _d=d: getattr(_d, k)
        out[name] = InstrumentRule(
            items=tuple(str(i) for i in get("items")),
            item_min=int(get("item_min")),
            item_max=int(get("item_max")),
        )
    return out


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
    native : dict
        Contract column -> ``"int"`` or ``"date"`` for columns the source already holds typed
        (Parquet integer and date columns): they are used as they are instead of being rendered
        as text and parsed back. Every other column arrives as text.
    """

    person_id_pattern: str = C.PERSON_ID_PATTERN
    extract_end: dt.date = field(default_factory=dt.date.today)
    date_format: str = _ISO
    programmes: tuple[str, ...] = ()
    instruments: Mapping[str, InstrumentRule] = field(default_factory=dict)
    null_values: tuple[str, ...] = ()
    recode: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    native: Mapping[str, str] = field(default_factory=dict)


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

    Fast path: text that casts to an integer and reads back as the same text (``"42"``, the
    overwhelming majority) is taken from the cast; only the rest go through the regular
    expressions, inside the same ``CASE``, so the two paths cannot disagree.
    """
    fast = s.try_cast("int64")
    canonical = fast.notnull() & (fast.cast("string") == s)
    shape = ibis.cases((canonical, True), else_=s.re_search(_INT_SHAPE))
    slow = s.re_extract(r"^([+-]?[0-9]+)", 1).try_cast("int64")
    value = ibis.cases((canonical, fast), else_=slow)
    return shape, value


def parse_date(s: ir.StringValue, fmt: str) -> tuple[ir.BooleanValue, ir.DateValue]:
    """Parse text as a date in ``fmt``: ``(well_formed, value)``.

    ``well_formed`` says the text has the format's shape (else the value is ``invalid_type``);
    the value is null when the shape is right but the calendar date does not exist (2021-02-30,
    month 13: ``impossible_date``). Built from regular expressions and a cast of an ISO string, so
    it is the same on every Ibis backend. With the ISO format, text that casts to a date and reads
    back as the same text (``2021-03-04``) skips the regular expressions.
    """
    rx = date_regex(fmt)
    groups = _group_order(fmt)
    shape = s.re_search(rx)
    y = s.re_extract(rx, groups["%Y"])
    m = s.re_extract(rx, groups["%m"]).lpad(2, "0")
    d = s.re_extract(rx, groups["%d"]).lpad(2, "0")
    value = y.concat("-", m, "-", d).try_cast("date")
    if fmt != _ISO:
        return shape, value
    fast = s.try_cast("date")
    canonical = fast.notnull() & (fast.cast("string") == s)
    return (
        ibis.cases((canonical, True), else_=shape),
        ibis.cases((canonical, fast), else_=value),
    )


def normalise(raw: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> ir.Table:
    """Trim every text value, turn empty or null-marker text into null, and apply recodes.

    A null marker (``ctx.null_values``) matches in any case and in every text column.

    ``raw`` has ``row_number`` and the present contract columns (already renamed), as text or,
    for ``ctx.native`` columns, typed. The output keeps those columns normalised and the original
    values as ``_r_<column>`` (the quarantine shows what the source held). Only values that start
    or end with white space are trimmed: testing the ends costs a tenth of trimming everything
    (DuckDB's ``TRIM`` with a character set is slow), and trimming is all that matters here.
    """
    # Null spellings match whatever their case ("NULL", "null", "Null"), in every column.
    nulls = ("", *dict.fromkeys(v.lower() for v in ctx.null_values if v))
    cols: dict[str, ir.Value] = {ROW: raw[ROW]}
    for c in present:
        s = raw[c]
        if c in ctx.native:  # typed: nothing to trim
            cols[c] = s
            continue
        # Starts with a byte below "!" (white space, a control character) or ends in white space.
        padded = ibis.or_(s < "!", *[s.endswith(w) for w in WHITESPACE])
        v = ibis.ifelse(padded, s.strip(), s)
        if nulls == ("",):
            v = v.nullif("")
        else:
            v = ibis.ifelse(v.lower().isin(nulls), ibis.null("string"), v)
        rec = ctx.recode.get(c)
        if rec:
            v = v.substitute(dict(rec), else_=v)
        cols[c] = v
    cols.update({f"_r_{c}": raw[c] for c in present})
    return raw.select(**cols)


def _parse(t: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> ir.Table:
    """Normalised text ``_s_c``; for int and date columns a well-formed flag and a typed value."""
    types = C.COLUMNS[table]
    keep = [c for c in t.columns if c.startswith("_r_") or c.startswith("_k_")]
    layer: dict[str, ir.Value] = {ROW: t[ROW]}
    for c in present:
        s = t[c]
        layer[f"_s_{c}"] = s
        if types[c] not in ("int", "date"):
            continue
        if c in ctx.native:
            layer[f"_ok_{c}"] = ibis.literal(True)
            layer[f"_v_{c}"] = s
            continue
        shape, value = parse_int(s) if types[c] == "int" else parse_date(s, ctx.date_format)
        layer[f"_ok_{c}"] = shape
        layer[f"_v_{c}"] = value
    return t.select(**layer, **{c: t[c] for c in keep})


def _value(p: ir.Table, table: str, c: str) -> ir.Value:
    return p[f"_v_{c}"] if C.COLUMNS[table][c] in ("int", "date") else p[f"_s_{c}"]


def typed_rows(raw: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> ir.Table:
    """``row_number`` and every present column typed, for every row (the accepted file's rows).

    The same parsing as the checks, without the rules: rows that fail are left out by the writer.
    """
    p = _parse(normalise(raw, table, present, ctx), table, present, ctx)
    return p.select(ROW, **{c: _value(p, table, c) for c in present})


class _Rules:
    """Row checks ``(reason, column, condition)`` over a parsed table, collected in call order."""

    def __init__(self, p: ir.Table, table: str, present: Sequence[str], ctx: CheckContext) -> None:
        self.p, self.table, self.present, self.ctx = p, table, present, ctx
        self.rules: list[tuple[str, str, ir.BooleanValue]] = []

    def raw(self, c: str) -> ir.Value:
        """The normalised text of column ``c``."""
        return self.p[f"_s_{c}"]

    def val(self, c: str) -> ir.Value:
        """The typed value of column ``c`` (its text for a text column)."""
        return _value(self.p, self.table, c)

    def add(self, reason: str, col: str, cond: ir.BooleanValue) -> None:
        """A row fails with ``reason``, naming ``col``, where ``cond`` holds."""
        self.rules.append((reason, col, cond))

    def code(self, col: str, allowed: Sequence[str], reason: str = C.INVALID_CODE) -> None:
        """A non-empty value of ``col`` must be one of ``allowed``."""
        if col in self.present:
            raw = self.raw(col)
            self.add(reason, col, raw.notnull() & ~raw.isin(list(allowed)))

    def int_range(self, col: str, lo: int | None, hi: int | None) -> None:
        """A non-empty integer ``col`` must lie in ``lo..hi`` (either end open if ``None``)."""
        if col not in self.present:
            return
        v = self.val(col)
        cond = ibis.literal(False)
        if lo is not None:
            cond = cond | (v < lo)
        if hi is not None:
            cond = cond | (v > hi)
        self.add(C.OUT_OF_RANGE, col, v.notnull() & cond)

    def before(self, first: str, second: str) -> None:
        """``second`` earlier than ``first`` is out of order (``second`` is named)."""
        if first in self.present and second in self.present:
            self.add(C.DATES_OUT_OF_ORDER, second, self.val(second) < self.val(first))


def _column_rules(r: _Rules) -> None:
    """Checks every column gets from its kind: required, type, real date, person id pattern."""
    types = C.COLUMNS[r.table]
    native = r.ctx.native
    end = ibis.literal(r.ctx.extract_end, type="date")
    earliest = ibis.literal(C.EARLIEST_DATE, type="date")
    for c in r.present:
        s = r.raw(c)
        if c in REQUIRED[r.table]:
            r.add(C.MISSING_REQUIRED, c, s.isnull())
        if types[c] == "int" and c not in native:
            r.add(C.INVALID_TYPE, c, s.notnull() & (~r.p[f"_ok_{c}"] | r.val(c).isnull()))
        elif types[c] == "date":
            v = r.val(c)
            if c not in native:
                r.add(C.INVALID_TYPE, c, s.notnull() & ~r.p[f"_ok_{c}"])
            first = earliest
            if c == "submitted_on":  # no minimum dataset was submitted before 2000
                first = ibis.literal(C.EARLIEST_SUBMISSION, type="date")
            r.add(C.IMPOSSIBLE_DATE, c, s.notnull() & (v.isnull() | (v < first) | (v > end)))
        if c == "person_id":
            pattern = f"^(?:{r.ctx.person_id_pattern})$"
            r.add(C.MALFORMED_PERSON_ID, c, s.notnull() & ~s.re_search(pattern))


def _population_rules(r: _Rules) -> None:
    r.code("sex", C.SEXES)
    r.code("ethnicity", C.ETHNICITY_CODES)
    r.int_range("imd_decile", 1, 10)
    r.int_range("year_of_birth", C.EARLIEST_DATE.year, r.ctx.extract_end.year)
    r.before("registered_from", "registered_to")
    r.before("registered_from", "date_of_death")
    if "registered_from" in r.present and "year_of_birth" in r.present:
        registered = r.val("registered_from").year()
        r.add(C.REGISTERED_BEFORE_BIRTH, "registered_from", registered < r.val("year_of_birth"))


def _activity_rules(r: _Rules) -> None:
    r.code("setting", (*C.SETTINGS, *C.OPTIONAL_SETTINGS))
    r.int_range("bed_days", 0, None)


def _referrals_rules(r: _Rules) -> None:
    r.code("referral_source", C.REFERRAL_SOURCES)
    r.code("discharge_reason", C.DISCHARGE_REASONS)
    r.int_range("sessions_offered", 0, None)
    r.int_range("sessions_attended", 0, None)
    r.code("programme", r.ctx.programmes, C.UNKNOWN_PROGRAMME)
    r.before("referral_date", "start_date")
    r.before("start_date", "end_date")
    r.before("referral_date", "end_date")
    r.add(
        C.ATTENDED_EXCEEDS_OFFERED,
        "sessions_attended",
        r.val("sessions_attended") > r.val("sessions_offered"),
    )


def _measures_rules(r: _Rules) -> None:
    r.code("timepoint", C.TIMEPOINTS)
    insts = dict(r.ctx.instruments)
    inst, item = r.raw("instrument"), r.raw("item")
    r.add(C.UNKNOWN_INSTRUMENT, "instrument", inst.notnull() & ~inst.isin(list(insts)))
    pairs = [f"{name}\x1f{it}" for name, rule in insts.items() for it in rule.items]
    key = inst.concat("\x1f", item)
    r.add(C.UNKNOWN_ITEM, "item", inst.isin(list(insts)) & item.notnull() & ~key.isin(pairs))
    if insts:
        lo = ibis.cases(*[(inst == n, rule.item_min) for n, rule in insts.items()])
        hi = ibis.cases(*[(inst == n, rule.item_max) for n, rule in insts.items()])
        resp = r.val("response")
        r.add(C.RESPONSE_OUT_OF_RANGE, "response", resp.notnull() & ((resp < lo) | (resp > hi)))


#: Each table's own checks (code lists, ranges, date order), after the column checks.
_TABLE_RULES = {
    "population": _population_rules,
    "activity": _activity_rules,
    "referrals": _referrals_rules,
    "measures": _measures_rules,
}


def _row_rules(
    p: ir.Table, table: str, present: Sequence[str], ctx: CheckContext
) -> list[tuple[str, str, ir.BooleanValue]]:
    """Every row check as ``(reason, column, condition)``, in precedence order."""
    r = _Rules(p, table, present, ctx)
    _column_rules(r)
    if table in _TABLE_RULES:
        _TABLE_RULES[table](r)
    r.rules.sort(key=lambda rule: _REASON_RANK[rule[0]])  # stable: column order within a reason
    return r.rules


#: Parent columns read by date checks (``event_outside_registration``, ``born_after_referral``,
#: ``referral_after_death_or_deregistration``, ``assessed_outside_episode``).
LOOKUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "activity": ("registered_from", "registered_to", "date_of_death"),
    "referrals": ("registered_to", "date_of_death", "year_of_birth"),
    "measures": ("referral_date", "end_date"),
}


def parent_lookup(accepted: ir.Table, rejected: ir.Table, key: str, child: str) -> ir.Table:
    """One row per parent key: whether it was accepted, and what a child's checks need of it.

    Parameters
    ----------
    accepted : ibis.Table
        The parent's accepted (typed) rows: keys are unique there.
    rejected : ibis.Table
        The parent's quarantined rows, with their normalised key as ``_k_<key>``.
    key : str
        The key column (``person_id`` or ``episode_id``).
    child : str
        The child table: the parent's :data:`LOOKUP_COLUMNS` for it come along.

    Returns
    -------
    ibis.Table
        ``_lk_key``, ``_lk_good`` (true: an accepted parent row; false: only quarantined ones)
        and ``_lk_<column>`` for each of the child's lookup columns the parent has.
    """
    dates = [c for c in LOOKUP_COLUMNS.get(child, ()) if c in accepted.columns]
    good = accepted.select(
        _lk_key=accepted[key],
        _lk_good=ibis.literal(True),
        **{f"_lk_{c}": accepted[c] for c in dates},
    )
    bad_keys = rejected.filter(rejected[f"_k_{key}"].notnull()).select(
        _lk_key=rejected[f"_k_{key}"]
    )
    bad_keys = bad_keys.distinct()
    bad_keys = bad_keys.anti_join(good, bad_keys._lk_key == good._lk_key)
    bad = bad_keys.select(
        "_lk_key",
        _lk_good=ibis.literal(False),
        **{f"_lk_{c}": ibis.null(accepted[c].type()) for c in dates},
    )
    return good.union(bad)


def flag_rows(
    raw: ir.Table,
    table: str,
    present: Sequence[str],
    ctx: CheckContext,
    *,
    repeated: ir.Table | None,
    parent: ir.Table | None,
) -> tuple[ir.Table, dict[int, tuple[str, str]], dict[int, tuple[str, str]]]:
    """Rows that fail a check (steps 0, 1, 3, 4) or whose primary key occurs more than once.

    Parameters
    ----------
    raw : ibis.Table
        ``row_number`` and the present contract columns (text, or typed for native columns).
    table : str
        Contract table name.
    present : sequence of str
        Contract columns present in the source.
    ctx : CheckContext
        Code lists, ranges, formats, native columns.
    repeated : ibis.Table, optional
        Primary-key values that occur more than once (:func:`evalkit.engine.duplicate_keys` on
        the normalised keys), columns named ``_d_<key column>``; ``None`` when there are none.
    parent : ibis.Table, optional
        :func:`parent_lookup` of the parent table (child tables only).

    Returns
    -------
    (ibis.Table, dict, dict)
        The flagged rows: ``row_number``, the normalised key columns ``_k_<column>``, ``_pre``
        (number of the first failing rule of steps 0-1, null if none), ``_post`` (step 3-4 rule
        number or null), ``_repeated`` and each present column as the source's text; then the
        meaning of each ``_pre`` and ``_post`` number as ``(reason, column)``.
    """
    p = _parse(_with_keys(normalise(raw, table, present, ctx), table, present), table, present, ctx)
    if parent is not None:
        p, pre_rules, post_rules = _parent_rules(p, parent, table, present, ctx)
    else:
        pre_rules, post_rules = _row_rules(p, table, present, ctx), []
    keys = [c for c in p.columns if c.startswith("_k_")]
    q = p.select(
        ROW,
        *keys,
        *[f"_r_{c}" for c in present],
        _pre=_rule_number(pre_rules),
        _post=_rule_number(post_rules),
    )
    q = _mark_repeated(q, repeated, list(C.PRIMARY_KEY[table]))
    q = q.filter(q._pre.notnull() | q._post.notnull() | q._repeated)
    out = q.select(ROW, *keys, "_pre", "_post", "_repeated", **source_text(q, present, ctx))
    pre = {i: (r, c) for i, (r, c, _) in enumerate(pre_rules)}
    post = {i: (r, c) for i, (r, c, _) in enumerate(post_rules)}
    return out, pre, post


def _with_keys(n: ir.Table, table: str, present: Sequence[str]) -> ir.Table:
    """Add the normalised primary key (and a child's parent key) as ``_k_<column>``."""
    n = n.mutate(**{f"_k_{k}": n[k] for k in C.PRIMARY_KEY[table] if k in present})
    if table in PARENT and f"_k_{PARENT[table][1]}" not in n.columns:
        key = PARENT[table][1]
        n = n.mutate(**{f"_k_{key}": n[key]})
    return n


def _parent_rules(
    p: ir.Table, parent: ir.Table, table: str, present: Sequence[str], ctx: CheckContext
) -> tuple[
    ir.Table, list[tuple[str, str, ir.BooleanValue]], list[tuple[str, str, ir.BooleanValue]]
]:
    """Join a child table to its parent lookup; the rules of steps 0-1 and of steps 3-4."""
    key = PARENT[table][1]
    unknown = C.UNKNOWN_EPISODE if key == "episode_id" else C.UNKNOWN_PERSON
    j = p.left_join(parent, p[f"_s_{key}"] == parent._lk_key)
    j = j.select(*p.columns, *parent.columns)
    pre_rules = [(C.PARENT_QUARANTINED, key, j._lk_key.notnull() & ~j._lk_good)]
    pre_rules += _row_rules(j, table, present, ctx)
    post_rules = [(unknown, key, j._lk_key.isnull())]
    post_rules += _DATE_LOGIC[table](j, table, present)
    return j, pre_rules, post_rules


def _after_any(
    value: ir.Value, j: ir.Table, columns: Sequence[str], out: ir.BooleanValue
) -> ir.BooleanValue:
    """``out``, or ``value`` later than any of the lookup ``columns`` the join has.

    A null lookup value (never deregistered, alive) never counts.
    """
    for c in columns:
        if f"_lk_{c}" in j.columns:
            out = out | (value > j[f"_lk_{c}"]).fill_null(False)
    return out


def _activity_dates(
    j: ir.Table, table: str, present: Sequence[str]
) -> list[tuple[str, str, ir.BooleanValue]]:
    """``event_outside_registration``: before ``registered_from``, after deregistration or death."""
    ev = _value(j, table, "event_date")
    outside = _after_any(ev, j, ("registered_to", "date_of_death"), ev < j._lk_registered_from)
    return [(C.EVENT_OUTSIDE_REGISTRATION, "event_date", outside.fill_null(False))]


def _referral_dates(
    j: ir.Table, table: str, present: Sequence[str]
) -> list[tuple[str, str, ir.BooleanValue]]:
    """A referral after its person's death or deregistration, or before the year of birth."""
    ref = _value(j, table, "referral_date")
    after = _after_any(ref, j, ("registered_to", "date_of_death"), ibis.literal(False))
    rules = [(C.REFERRAL_AFTER_DEATH, "referral_date", after)]
    if "_lk_year_of_birth" in j.columns:
        born_after = (j._lk_year_of_birth > ref.year()).fill_null(False)
        rules.append((C.BORN_AFTER_REFERRAL, "referral_date", born_after))
    return rules


def _measure_dates(
    j: ir.Table, table: str, present: Sequence[str]
) -> list[tuple[str, str, ir.BooleanValue]]:
    """``assessed_outside_episode``: long before the referral or long after the episode's end."""
    on = _value(j, table, "assessed_on")
    early = j._lk_referral_date - ibis.interval(days=C.ASSESSED_BEFORE_REFERRAL_DAYS)
    late = j._lk_end_date + ibis.interval(days=C.ASSESSED_AFTER_END_DAYS)
    outside = (on < early).fill_null(False) | (on > late).fill_null(False)
    return [(C.ASSESSED_OUTSIDE_EPISODE, "assessed_on", outside)]


#: Each child table's checks of its dates against its parent row (after ``unknown_*``).
_DATE_LOGIC = {
    "activity": _activity_dates,
    "referrals": _referral_dates,
    "measures": _measure_dates,
}


def _rule_number(rules: list[tuple[str, str, ir.BooleanValue]]) -> ir.IntegerValue:
    """The number of the first rule that holds for a row (null if none)."""
    if not rules:
        return ibis.null("int16")
    return ibis.cases(
        *[(cond, ibis.literal(i, type="int16")) for i, (_, _, cond) in enumerate(rules)],
        else_=ibis.null("int16"),
    )


def _mark_repeated(q: ir.Table, repeated: ir.Table | None, pk: list[str]) -> ir.Table:
    """Add ``_repeated``: whether the row's primary key occurs more than once."""
    if repeated is None:
        return q.mutate(_repeated=ibis.literal(False))
    j = q.left_join(repeated, [q[f"_k_{k}"] == repeated[f"_d_{k}"] for k in pk])
    return j.select(*q.columns, _repeated=j[f"_d_{pk[0]}"].notnull())


def source_text(q: ir.Table, present: Sequence[str], ctx: CheckContext) -> dict[str, ir.Value]:
    """Each present column as the source held it, as text (typed columns rendered).

    ``q`` carries the source values as ``_r_<column>`` (:func:`normalise`).
    """
    text: dict[str, ir.Value] = {}
    for c in present:
        r = q[f"_r_{c}"]
        if ctx.native.get(c) == "date":
            text[c] = r.strftime(ctx.date_format)
        elif c in ctx.native:
            text[c] = r.cast("string")
        else:
            text[c] = r
    return text


def decide(
    flagged: ir.Table,
    table: str,
    present: Sequence[str],
    pre: Mapping[int, tuple[str, str]],
    post: Mapping[int, tuple[str, str]],
) -> ir.Table:
    """Give each flagged row its one reason; settle duplicates (step 2) on this small table.

    Among flagged rows with a repeated key and no reason from steps 0-1, the smallest row number
    per key is the first occurrence and is kept; the others are ``duplicate_*``.

    Returns
    -------
    ibis.Table
        The rejected rows only: ``row_number``, key columns ``_k_*``, the present columns (source
        text), ``reason`` and ``column``.
    """
    pk = list(C.PRIMARY_KEY[table])
    k = [f"_k_{c}" for c in pk]
    ok = flagged.filter(flagged._repeated & flagged._pre.isnull())
    firsts = ok.group_by(k).aggregate(_first=ok[ROW].min()).rename({f"_f{c}": c for c in k})
    j = flagged.left_join(firsts, [flagged[c] == firsts[f"_f{c}"] for c in k])
    j = j.select(*flagged.columns, "_first")
    is_dup = j._repeated & j._pre.isnull() & j._first.notnull() & (j[ROW] != j._first)

    def name(m: Mapping[int, tuple[str, str]], i: int) -> dict[int, str]:
        return {n: v[i] for n, v in m.items()}

    def pick(i: int, dup: str) -> ir.StringValue:
        return ibis.cases(
            (j._pre.notnull(), j._pre.substitute(name(pre, i), else_=ibis.null("string"))),
            (is_dup, ibis.literal(dup)),
            (j._post.notnull(), j._post.substitute(name(post, i), else_=ibis.null("string"))),
            else_=ibis.null("string"),
        )

    out = j.select(
        ROW,
        *[c for c in j.columns if c.startswith("_k_")],
        *present,
        **{REASON: pick(0, _DUPLICATE[table]), COLUMN: pick(1, ",".join(pk))},
    )
    return out.filter(out[REASON].notnull())

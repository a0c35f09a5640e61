"""Eligibility at an index date and covariates at index, as Ibis expressions.

Every function here builds Ibis expressions and executes nothing, so the rules run unchanged on
DuckDB (the default engine) or on a SQL warehouse.

Rules (``docs/decisions/cohort.md`` gives the reasons)
------------------------------------------------------
Age
    The population table holds the year of birth only, so the age on an index date is
    ``index year - year_of_birth`` (the age reached on the birthday in the index year) or one
    less. The ``age`` covariate is ``index year - year_of_birth``. A person is age-eligible when
    either possible age lies in ``[age_min, age_max]``, i.e. ``age_min <= age <= age_max + 1``:
    nobody who may have been in range on the index date is excluded (a 17-year-old referred to a
    programme for 8-17 year olds in December of the year they turn 18 stays in).
Conditions
    At least one of ``eligibility.conditions_any`` diagnosed on or before the index date.
Registration
    Registered (``registered_from <= index`` and ``registered_to`` empty or ``>= index``) and
    alive (``date_of_death`` empty or ``>= index``) on the index date, with at least
    ``history_months`` calendar months of observed registration before it:
    ``max(registered_from, data_start) <= index - history_months months``, where ``data_start``
    is the first day the activity extract covers (before it, zero counts mean "not observed").
Calendar months
    ``date + k months`` clamps the day to the target month's length (31 January + 1 month =
    28/29 February): :mod:`evalkit.dates` holds that rule, for Ibis and the other forms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from evalkit.config import Programme
from evalkit.contract import CONDITIONS, ETHNICITY_GROUP, imd_quintile
from evalkit.dates import add_months_expr

__all__ = [
    "EXCLUSION_REASONS",
    "UNKNOWN_ETHNICITY",
    "age_at",
    "available_conditions",
    "covariates_at_index",
    "eligibility_checks",
    "ethnicity_group_expr",
]

#: Group given to ethnicity codes Z (not stated) and 99 (not known).
UNKNOWN_ETHNICITY = "Unknown"

#: Reasons a referred person is not a participant, in the order they are checked (first wins).
EXCLUSION_REASONS: tuple[str, ...] = (
    "not_in_population",
    "age_outside_range",
    "no_required_condition_by_index",
    "not_registered_at_index",
    "died_before_index",
    "short_registration_history",
)


def age_at(year_of_birth: ir.IntegerValue, date: ir.DateValue) -> ir.IntegerValue:
    """Age covariate: ``year(date) - year_of_birth`` (the age reached in that year)."""
    return (date.year() - year_of_birth).cast("int16")


def ethnicity_group_expr(ethnicity: ir.StringValue) -> ir.StringValue:
    """ONS five high-level groups from the NHS ethnic category code; Z and 99 are ``Unknown``."""
    known = {k: v for k, v in ETHNICITY_GROUP.items() if k not in ("Z", "99")}
    expr = ibis.cases(
        *[(ethnicity.isin(codes), grp) for grp, codes in _invert(known).items()],
        else_=UNKNOWN_ETHNICITY,
    )
    return expr


def _invert(mapping: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for code, grp in mapping.items():
        out.setdefault(grp, []).append(code)
    return out


def available_conditions(pop: ir.Table) -> list[str]:
    """Contract conditions that the population table carries (an extract may hold a subset)."""
    return [c for c in CONDITIONS if c in pop.columns]


def eligibility_checks(
    pop: ir.Table,
    date: ir.DateValue,
    programme: Programme,
    *,
    data_start: dt.date,
    history_months: int,
    history_from: ir.DateValue | None = None,
) -> dict[str, ir.BooleanValue]:
    """Boolean expressions, one per rule, for "eligible on ``date``" (True = passes).

    Parameters
    ----------
    pop : ibis.Table
        The population table, or a table carrying its columns (joined to index rows).
    date : ibis date expression
        The index date of each row.
    programme : Programme
        Supplies the age range and the required conditions.
    data_start : datetime.date
        First day covered by the activity extract.
    history_months : int
        Calendar months of observed registration needed before ``date``.
    history_from : ibis date expression, optional
        ``date - history_months`` months, when the caller has it as a column already (the
        risk set's index table: one value per index date instead of one per row); default
        computed here.

    Returns
    -------
    dict of str to ibis boolean expression
        Keys are :data:`EXCLUSION_REASONS` after ``not_in_population``; a row is eligible when
        all are True. Empty dates are handled explicitly (an empty condition date fails).
    """
    elig = programme.eligibility
    age = age_at(pop.year_of_birth, date)
    conds = [c for c in elig.conditions_any if c in pop.columns]
    if not conds:
        raise ValueError(
            f"the population table has none of the conditions {elig.conditions_any} "
            f"that programme '{programme.slug}' requires"
        )
    has_condition = ibis.or_(*[pop[c].notnull() & (pop[c] <= date) for c in conds])
    observed_from = ibis.greatest(pop.registered_from, ibis.literal(data_start))
    return {
        "age_outside_range": (age >= elig.age_min) & (age <= elig.age_max + 1),
        "no_required_condition_by_index": has_condition,
        "not_registered_at_index": (pop.registered_from <= date)
        & (pop.registered_to.isnull() | (pop.registered_to >= date)),
        "died_before_index": pop.date_of_death.isnull() | (pop.date_of_death >= date),
        "short_registration_history": observed_from
        <= (history_from if history_from is not None else add_months_expr(date, -history_months)),
    }


def covariates_at_index(
    rows: ir.Table, date: ir.DateValue, conditions: Sequence[str]
) -> dict[str, ir.Value]:
    """Covariate expressions at each row's index date (``rows`` carries population columns).

    Returns ``age``, ``sex``, ``imd_decile``, ``imd_quintile``, ``ethnicity_group``, one
    ``cond_<name>`` 0/1 column per contract condition (diagnosed on or before the index date; 0
    for a condition the extract does not carry) and ``n_conditions``.
    """
    out: dict[str, ir.Value] = {
        "age": age_at(rows.year_of_birth, date),
        "sex": rows.sex,
        "imd_decile": rows.imd_decile.cast("int8"),
        "imd_quintile": imd_quintile(rows.imd_decile).cast("int8"),
        "ethnicity_group": ethnicity_group_expr(rows.ethnicity),
    }
    flags = []
    for c in CONDITIONS:
        if c in conditions:
            # bool -> 0/1 by ifelse: PostgreSQL has no cast from boolean to smallint
            flag = (rows[c].notnull() & (rows[c] <= date)).ifelse(1, 0).cast("int8")
        else:
            flag = ibis.literal(0, type="int8")
        out[f"cond_{c}"] = flag
        flags.append(flag.cast("int16"))
    total = flags[0]
    for f in flags[1:]:
        total = total + f
    out["n_conditions"] = total.cast("int8")
    return out

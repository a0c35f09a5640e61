"""NHS numbers where a pseudonym belongs: how they are recognised, and intake's refusal.

An NHS number identifies a person on sight, so it must never be used as ``person_id``: the key
holder replaces it with a keyed token first (``evalkit pseudonymise``,
:mod:`evalkit.intake.pseudonymise`). Intake refuses a ``person_id`` column that looks like NHS
numbers (:func:`refuse_nhs_number_ids`): after removing spaces and dashes, at least
:data:`MIN_TEN_DIGIT_SHARE` of its non-empty values are ten digits and at least
:data:`MIN_VALID_SHARE` of those pass the Modulus 11 check. The second threshold is what tells
NHS numbers from other ten-digit codes: a random ten-digit string passes the check about one
time in eleven (phone numbers, local ids), a column of NHS numbers nearly always.

The same rule exists twice, on purpose: in Python (:func:`nhs_number_shares`, used by
``pseudonymise`` on a handful of values) and as one Ibis aggregate that DuckDB evaluates over the
whole column (:func:`nhs_number_counts`), so a 30-million-row table never comes into Python.
The tests check that both give the same counts, and that the Ibis check digit agrees with
:func:`evalkit.nhs_number.is_valid_nhs_number`. No function here returns or shows a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from evalkit import engine
from evalkit.intake.errors import IntakeError
from evalkit.nhs_number import WEIGHTS, nhs_check_digit

__all__ = [
    "EMPTY",
    "MIN_TEN_DIGIT_SHARE",
    "MIN_VALID_SHARE",
    "NOT_TEN_DIGITS",
    "SEPARATORS",
    "WRONG_CHECK_DIGIT",
    "NhsNumberShares",
    "count_nhs_numbers",
    "nhs_number_counts",
    "nhs_number_problem",
    "nhs_number_shares",
    "normalise_nhs_number",
    "refuse_nhs_number_ids",
]

#: Characters removed before a value is judged: white space (as intake trims it) and dashes,
#: so that ``943 476 5919`` and ``943-476-5919`` are the number ``9434765919``.
SEPARATORS = " \t\n\r\x0b\x0c-"
_SEPARATORS_RE = re.compile("[" + re.escape(SEPARATORS) + "]")
#: The same class for the engine (RE2 syntax).
_SEPARATORS_SQL = r"[ \t\n\r\x0b\x0c-]"
_TEN_DIGITS = re.compile(r"[0-9]{10}")

#: A ``person_id`` column is refused when at least this share of its non-empty values are ten
#: digits (after removing separators) ...
MIN_TEN_DIGIT_SHARE = 0.95
#: ... and at least this share of those ten-digit values pass the Modulus 11 check.
MIN_VALID_SHARE = 0.90

#: Why a value is not a valid NHS number (``pseudonymise`` quarantines it with this reason).
EMPTY = "empty"
NOT_TEN_DIGITS = "not 10 digits"
WRONG_CHECK_DIGIT = "check digit wrong"


def normalise_nhs_number(value: str) -> str:
    """The value with every space, other white space and dash removed.

    Examples
    --------
    >>> normalise_nhs_number(" 943 476-5919 ")
    '9434765919'
    """
    return _SEPARATORS_RE.sub("", value)


def nhs_number_problem(normalised: str) -> str | None:
    """Why a normalised value is not a valid NHS number, or None if it is one.

    Ten ASCII digits are needed (``str.isdigit`` would accept other scripts' digits); a stem on
    which no number is issued (11 - remainder = 10) fails the check whatever its last digit.

    Examples
    --------
    >>> [nhs_number_problem(v) for v in ["9434765919", "9434765918", "94347659", ""]]
    [None, 'check digit wrong', 'not 10 digits', 'empty']
    """
    if not normalised:
        return EMPTY
    if not _TEN_DIGITS.fullmatch(normalised):
        return NOT_TEN_DIGITS
    check = nhs_check_digit(normalised[:9])
    if check is None or check != int(normalised[9]):
        return WRONG_CHECK_DIGIT
    return None


@dataclass(frozen=True)
class NhsNumberShares:
    """Counts behind the refusal rule: non-empty values, ten-digit ones, valid ones."""

    non_empty: int
    ten_digit: int
    valid: int

    @property
    def looks_like_nhs_numbers(self) -> bool:
        """Whether the column meets both thresholds (never true for an empty column).

        Compared as integers (``ten_digit >= 0.95 * non_empty`` in exact arithmetic), so a
        column exactly at a threshold is refused.

        Examples
        --------
        >>> NhsNumberShares(non_empty=100, ten_digit=95, valid=86).looks_like_nhs_numbers
        True
        >>> NhsNumberShares(non_empty=100, ten_digit=95, valid=85).looks_like_nhs_numbers
        False
        """
        if self.non_empty == 0:
            return False
        return (
            100 * self.ten_digit >= round(100 * MIN_TEN_DIGIT_SHARE) * self.non_empty
            and 100 * self.valid >= round(100 * MIN_VALID_SHARE) * self.ten_digit
        )


def nhs_number_shares(values: Iterable[str | None]) -> NhsNumberShares:
    """The refusal rule's counts over Python values (None and empty text are empty).

    Examples
    --------
    >>> nhs_number_shares(["943 476 5919", "943-476-5918", "12", None, ""])
    NhsNumberShares(non_empty=3, ten_digit=2, valid=1)
    """
    non_empty = ten = valid = 0
    for v in values:
        if v is None or v == "":
            continue
        non_empty += 1
        problem = nhs_number_problem(normalise_nhs_number(v))
        if problem in (None, WRONG_CHECK_DIGIT):
            ten += 1
            valid += problem is None
    return NhsNumberShares(non_empty=non_empty, ten_digit=ten, valid=valid)


def _check_digit(number: ir.IntegerValue) -> ir.IntegerValue:
    """11 - (weighted sum of the first nine digits mod 11) of a ten-digit integer, in the engine.

    The rule of :func:`evalkit.nhs_number.nhs_check_digit` (weights 10..2) before its 11 -> 0
    and 10 -> no number steps, on digits taken arithmetically: integer arithmetic on one cast
    value costs a fraction of ten substrings.
    """
    total = sum(
        (number // 10 ** (9 - i) % 10 * w for i, w in enumerate(WEIGHTS)),
        start=ibis.literal(0, type="int64"),
    )
    return 11 - total % 11


def nhs_number_counts(table: ir.Table, column: str) -> ir.Table:
    """The refusal rule's counts over a text column, as one Ibis aggregate (null is empty).

    Separators are removed only from values that hold one, and the value is cast to an integer
    once, in a projection before the aggregate, so DuckDB reads a 30-million-row column in
    seconds.

    Returns
    -------
    ibis.Table
        One row: ``non_empty``, ``ten_digit`` and ``valid``.
    """
    v = table[column]
    digits = table.select(
        _present=v.notnull() & (v != ""),
        _d=ibis.ifelse(_has_separator(v), v.re_replace(_SEPARATORS_SQL, ""), v),
    )
    ten = digits._present & (digits._d.length() == 10) & digits._d.re_search("^[0-9]{10}$")
    shaped = digits.select(
        "_present", _ten=ten.fill_null(False), _n=ibis.ifelse(ten, digits._d.cast("int64"), None)
    )
    checked = shaped.select(
        "_present", "_ten", _check=_check_digit(shaped._n), _last=shaped._n % 10
    )
    # 11 -> check digit 0; 10 -> no number is issued on the stem (never equals a digit).
    expected = ibis.ifelse(checked._check == 11, 0, checked._check)
    valid = checked._ten & (expected == checked._last).fill_null(False)
    return checked.aggregate(
        non_empty=checked._present.fill_null(False).sum(),
        ten_digit=checked._ten.sum(),
        valid=valid.sum(),
    )


def _has_separator(v: ir.StringValue) -> ir.BooleanValue:
    return ibis.or_(*[v.contains(c) for c in SEPARATORS])


def _one_row(con: Any, expr: ir.Table) -> dict[str, int]:
    """The single row of an aggregate as ints (a sum over no rows is 0, not null)."""
    row = engine.to_pandas(con, expr, limit=1).iloc[0]
    return {k: 0 if v is None or v != v else int(v) for k, v in row.items()}


def count_nhs_numbers(con: Any, table: ir.Table, column: str) -> NhsNumberShares:
    """Evaluate :func:`nhs_number_counts` on one column of ``table``."""
    return NhsNumberShares(**_one_row(con, nhs_number_counts(table, column)))


def _may_look_like_nhs_numbers(con: Any, table: ir.Table, column: str) -> bool:
    """Whether enough values could be ten digits for the rule to refuse the column.

    A value without a separator can only be ten digits if it is ten characters long, so a
    column of 16- or 32-character tokens is cleared by one cheap pass (lengths and
    ``contains``), without the regular expression and the check digit.
    """
    v = table[column]
    present = v.notnull() & (v != "")
    candidate = present & ((v.length() == 10) | _has_separator(v))
    row = _one_row(
        con, table.aggregate(non_empty=present.sum(), candidates=candidate.fill_null(False).sum())
    )
    bound = NhsNumberShares(row["non_empty"], row["candidates"], row["candidates"])
    return bound.looks_like_nhs_numbers


def refuse_nhs_number_ids(
    con: Any, table: ir.Table, *, column: str, path: Path, source_column: str
) -> None:
    """Stop intake if ``table[column]`` (a ``person_id``) looks like NHS numbers.

    Parameters
    ----------
    con
        The DuckDB connection.
    table : ibis.Table
        The staged rows, ``column`` as normalised text (trimmed, null markers null).
    column : str
        The contract column (``person_id``).
    path : Path
        The source file, named in the message.
    source_column : str
        The column's name in the source file (before the mapping renamed it).

    Raises
    ------
    IntakeError
        The column meets both thresholds. The message names the file and column, gives the
        counts and points to ``evalkit pseudonymise``; it never shows a value.
    """
    if not _may_look_like_nhs_numbers(con, table, column):
        return
    shares = count_nhs_numbers(con, table, column)
    if not shares.looks_like_nhs_numbers:
        return
    named = column if source_column == column else f"{source_column!r} (mapped to {column})"
    raise IntakeError(
        f"{path}: column {named} holds NHS numbers, not pseudonymised ids: "
        f"{shares.ten_digit:,} of {shares.non_empty:,} non-empty values are 10 digits and "
        f"{shares.valid:,} of those pass the NHS number check digit. Intake never takes an "
        f"identifier as an id: the key holder (the ICB's data processor) must first replace "
        f"them with tokens, `evalkit pseudonymise {path.name} --column {source_column} "
        f"--out <file>` (docs/pseudonymisation.md), and intake takes in that file. "
        f"Nothing was written."
    )

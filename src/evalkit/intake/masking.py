"""Masking identifying values in what intake writes about rejected rows.

A rejected row is kept so that its supplier can find and fix it, but some of what a source file
holds identifies a person on sight: an NHS number (in any column: a real extract may carry one
where a pseudonym should be), a postcode, a date of birth (a full date where only
``year_of_birth`` belongs). These are replaced by a marker in the quarantine files and their
messages (:func:`identifying_masks`). ``intake_report.json`` is shared more widely still: its
example messages also show ids by their shape only and cap every value's length
(:func:`example_masks`).

NHS numbers are told from other ten-digit strings by their check digit, with
:func:`evalkit.nhs_number.is_valid_nhs_number`: candidates are found by shape in the engine, and
only those (a handful of distinct values) are checked in Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from evalkit import engine
from evalkit.nhs_number import is_valid_nhs_number

__all__ = [
    "EXAMPLE_MAX_CHARS",
    "ID_COLUMNS",
    "MASKED_BIRTH_DATE",
    "MASKED_NHS_NUMBER",
    "MASKED_POSTCODE",
    "NHS_NUMBER_SHAPE",
    "POSTCODE_SHAPE",
    "example_masks",
    "identifying_masks",
    "nhs_numbers",
]

#: Ten digits, in groups of 3-3-4 separated by a space or dash or not at all.
NHS_NUMBER_SHAPE = r"^\s*[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}\s*$"
#: A UK postcode (outward code, optional space, inward code), any case.
POSTCODE_SHAPE = r"^\s*[A-Za-z]{1,2}[0-9][A-Za-z0-9]?\s*[0-9][A-Za-z]{2}\s*$"
#: A full date (day, month and year in some order) where only a year of birth belongs.
_DATE_SHAPE = r"[0-9]{1,4}[-/. ][0-9]{1,2}[-/. ][0-9]{1,4}"
#: The column whose full-date values are dates of birth.
_BIRTH_COLUMN = "year_of_birth"

MASKED_NHS_NUMBER = "<NHS number masked>"
MASKED_POSTCODE = "<postcode masked>"
MASKED_BIRTH_DATE = "<date of birth masked>"
_MARKERS = [MASKED_NHS_NUMBER, MASKED_POSTCODE, MASKED_BIRTH_DATE]

#: Identifier columns shown by their shape only in ``intake_report.json`` examples.
ID_COLUMNS: tuple[str, ...] = ("person_id", "episode_id", "event_id")
#: Longest value an ``intake_report.json`` example shows (longer ones are cut, ``...`` added).
EXAMPLE_MAX_CHARS = 24


def nhs_numbers(con: Any, table: ir.Table, columns: Sequence[str]) -> list[str]:
    """Distinct values of ``columns`` that are valid NHS numbers (shape, then check digit).

    ``table`` is small (the rejected rows); the values are text.
    """
    if not columns:
        return []
    values = None
    for c in columns:
        v = table.filter(table[c].re_search(NHS_NUMBER_SHAPE)).select(v=table[c])
        values = v if values is None else values.union(v)
    assert values is not None
    found = engine.to_pandas(con, values.distinct())["v"]
    return sorted(v for v in found if is_valid_nhs_number(str(v).strip()))


def identifying_masks(
    table: ir.Table, columns: Sequence[str], nhs: Sequence[str]
) -> dict[str, ir.StringValue]:
    """Each text column with NHS numbers (those in ``nhs``), postcodes and dates of birth masked.

    Every other value is left exactly as it was.
    """
    out: dict[str, ir.StringValue] = {}
    for c in columns:
        v = table[c]
        cases = [(v.re_search(POSTCODE_SHAPE), ibis.literal(MASKED_POSTCODE))]
        if nhs:
            cases.insert(0, (v.isin(list(nhs)), ibis.literal(MASKED_NHS_NUMBER)))
        if c == _BIRTH_COLUMN:
            cases.append((v.re_search(_DATE_SHAPE), ibis.literal(MASKED_BIRTH_DATE)))
        out[c] = ibis.cases(*cases, else_=v)
    return out


def example_masks(shown: Mapping[str, ir.StringValue]) -> dict[str, ir.StringValue]:
    """Values as ``intake_report.json`` examples show them: ids by shape, every value capped.

    An id keeps its length and punctuation, with each digit shown as ``9`` and each letter as
    ``x`` (``ABC-12`` -> ``xxx-99``), which is enough to see why it failed the id pattern.
    """
    out: dict[str, ir.StringValue] = {}
    for c, v in shown.items():
        if c in ID_COLUMNS:
            shape = v.re_replace("[0-9]", "9").re_replace("[A-Za-z]", "x")
            v = ibis.ifelse(v.isin(_MARKERS), v, shape)
        out[c] = ibis.ifelse(
            v.length() > EXAMPLE_MAX_CHARS, v.substr(0, EXAMPLE_MAX_CHARS).concat("..."), v
        )
    return out

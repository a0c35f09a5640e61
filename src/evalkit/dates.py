"""Calendar-month arithmetic: the one definition, for every representation evalkit uses.

The rule
--------
``date + k months`` moves to the same day ``k`` calendar months later (``k`` may be negative)
and clamps the day to the target month's length: 31 January + 1 month = 28 February (29 in a
leap year), 31 March - 1 month = 28/29 February, 30 November + 3 months = 28 February of the
next year. This is the data contract's "Time" section (``docs/design/data-contract.md``) and
what DuckDB, PostgreSQL, BigQuery and Snowflake do for ``date + INTERVAL k MONTH``.

The month index of a date is ``year * 12 + month - 1``: consecutive calendar months are
consecutive integers, so the difference of two indices counts calendar months between them.

Representations
---------------
=======================  =============================  ==============================
value                    add months                     month index
=======================  =============================  ==============================
``datetime.date``        :func:`add_months`             :func:`month_index`
``datetime64`` array     :func:`add_months_datetime64`  :func:`month_index_datetime64`
int day numbers (synth)  :func:`add_months_days`
pandas datetime Series   :func:`add_months_series`      :func:`month_index_series`
Ibis date expression     :func:`add_months_expr`        :func:`month_index_expr`
=======================  =============================  ==============================

The numpy kernels (:func:`add_months_datetime64`, :func:`month_index_datetime64`) serve the
day-number and Series forms; the Ibis forms compile to the engine's own interval arithmetic,
which applies the same rule. ``tests/unit/test_dates.py`` checks that every form agrees.

This module imports nothing from evalkit: it is the lowest layer.

>>> import datetime as dt
>>> add_months(dt.date(2024, 1, 31), 1)
datetime.date(2024, 2, 29)
>>> add_months(dt.date(2023, 3, 31), -1)
datetime.date(2023, 2, 28)
>>> add_months(dt.date(2023, 11, 30), 3)
datetime.date(2024, 2, 29)
>>> month_index(dt.date(2024, 1, 15)) - month_index(dt.date(2023, 12, 31))
1
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = [
    "EVENT_MONTH_CONVENTIONS",
    "add_months",
    "add_months_datetime64",
    "add_months_days",
    "add_months_expr",
    "add_months_series",
    "event_month_of_days",
    "event_month_start",
    "event_month_start_days",
    "event_month_start_expr",
    "iso_week_monday",
    "iso_week_monday_series",
    "month_index",
    "month_index_datetime64",
    "month_index_expr",
    "month_index_series",
]

#: Month index of January 1970, the origin of numpy's ``datetime64[M]``.
_EPOCH_MONTH_INDEX = 1970 * 12


# --------------------------------------------------------------------------------------------
# Python dates
# --------------------------------------------------------------------------------------------
def add_months(d: dt.date, months: int) -> dt.date:
    """Add calendar months to a date, clamping the day (module docstring: the rule).

    >>> add_months(dt.date(2021, 1, 31), 1)
    datetime.date(2021, 2, 28)
    >>> add_months(dt.date(2020, 1, 15), -13)
    datetime.date(2018, 12, 15)
    """
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def month_index(d: dt.date) -> int:
    """Month index ``year * 12 + month - 1`` of a date.

    >>> month_index(dt.date(2020, 1, 31)) - month_index(dt.date(2019, 4, 1))
    9
    """
    return d.year * 12 + d.month - 1


# --------------------------------------------------------------------------------------------
# numpy (the vectorised kernels)
# --------------------------------------------------------------------------------------------
def add_months_datetime64(dates: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """Add calendar months to ``datetime64`` values, clamping the day; ``datetime64[D]`` out.

    Parameters
    ----------
    dates : array-like of datetime64
        Any unit; the time of day is dropped. ``NaT`` stays ``NaT``.
    months : int or array-like of int
        Broadcast against ``dates``; may be negative.

    Examples
    --------
    >>> add_months_datetime64(np.array(["2024-01-31", "2023-05-31"], "datetime64[D]"), [1, -3])
    array(['2024-02-29', '2023-02-28'], dtype='datetime64[D]')
    """
    d = np.asarray(dates).astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    day_of_month = (d - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.asarray(months).astype("timedelta64[M]")
    next_start = (target + np.timedelta64(1, "M")).astype("datetime64[D]")
    start = target.astype("datetime64[D]")
    length = (next_start - start).astype(np.int64)
    return start + np.minimum(day_of_month, length - 1).astype("timedelta64[D]")


def month_index_datetime64(dates: np.ndarray) -> np.ndarray:
    """Month index ``year * 12 + month - 1`` of ``datetime64`` values, as int64.

    >>> month_index_datetime64(np.array(["1970-01-01", "2024-12-31"], "datetime64[D]"))
    array([23640, 24299])
    """
    months = np.asarray(dates).astype("datetime64[M]").astype(np.int64)
    return months + _EPOCH_MONTH_INDEX


def add_months_days(days: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """Add calendar months to int day numbers (days since 1970-01-01); int64 day numbers out.

    >>> add_months_days(np.array([18658]), 1)  # 2021-01-31 -> 2021-02-28
    array([18686])
    """
    d = np.asarray(days).astype("datetime64[D]")
    return add_months_datetime64(d, months).astype(np.int64)


# --------------------------------------------------------------------------------------------
# pandas
# --------------------------------------------------------------------------------------------
def add_months_series(s: pd.Series, months: int) -> pd.Series:
    """Add calendar months to a datetime Series, clamping the day; ``datetime64[s]`` out.

    >>> add_months_series(pd.Series(pd.to_datetime(["2024-03-31"])), -1).dt.date.tolist()
    [datetime.date(2024, 2, 29)]
    """
    out = add_months_datetime64(s.to_numpy(dtype="datetime64[D]"), months)
    return pd.Series(out.astype("datetime64[s]"), index=s.index)


def month_index_series(s: pd.Series) -> pd.Series:
    """Month index ``year * 12 + month - 1`` of a datetime Series, as int64.

    >>> month_index_series(pd.Series(pd.to_datetime(["2019-04-01"]))).tolist()
    [24231]
    """
    return pd.Series(month_index_datetime64(s.to_numpy(dtype="datetime64[D]")), index=s.index)


# --------------------------------------------------------------------------------------------
# Ibis (runs in the engine)
# --------------------------------------------------------------------------------------------
def add_months_expr(date: ir.DateValue, months: int | ir.IntegerValue) -> ir.DateValue:
    """Add calendar months to an Ibis date expression (the engine clamps the day).

    Parameters
    ----------
    date : ibis date expression
    months : int or ibis integer expression
        May be negative and may vary by row.

    Returns
    -------
    ibis date expression
    """
    if isinstance(months, int):
        # Imported here so that the numpy and pandas forms (the synthetic county) do not load
        # Ibis.
        import ibis

        return (date + ibis.interval(months=months)).cast("date")
    return (date + months.as_interval("M")).cast("date")


def month_index_expr(date: ir.DateValue) -> ir.IntegerValue:
    """Month index ``year * 12 + month - 1`` of an Ibis date expression."""
    return date.year() * 12 + date.month() - 1


# --------------------------------------------------------------------------------------------
# Event months (the data contract's "Time") and ISO weeks
# --------------------------------------------------------------------------------------------
#: How event month 0 relates to the index date. ``"day_after"`` (the contract): month ``m``
#: runs from the day after ``index + m months`` to ``index + m + 1 months``, both inclusive, so
#: the index date ends month -1. ``"index"`` (the earlier design): month ``m`` runs from
#: ``index + m months`` (inclusive) to ``index + m + 1 months`` (exclusive).
EVENT_MONTH_CONVENTIONS: tuple[str, ...] = ("day_after", "index")


def _shift(convention: str) -> int:
    if convention not in EVENT_MONTH_CONVENTIONS:
        raise ValueError(
            f"event_months must be one of {EVENT_MONTH_CONVENTIONS}, got {convention!r}"
        )
    return 1 if convention == "day_after" else 0


def event_month_start(index: dt.date, m: int, convention: str = "day_after") -> dt.date:
    """First day (inclusive) of event month ``m`` of an index date.

    Month ``m`` ends the day before month ``m + 1`` starts.

    >>> event_month_start(dt.date(2022, 3, 15), 0)
    datetime.date(2022, 3, 16)
    >>> event_month_start(dt.date(2022, 3, 15), -1)
    datetime.date(2022, 2, 16)
    >>> event_month_start(dt.date(2024, 1, 31), 1)  # 29 February + 1 day
    datetime.date(2024, 3, 1)
    >>> event_month_start(dt.date(2022, 3, 15), 0, "index")
    datetime.date(2022, 3, 15)
    """
    return add_months(index, m) + dt.timedelta(days=_shift(convention))


def event_month_start_days(
    index_days: np.ndarray, m: int | np.ndarray, convention: str = "day_after"
) -> np.ndarray:
    """:func:`event_month_start` on int day numbers (days since 1970-01-01); int64 out.

    >>> event_month_start_days(np.array([18658]), 1)  # 2021-01-31: month 1 starts 2021-03-01
    array([18687])
    """
    return add_months_days(index_days, m) + _shift(convention)


def event_month_of_days(
    event_days: np.ndarray, index_days: np.ndarray, convention: str = "day_after"
) -> np.ndarray:
    """Event month (int64) of each event day relative to its index day (broadcast).

    The calendar-month difference, one less when the event falls before that month's start.

    >>> idx = np.array(["2022-03-15"] * 3, "datetime64[D]").astype(np.int64)
    >>> ev = np.array(["2022-03-15", "2022-03-16", "2022-04-15"], "datetime64[D]")
    >>> event_month_of_days(ev.astype(np.int64), idx).tolist()
    [-1, 0, 0]
    """
    e = np.asarray(event_days).astype(np.int64)
    i = np.asarray(index_days).astype(np.int64)
    m0 = month_index_datetime64(e.astype("datetime64[D]")) - month_index_datetime64(
        i.astype("datetime64[D]")
    )
    return np.where(e < event_month_start_days(i, m0, convention), m0 - 1, m0)


def event_month_start_expr(
    date: ir.DateValue, m: int | ir.IntegerValue, convention: str = "day_after"
) -> ir.IntegerValue:
    """First day of event month ``m`` as an Ibis epoch-day integer (:func:`event_month_start`)."""
    return add_months_expr(date, m).epoch_days() + _shift(convention)


def iso_week_monday(d: dt.date) -> dt.date:
    """Monday of the ISO week (Monday to Sunday) that contains ``d``.

    >>> iso_week_monday(dt.date(2024, 2, 29))  # a Thursday
    datetime.date(2024, 2, 26)
    """
    return d - dt.timedelta(days=d.weekday())


def iso_week_monday_series(s: pd.Series) -> pd.Series:
    """Monday of each date's ISO week, for a datetime Series (``datetime64[s]`` out).

    >>> iso_week_monday_series(pd.Series(pd.to_datetime(["2023-01-01"]))).dt.date.tolist()
    [datetime.date(2022, 12, 26)]
    """
    d = s.to_numpy(dtype="datetime64[D]")
    # 1970-01-01 was a Thursday: day number + 3 is 0 on Mondays (mod 7).
    days = d.astype(np.int64)
    monday = (days - (days + 3) % 7).astype("datetime64[D]")
    return pd.Series(monday.astype("datetime64[s]"), index=s.index)

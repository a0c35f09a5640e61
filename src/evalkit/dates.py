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
    "add_months",
    "add_months_datetime64",
    "add_months_days",
    "add_months_expr",
    "add_months_series",
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

"""Tests for evalkit.dates: the one calendar-month rule, and every representation agreeing."""

from __future__ import annotations

import calendar
import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.dates import (
    add_months,
    add_months_datetime64,
    add_months_days,
    add_months_expr,
    add_months_series,
    month_index,
    month_index_datetime64,
    month_index_expr,
    month_index_series,
)

D = dt.date

#: (date, months, expected): the clamping, negative months and year boundaries.
CASES = [
    (D(2021, 1, 31), 1, D(2021, 2, 28)),
    (D(2024, 1, 31), 1, D(2024, 2, 29)),
    (D(2024, 3, 31), -1, D(2024, 2, 29)),
    (D(2023, 3, 31), -1, D(2023, 2, 28)),
    (D(2023, 5, 31), 1, D(2023, 6, 30)),
    (D(2023, 11, 30), 3, D(2024, 2, 29)),
    (D(2023, 12, 15), 1, D(2024, 1, 15)),
    (D(2024, 1, 15), -1, D(2023, 12, 15)),
    (D(2020, 1, 15), -13, D(2018, 12, 15)),
    (D(2019, 4, 1), 72, D(2025, 4, 1)),
    (D(2022, 8, 31), -18, D(2021, 2, 28)),
    (D(2020, 2, 29), 12, D(2021, 2, 28)),
    (D(2020, 2, 29), 48, D(2024, 2, 29)),
    (D(2022, 6, 20), 0, D(2022, 6, 20)),
]


@pytest.mark.parametrize(("date", "months", "expected"), CASES)
def test_add_months_clamps_day_to_target_month(date: dt.date, months: int, expected: dt.date):
    assert add_months(date, months) == expected


def test_every_representation_gives_the_same_dates() -> None:
    dates = [c[0] for c in CASES]
    months = np.array([c[1] for c in CASES])
    expected = [c[2] for c in CASES]
    d64 = np.array(dates, dtype="datetime64[D]")
    assert add_months_datetime64(d64, months).tolist() == expected
    days = d64.astype(np.int64)
    assert add_months_days(days, months).astype("datetime64[D]").tolist() == expected
    for (date, k, want), got_days in zip(CASES, add_months_days(days, months), strict=True):
        assert add_months_days(np.array([(date - D(1970, 1, 1)).days]), k)[0] == got_days
        assert want == D(1970, 1, 1) + dt.timedelta(days=int(got_days))
    s = pd.Series(pd.to_datetime(dates), index=range(10, 10 + len(dates)))
    for k in (-18, -1, 1, 12):
        out = add_months_series(s, k)
        assert out.dtype == "datetime64[s]"
        assert list(out.index) == list(s.index)
        assert out.dt.date.tolist() == [add_months(d, k) for d in dates]


def test_engine_expression_agrees_with_python() -> None:
    dates = [c[0] for c in CASES]
    months = [c[1] for c in CASES]
    t = ibis.memtable({"d": dates, "k": months}).cast({"d": "date", "k": "int64"})
    con = ibis.duckdb.connect()
    res = con.execute(
        t.select(
            by_row=add_months_expr(t.d, t.k),
            minus_one=add_months_expr(t.d, -1),
            mi=month_index_expr(t.d),
        )
    )
    assert pd.to_datetime(res["by_row"]).dt.date.tolist() == [c[2] for c in CASES]
    assert pd.to_datetime(res["minus_one"]).dt.date.tolist() == [add_months(d, -1) for d in dates]
    assert res["mi"].tolist() == [month_index(d) for d in dates]


def test_month_index_counts_calendar_months() -> None:
    assert month_index(D(2024, 1, 1)) - month_index(D(2023, 12, 31)) == 1
    assert month_index(D(1970, 1, 1)) == 1970 * 12
    dates = [D(1970, 1, 1), D(2019, 4, 30), D(2024, 12, 31)]
    want = [month_index(d) for d in dates]
    assert month_index_datetime64(np.array(dates, dtype="datetime64[D]")).tolist() == want
    s = pd.Series(pd.to_datetime(dates).astype("datetime64[s]"))
    assert month_index_series(s).tolist() == want


@settings(max_examples=200, deadline=None)
@given(
    date=st.dates(min_value=D(1900, 1, 1), max_value=D(2199, 12, 31)),
    months=st.integers(min_value=-600, max_value=600),
)
def test_python_and_numpy_forms_agree(date: dt.date, months: int) -> None:
    want = add_months(date, months)
    got = add_months_datetime64(np.array([date], dtype="datetime64[D]"), months)[0]
    assert got.item() == want
    assert want.day == min(date.day, calendar.monthrange(want.year, want.month)[1])
    assert month_index(want) - month_index(date) == months

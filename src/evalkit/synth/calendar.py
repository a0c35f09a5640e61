"""The synthetic county's calendar: six years of calendar months, dates as integer days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

EPOCH = dt.date(1970, 1, 1)
NONE = np.iinfo(np.int32).max  # "no date" in int32 date arrays


def to_days(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def add_months(d: dt.date, months: int) -> dt.date:
    """Add calendar months, clamping the day to the month's length (31 Jan + 1 = 28/29 Feb)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(d.day, last))


def add_months_days(days: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """Vectorised :func:`add_months` on int day numbers (datetime64 month arithmetic, clamped)."""
    d = np.asarray(days).astype("datetime64[D]")
    month_start = d.astype("datetime64[M]")
    day_of_month = (d - month_start.astype("datetime64[D]")).astype(np.int64)
    target = month_start + np.asarray(months).astype("timedelta64[M]")
    next_start = (target + np.timedelta64(1, "M")).astype("datetime64[D]")
    start = target.astype("datetime64[D]")
    length = (next_start - start).astype(np.int64)
    out = start + np.minimum(day_of_month, length - 1).astype("timedelta64[D]")
    return out.astype(np.int64)


@dataclass(frozen=True)
class Calendar:
    """Study period: ``n_months`` calendar months from ``start``; referrals in months 24..59."""

    start: dt.date = dt.date(2019, 4, 1)
    n_months: int = 72
    referral_first_month: int = 24  # 0-based: month 25 of the six years
    referral_last_month: int = 59  # month 60: every participant has 12 months of follow-up

    @property
    def month_starts(self) -> np.ndarray:
        """Day number of the first day of each month, plus the day after the last month."""
        return np.array([to_days(add_months(self.start, m)) for m in range(self.n_months + 1)])

    @property
    def month_lengths(self) -> np.ndarray:
        """Days in each calendar month."""
        return np.diff(self.month_starts)

    @property
    def end(self) -> dt.date:
        """Last day of the study period (the extract date)."""
        return add_months(self.start, self.n_months) - dt.timedelta(days=1)

    @property
    def calendar_month_of_year(self) -> np.ndarray:
        """1..12 for each study month."""
        return np.array([(self.start.month - 1 + m) % 12 + 1 for m in range(self.n_months)])

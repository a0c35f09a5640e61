"""The synthetic county's calendar: six years of calendar months, dates as integer days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# Calendar-month arithmetic is evalkit.dates's (one definition); re-exported for synth.generate.
from evalkit.dates import add_months
from evalkit.dates import add_months_days as add_months_days

EPOCH = dt.date(1970, 1, 1)
NONE = np.iinfo(np.int32).max  # "no date" in int32 date arrays


def to_days(d: dt.date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


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

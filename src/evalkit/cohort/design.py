"""The cohort's design options: risk sets, event-month convention and the index day.

Kept in ``Cohort.spec`` by :func:`evalkit.cohort.build_cohort` (docs/decisions/cohort.md).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["INDEX_DAY", "RISK_SETS", "Design"]

#: Risk-set designs: candidate rows per ISO week (default) or per calendar month (earlier).
RISK_SETS: tuple[str, ...] = ("week", "month")
#: What the index day's own contacts are: left out (default) or baseline use.
INDEX_DAY: tuple[str, ...] = ("excluded", "baseline")


@dataclass(frozen=True)
class Design:
    """The cohort's design options (kept in ``spec``): risk sets and event-month convention."""

    risk_set: str = "week"
    event_months: str = "day_after"
    index_day: str = "excluded"

    @property
    def exclude_index_day(self) -> bool:
        """Whether the index day's contacts are left out of the prior windows and month -1."""
        return self.index_day == "excluded" and self.event_months == "day_after"

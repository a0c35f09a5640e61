"""What the two designs' power results share: tidy columns, the question solved, count text."""

from __future__ import annotations

from typing import Literal

__all__ = ["TIDY_COLUMNS", "SolvedFor", "format_count"]

#: Columns of ``tidy()`` for both result classes.
TIDY_COLUMNS: tuple[str, ...] = ("term", "estimate", "scale")

#: The question a power result answers.
SolvedFor = Literal["mde", "power", "sample_size"]


def format_count(x: float) -> str:
    """A head count for a sentence: rounded, with thousands separators (``1,234``)."""
    return f"{round(x):,}"

"""Errors that stop intake."""

from __future__ import annotations

__all__ = ["IntakeError"]


class IntakeError(ValueError):
    """Intake cannot go on: a file or column is missing or unreadable.

    The message always names the file and, where one applies, the column or line.
    """

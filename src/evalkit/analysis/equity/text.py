"""Plain-text pieces the inequalities results share: count labels and the summary layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["n_label", "summary_text"]


def n_label(n: Any) -> str:
    """``n=12``, or ``n=*`` for a suppressed (missing) count, for figure labels.

    Examples
    --------
    >>> n_label(12.0), n_label(None), n_label(float("nan"))
    ('n=12', 'n=*', 'n=*')
    """
    try:
        return f"n={int(n)}"
    except (TypeError, ValueError):
        return "n=*"


def summary_text(head: Sequence[str], blocks: Sequence[str], notes: Sequence[str]) -> str:
    """A result's summary: header lines, each block after a blank line, then ``- note`` lines.

    The notes follow a blank line even when there are none (the layout every inequalities
    summary has always had).

    Examples
    --------
    >>> print(summary_text(["Title"], ["a table"], ["a note"]))
    Title
    <BLANKLINE>
    a table
    <BLANKLINE>
    - a note
    """
    lines = list(head)
    for block in blocks:
        lines += ["", block]
    return "\n".join([*lines, "", *[f"- {n}" for n in notes]])

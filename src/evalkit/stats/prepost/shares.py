"""Reliable or meaningful change: which episodes improved, stayed the same or deteriorated.

A change counts as an improvement when it moves in the better direction by at least the
threshold (``>=``), a deterioration likewise in the other direction; without a threshold any
non-zero change counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "CATEGORIES",
    "ChangeThreshold",
    "Direction",
    "change_categories",
    "choose_threshold",
    "threshold_note",
]

#: Which way of an instrument's scale is better.
Direction = Literal["higher", "lower"]
#: Categories of an individual change, in the order results report them.
CATEGORIES: tuple[str, ...] = ("improved", "unchanged", "deteriorated")
#: Tolerance for comparing a change with a threshold (scores are sums of whole responses).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class ChangeThreshold:
    """The individual change threshold the shares use (all ``None``: any change counts)."""

    value: float | None
    kind: str | None
    source: str | None


def change_categories(
    change: np.ndarray, direction: Direction, threshold: float | None
) -> np.ndarray:
    """Categorise changes as improved, unchanged or deteriorated (direction, threshold).

    Examples
    --------
    >>> import numpy as np
    >>> change_categories(np.array([3.0, -1.0, 0.0]), "lower", 2.0).tolist()
    ['deteriorated', 'unchanged', 'unchanged']
    """
    better = change if direction == "higher" else -change
    cut = TOLERANCE if threshold is None else threshold - TOLERANCE
    cat = np.full(change.shape, "unchanged", dtype=object)
    if threshold is None:
        cat[better > cut] = "improved"
        cat[better < -cut] = "deteriorated"
    else:
        cat[better >= cut] = "improved"
        cat[better <= -cut] = "deteriorated"
    return cat


def choose_threshold(
    definition_threshold: ChangeThreshold, threshold: float | Literal["definition", "none"]
) -> ChangeThreshold:
    """The threshold a call asks for: the definition's, a value given in the call, or none.

    Raises
    ------
    ValueError
        If ``threshold`` is a number not above 0 or a string other than ``"definition"`` and
        ``"none"``.
    """
    if threshold == "none":
        return ChangeThreshold(None, None, None)
    if not isinstance(threshold, str):
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        return ChangeThreshold(float(threshold), "user_supplied", "given in the call")
    if threshold != "definition":
        raise ValueError("threshold must be a number, 'definition' or 'none'")
    return definition_threshold


def threshold_note(threshold: ChangeThreshold) -> str:
    """The note saying which threshold the shares use."""
    if threshold.value is None:
        return (
            "No reliable or meaningful change threshold is defined for this measure: the "
            "shares count any change in the better direction as improved, any change in the "
            "other as deteriorated."
        )
    return (
        f"Shares use the {str(threshold.kind).replace('_', ' ')} threshold of "
        f"{threshold.value:g} points ({threshold.source})."
    )

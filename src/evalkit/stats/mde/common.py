"""What the two designs' power results share: tidy columns, the question solved, count text."""

from __future__ import annotations

from typing import Any, Literal

from evalkit.jsonsafe import json_safe

__all__ = ["TIDY_COLUMNS", "SolvedFor", "format_count", "power_dict"]

#: Columns of ``tidy()`` for both result classes.
TIDY_COLUMNS: tuple[str, ...] = ("term", "estimate", "scale")

#: The question a power result answers.
SolvedFor = Literal["mde", "power", "sample_size"]


def format_count(x: float) -> str:
    """A head count for a sentence: rounded, with thousands separators (``1,234``)."""
    return f"{round(x):,}"


def power_dict(
    result: Any,
    analysis: str,
    *,
    before_alpha: dict[str, Any] | None = None,
    after_power: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON-safe dict both power results share, with each design's own fields in place.

    Keys in order: ``analysis``, ``solved_for``, one per tidy term, ``before_alpha``, ``alpha``,
    ``target_power``, ``after_power``, ``outcome``, ``sentence``, ``spec``, ``notes``.
    """
    out = {
        "analysis": analysis,
        "solved_for": result.solved_for,
        **{r.term: r.estimate for r in result.tidy().itertuples(index=False)},
        **(before_alpha or {}),
        "alpha": result.alpha,
        "target_power": result.target_power,
        **(after_power or {}),
        "outcome": result.outcome,
        "sentence": result.sentence(),
        "spec": result.spec,
        "notes": list(result.notes),
    }
    return json_safe(out)

"""Wellbeing: validated instrument scoring and pre/post analysis (methods.md section 2).

The work lives in two modules, re-exported here so that ``evalkit.prepost`` and
``evalkit.estimation.wellbeing.score_measures`` both work:

- :mod:`evalkit.estimation.scoring`: :func:`score_measures` turns the long-format ``measures``
  table into one score per episode, instrument and timepoint under each instrument's
  definition (items, reverse scoring, conversion table, missing-item rule).
- :mod:`evalkit.estimation.prepost`: :func:`prepost` estimates the paired change with its
  effect size, reliable/meaningful change shares, follow-up completeness, the
  completer/non-completer baseline comparison and results by IMD quintile.
"""

from __future__ import annotations

from evalkit.estimation.prepost import PrePostResult, dz_confidence_interval, prepost
from evalkit.estimation.scoring import (
    MEASURE_COLUMNS,
    REASON_NO_ITEMS,
    REASON_NOT_IN_TABLE,
    REASON_TOO_MANY_MISSING,
    SCORE_COLUMNS,
    ScoringError,
    goal_columns,
    score_measures,
)

__all__ = [
    "MEASURE_COLUMNS",
    "REASON_NOT_IN_TABLE",
    "REASON_NO_ITEMS",
    "REASON_TOO_MANY_MISSING",
    "SCORE_COLUMNS",
    "PrePostResult",
    "ScoringError",
    "dz_confidence_interval",
    "goal_columns",
    "prepost",
    "score_measures",
]

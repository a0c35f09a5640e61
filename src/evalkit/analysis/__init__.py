"""Per-programme composition: cohort -> match -> did, wellbeing, equity, economics."""

from evalkit.analysis.study import Study, load_study
from evalkit.analysis.wellbeing import (
    wellbeing,
    wellbeing_all,
    wellbeing_entries,
    wellbeing_instruments,
    wellbeing_scores,
)

__all__ = [
    "Study",
    "load_study",
    "wellbeing",
    "wellbeing_all",
    "wellbeing_entries",
    "wellbeing_instruments",
    "wellbeing_scores",
]

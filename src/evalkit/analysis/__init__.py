"""Per-programme composition: cohort -> match -> did, wellbeing, equity, economics."""

from evalkit.analysis.economics import EconomicsResult, economics
from evalkit.analysis.equity import (
    outcomes_by_deprivation,
    pathway,
    reach,
    reach_all,
    referral_trends,
)
from evalkit.analysis.study import Study, load_study
from evalkit.analysis.wellbeing import (
    wellbeing,
    wellbeing_all,
    wellbeing_entries,
    wellbeing_instruments,
    wellbeing_scores,
)

__all__ = [
    "EconomicsResult",
    "Study",
    "economics",
    "load_study",
    "outcomes_by_deprivation",
    "pathway",
    "reach",
    "reach_all",
    "referral_trends",
    "wellbeing",
    "wellbeing_all",
    "wellbeing_entries",
    "wellbeing_instruments",
    "wellbeing_scores",
]

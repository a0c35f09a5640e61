"""Per-programme composition: cohort -> match -> did, wellbeing, equity, economics."""

from evalkit.analysis import equity
from evalkit.analysis.economics import EconomicsResult, economics
from evalkit.analysis.equity import (
    outcomes_by_deprivation as outcomes_by_deprivation,
)
from evalkit.analysis.equity import (
    pathway as pathway,
)
from evalkit.analysis.equity import (
    reach as reach,
)
from evalkit.analysis.equity import (
    reach_all as reach_all,
)
from evalkit.analysis.equity import (
    referral_trends as referral_trends,
)
from evalkit.analysis.study import Study, load_study
from evalkit.analysis.wellbeing import (
    wellbeing,
    wellbeing_all,
    wellbeing_entries,
    wellbeing_instruments,
    wellbeing_scores,
)

#: The equity analyses are exported as the equity package names them.
__all__ = [
    "EconomicsResult",
    "Study",
    "economics",
    "load_study",
    *equity.ANALYSES,
    "wellbeing",
    "wellbeing_all",
    "wellbeing_entries",
    "wellbeing_instruments",
    "wellbeing_scores",
]

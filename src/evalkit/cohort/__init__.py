"""evalkit.cohort: eligibility, index dates, covariates at index and person-month panels.

>>> from evalkit.cohort import build_cohort, build_panel  # doctest: +SKIP
>>> cohort = build_cohort("data/processed", programme, unit_costs=costs)  # doctest: +SKIP
>>> panel = build_panel(cohort, matched)  # doctest: +SKIP

Rules and reasons: ``docs/decisions/cohort.md``.
"""

from evalkit.cohort.eligibility import EXCLUSION_REASONS
from evalkit.cohort.panel import (
    EVENT_MONTHS,
    build_panel,
    followup_before_own_referral,
    naive_panel,
)
from evalkit.cohort.prior_utilisation import PRIOR_WINDOWS
from evalkit.cohort.result import Cohort
from evalkit.cohort.risk_set import RISK_SETS, build_cohort, placebo_cohort
from evalkit.cohort.tables import CohortError

__all__ = [
    "EVENT_MONTHS",
    "EXCLUSION_REASONS",
    "PRIOR_WINDOWS",
    "RISK_SETS",
    "Cohort",
    "CohortError",
    "build_cohort",
    "build_panel",
    "followup_before_own_referral",
    "naive_panel",
    "placebo_cohort",
]

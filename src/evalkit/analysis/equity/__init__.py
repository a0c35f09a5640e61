"""Inequalities for a programme: reach, pathway, outcomes by deprivation, referral trends.

The analyses of docs/design/methods.md section 3.

Four analyses on a :class:`~evalkit.analysis.study.Study`, each returning a frozen result
(an :class:`evalkit.stats.result.Result`: ``tidy()``, ``summary()``, ``plot()``, ``to_dict()``):

- :func:`reach` / :func:`reach_all` (:mod:`.reach_rates`): participants per eligible
  person-year by IMD quintile, ethnicity group, sex and age band, as Poisson rate ratios against
  a reference group.
- :func:`pathway` (:mod:`.pathway_steps`): referred -> started -> attended at least half the
  sessions -> completed -> baseline measure -> follow-up measure, overall and by IMD quintile or
  ethnicity group.
- :func:`outcomes_by_deprivation` (:mod:`.deprivation_outcomes`): the matched DiD rate ratio
  and the wellbeing change by IMD quintile (adjacent quintiles pooled when numbers are small),
  with a heterogeneity test.
- :func:`referral_trends` (:mod:`.referrals`): referrals per month by source and the wait from
  referral to start.

The groups, their order and the age bands are in :mod:`.groups`. Eligibility, index dates and
group definitions are the cohort layer's (:mod:`evalkit.cohort.eligibility`,
:func:`evalkit.cohort.build_cohort`); nothing here defines a new eligibility rule. Counts are
raw: disclosure control is applied by ``reporting``.
"""

from evalkit.analysis.equity.deprivation_outcomes import (
    MIN_GROUP_EVENTS,
    MIN_GROUP_PARTICIPANTS,
    POOLING_SCHEMES,
    OutcomesByDeprivationResult,
    outcomes_by_deprivation,
)
from evalkit.analysis.equity.groups import (
    AGE_BAND_STARTS,
    ETHNICITY_ORDER,
    GROUPS,
    age_bands,
    main_instrument,
)
from evalkit.analysis.equity.pathway_steps import PATHWAY_STEPS, PathwayResult, pathway
from evalkit.analysis.equity.reach_rates import (
    ReachAllResult,
    ReachResult,
    reach,
    reach_all,
)
from evalkit.analysis.equity.referrals import ReferralTrendsResult, referral_trends

__all__ = [
    "AGE_BAND_STARTS",
    "ETHNICITY_ORDER",
    "GROUPS",
    "MIN_GROUP_EVENTS",
    "MIN_GROUP_PARTICIPANTS",
    "PATHWAY_STEPS",
    "POOLING_SCHEMES",
    "OutcomesByDeprivationResult",
    "PathwayResult",
    "ReachAllResult",
    "ReachResult",
    "ReferralTrendsResult",
    "age_bands",
    "main_instrument",
    "outcomes_by_deprivation",
    "pathway",
    "reach",
    "reach_all",
    "referral_trends",
]

#: The analysis functions of this package (``evalkit.analysis`` exports them too).
ANALYSES: tuple[str, ...] = (
    "outcomes_by_deprivation",
    "pathway",
    "reach",
    "reach_all",
    "referral_trends",
)

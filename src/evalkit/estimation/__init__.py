"""Statistical engines on any DataFrame: DiD, pre/post, scoring, E-values, rates, economics.

Nothing here imports evalkit's domain modules (synth, intake, cohort, analysis, reporting), so
academics can use these functions on their own data.
"""

from evalkit.estimation.did import DidResult, did
from evalkit.estimation.economics import (
    MatchedDifferenceResult,
    ReturnOnInvestmentResult,
    WellbyResult,
    cost_per_participant,
    load_wellby,
    matched_cost_difference,
    return_on_investment,
    wellby_valuation,
)
from evalkit.estimation.evalue import EValueResult, evalue, evalue_rr
from evalkit.estimation.rates import (
    HeterogeneityResult,
    RateRatio,
    heterogeneity,
    rate_ratio,
    rate_ratios,
)
from evalkit.estimation.wellbeing import PrePostResult, ScoringError, prepost, score_measures

__all__ = [
    "DidResult",
    "EValueResult",
    "HeterogeneityResult",
    "MatchedDifferenceResult",
    "PrePostResult",
    "RateRatio",
    "ReturnOnInvestmentResult",
    "ScoringError",
    "WellbyResult",
    "cost_per_participant",
    "did",
    "evalue",
    "evalue_rr",
    "heterogeneity",
    "load_wellby",
    "matched_cost_difference",
    "prepost",
    "rate_ratio",
    "rate_ratios",
    "return_on_investment",
    "score_measures",
    "wellby_valuation",
]

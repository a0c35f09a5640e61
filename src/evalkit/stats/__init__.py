"""Domain-free statistical engines on any DataFrame.

Matching (:func:`match`), difference-in-differences (:func:`did`, and :func:`stacked_did` on
calendar-time panels), censoring weights (:func:`ipcw`), naive pre/post, paired pre/post change
on scored questionnaires (:func:`prepost`, :func:`score_measures`), rates and rate ratios,
E-values, Rambachan-Roth bounds (:func:`relative_magnitudes`), minimum detectable effects and
cost differences with their bootstrap. Nothing here imports evalkit's domain modules (config,
contract, synth, intake, cohort, analysis, reporting; an import-linter contract checks it):
column names and instrument rules are arguments, so academics can use these functions on their
own data.
"""

from evalkit.stats.censoring import IpcwResult, ipcw
from evalkit.stats.costs import (
    MatchedDifferenceResult,
    ReturnOnInvestmentResult,
    WellbyResult,
    cost_per_participant,
    matched_cost_difference,
    return_on_investment,
    wellby_valuation,
)
from evalkit.stats.did import DidResult, did
from evalkit.stats.evalue import EValueResult, evalue, evalue_rr
from evalkit.stats.honest import HonestResult, relative_magnitudes
from evalkit.stats.matching import MatchResult, match
from evalkit.stats.naive import NaiveResult, naive_prepost
from evalkit.stats.prepost import PrePostResult, dz_confidence_interval, prepost
from evalkit.stats.rates import (
    HeterogeneityResult,
    RateRatio,
    heterogeneity,
    rate_ratio,
    rate_ratios,
)
from evalkit.stats.scoring import ScoringError, goal_columns, score_measures
from evalkit.stats.stacked import StackedDidResult, stacked_did

# The scoring constants (MEASURE_COLUMNS, the REASON_* codes) are in evalkit.stats.scoring.
__all__ = [
    "DidResult",
    "EValueResult",
    "HeterogeneityResult",
    "HonestResult",
    "IpcwResult",
    "MatchResult",
    "MatchedDifferenceResult",
    "NaiveResult",
    "PrePostResult",
    "RateRatio",
    "ReturnOnInvestmentResult",
    "ScoringError",
    "StackedDidResult",
    "WellbyResult",
    "cost_per_participant",
    "did",
    "dz_confidence_interval",
    "evalue",
    "evalue_rr",
    "goal_columns",
    "heterogeneity",
    "ipcw",
    "match",
    "matched_cost_difference",
    "naive_prepost",
    "prepost",
    "rate_ratio",
    "rate_ratios",
    "relative_magnitudes",
    "return_on_investment",
    "score_measures",
    "stacked_did",
    "wellby_valuation",
]

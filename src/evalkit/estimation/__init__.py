"""Statistical engines on any DataFrame: DiD, pre/post wellbeing, scoring, E-values.

Nothing here imports evalkit's domain modules (synth, intake, cohort, analysis, reporting), so
academics can use these functions on their own data.
"""

from evalkit.estimation.did import DidResult, did
from evalkit.estimation.evalue import EValueResult, evalue, evalue_rr
from evalkit.estimation.wellbeing import PrePostResult, ScoringError, prepost, score_measures

__all__ = [
    "DidResult",
    "EValueResult",
    "PrePostResult",
    "ScoringError",
    "did",
    "evalue",
    "evalue_rr",
    "prepost",
    "score_measures",
]

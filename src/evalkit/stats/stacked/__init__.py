"""Stacked difference-in-differences for calendar-time panels: :func:`stacked_did`.

:mod:`~evalkit.stats.stacked.stack` builds the stacked data (one sub-experiment per adoption
time, clean controls, trimming, the Q-weights of Wing, Freedman & Hollingsworth 2024);
:mod:`~evalkit.stats.stacked.estimator` fits the event study on it with the engines of
:func:`evalkit.stats.did.did`; :mod:`~evalkit.stats.stacked.result` holds
:class:`StackedDidResult`. Domain-free: column names are arguments.
"""

from evalkit.stats.stacked.estimator import REFERENCE_PERIOD, stacked_did
from evalkit.stats.stacked.result import ATT_TERM, StackedDidResult
from evalkit.stats.stacked.stack import STACK_COLUMNS, SUB_EXPERIMENT_COLUMNS

__all__ = [
    "ATT_TERM",
    "REFERENCE_PERIOD",
    "STACK_COLUMNS",
    "SUB_EXPERIMENT_COLUMNS",
    "StackedDidResult",
    "stacked_did",
]

"""Pre/post analysis of a scored instrument: paired change, effect size, shares, attrition.

``prepost()`` takes the scores table (:func:`~evalkit.stats.scoring.score_measures`, or any
DataFrame with an episode, instrument, timepoint and score column, named by its ``*_col``
arguments) and the instrument definitions, and returns a frozen :class:`PrePostResult`. The
estimand is the complete-case mean within-episode change from ``before`` to ``after`` among
episodes with a scorable score at both. The report states how complete follow-up was and how
completers differed at baseline, because complete-case change is biased when drop-out depends
on the outcome.

Modules: :mod:`.estimate` (:func:`prepost`), :mod:`.episodes` (the episode table),
:mod:`.paired` (mean change, t interval, detectable change), :mod:`.effect_size` (d_z and its
interval), :mod:`.shares` (improved, unchanged, deteriorated), :mod:`.completeness`
(completers against non-completers), :mod:`.definition` (what the definition says) and
:mod:`.result` (:class:`PrePostResult`).
"""

from evalkit.stats.prepost.effect_size import (
    EFFECT_SIZE_METHOD,
    EFFECT_SIZE_NAME,
    dz_confidence_interval,
)
from evalkit.stats.prepost.estimate import prepost
from evalkit.stats.prepost.paired import mde_standardised, minimum_detectable_change
from evalkit.stats.prepost.result import PrePostResult

__all__ = [
    "EFFECT_SIZE_METHOD",
    "EFFECT_SIZE_NAME",
    "PrePostResult",
    "dz_confidence_interval",
    "mde_standardised",
    "minimum_detectable_change",
    "prepost",
]

"""Wellbeing for a programme: score its questionnaires and run pre/post per instrument.

Composes :func:`evalkit.stats.scoring.score_measures` and
:func:`evalkit.stats.prepost.prepost` on a :class:`~evalkit.analysis.study.Study`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from evalkit.analysis.study import Study
from evalkit.config import instruments
from evalkit.stats import PrePostResult, prepost, score_measures


def wellbeing_scores(study: Study) -> pd.DataFrame:
    """Scores per index episode, instrument and timepoint, with IMD quintile and group columns."""
    defs = instruments()
    scores = score_measures(study.measures, defs)
    episodes = study.index_episodes[
        ["episode_id", "imd_quintile", "ethnicity_group", "sex", "age", "discharge_reason"]
    ]
    return scores.merge(episodes, on="episode_id", how="left", validate="many_to_one")


def wellbeing_instruments(study: Study) -> list[str]:
    """The programme's instruments as reported: ONS4 items separately (``ons4_<item>``)."""
    defs = instruments()
    names: list[str] = []
    for name in study.programme.instruments:
        d = defs[name]
        names += [f"{name}_{i}" for i in d.items] if d.reported_separately else [name]
    return names


def wellbeing(
    study: Study,
    instrument: str,
    before: str = "baseline",
    after: str = "end",
    *,
    scores: pd.DataFrame | None = None,
) -> PrePostResult:
    """Paired pre/post change of one instrument among the programme's participants.

    There is no control group for questionnaires, so this is a change, not an effect.
    """
    scores = wellbeing_scores(study) if scores is None else scores
    return prepost(
        scores, instrument, before=before, after=after, definitions=instruments(), by="imd_quintile"
    )


def wellbeing_all(study: Study) -> dict[str, PrePostResult]:
    """Pre/post for every instrument (and separately reported item) of the programme."""
    scores = wellbeing_scores(study)
    return {name: wellbeing(study, name, scores=scores) for name in wellbeing_instruments(study)}


def wellbeing_entries(results: dict[str, PrePostResult]) -> list[dict[str, Any]]:
    """The ``wellbeing`` list of ``results.json`` (data-contract shape plus extra keys)."""
    return [res.to_dict() for res in results.values()]

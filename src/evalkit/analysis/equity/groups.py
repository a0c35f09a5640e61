"""The groups inequalities are reported by: IMD quintile, ethnicity group, sex and age band.

Their names, reporting order and labels, the programme's age bands, and the main instrument the
pathway and outcomes-by-deprivation analyses measure wellbeing with. Shared by every analysis
of the package.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.study import Study
from evalkit.analysis.wellbeing import wellbeing_instruments
from evalkit.cohort.eligibility import UNKNOWN_ETHNICITY
from evalkit.config import Programme
from evalkit.contract import SEXES

__all__ = [
    "AGE_BAND_STARTS",
    "ETHNICITY_ORDER",
    "GROUPS",
    "GROUP_LABEL",
    "age_band",
    "age_bands",
    "level_order",
    "main_instrument",
]

#: Groups reach is reported by (data contract ``reach.group``).
GROUPS: tuple[str, ...] = ("imd_quintile", "ethnicity_group", "sex", "age_band")

#: Reporting order of the ONS five high-level ethnicity groups, then not stated / not known.
ETHNICITY_ORDER: tuple[str, ...] = ("White", "Mixed", "Asian", "Black", "Other", UNKNOWN_ETHNICITY)

#: Where age bands start after the programme's minimum age (the first band starts at
#: ``eligibility.age_min``; the last is open). Adults: the bands NHS England's population
#: health tables use (18-34, 35-49, 50-64, 65-74, 75+). Children and young people (a programme
#: whose ``age_max`` is under 18): school stages - primary (to 10), lower secondary (11-13),
#: GCSE years (14-15) and post-16 (16+).
AGE_BAND_STARTS: dict[str, tuple[int, ...]] = {
    "adult": (35, 50, 65, 75),
    "child": (11, 14, 16),
}

#: How each group is named in headers and figure labels.
GROUP_LABEL: dict[str, str] = {
    "imd_quintile": "IMD quintile",
    "ethnicity_group": "Ethnicity group",
    "sex": "Sex",
    "age_band": "Age band",
}


def age_bands(programme: Programme) -> tuple[tuple[int, ...], list[str]]:
    """Age band starts and labels for a programme, from :data:`AGE_BAND_STARTS`.

    Ages are the cohort layer's ``age``: index year minus year of birth, which may exceed the
    age on the index date by one (so a children's programme for 8-17 year olds sees ages up to
    18, all in the open top band).

    Parameters
    ----------
    programme : Programme

    Returns
    -------
    (tuple of int, list of str)
        Lower bounds of the bands and their labels (``"18-34"``, ..., ``"75+"``).

    Examples
    --------
    >>> from evalkit.config import load_programme
    >>> age_bands(load_programme("cyp"))[1]
    ['8-10', '11-13', '14-15', '16+']
    """
    e = programme.eligibility
    kind = "child" if e.age_max < 18 else "adult"
    starts = (e.age_min, *[s for s in AGE_BAND_STARTS[kind] if e.age_min < s <= e.age_max])
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(starts)]
    labels.append(f"{starts[-1]}+")
    return starts, labels


def age_band(age: pd.Series, starts: Sequence[int], labels: list[str]) -> pd.Series:
    """The band label of each age (bands from :func:`age_bands`).

    An age below the first start (a year-based age can sit one below ``age_min``) falls in the
    first band.

    Examples
    --------
    >>> age_band(pd.Series([17, 18, 40, 80]), (18, 35, 75), ["18-34", "35-74", "75+"]).tolist()
    ['18-34', '18-34', '35-74', '75+']
    """
    idx = np.searchsorted(np.asarray(starts), age.to_numpy(dtype=float), side="right") - 1
    idx = np.clip(idx, 0, len(labels) - 1)  # year-based age can sit one below age_min
    return pd.Series(np.asarray(labels, dtype=object)[idx], index=age.index)


def level_order(group: str, levels: Sequence[Any], programme: Programme) -> list[str]:
    """The levels of a group (as strings) in reporting order; unknown levels last, sorted.

    IMD quintiles 1 to 5, ethnicity groups in :data:`ETHNICITY_ORDER`, sexes in the data
    contract's order, age bands youngest first.

    Examples
    --------
    >>> from evalkit.config import load_programme
    >>> level_order("imd_quintile", [5, 1, "<NA>", 3], load_programme("mindsong"))
    ['1', '3', '5', '<NA>']
    """
    levels = [str(x) for x in levels]
    if group == "imd_quintile":
        order = [str(k) for k in range(1, 6)]
    elif group == "ethnicity_group":
        order = list(ETHNICITY_ORDER)
    elif group == "sex":
        order = list(SEXES)
    else:
        order = age_bands(programme)[1]
    return [x for x in order if x in levels] + sorted(x for x in levels if x not in order)


def main_instrument(study: Study) -> str:
    """The programme's main instrument as scored: the first of its ``instruments`` list.

    An instrument whose items are reported separately (ONS4) is represented by its first
    item (``ons4_life_satisfaction``).
    """
    return wellbeing_instruments(study)[0]

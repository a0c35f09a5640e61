"""WELLBY valuation by intention to treat: everyone referred, non-responders at no change.

The minimum dataset has a life-satisfaction change only for people who answered the baseline
and the end questionnaire. Valuing their mean change for every person referred assumes that
the people without a follow-up changed as much, which is optimistic: people who leave a
programme early, or do not answer, are unlikely to have gained most. The central figure is
therefore the intention-to-treat change over everyone referred, the people without a change
counted as no change, and the completers' figure is reported beside it as an upper bound
(docs/decisions/economics-bootstrap.md). Both are uncontrolled before/after changes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from evalkit.definitions.wellby import WellbyValues
from evalkit.stats.costs.wellby import WellbyResult, wellby_valuation

__all__ = ["MeanChange", "intention_to_treat_change", "mean_change", "wellby_itt_valuation"]


@dataclass(frozen=True)
class MeanChange:
    """A mean change with its one-sample t interval (:func:`scipy.stats.ttest_1samp`)."""

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    n: int


def mean_change(values: Any, *, level: float = 0.95) -> MeanChange:
    """Mean of ``values`` with its t-based CI (the paired pre/post interval on changes).

    Examples
    --------
    >>> m = mean_change([1.0, 2.0, 3.0])
    >>> m.estimate, round(m.std_error, 6), m.n
    (2.0, 0.57735, 3)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError("need at least two finite values")
    res = stats.ttest_1samp(x, 0.0)
    ci = res.confidence_interval(confidence_level=level)
    return MeanChange(
        estimate=float(x.mean()),
        std_error=float(stats.sem(x)),
        ci_low=float(ci.low),
        ci_high=float(ci.high),
        n=len(x),
    )


def intention_to_treat_change(changes: Any, n_referred: int, *, level: float = 0.95) -> MeanChange:
    """Mean change over everyone referred, people without a measured change at zero.

    The ``changes`` of the responders are padded with zeros to ``n_referred`` values; the
    mean is then the responders' mean times ``responders / referred`` exactly, and the CI is
    the one-sample t interval of the padded values, so it carries the uncertainty of who
    responded as well as of the changes (the same interval a trial analysis imputing no change
    would give).

    Parameters
    ----------
    changes : array-like
        Change (after − before) of each person with both measures.
    n_referred : int
        People referred (each counted once), at least ``len(changes)``.
    level : float
        Confidence level.

    Returns
    -------
    MeanChange
        ``n`` is ``n_referred``.

    Examples
    --------
    >>> intention_to_treat_change([1.0, 2.0, 3.0], 6).estimate
    1.0
    """
    x = np.asarray(changes, dtype=float)
    n = int(n_referred)
    if x.ndim != 1 or len(x) < 2:
        raise ValueError("need at least two changes (responders)")
    if n < len(x):
        raise ValueError(f"n_referred ({n}) is below the number of changes ({len(x)})")
    return mean_change(np.concatenate([x, np.zeros(n - len(x))]), level=level)


def wellby_itt_valuation(
    changes: Any,
    n_referred: int,
    programme_cost: float,
    *,
    values: WellbyValues,
    duration_years: float | None = None,
    price_year: str | None = None,
    level: float = 0.95,
) -> WellbyResult:
    """WELLBY social value per £1, intention to treat (central) and completers (upper bound).

    Each figure is :func:`~evalkit.stats.costs.wellby_valuation` of a mean change and its CI:
    the intention-to-treat change (:func:`intention_to_treat_change`) for the result, the
    completers' mean change (:func:`mean_change`, the paired pre/post t interval) for its
    ``completers``. The ITT figure is the completers' times ``responders / referred``.

    Parameters
    ----------
    changes : array-like
        Life-satisfaction change (0-10 points) of each person with both questionnaires.
    n_referred : int
        People referred, each counted once (the programme cost's "participant").
    programme_cost : float
        Programme cost per person referred.
    values, duration_years, price_year
        As :func:`~evalkit.stats.costs.wellby_valuation`.
    level : float
        Confidence level of both changes' intervals.

    Returns
    -------
    WellbyResult
        ``basis="intention_to_treat"``, with ``n_responders``, ``n_referred`` and
        ``completers`` (the completers' valuation; ``completers_upper`` its estimate).

    Examples
    --------
    >>> from evalkit.definitions import load_wellby
    >>> r = wellby_itt_valuation([0.5, 1.5], 4, 325.0, values=load_wellby())
    >>> r.change, r.completers.change, r.estimate, r.completers_upper
    (0.5, 1.0, 20.0, 40.0)
    """
    x = np.asarray(changes, dtype=float)
    comp = mean_change(x, level=level)
    itt = intention_to_treat_change(x, n_referred, level=level)
    kw = {"values": values, "duration_years": duration_years, "price_year": price_year}
    upper = wellby_valuation(
        comp.estimate, programme_cost, change_ci=(comp.ci_low, comp.ci_high), **kw
    )
    central = wellby_valuation(
        itt.estimate,
        programme_cost,
        change_ci=(itt.ci_low, itt.ci_high),
        basis="intention_to_treat",
        **kw,
    )
    share = len(x) / itt.n
    notes = [
        *central.notes,
        f"Central figure by intention to treat: {len(x)} of {itt.n} people referred "
        f"({share:.0%}) have a change; the others count as no change. The completers' figure, "
        f"£{upper.estimate:.2f} per £1, assumes they changed as much as those measured and is "
        "an upper bound.",
    ]
    if math.isclose(share, 1.0):
        notes.append("Everyone referred has a change: the two figures coincide.")
    return dataclasses.replace(
        central,
        n_responders=len(x),
        n_referred=itt.n,
        completers=upper,
        spec={**central.spec, "level": level},
        notes=tuple(notes),
    )

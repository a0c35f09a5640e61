"""The event study of :func:`evalkit.stats.did.did`: per-period terms, table and pre-trend test.

The event study refits the DiD model with ``treated_i * 1{t == k}`` for every period k but the
reference period (and periods without both treated and control rows) in place of treated x
post. Its per-period coefficients form the table :attr:`DidResult.event_study`; the joint Wald
test that the pre-period ones are zero is the pre-trend test. By default it tests every
pre-period; ``pretrend_periods`` restricts it to some, e.g. the months a matched design did not
match on (months forced to balance by matching on prior use are equal by construction, so
their coefficients cannot test the design).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.stats.did_design import Design
from evalkit.stats.did_fit import FitOutput
from evalkit.stats.did_inference import term_rows, wald
from evalkit.stats.did_inputs import DidColumns, DidInputs

__all__ = [
    "EventStudy",
    "EventTerms",
    "add_event_terms",
    "event_study_results",
    "pretrend_codes",
]


@dataclass(frozen=True)
class EventTerms:
    """The event-study regressors added to a :class:`~evalkit.stats.did_design.Design`.

    Attributes
    ----------
    names : list of str
        Regressor columns, one per period with a coefficient, in period order.
    periods : list of int
        Time code of each column of ``names``.
    pre_codes : set of int
        Time codes of the treated units' pre-periods.
    ref_code : int
        Time code of the reference period.
    """

    names: list[str]
    periods: list[int]
    pre_codes: set[int]
    ref_code: int


@dataclass(frozen=True, eq=False)
class EventStudy:
    """The event-study table and the joint pre-trend test (see :class:`DidResult`).

    ``pretrend_periods`` are the periods whose coefficients the test covers; ``coef`` and
    ``vcov`` the per-period coefficients (log scale for Poisson) and their cluster-robust
    covariance, indexed by period, for sensitivity analyses that need the joint distribution
    (Rambachan & Roth bounds).
    """

    table: pd.DataFrame
    pretrend_stat: float
    pretrend_df: int
    pretrend_p_value: float
    denominator_df: int
    pretrend_periods: tuple[Any, ...] = ()
    coef: pd.Series | None = None
    vcov: pd.DataFrame | None = None


def _reference_code(time_levels: pd.Index, reference_period: Any, time: str) -> int:
    """Time code of ``reference_period``, or a ValueError if it is not a period."""
    try:
        return int(time_levels.get_loc(reference_period))
    except KeyError:
        raise ValueError(
            f"reference_period {reference_period!r} is not a value of {time!r}"
        ) from None


def add_event_terms(
    design: Design,
    inputs: DidInputs,
    cols: DidColumns,
    reference_period: Any,
    notes: list[str],
) -> EventTerms:
    """Add ``treated x 1{time == k}`` to ``design`` for every period k but the reference.

    Periods without both treated and control rows get no term (with a note).

    Raises
    ------
    ValueError
        If ``post`` varies within a period among the treated units (``time`` is then not time
        relative to treatment), or ``reference_period`` is not a pre-period of the treated.
    """
    time_codes, time_levels = inputs.time_codes, inputs.time_levels
    treated_rows = inputs.treated == 1
    tpost = (
        pd.Series(inputs.post[treated_rows]).groupby(time_codes[treated_rows]).agg(["min", "max"])
    )
    if (tpost["min"] != tpost["max"]).any():
        raise ValueError(
            f"event_study needs {cols.time!r} to be time relative to treatment: {cols.post!r} "
            "varies within a period among the treated units"
        )
    ref_code = _reference_code(time_levels, reference_period, cols.time)
    pre_codes = {int(c) for c in tpost.index[tpost["max"] == 0]}
    if ref_code not in pre_codes:
        raise ValueError(
            f"reference_period {reference_period!r} is not a pre-period of the treated units"
        )
    has_t = np.bincount(time_codes[treated_rows], minlength=len(time_levels)) > 0
    has_c = np.bincount(time_codes[~treated_rows], minlength=len(time_levels)) > 0
    skipped = [time_levels[k] for k in range(len(time_levels)) if not (has_t[k] and has_c[k])]
    if skipped:
        notes.append(
            f"Event study: period(s) {skipped} lack treated or control rows and have no "
            "coefficient."
        )
    names: list[str] = []
    periods: list[int] = []
    for k in range(len(time_levels)):
        if k == ref_code or not (has_t[k] and has_c[k]):
            continue
        names.append(
            design.add(f"event[{time_levels[k]}]", (treated_rows & (time_codes == k)).astype(float))
        )
        periods.append(k)
    return EventTerms(names=names, periods=periods, pre_codes=pre_codes, ref_code=ref_code)


def pretrend_codes(
    pretrend_periods: Sequence[Any] | None, terms: EventTerms, time_levels: pd.Index, time: str
) -> set[int] | None:
    """Time codes of ``pretrend_periods`` (None: every pre-period), checked.

    Raises
    ------
    ValueError
        If a period is not a value of ``time``, not a pre-period of the treated units, or the
        reference period (whose coefficient is 0 by construction).
    """
    if pretrend_periods is None:
        return None
    codes: set[int] = set()
    for period in pretrend_periods:
        try:
            code = int(time_levels.get_loc(period))
        except KeyError:
            raise ValueError(f"pretrend_periods: {period!r} is not a value of {time!r}") from None
        if code == terms.ref_code:
            raise ValueError(
                f"pretrend_periods: {period!r} is the reference period, whose coefficient is 0"
            )
        if code not in terms.pre_codes:
            raise ValueError(
                f"pretrend_periods: {period!r} is not a pre-period of the treated units"
            )
        codes.add(code)
    if not codes:
        raise ValueError("pretrend_periods is empty: give at least one pre-period, or None")
    return codes


def _table(
    rows: pd.DataFrame, codes: list[int], terms: EventTerms, model: str, time_levels: pd.Index
) -> pd.DataFrame:
    """One row per period (``EVENT_STUDY_COLUMNS``), the reference period included."""
    ref_code = terms.ref_code
    ref_value = 1.0 if model == "poisson" else 0.0
    table = pd.DataFrame(
        {
            "period": [time_levels[c] for c in codes] + [time_levels[ref_code]],
            "estimate": [*rows["estimate"], ref_value],
            "std_error": [*rows["std_error"], math.nan],
            "ci_low": [*rows["ci_low"], math.nan],
            "ci_high": [*rows["ci_high"], math.nan],
            "p_value": [*rows["p_value"], math.nan],
            "pre": [c in terms.pre_codes for c in codes] + [True],
            "reference": [False] * len(codes) + [True],
            "_code": [*codes, ref_code],
        }
    )
    return table.sort_values("_code").drop(columns="_code").reset_index(drop=True)


def _pretrend(
    es_fit: FitOutput,
    kept: list[str],
    codes: list[int],
    tested: set[int],
    model: str,
    notes: list[str],
) -> tuple[float, int, float]:
    """Joint Wald test that the coefficients of the ``tested`` periods are zero.

    Returns (statistic, df, p-value); NaN with df 0 when none of them has a coefficient.
    """
    pre_names = [n for n, c in zip(kept, codes, strict=True) if c in tested]
    if not pre_names:
        notes.append("Event study: no pre-period coefficient to test, so no pre-trend test.")
        return math.nan, 0, math.nan
    idx = [es_fit.names.index(n) for n in pre_names]
    return wald(es_fit.coef[idx], es_fit.vcov[np.ix_(idx, idx)], model, es_fit.n_clusters - 1)


def event_study_results(
    es_fit: FitOutput,
    terms: EventTerms,
    labels: dict[str, str],
    model: str,
    time_levels: pd.Index,
    notes: list[str],
    tested_codes: set[int] | None = None,
) -> EventStudy:
    """The event-study table and pre-trend test of the event-study fit ``es_fit``.

    The test covers the periods of ``tested_codes`` (time codes, from :func:`pretrend_codes`;
    None: every pre-period). The engine's warnings, any period coefficient dropped as
    collinear and any tested period without a coefficient are added to ``notes``.
    """
    for message in dict.fromkeys(es_fit.messages):
        notes.append(f"Estimator warning (event study): {message.strip()}")
    kept = [n for n in terms.names if n in es_fit.names]
    if len(kept) < len(terms.names):
        notes.append(
            f"Event study: {len(terms.names) - len(kept)} period coefficient(s) were dropped "
            "as collinear."
        )
    rows = term_rows(kept, es_fit, model, es_fit.n_clusters - 1, labels)
    code_of = dict(zip(terms.names, terms.periods, strict=True))
    codes = [code_of[n] for n in kept]
    tested = terms.pre_codes - {terms.ref_code} if tested_codes is None else tested_codes
    missing = sorted(tested - set(codes))
    if tested_codes is not None and missing:
        notes.append(
            f"Event study: period(s) {[time_levels[c] for c in missing]} have no coefficient "
            "and are left out of the pre-trend test."
        )
    stat, df, p = _pretrend(es_fit, kept, codes, tested, model, notes)
    idx = [es_fit.names.index(n) for n in kept]
    periods = [time_levels[c] for c in codes]
    return EventStudy(
        table=_table(rows, codes, terms, model, time_levels),
        pretrend_stat=stat,
        pretrend_df=df,
        pretrend_p_value=p,
        denominator_df=es_fit.n_clusters - 1,
        pretrend_periods=tuple(time_levels[c] for c in sorted(set(codes) & tested)),
        coef=pd.Series(es_fit.coef[idx], index=periods, name="coefficient"),
        vcov=pd.DataFrame(es_fit.vcov[np.ix_(idx, idx)], index=periods, columns=periods),
    )

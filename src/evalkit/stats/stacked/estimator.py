"""Stacked difference-in-differences on a calendar-time panel: :func:`stacked_did`.

The stacked data (one sub-experiment per adoption time, clean controls, trimming and the
Q-weights) is built by :mod:`evalkit.stats.stacked.stack`. The model fitted to it is

    linear:   y_sie = a_si + g_se + sum_k b_k * treated_si * 1{e == k} + u_sie
    poisson:  log E[y_sie] = log(exposure) + a_si + g_se + sum_k b_k * treated_si * 1{e == k}

for unit i in sub-experiment s at event time e, with sub-experiment x unit effects ``a_si``,
sub-experiment x event-time effects ``g_se`` and one coefficient ``b_k`` per event time of the
window but the reference period -1, weighted by the Q-weights. The aggregate ATT is the mean of
the post-period coefficients (event time >= 0). It is fitted by the engines of
:func:`evalkit.stats.did.did` (:mod:`evalkit.stats.did_fit`), with the same cluster-robust CR1
standard errors and inference (:mod:`evalkit.stats.did_inference`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.stats.did_design import Design
from evalkit.stats.did_event_study import EventTerms, event_study_results
from evalkit.stats.did_fit import FitOutput, drop_separated, fit_linear, fit_poisson
from evalkit.stats.did_inference import LEVEL, term_rows
from evalkit.stats.did_inputs import crude_rates
from evalkit.stats.result import ESTIMATE_COLUMNS
from evalkit.stats.stacked.result import ATT_TERM, StackedDidResult
from evalkit.stats.stacked.stack import Stack, StackColumns, build_stack

__all__ = ["REFERENCE_PERIOD", "stacked_did"]

#: The event time every coefficient is measured against (the period before adoption).
REFERENCE_PERIOD = -1

_MODELS = ("linear", "poisson")
_WEIGHTS = ("wing", None)


# ---------------------------------------------------------------------- steps of stacked_did()
def _check_call(panel: Any, model: str, weights: str | None, window: Any) -> tuple[int, int]:
    """A DataFrame, a known model and weighting, and a window of whole periods: (pre, post)."""
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, not {type(panel).__name__}")
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, not {model!r}")
    if weights not in _WEIGHTS:
        raise ValueError(f"weights must be 'wing' or None, not {weights!r}")
    ok = (
        isinstance(window, tuple | list)
        and len(window) == 2
        and all(isinstance(w, int | np.integer) and not isinstance(w, bool) for w in window)
    )
    if not ok or window[0] < 1 or window[1] < 0:
        raise ValueError(
            "window must be (pre, post): the number of periods before adoption (at least 1, so "
            f"that the reference period -1 is in it) and after it (0 or more), not {window!r}"
        )
    return int(window[0]), int(window[1])


def _design(stack: Stack, cols: StackColumns) -> Design:
    """The engines' frame: sub-experiment x unit and x event-time codes, weights, outcome."""
    data = stack.data
    sub = data["sub_experiment"].to_numpy()
    work = pd.DataFrame(
        {
            "_y": data[cols.outcome].to_numpy(dtype=float),
            "_unit": pd.factorize(pd.MultiIndex.from_arrays([sub, data[cols.unit]]), sort=True)[0],
            "_time": pd.factorize(pd.MultiIndex.from_arrays([sub, data["event_time"]]), sort=True)[
                0
            ],
            "_cl": pd.factorize(data[cols.cluster_col], sort=True)[0],
            "_w": data["weight"].to_numpy(dtype=float),
        }
    )
    if cols.exposure is not None:
        work["_lexpo"] = np.log(data[cols.exposure].to_numpy(dtype=float))
    return Design(work)


def _event_terms(
    design: Design, stack: Stack, window: tuple[int, int], notes: list[str]
) -> EventTerms:
    """Add ``treated x 1{event time == k}`` for every event time k of the window but -1.

    An event time without both treated and control rows gets no term (with a note).
    """
    pre, post = window
    levels = list(range(-pre, post + 1))
    event = stack.data["event_time"].to_numpy()
    treated = stack.data["treated"].to_numpy() == 1
    names: list[str] = []
    codes: list[int] = []
    skipped = []
    for code, k in enumerate(levels):
        if k == REFERENCE_PERIOD:
            continue
        at = event == k
        if not (at & treated).any() or not (at & ~treated).any():
            skipped.append(k)
            continue
        names.append(design.add(f"event[{k}]", (at & treated).astype(float)))
        codes.append(code)
    if skipped:
        notes.append(
            f"Event time(s) {skipped} lack treated or control rows and have no coefficient."
        )
    return EventTerms(
        names=names,
        periods=codes,
        pre_codes={c for c, k in enumerate(levels) if k < 0},
        ref_code=levels.index(REFERENCE_PERIOD),
    )


def _drop_zero_outcome_groups(design: Design, notes: list[str]) -> None:
    """Drop sub-experiment x unit groups (and event times) whose outcome is zero throughout."""
    design.work, n_units, n_times, n_rows = drop_separated(design.work)
    if n_units or n_times:
        what = f"{n_units:,} sub-experiment x unit group(s)"
        if n_times:
            what += f" and {n_times:,} sub-experiment x event-time group(s)"
        notes.append(
            f"{what} whose outcome is zero in every row were dropped by the fixed-effects "
            f"Poisson model ({n_rows:,} rows): they carry no information on the rate ratio."
        )


def _fit(design: Design, names: list[str], model: str, cols: StackColumns) -> FitOutput:
    """Fit the event-study model by the engine of ``model`` (Q-weights as ``_w``)."""
    if not names:
        raise ValueError("no event time of the window has both treated and control rows")
    weighted = not np.all(design.work["_w"].to_numpy() == 1.0)
    if model == "linear":
        return fit_linear(design.work, names, weighted=weighted)
    return fit_poisson(design.work, names, weighted=weighted, offset=cols.exposure is not None)


def _att_row(fit: FitOutput, post: list[str], model: str) -> pd.DataFrame:
    """The tidy row of the aggregate ATT: the mean of the post-period coefficients ``post``.

    The mean is reported as a one-coefficient fit, its variance ``1' V 1 / k^2`` for the k
    post-period coefficients and their covariance V (on the log scale for the Poisson model,
    whose mean is reported as ``exp``).
    """
    idx = [fit.names.index(n) for n in post]
    k = len(idx)
    mean = replace(
        fit,
        names=(ATT_TERM,),
        coef=np.array([fit.coef[idx].sum() / k]),
        vcov=np.array([[fit.vcov[np.ix_(idx, idx)].sum() / k**2]]),
    )
    return term_rows([ATT_TERM], mean, model, fit.n_clusters - 1, {ATT_TERM: ATT_TERM})


def _post_names(fit: FitOutput, terms: EventTerms, levels: pd.Index, notes: list[str]) -> list[str]:
    """The fitted post-period (event time >= 0) coefficients, or a ValueError if none."""
    post = [n for n, c in zip(terms.names, terms.periods, strict=True) if levels[c] >= 0]
    fitted = [n for n in post if n in fit.names]
    if not fitted:
        raise ValueError("no post-period coefficient was estimated, so there is no aggregate ATT")
    if len(fitted) < len(post):
        notes.append(
            f"The aggregate ATT averages {len(fitted)} of the {len(post)} post-period "
            "coefficients (the others were not estimated)."
        )
    return fitted


def _spec(
    cols: StackColumns, model: str, window: tuple[int, int], weights: str | None, fit: FitOutput
) -> dict[str, Any]:
    """The arguments actually used, defaults resolved, and the inference settings."""
    return {
        "outcome": cols.outcome,
        "unit": cols.unit,
        "time": cols.time,
        "adoption": cols.adoption,
        "window": list(window),
        "weights": weights,
        "cluster": cols.cluster_col,
        "exposure": cols.exposure,
        "model": model,
        "reference_period": REFERENCE_PERIOD,
        "estimand": "trimmed aggregate ATT: mean of the event-time coefficients 0 to post",
        "clean_controls": "never treated, or adopting after the sub-experiment's window",
        "fixed_effects": ["sub_experiment x unit", "sub_experiment x event_time"],
        "vcov": "CR1 cluster-robust",
        "small_sample": "G/(G-1) * (N-1)/(N-K), K = event-time coefficients only",
        "k": len(fit.names),
        "inference": "t(G-1)" if model == "linear" else "normal",
        "level": LEVEL,
        "engine": fit.engine,
    }


def _unit_counts(stack: Stack, design: Design, unit: str) -> dict[str, int]:
    """Distinct units of the fitted rows, in all and as treated and as clean controls."""
    rows = stack.data.iloc[design.work.index.to_numpy()]
    treated = rows["treated"].to_numpy() == 1
    units = rows[unit].to_numpy()
    return {
        "n_units": len(pd.unique(units)),
        "n_treated_units": len(pd.unique(units[treated])),
        "n_control_units": len(pd.unique(units[~treated])),
    }


def _crude(stack: Stack, cols: StackColumns) -> pd.DataFrame:
    """Weighted events, person-time and rates of the stack by group and period."""
    data = stack.data
    exposure = (
        np.ones(len(data)) if cols.exposure is None else data[cols.exposure].to_numpy(dtype=float)
    )
    return crude_rates(
        data[cols.outcome].to_numpy(dtype=float),
        data["treated"].to_numpy(),
        (data["event_time"].to_numpy() >= 0).astype(np.int8),
        pd.factorize(data[cols.unit])[0],
        exposure,
        data["weight"].to_numpy(dtype=float),
    )


# ---------------------------------------------------------------------- public API
def stacked_did(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    adoption: str,
    window: tuple[int, int],
    weights: Literal["wing"] | None = "wing",
    cluster: str | None = None,
    model: Literal["linear", "poisson"] = "linear",
    *,
    exposure: str | None = None,
) -> StackedDidResult:
    """Stacked difference-in-differences with Q-weights (Wing, Freedman & Hollingsworth 2024).

    Builds one sub-experiment per adoption time ``a``: the units adopting at ``a`` and the clean
    controls (never treated, or adopting after ``a + post``), in the periods ``a - pre`` to
    ``a + post``. Sub-experiments whose window does not fit the panel's periods, or without a
    clean control, are trimmed (a note and :attr:`StackedDidResult.sub_experiments` say which).
    Stacks them, weights every control unit of sub-experiment ``a`` by the Q-weight
    ``(N^D_a / N^D) / (N^C_a / N^C)`` (treated units weigh 1; ``N^D_a``, ``N^C_a`` its treated
    and control units, ``N^D``, ``N^C`` their sums over the stack) and fits the event study

        y_sie = a_si + g_se + sum_{k != -1} b_k * treated_si * 1{e == k} + u_sie

    with sub-experiment x unit and sub-experiment x event-time fixed effects, by weighted least
    squares (linear) or fixed-effects Poisson. The aggregate ATT is the mean of ``b_0 ...
    b_post``; with the Q-weights it estimates the paper's trimmed aggregate ATT, the average of
    the sub-experiments' ATTs weighted by their treated units. ``weights=None`` fits the plain
    (unweighted) stacked regression.

    Standard errors are cluster-robust CR1 by ``cluster`` (default: the unit, so a unit's rows
    in every sub-experiment form one cluster), with the small-sample factor
    ``G / (G - 1) * (N - 1) / (N - K)``, N stacked rows and K the event-time coefficients only,
    as in :func:`evalkit.stats.did.did`; linear inference uses t(G - 1), Poisson the normal.
    ``docs/decisions/stacked-did.md`` compares the conventions with diff-diff's ``StackedDiD``.

    Parameters
    ----------
    panel : pd.DataFrame
        One row per unit and period, in calendar time.
    outcome : str
        Outcome column (numeric; non-negative for ``"poisson"``).
    unit : str
        Unit id column.
    time : str
        Period column: whole period numbers (e.g. months since a start date), consecutive
        periods differing by 1.
    adoption : str
        Each unit's first treated period (same numbering as ``time``, constant within unit);
        missing or infinite for a unit never treated.
    window : tuple of (int, int)
        ``(pre, post)``: periods before adoption (at least 1) and after it in every
        sub-experiment; event times run from ``-pre`` to ``post``.
    weights : {"wing", None}
        ``"wing"``: the Q-weights; None: every row weighs 1 (the plain stacked regression).
    cluster : str, optional
        Cluster column. Default: ``unit``.
    model : {"linear", "poisson"}
        Weighted least squares (linearmodels ``PanelOLS``) or fixed-effects Poisson (pyfixest
        ``fepois``, reported as rate ratios).
    exposure : str, optional
        Person-time at risk (positive), entered as ``log(exposure)`` offset by the Poisson model.

    Returns
    -------
    StackedDidResult
        The aggregate ATT, the event-time coefficients, the pre-trend test, the sub-experiments
        and the stacked data.

    Raises
    ------
    ValueError
        Unknown column; periods or adoption times not whole numbers; adoption not constant
        within unit; no treated unit; repeated (unit, time) rows; a window that fits no
        sub-experiment; no clean controls; a bad window, model, weights, outcome or exposure.

    Examples
    --------
    Two units adopting in period 3, one in period 5 and two never treated, over periods 1 to
    6, with an effect of 2 from adoption on:

    >>> rows = [(u, t, a) for u, a in enumerate([3, 3, 5, None, None]) for t in range(1, 7)]
    >>> panel = pd.DataFrame(rows, columns=["id", "t", "adopt"])
    >>> panel["y"] = panel["id"] + 0.5 * panel["t"] + 2.0 * (panel["t"] >= panel["adopt"])
    >>> fit = stacked_did(panel, "y", "id", "t", "adopt", window=(2, 2))
    >>> fit.sub_experiments[["adoption", "status", "n_treated", "n_control"]]
       adoption                                 status  n_treated  n_control
    0         3                                   kept          2          2
    1         5  trimmed: window does not fit the data          1          2
    >>> round(fit.estimate, 10)
    2.0
    """
    pre, post = _check_call(panel, model, weights, window)
    cols = StackColumns(outcome, unit, time, adoption, cluster, exposure)
    notes: list[str] = []
    if cluster is None:
        notes.append(f"Standard errors clustered by unit ({unit!r}): no cluster column was given.")
    stack = build_stack(panel, cols, (pre, post), wing=weights == "wing", model=model, notes=notes)
    notes.append(
        "Control units weighted by the Q-weights of their sub-experiment (Wing, Freedman & "
        "Hollingsworth 2024)."
        if weights == "wing"
        else "No weights: the plain stacked regression."
    )
    design = _design(stack, cols)
    terms = _event_terms(design, stack, (pre, post), notes)
    if model == "poisson":
        _drop_zero_outcome_groups(design, notes)
    fit = _fit(design, terms.names, model, cols)
    levels = pd.Index(range(-pre, post + 1))
    es = event_study_results(fit, terms, design.labels, model, levels, notes)
    att = _att_row(fit, _post_names(fit, terms, levels, notes), model)
    main = att.iloc[0]
    return StackedDidResult(
        **{column: float(main[column]) for column in ESTIMATE_COLUMNS},
        n=fit.n_obs,
        n_clusters=fit.n_clusters,
        coefficient=float(np.log(main["estimate"]) if model == "poisson" else main["estimate"]),
        scale="rate_ratio" if model == "poisson" else "difference",
        spec=_spec(cols, model, (pre, post), weights, fit),
        notes=tuple(notes),
        terms=att,
        crude_rates=_crude(stack, cols),
        event_study=es.table,
        pretrend_stat=float(es.pretrend_stat),
        pretrend_df=es.pretrend_df,
        pretrend_p_value=float(es.pretrend_p_value),
        pretrend_denominator_df=es.denominator_df if model == "linear" else None,
        pretrend_periods=es.pretrend_periods,
        event_study_coef=es.coef,
        event_study_vcov=es.vcov,
        sub_experiments=stack.sub_experiments,
        stacked=stack.data,
        **_unit_counts(stack, design, unit),
    )

"""Difference-in-differences on any panel DataFrame: :func:`did` returns a :class:`DidResult`.

The model is the two-way fixed-effects difference-in-differences of a matched panel (one row per
unit and period, e.g. per (person, index date) and event month)::

    y_it = a_i + g_t + b * treated_i * post_it [+ c' x_i * post_it] + e_it

with unit effects ``a_i`` and period effects ``g_t``; ``b`` is the effect on the treated (ATT).
``model="linear"`` fits it by least squares (linearmodels ``PanelOLS``); ``model="poisson"`` fits
``log E[y_it] = log(exposure_it) + a_i + g_t + b * treated_i * post_it`` by fixed-effects Poisson
(pyfixest ``fepois``, which projects the fixed effects out instead of estimating dummies) and
reports ``exp(b)``, the rate ratio. ``event_study=True`` adds a second fit of the same model with
``treated_i * 1{t == k}`` for every period k but the reference period, the per-period
coefficients, a joint Wald test that the pre-period ones are zero and a plot.

Standard errors are cluster-robust, CR1, clustered by ``cluster`` (default: by unit), with the
small-sample factor ``G / (G - 1) * (N - 1) / (N - K)`` where K counts only the non-absorbed
regressors, never the absorbed fixed effects (see :mod:`evalkit.stats.did_fit` and
``docs/decisions/did.md``). Linear-model inference uses the t distribution with G - 1 degrees of
freedom (and F(q, G - 1) for the joint test), as Stata and fixest do for clustered errors; the
Poisson model uses the normal distribution (and chi-square), as pyfixest does for GLMs.

The work is split into modules an analyst can read one at a time: :mod:`~evalkit.stats.did_inputs`
(checking the panel and the rows analysed), :mod:`~evalkit.stats.did_design` (the regressors
beside the absorbed fixed effects), :mod:`~evalkit.stats.did_fit` (the two fitting engines),
:mod:`~evalkit.stats.did_inference` (statistics, p-values, CIs, Wald tests),
:mod:`~evalkit.stats.did_event_study` (per-period terms, table and pre-trend test) and
:mod:`~evalkit.stats.did_result` (:class:`DidResult`). This module holds :func:`did`, which
runs them in order.

None of them imports from evalkit's domain modules: they work on any DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.stats.did_design import Design, build_design
from evalkit.stats.did_event_study import (
    EventStudy,
    add_event_terms,
    event_study_results,
    pretrend_codes,
)
from evalkit.stats.did_fit import FitOutput, drop_separated, fit_linear, fit_poisson
from evalkit.stats.did_inference import LEVEL, term_rows
from evalkit.stats.did_inputs import (
    DidColumns,
    DidInputs,
    check_columns,
    crude_rates,
    prepare_inputs,
)
from evalkit.stats.did_result import DID_TERM, EVENT_STUDY_COLUMNS, TIDY_COLUMNS, DidResult

__all__ = ["DID_TERM", "EVENT_STUDY_COLUMNS", "TIDY_COLUMNS", "DidResult", "did"]

_MODELS = ("linear", "poisson")


# ---------------------------------------------------------------------- steps of did()
def _check_call(panel: pd.DataFrame, model: str) -> None:
    """A DataFrame panel and a known model, or a TypeError / ValueError."""
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, not {type(panel).__name__}")
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, not {model!r}")


def _covariate_list(covariates: Sequence[str] | str | None) -> tuple[str, ...]:
    """The covariate columns, one name or many, each once, in the order given."""
    if isinstance(covariates, str):
        covariates = [covariates]
    return tuple(dict.fromkeys(covariates or []))


def _drop_zero_outcome_groups(
    work: pd.DataFrame, treated: np.ndarray, notes: list[str]
) -> pd.DataFrame:
    """Drop the units and periods whose outcome is zero throughout (FE Poisson), with a note."""
    work, n_units_dropped, n_times_dropped, n_rows_dropped = drop_separated(work)
    if n_units_dropped or n_times_dropped:
        what = f"{n_units_dropped:,} unit(s)"
        if n_times_dropped:
            what += f" and {n_times_dropped:,} period(s)"
        notes.append(
            f"{what} whose outcome is zero in every row were dropped by the fixed-effects "
            f"Poisson model ({n_rows_dropped:,} rows): they carry no information on the "
            "rate ratio."
        )
    unit_tr = _treated_by_unit(work, treated)
    if (unit_tr == 1).sum() == 0 or (unit_tr == 0).sum() == 0:
        raise ValueError(
            "after dropping units whose outcome is zero throughout, no "
            + ("treated" if (unit_tr == 1).sum() == 0 else "control")
            + " units are left"
        )
    return work


def _treated_by_unit(work: pd.DataFrame, treated: np.ndarray) -> pd.Series:
    """The treated indicator of each unit in ``work`` (indexed by unit code)."""
    return pd.Series(treated[work.index.to_numpy()]).groupby(work["_unit"].to_numpy()).max()


def _run(design: Design, regressors: list[str], model: str, cols: DidColumns) -> FitOutput:
    """Fit the model with ``regressors`` by the engine of ``model``."""
    if model == "linear":
        return fit_linear(design.work, regressors, weighted=cols.weights is not None)
    return fit_poisson(
        design.work,
        regressors,
        weighted=cols.weights is not None,
        offset=cols.exposure is not None,
    )


def _fit_did(
    design: Design, cols: DidColumns, model: str, notes: list[str]
) -> tuple[FitOutput, pd.DataFrame]:
    """Fit the DiD model; return the fit and the tidy rows of its non-absorbed terms."""
    fit = _run(design, [design.did_name, *design.extra], model, cols)
    if design.did_name not in fit.names:
        raise ValueError(
            f"the treated x post term was absorbed by the fixed effects (does {cols.post!r} vary "
            "within the treated units?)"
        )
    for message in dict.fromkeys(fit.messages):
        notes.append(f"Estimator warning: {message.strip()}")
    df_t = fit.n_clusters - 1
    names = [n for n in fit.names if n in design.labels]
    return fit, term_rows(names, fit, model, df_t, design.labels)


def _spec(
    cols: DidColumns,
    model: str,
    event_study: bool,
    reference_period: Any,
    fit: FitOutput,
    pretrend_periods: Sequence[Any] | None = None,
) -> dict[str, Any]:
    """The arguments actually used, defaults resolved, and the inference settings.

    ``pretrend_periods`` are the periods the pre-trend test covered (None without an event
    study).
    """
    return {
        "outcome": cols.outcome,
        "unit": cols.unit,
        "time": cols.time,
        "treated": cols.treated,
        "post": cols.post,
        "cluster": cols.cluster_col,
        "exposure": cols.exposure,
        "covariates": list(cols.covariates),
        "model": model,
        "event_study": bool(event_study),
        "weights": cols.weights,
        "reference_period": reference_period if event_study else None,
        "pretrend_periods": None if pretrend_periods is None else list(pretrend_periods),
        "estimand": "ATT: coefficient of treated x post, unit and time fixed effects",
        "fixed_effects": [cols.unit, cols.time],
        "vcov": "CR1 cluster-robust" + (" (two-way)" if len(cols.cluster_cols) > 1 else ""),
        "small_sample": "G/(G-1) * (N-1)/(N-K), K = non-absorbed regressors only",
        "k": len(fit.names),
        "inference": "t(G-1)" if model == "linear" else "normal",
        "level": LEVEL,
        "engine": fit.engine,
    }


def _result(
    fit: FitOutput,
    terms: pd.DataFrame,
    es: EventStudy | None,
    design: Design,
    inputs: DidInputs,
    spec: dict[str, Any],
    notes: list[str],
) -> DidResult:
    """Assemble the :class:`DidResult` of the fits."""
    model = spec["model"]
    main = terms.iloc[0]
    b = float(fit.coef[fit.names.index(design.did_name)])
    unit_tr = _treated_by_unit(design.work, inputs.treated)
    return DidResult(
        estimate=float(main["estimate"]),
        std_error=float(main["std_error"]),
        ci_low=float(main["ci_low"]),
        ci_high=float(main["ci_high"]),
        p_value=float(main["p_value"]),
        n=fit.n_obs,
        n_units=len(unit_tr),
        n_treated_units=int((unit_tr == 1).sum()),
        n_control_units=int((unit_tr == 0).sum()),
        n_clusters=fit.n_clusters,
        coefficient=b,
        scale="rate_ratio" if model == "poisson" else "difference",
        spec=spec,
        notes=tuple(notes),
        terms=terms,
        crude_rates=crude_rates(
            inputs.y,
            inputs.treated,
            inputs.post,
            inputs.unit_codes,
            inputs.exposure,
            inputs.weights,
        ),
        **_pretrend_fields(es, model),
    )


def _pretrend_fields(es: EventStudy | None, model: str) -> dict[str, Any]:
    """The event-study fields of :class:`DidResult` (their defaults without an event study)."""
    if es is None:
        return {}
    return {
        "event_study": es.table,
        "pretrend_stat": float(es.pretrend_stat),
        "pretrend_df": es.pretrend_df,
        "pretrend_p_value": float(es.pretrend_p_value),
        "pretrend_denominator_df": es.denominator_df if model == "linear" else None,
        "pretrend_periods": es.pretrend_periods,
        "event_study_coef": es.coef,
        "event_study_vcov": es.vcov,
    }


# ---------------------------------------------------------------------- public API
def did(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    post: str,
    cluster: str | Sequence[str] | None = None,
    exposure: str | None = None,
    covariates: Sequence[str] | str | None = None,
    model: Literal["linear", "poisson"] = "linear",
    event_study: bool = False,
    *,
    weights: str | None = None,
    reference_period: Any = -1,
    pretrend_periods: Sequence[Any] | None = None,
) -> DidResult:
    """Difference-in-differences with unit and period fixed effects and clustered SEs.

    Fits ``y_it = a_i + g_t + b * treated_i * post_it`` (linear) or its log-link Poisson
    analogue with ``log(exposure_it)`` as offset, where ``a_i`` are unit and ``g_t`` period
    fixed effects, and returns ``b`` (the ATT), as a difference in the outcome's units or a rate
    ratio ``exp(b)``.

    Standard errors are cluster-robust (CR1) with the small-sample factor
    ``G / (G - 1) * (N - 1) / (N - K)``: G clusters, N observations used and K the number of
    **non-absorbed** regressors only (the DiD term, any ``post`` term and covariate terms).
    The absorbed unit and time effects are deliberately not counted: the unit effects are nested
    in the clusters, and counting fixed effects nested in clusters as parameters inflates the SE
    (Cameron & Miller 2015). This is pyfixest's ``ssc(k_fixef="none")``; fixest's and pyfixest's
    default (``"nonnested"``) also counts the time effects, which changes the SE by a factor
    ``sqrt((N - K) / (N - K - T))``, about 1.0001 for a 36-month panel of 200,000 rows.
    Linear inference uses t(G - 1); Poisson inference uses the normal distribution.

    Parameters
    ----------
    panel : pd.DataFrame
        One row per unit and period.
    outcome : str
        Outcome column (numeric; non-negative for ``"poisson"``: counts, or costs by PPML).
    unit : str
        Unit id column (e.g. ``person_index``: one (person, index date) row of a matched panel).
    time : str
        Period column (e.g. ``event_month``); period fixed effects are entered for it. For an
        event study it must be time relative to treatment (``post`` constant within a period
        for the treated units).
    treated : str
        0/1 (or boolean) column, constant within unit: 1 for participants.
    post : str
        0/1 (or boolean) column: 1 in periods after the index. When ``post`` is not a function
        of ``time`` (it varies within a period) it is also entered on its own, with a note.
    cluster : str or pair of str, optional
        Cluster column (e.g. ``subclass``, the matched set). Default: ``unit``. Two columns
        cluster two ways (Cameron, Gelbach & Miller 2011), e.g. ``("index_month", "person_id")``
        for a stacked design whose time effects are specific to each sub-experiment: clustering
        by sub-experiment nests those effects in the clusters, so their estimation does not bias
        the sandwich (``docs/decisions/did-clustering.md``).
    exposure : str, optional
        Person-time at risk (positive), entered as ``log(exposure)`` offset by the Poisson
        model. The linear model does not use it (a note says so).
    covariates : sequence of str, optional
        Index covariates, each entered as ``covariate x post`` (on its own a covariate fixed at
        index is absorbed by the unit effects). Numeric and boolean columns enter as they are;
        other columns as indicators of their levels (first sorted level omitted). A covariate
        constant in the data is dropped with a note.
    model : {"linear", "poisson"}
        Estimator: least squares (linearmodels ``PanelOLS``) or fixed-effects Poisson (pyfixest
        ``fepois``). Units (and periods) whose outcome is zero throughout carry no information
        in the fixed-effects Poisson model and are dropped, with a note giving the count.
    event_study : bool
        Also fit ``treated x 1{time == k}`` for every period but ``reference_period``, with a
        joint Wald test that the pre-period coefficients are zero.
    weights : str, optional
        Non-negative observation weights (e.g. matching weights). Rows with weight 0 are left
        out, with a note. Weighted least squares for ``"linear"``; weighted pseudo-likelihood
        for ``"poisson"``.
    reference_period : scalar
        Event-study reference period (a value of ``time`` before the index); default -1.
    pretrend_periods : sequence, optional
        Pre-periods (values of ``time``) whose coefficients the joint pre-trend test covers;
        default every pre-period. Restrict it to the periods a design did not force to
        balance: after matching on prior use in months -12 to -1, their coefficients are near
        0 by construction and say nothing about the trends, so a matched design tests the
        months before them. A period without a coefficient is left out with a note.

    Returns
    -------
    DidResult
        Estimate, SE, 95% CI, p-value, counts, spec, notes and (event study) per-period table,
        joint pre-trend test and plot.

    Raises
    ------
    ValueError
        Unknown column; ``treated`` or ``post`` not binary; ``treated`` not constant within
        unit; no treated or no control units; no pre or no post rows; repeated (unit, time)
        rows; non-positive exposure; negative weights; a negative outcome for ``"poisson"``;
        an unknown model; a reference period that is not a pre-period in the data; a
        ``pretrend_periods`` value that is not a pre-period or is the reference period.

    Examples
    --------
    >>> panel = pd.DataFrame({
    ...     "id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...     "t": [0, 1] * 4,
    ...     "treat": [1, 1, 1, 1, 0, 0, 0, 0],
    ...     "y": [1.0, 3.0, 2.0, 5.0, 1.0, 2.0, 3.0, 3.0],
    ... })
    >>> panel["post"] = panel["t"]
    >>> fit = did(panel, outcome="y", unit="id", time="t", treated="treat", post="post")
    >>> round(fit.estimate, 10)  # (4.0 - 1.5) - (2.5 - 2.0)
    2.0
    """
    _check_call(panel, model)
    cols = DidColumns(
        outcome=outcome,
        unit=unit,
        time=time,
        treated=treated,
        post=post,
        cluster=cluster if cluster is None or isinstance(cluster, str) else tuple(cluster),
        exposure=exposure,
        weights=weights,
        covariates=_covariate_list(covariates),
    )
    check_columns(panel, cols.named())
    notes: list[str] = []
    if cluster is None:
        notes.append(f"Standard errors clustered by unit ({unit!r}): no cluster column was given.")
    inputs = prepare_inputs(panel, cols, model, notes)
    design = build_design(inputs, cols, notes)
    event_terms = (
        add_event_terms(design, inputs, cols, reference_period, notes) if event_study else None
    )
    if model == "poisson":
        design.work = _drop_zero_outcome_groups(design.work, inputs.treated, notes)
    fit, terms = _fit_did(design, cols, model, notes)
    es = None
    if event_terms is not None:
        tested = pretrend_codes(pretrend_periods, event_terms, inputs.time_levels, cols.time)
        es_fit = _run(design, [*event_terms.names, *design.extra], model, cols)
        es = event_study_results(
            es_fit, event_terms, design.labels, model, inputs.time_levels, notes, tested
        )
    tested_periods = None if es is None else es.pretrend_periods
    spec = _spec(cols, model, event_study, reference_period, fit, tested_periods)
    return _result(fit, terms, es, design, inputs, spec, notes)

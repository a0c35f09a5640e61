"""Inverse-probability-of-censoring weights from a pooled logistic hazard: :func:`ipcw`.

A unit followed over discrete periods (e.g. a matched control's event months after index) may be
censored: in a target trial, a control who is referred to the programme later stops being an
example of "not referred now" at that referral. When the censoring depends on things that also
drive the outcome (the pre-referral rise in use that makes a referral more likely), the controls
still observed are not like the ones lost, and an unweighted analysis is biased. Weighting each
observed row by the inverse of the probability of having stayed uncensored so far, given the
covariates, restores the censored units' share (Robins & Finkelstein 2000; Hernan & Robins 2020,
ch. 12 and 17; Howe et al. 2016).

The model is the pooled logistic hazard of being censored in period ``t`` among the units
uncensored at its start::

    logit P(C_it = 1 | C_i,t-1 = 0, L_it) = alpha_t + beta' L_it

with ``alpha_t`` one indicator per period (or a restricted cubic spline of ``time``) and
``L_it`` the covariates, fixed (index covariates) or time-varying (e.g. the last 3 months' use,
which the caller supplies as a column). The weight of a row still uncensored at the end of period
``t`` is the cumulative product over the unit's periods up to ``t``; stabilised, its numerator is
the same hazard model on time alone (or on time and ``numerator`` covariates)::

    sw_it = prod_{k <= t} (1 - h_num_ik) / (1 - h_den_ik)

A row censored in its period is not observed there and gets weight 0. The weights are truncated
at the 1st and 99th percentiles of the observed rows' weights by default (Cole & Hernan 2008).

Why hand-written. No well-kept Python library offers pooled-logistic IPCW for a panel the way
this analysis needs it. zEpid's ``zepid.causal.ipw.IPCW`` is the nearest (a pooled logistic on a
long file, cumulative products per id, after Howe et al. 2016), but it infers censoring from
each id's last row (so a unit whose follow-up simply ends before the longest one is taken as
censored), takes patsy formulas, prints the fitted models, has no truncation, and is not a
dependency of this project; delicatessen offers estimating equations (``ee_plogit``,
``ee_ipw``) to stack in an M-estimator, not weights per row; lifelines fits survival models and
has no censoring weights. The computation is short (two GLMs and a cumulative product), so it is
written here on statsmodels' GLM and tested against a hand computation.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy import stats

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.result import ESTIMATE_COLUMNS, Result, format_table

__all__ = ["COEFFICIENT_COLUMNS", "DISTRIBUTION_STATS", "IpcwResult", "ipcw"]

#: Columns of :meth:`IpcwResult.tidy` (the censoring models' coefficients).
COEFFICIENT_COLUMNS: tuple[str, ...] = ("model", "term", *ESTIMATE_COLUMNS)
#: The statistics of the weights' distribution, in order.
DISTRIBUTION_STATS: tuple[str, ...] = ("min", "p1", "p25", "median", "p75", "p99", "max", "mean")
#: Knots of the restricted cubic spline of time, as quantiles of the time values (Harrell's
#: defaults for four knots).
SPLINE_KNOT_QUANTILES: tuple[float, ...] = (0.05, 0.35, 0.65, 0.95)
_TIME_PREFIX = "time"


@dataclass(frozen=True, repr=False)
class IpcwResult(Result):
    """Censoring weights per row, the censoring models and the weights' distribution.

    Attributes
    ----------
    weights : pd.Series
        The weight of every row of ``data`` (same index): stabilised (unless ``numerator`` is
        ``False``), cumulative over the unit's periods, truncated; 0 on the row of the period
        in which a unit is censored (not observed there).
    raw_weights : pd.Series
        The same before truncation.
    coefficients : pd.DataFrame
        Tidy coefficient table of the denominator (and numerator) models:
        :data:`COEFFICIENT_COLUMNS`, log-odds of censoring with model-based SEs.
    distribution : dict
        :data:`DISTRIBUTION_STATS` of the uncensored rows' weights before truncation (how far
        the model's weights spread).
    distribution_used : dict
        The same after truncation (the weights used; stabilised weights average about 1).
    n_rows, n_units : int
        Rows (unit-periods at risk of censoring) and units.
    n_censored_units : int
        Units censored in some period.
    censored_share : float
        ``n_censored_units / n_units``.
    truncation : tuple of float, optional
        The weight values the weights were clipped to (from the percentiles asked for).
    n_truncated : int
        Rows whose weight was clipped.
    spec : dict
        Arguments used, defaults resolved.
    notes : tuple of str
        Plain-English lines: periods without censoring, terms dropped, truncation.
    """

    analysis = "ipcw"

    weights: pd.Series
    raw_weights: pd.Series
    coefficients: pd.DataFrame
    distribution: dict[str, float]
    distribution_used: dict[str, float]
    n_rows: int
    n_units: int
    n_censored_units: int
    censored_share: float
    truncation: tuple[float, float] | None = None
    n_truncated: int = 0
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """The censoring models' coefficients (:data:`COEFFICIENT_COLUMNS`)."""
        return self.coefficients.loc[:, list(COEFFICIENT_COLUMNS)].copy()

    def distribution_table(self) -> pd.DataFrame:
        """The weights' :data:`DISTRIBUTION_STATS`, before truncation and as used (two rows)."""
        rows = [("before truncation", self.distribution), ("used", self.distribution_used)]
        return pd.DataFrame(
            [{"weights": name, **{k: d[k] for k in DISTRIBUTION_STATS}} for name, d in rows]
        )

    def summary_header(self) -> list[str]:
        """What was weighted, how, and the weights' distribution."""
        kind = "stabilised" if self.spec.get("stabilised") else "unstabilised"
        trunc = (
            f"truncated at the {self.spec['truncate'][0]:g} and {self.spec['truncate'][1]:g} "
            f"quantiles ({self.truncation[0]:.4g} to {self.truncation[1]:.4g}; "
            f"{self.n_truncated:,} rows clipped)"
            if self.truncation is not None
            else "not truncated"
        )
        dist = ", ".join(f"{k} {self.distribution[k]:.4g}" for k in DISTRIBUTION_STATS)
        used = self.distribution_used
        return [
            "Inverse-probability-of-censoring weights (pooled logistic hazard of censoring)",
            f"Units: {self.n_units:,}, censored: {self.n_censored_units:,} "
            f"({self.censored_share:.1%}); unit-periods at risk: {self.n_rows:,}",
            f"Weights: {kind}, cumulative over each unit's periods, {trunc}",
            f"Distribution (uncensored rows, before truncation): {dist}",
            f"Weights used: mean {used['mean']:.4g}, min {used['min']:.4g}, max {used['max']:.4g}",
        ]

    def format_tidy(self, table: pd.DataFrame) -> str:
        """The coefficient table as text."""
        return format_table(table)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: counts, truncation, distribution, coefficients, spec and notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "n_rows": self.n_rows,
                "n_units": self.n_units,
                "n_censored_units": self.n_censored_units,
                "censored_share": self.censored_share,
                "truncation": list(self.truncation) if self.truncation is not None else None,
                "n_truncated": self.n_truncated,
                "distribution": dict(self.distribution),
                "distribution_used": dict(self.distribution_used),
                "coefficients": self.tidy().to_dict(orient="records"),
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def plot(self, ax: Any = None) -> Any:
        """Histogram of the uncensored rows' weights with the truncation bounds.

        Drawn by :func:`evalkit.stats.plots.weight_histogram`.
        """
        w = self.weights.to_numpy(dtype=float)
        return plots.weight_histogram(w[w > 0], bounds=self.truncation, ax=ax)


# ------------------------------------------------------------------------------- inputs
def _check_columns(data: pd.DataFrame, named: dict[str, str]) -> None:
    missing = [f"{role}={col!r}" for role, col in named.items() if col not in data.columns]
    if missing:
        raise ValueError(f"unknown column(s): {'; '.join(missing)}")


def _binary(values: pd.Series, name: str) -> np.ndarray:
    if is_bool_dtype(values):
        return values.to_numpy(dtype=np.int8)
    if not is_numeric_dtype(values):
        raise ValueError(f"censored column {name!r} must be 0/1 or boolean")
    arr = values.to_numpy(dtype=float)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise ValueError(f"censored column {name!r} must be binary (0/1)")
    return arr.astype(np.int8)


def _order(
    data: pd.DataFrame, unit: str, time: str, cens: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row order by (unit, time), unit codes and whether each row starts a new unit.

    Raises when a (unit, time) repeats or a unit has rows after the period it is censored in.
    """
    ucode, _ = pd.factorize(data[unit], sort=True)
    tval = data[time].to_numpy()
    order = np.lexsort((tval, ucode))
    u, t = ucode[order], tval[order]
    new = np.r_[True, u[1:] != u[:-1]]
    if (~new & (t == np.r_[t[:1], t[:-1]])).any():
        raise ValueError(f"repeated ({unit!r}, {time!r}) rows: give each unit-period once")
    c = cens[order]
    # Censorings so far in the unit, before this row: positive means a row after censoring.
    before = np.cumsum(c) - c
    start = np.maximum.accumulate(np.where(new, np.arange(len(u)), 0))
    before = before - (np.cumsum(c) - c)[start]
    if (before > 0).any():
        raise ValueError(
            f"{int(pd.unique(u[before > 0]).size):,} unit(s) have rows after the period they are "
            f"censored in: give each unit its periods at risk only, up to and including the one "
            f"in which {unit!r} is censored"
        )
    return order, ucode, new


def _covariate_matrix(
    data: pd.DataFrame, covariates: Sequence[str], notes: list[str]
) -> pd.DataFrame:
    """Numeric and boolean columns as they are, others as indicators; constants dropped."""
    parts: list[pd.DataFrame] = []
    for c in covariates:
        col = data[c]
        if is_bool_dtype(col) or is_numeric_dtype(col):
            parts.append(pd.DataFrame({c: col.to_numpy(dtype=float)}, index=data.index))
        else:
            levels = sorted(pd.unique(col.astype(str)))
            dummies = {
                f"{c}[{lv}]": (col.astype(str) == lv).to_numpy(dtype=float) for lv in levels[1:]
            }
            parts.append(pd.DataFrame(dummies, index=data.index))
    x = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=data.index)
    const = [c for c in x.columns if x[c].nunique() <= 1]
    if const:
        notes.append(f"Constant in the data, dropped from the censoring model: {', '.join(const)}.")
        x = x.drop(columns=const)
    return x


def _spline_basis(t: np.ndarray) -> pd.DataFrame:
    """Restricted cubic spline of ``t`` (Harrell): linear term plus k - 2 cubic terms."""
    knots = np.unique(np.quantile(t, SPLINE_KNOT_QUANTILES))
    out = {f"{_TIME_PREFIX}": t.astype(float)}
    if len(knots) >= 3:
        k_last, k_prev = knots[-1], knots[-2]
        scale = (k_last - knots[0]) ** 2

        def pos3(v: np.ndarray) -> np.ndarray:
            return np.maximum(v, 0.0) ** 3

        for j, kj in enumerate(knots[:-2]):
            term = (
                pos3(t - kj)
                - pos3(t - k_prev) * (k_last - kj) / (k_last - k_prev)
                + pos3(t - k_last) * (k_prev - kj) / (k_last - k_prev)
            ) / scale
            out[f"{_TIME_PREFIX}_rcs{j + 1}"] = term
    return pd.DataFrame(out)


def _time_matrix(
    tval: np.ndarray, cens: np.ndarray, time_terms: str, notes: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Time terms of the hazard model and the rows that can be fitted.

    With indicators, a period with no censoring has a hazard whose maximum-likelihood
    estimate is 0 (its indicator's coefficient diverges): its rows are left out of the fit and
    given hazard 0, which is that limit, rather than left to a non-converging fit.
    """
    if time_terms == "spline":
        x = _spline_basis(tval.astype(float))
        x.insert(0, "intercept", 1.0)
        return x, np.ones(len(tval), dtype=bool)
    levels = np.unique(tval)
    events = pd.Series(cens).groupby(tval).sum()
    empty = [lv for lv in levels if events.get(lv, 0) == 0]
    if empty:
        shown = ", ".join(map(str, empty[:12])) + (", ..." if len(empty) > 12 else "")
        notes.append(
            f"{len(empty)} period(s) with no censoring ({shown}): hazard 0 there (the "
            "maximum-likelihood limit), rows left out of the fit."
        )
    fit_rows = ~np.isin(tval, empty)
    x = pd.DataFrame(
        {f"{_TIME_PREFIX}[{lv}]": (tval == lv).astype(float) for lv in levels if lv not in empty}
    )
    return x, fit_rows


def _fit_hazard(
    y: np.ndarray, x: pd.DataFrame, fit_rows: np.ndarray, label: str, notes: list[str]
) -> tuple[np.ndarray, pd.DataFrame]:
    """Fit the pooled logistic model on ``fit_rows``; the hazard of every row and the terms."""
    hazard = np.zeros(len(y))
    if not fit_rows.any() or y[fit_rows].sum() == 0:
        return hazard, pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))
    xf = x.loc[fit_rows]
    keep = [
        c
        for c in xf.columns
        if c == "intercept" or c.startswith(f"{_TIME_PREFIX}[") or xf[c].nunique() > 1
    ]
    xf = xf[keep]
    model = sm.GLM(y[fit_rows], xf.to_numpy(dtype=float), family=sm.families.Binomial())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # IRLS solving each step by QR: the same fit as the default (SVD least squares), about
        # twice as fast on the tall, narrow design of a pooled hazard.
        res = model.fit(maxiter=100, wls_method="qr")
    for message in dict.fromkeys(str(w.message).strip() for w in caught):
        notes.append(f"{label.capitalize()} censoring model: {message}")
    if not res.converged:  # pragma: no cover - a well-posed hazard model converges
        notes.append(f"The {label} censoring model did not converge in 100 iterations.")
    hazard[fit_rows] = res.predict(xf.to_numpy(dtype=float))
    se = np.asarray(res.bse, dtype=float)
    coef = np.asarray(res.params, dtype=float)
    z = stats.norm.ppf(0.975)
    terms = pd.DataFrame(
        {
            "model": label,
            "term": list(xf.columns),
            "estimate": coef,
            "std_error": se,
            "ci_low": coef - z * se,
            "ci_high": coef + z * se,
            "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        }
    )
    return hazard, terms


def _distribution(w: np.ndarray) -> dict[str, float]:
    if w.size == 0:
        return {k: float("nan") for k in DISTRIBUTION_STATS}
    q = np.quantile(w, [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0])
    return {**dict(zip(DISTRIBUTION_STATS[:-1], map(float, q), strict=True)), "mean": w.mean()}


def _check_arguments(
    data: pd.DataFrame,
    unit: str,
    time: str,
    censored: str,
    covariates: list[str],
    num_covs: list[str],
    truncate: tuple[float, float] | None,
    time_terms: str,
) -> None:
    """Raise a ValueError for any argument :func:`ipcw` cannot use."""
    named = {"unit": unit, "time": time, "censored": censored}
    named.update({f"covariates[{i}]": c for i, c in enumerate(covariates)})
    _check_columns(data, named)
    if set(num_covs) - set(covariates):
        raise ValueError(
            f"numerator covariates {sorted(set(num_covs) - set(covariates))} are not among the "
            "covariates (the denominator model must contain the numerator's)"
        )
    if truncate is not None and not (0 <= truncate[0] < truncate[1] <= 1):
        raise ValueError(f"truncate must be quantiles 0 <= low < high <= 1, got {truncate}")
    if time_terms not in ("indicators", "spline"):
        raise ValueError(f"time_terms must be 'indicators' or 'spline', not {time_terms!r}")
    used = list(dict.fromkeys([unit, time, censored, *covariates]))
    na = data[used].isna().any()
    if na.any():
        raise ValueError(f"missing values in {', '.join(na[na].index)}: the model needs them all")
    if not is_numeric_dtype(data[time]):
        raise ValueError(f"time column {time!r} must be numeric")


def _cumulative_weights(
    h_num: np.ndarray, h_den: np.ndarray, order: np.ndarray, new: np.ndarray, cens: np.ndarray
) -> np.ndarray:
    """Product of (1 - h_num) / (1 - h_den) over each unit's periods so far; 0 when censored.

    ``order`` sorts the rows by unit then time and ``new`` marks each unit's first sorted row;
    the product is a difference of cumulative sums of logs, restarted at every unit.
    """
    logf = np.log((1.0 - h_num) / (1.0 - h_den))[order]
    csum = np.cumsum(logf)
    start = np.maximum.accumulate(np.where(new, np.arange(len(order)), 0))
    raw = np.empty(len(order))
    raw[order] = np.exp(csum - (csum - logf)[start])
    raw[cens == 1] = 0.0
    return raw


def _truncate(
    raw: np.ndarray,
    observed: np.ndarray,
    truncate: tuple[float, float] | None,
    notes: list[str],
) -> tuple[np.ndarray, tuple[float, float] | None, int]:
    """Weights clipped to the ``truncate`` quantiles of the observed rows', bounds, rows clipped."""
    w = raw.copy()
    if truncate is None or not observed.any():
        return w, None, 0
    lo, hi = np.quantile(raw[observed], truncate)
    clipped = np.clip(raw[observed], lo, hi)
    n_trunc = int((clipped != raw[observed]).sum())
    w[observed] = clipped
    notes.append(
        f"Weights truncated at the {truncate[0]:g} and {truncate[1]:g} quantiles "
        f"({lo:.4g} and {hi:.4g}): {n_trunc:,} of {int(observed.sum()):,} rows clipped."
    )
    return w, (float(lo), float(hi)), n_trunc


# ------------------------------------------------------------------------------- public API
def ipcw(
    data: pd.DataFrame,
    unit: str,
    time: str,
    censored: str,
    covariates: Sequence[str],
    *,
    numerator: Sequence[str] | Literal[False] | None = None,
    truncate: tuple[float, float] | None = (0.01, 0.99),
    time_terms: Literal["indicators", "spline"] = "indicators",
) -> IpcwResult:
    """Stabilised inverse-probability-of-censoring weights from a pooled logistic hazard.

    Parameters
    ----------
    data : pd.DataFrame
        One row per unit and period at risk of censoring: every period a unit is observed
        uncensored at its start, up to and including the one in which it is censored (rows
        after it are an error).
    unit : str
        Unit id column.
    time : str
        Period column (numeric, e.g. the event month); the hazard's time terms.
    censored : str
        0/1 column: 1 in the period in which the unit is censored.
    covariates : sequence of str
        Columns the hazard depends on (the denominator model): index covariates and
        time-varying ones as their value at the start of the period. Numeric and boolean
        columns enter as they are, others as indicators of their levels (first sorted level
        omitted); a constant column is dropped with a note.
    numerator : sequence of str, False or None
        Covariates of the stabilising numerator model, a subset of ``covariates`` (default
        None: time alone, the usual choice); ``False`` for unstabilised weights.
    truncate : (float, float) or None
        Quantiles of the uncensored rows' weights to clip the weights to (default the 1st and
        99th percentiles); None for no truncation.
    time_terms : {"indicators", "spline"}
        One indicator per period (default; a period with no censoring gets hazard 0), or an
        intercept and a restricted cubic spline of ``time`` (four knots at its 5th, 35th, 65th
        and 95th percentiles), for many periods with few censorings each.

    Returns
    -------
    IpcwResult
        Weights per row aligned to ``data.index`` (0 on censored rows), the coefficient table,
        the weights' distribution, the censored units and their share, notes.

    Raises
    ------
    ValueError
        An unknown column, a missing value, a non-binary ``censored``, a repeated (unit,
        time), a row after the unit's censoring, a ``numerator`` covariate not among
        ``covariates``, or truncation quantiles outside 0 .. 1.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 1, 2, 3, 3, 4], "t": [0, 1, 0, 0, 1, 0],
    ...                   "c": [0, 1, 1, 0, 0, 0]})
    >>> res = ipcw(d, "id", "t", "c", [], truncate=None)
    >>> res.weights.round(4).tolist()  # time only: stabilised weights are all 1
    [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    """
    covariates = list(dict.fromkeys(covariates))
    stabilised = numerator is not False
    num_covs = list(dict.fromkeys(numerator or [])) if stabilised else []
    _check_arguments(data, unit, time, censored, covariates, num_covs, truncate, time_terms)
    notes: list[str] = []
    cens = _binary(data[censored], censored)
    order, ucode, new = _order(data, unit, time, cens)
    tval = data[time].to_numpy()
    x_time, fit_rows = _time_matrix(tval, cens, time_terms, notes)
    x_cov = _covariate_matrix(data, covariates, notes)
    x_time.index = data.index
    den_x = pd.concat([x_time, x_cov], axis=1)
    h_den, terms_den = _fit_hazard(cens, den_x, fit_rows, "denominator", notes)
    if stabilised:
        num_x = pd.concat([x_time, x_cov[[c for c in x_cov if _base(c) in num_covs]]], axis=1)
        h_num, terms_num = _fit_hazard(cens, num_x, fit_rows, "numerator", notes)
    else:
        h_num, terms_num = np.zeros(len(data)), pd.DataFrame(columns=list(COEFFICIENT_COLUMNS))

    raw = _cumulative_weights(h_num, h_den, order, new, cens)
    observed = cens == 0
    w, bounds, n_trunc = _truncate(raw, observed, truncate, notes)
    n_units = int(ucode.max()) + 1 if len(ucode) else 0
    n_cens = int(pd.unique(ucode[cens == 1]).size)
    spec = {
        "unit": unit,
        "time": time,
        "censored": censored,
        "covariates": covariates,
        "numerator": num_covs if stabilised else None,
        "stabilised": stabilised,
        "truncate": list(truncate) if truncate is not None else None,
        "time_terms": time_terms,
        "model": "pooled logistic hazard of censoring (statsmodels GLM, Binomial, logit link)",
        "weight": "cumulative product over the unit's periods of "
        + ("(1 - h_numerator) / (1 - h_denominator)" if stabilised else "1 / (1 - h)"),
        "std_errors": "model-based (the coefficients describe the censoring; the outcome "
        "model's SEs do not account for estimating the weights)",
    }
    return IpcwResult(
        weights=pd.Series(w, index=data.index, name="ipcw"),
        raw_weights=pd.Series(raw, index=data.index, name="ipcw_raw"),
        coefficients=pd.concat(
            [t for t in (terms_den, terms_num) if not t.empty] or [terms_den], ignore_index=True
        ),
        distribution=_distribution(raw[observed]),
        distribution_used=_distribution(w[observed]),
        n_rows=len(data),
        n_units=n_units,
        n_censored_units=n_cens,
        censored_share=n_cens / n_units if n_units else float("nan"),
        truncation=bounds,
        n_truncated=n_trunc,
        spec=spec,
        notes=tuple(notes),
    )


def _base(term: str) -> str:
    """The covariate a design column comes from (``sex[M]`` -> ``sex``)."""
    return term.split("[", 1)[0]

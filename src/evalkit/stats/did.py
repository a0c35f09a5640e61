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
regressors, never the absorbed fixed effects (see :mod:`evalkit.stats._did_fit` and
``docs/decisions/did.md``). Linear-model inference uses the t distribution with G - 1 degrees of
freedom (and F(q, G - 1) for the joint test), as Stata and fixest do for clustered errors; the
Poisson model uses the normal distribution (and chi-square), as pyfixest does for GLMs.

This module imports nothing from evalkit's domain modules: it works on any DataFrame.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from scipy import stats

from evalkit.jsonsafe import json_safe
from evalkit.stats._did_fit import FitOutput, drop_separated, fit_linear, fit_poisson
from evalkit.stats.evalue import EValueResult, evalue

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DID_TERM", "TIDY_COLUMNS", "DidResult", "did"]

#: Name of the difference-in-differences term in :meth:`DidResult.tidy`.
DID_TERM = "treated_x_post"

#: Columns of :meth:`DidResult.tidy`, in order.
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "period",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
    "scale",
)

#: Columns of :attr:`DidResult.event_study`, in order.
EVENT_STUDY_COLUMNS: tuple[str, ...] = (
    "period",
    "estimate",
    "std_error",
    "ci_low",
    "ci_high",
    "p_value",
    "pre",
    "reference",
)

_MODELS = ("linear", "poisson")
_LEVEL = 0.95


@dataclass(frozen=True, eq=False, repr=False)
class DidResult:
    """Result of :func:`did`.

    For ``model="poisson"`` ``estimate``, ``ci_low`` and ``ci_high`` are rate ratios and
    ``std_error`` is on the log scale (the SE of ``coefficient``); for ``model="linear"`` all are
    in the outcome's units and ``coefficient == estimate``.

    Attributes
    ----------
    estimate, std_error, ci_low, ci_high, p_value : float
        The difference-in-differences effect (ATT), its SE, 95% CI and two-sided p-value.
    n : int
        Observations (unit-period rows) used in the fit.
    n_units, n_treated_units, n_control_units : int
        Units used in the fit, in total and by group.
    n_clusters : int
        Clusters used for the standard errors.
    coefficient : float
        The model coefficient of treated x post (the log rate ratio for ``"poisson"``).
    scale : {"difference", "rate_ratio"}
        Scale of ``estimate``, ``ci_low`` and ``ci_high``.
    spec : dict
        The arguments actually used, defaults resolved, and the inference settings.
    notes : tuple of str
        Plain-English notes: defaults assumed, rows or units dropped, terms added.
    terms : pd.DataFrame
        Tidy rows (:data:`TIDY_COLUMNS`) of every non-absorbed term of the DiD model.
    event_study : pd.DataFrame or None
        With ``event_study=True``: one row per period (:data:`EVENT_STUDY_COLUMNS`); the
        reference period has estimate 0 (1 on the rate-ratio scale) and no SE.
    pretrend_stat : float
        Joint Wald test that every pre-period coefficient is zero: the F statistic
        (linear, referred to F(pretrend_df, G - 1)) or the chi-square statistic (Poisson).
        NaN without an event study.
    pretrend_df : int or None
        Number of pre-period coefficients tested.
    pretrend_p_value : float
        p-value of the joint pre-trend test.
    pretrend_denominator_df : int or None
        Denominator degrees of freedom (G - 1) of the linear model's F test; None otherwise.
    crude_rates : pd.DataFrame
        Per group (treated, control) and period (pre, post): units, events (sum of the
        outcome), person-time (sum of the exposure, or rows without one) and their ratio,
        on the analysed rows before any FE-Poisson drop, weighted when weights are given.
    """

    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_units: int
    n_treated_units: int
    n_control_units: int
    n_clusters: int
    coefficient: float
    scale: Literal["difference", "rate_ratio"]
    spec: dict[str, Any]
    notes: tuple[str, ...]
    terms: pd.DataFrame
    crude_rates: pd.DataFrame
    event_study: pd.DataFrame | None = None
    pretrend_stat: float = math.nan
    pretrend_df: int | None = None
    pretrend_p_value: float = math.nan
    pretrend_denominator_df: int | None = None

    # ------------------------------------------------------------------ views
    def tidy(self) -> pd.DataFrame:
        """All estimated terms as one tidy table.

        Returns
        -------
        pd.DataFrame
            Columns :data:`TIDY_COLUMNS`: the DiD term (``treated_x_post``) first, then any
            ``post`` and ``<covariate>_x_post`` terms (``period`` empty), then, with an event
            study, one ``event`` row per period other than the reference. ``std_error`` and
            ``statistic`` are on the coefficient's scale (log for rate ratios).
        """
        frames = [self.terms]
        if self.event_study is not None:
            es = self.event_study.loc[~self.event_study["reference"]]
            coef = np.log(es["estimate"]) if self.scale == "rate_ratio" else es["estimate"]
            frames.append(
                pd.DataFrame(
                    {
                        "term": "event",
                        "period": es["period"].to_numpy(),
                        "estimate": es["estimate"].to_numpy(),
                        "std_error": es["std_error"].to_numpy(),
                        "statistic": (coef / es["std_error"]).to_numpy(),
                        "p_value": es["p_value"].to_numpy(),
                        "ci_low": es["ci_low"].to_numpy(),
                        "ci_high": es["ci_high"].to_numpy(),
                        "scale": self.scale,
                    }
                )
            )
        out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].copy()
        return out.loc[:, list(TIDY_COLUMNS)]

    def _header(self) -> list[str]:
        spec = self.spec
        model = (
            "linear, unit and time fixed effects"
            if spec["model"] == "linear"
            else "Poisson, unit and time fixed effects"
            + (f", offset log({spec['exposure']})" if spec["exposure"] else "")
        )
        scale = "rate ratio" if self.scale == "rate_ratio" else "difference"
        dist = "t(G - 1)" if spec["model"] == "linear" else "normal"
        lines = [
            f"Difference-in-differences: {spec['outcome']} ({scale}, ATT of {spec['treated']} "
            f"x {spec['post']})",
            f"Model: {model}",
            f"Inference: cluster-robust CR1 by {spec['cluster']} ({self.n_clusters:,} clusters), "
            f"{dist}, 95% CI",
            f"N = {self.n:,} rows, {self.n_units:,} units ({self.n_treated_units:,} treated, "
            f"{self.n_control_units:,} control)",
        ]
        return lines

    def _pretrend_line(self) -> str | None:
        if self.pretrend_df is None:
            return None
        if math.isnan(self.pretrend_stat):
            return "Pre-trend test: not available (no pre-period coefficient)"
        if self.spec["model"] == "linear":
            stat = (
                f"F({self.pretrend_df}, {self.pretrend_denominator_df}) = {self.pretrend_stat:.3f}"
            )
        else:
            stat = f"chi2({self.pretrend_df}) = {self.pretrend_stat:.3f}"
        return f"Pre-trend test (all pre-period coefficients zero): {stat}, p = " + (
            f"{self.pretrend_p_value:.4g}"
        )

    def summary(self) -> str:
        """Header (analysis, estimand, model, inference, N), the tidy table and the notes.

        Returns
        -------
        str
            Plain text; Jupyter shows the same through ``_repr_html_``.
        """
        lines = self._header()
        head = (
            f"Estimate: {self.estimate:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"SE{' (log scale)' if self.scale == 'rate_ratio' else ''} {self.std_error:.4g}, "
            f"p = {self.p_value:.4g}"
        )
        lines += ["", head]
        pre = self._pretrend_line()
        if pre:
            lines.append(pre)
        table = self.tidy()
        table["period"] = ["" if p is None else p for p in table["period"]]
        with pd.option_context("display.width", 120, "display.max_rows", 200):
            lines += ["", table.to_string(index=False, float_format=lambda v: f"{v:.4g}")]
        if self.notes:
            lines += ["", "Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every number, the spec, the notes and the tables.

        Returns
        -------
        dict
            NaN becomes ``None``; numpy scalars become Python numbers.
        """
        out: dict[str, Any] = {
            "analysis": "did",
            "model": self.spec["model"],
            "scale": self.scale,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "p_value": self.p_value,
            "coefficient": self.coefficient,
            "n": self.n,
            "n_units": self.n_units,
            "n_treated_units": self.n_treated_units,
            "n_control_units": self.n_control_units,
            "n_clusters": self.n_clusters,
            "spec": self.spec,
            "notes": list(self.notes),
            "terms": self.tidy().to_dict(orient="records"),
            "crude_rates": self.crude_rates.to_dict(orient="records"),
            "event_study": (
                None if self.event_study is None else self.event_study.to_dict(orient="records")
            ),
            "pretrend": (
                None
                if self.pretrend_df is None
                else {
                    "stat": self.pretrend_stat,
                    "df": self.pretrend_df,
                    "denominator_df": self.pretrend_denominator_df,
                    "p_value": self.pretrend_p_value,
                    "test": "F" if self.spec["model"] == "linear" else "chi2",
                }
            ),
        }
        return json_safe(out)

    def evalue(self) -> EValueResult:
        """Compute the E-value of the rate ratio and its CI (Poisson model only).

        Returns
        -------
        EValueResult
            See :func:`evalkit.stats.evalue.evalue`.

        Raises
        ------
        ValueError
            If the model is linear (the E-value is defined here for a rate ratio).
        """
        if self.scale != "rate_ratio":
            raise ValueError(
                "the E-value needs a ratio: fit the model with model='poisson' to get a rate ratio"
            )
        return evalue(self.estimate, self.ci_low, self.ci_high)

    def plot_event_study(self, ax: Axes | None = None) -> Axes:
        """Per-period coefficients with 95% CIs, the reference period marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure's axes otherwise.

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).

        Raises
        ------
        ValueError
            If the fit had no event study.
        """
        if self.event_study is None:
            raise ValueError("no event study: call did(..., event_study=True)")
        import matplotlib.pyplot as plt
        from matplotlib import ticker

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        es = self.event_study
        x = np.arange(len(es)) if not is_numeric_dtype(es["period"]) else es["period"].to_numpy()
        est = es["estimate"].to_numpy(dtype=float)
        lo = es["ci_low"].to_numpy(dtype=float)
        hi = es["ci_high"].to_numpy(dtype=float)
        ref = es["reference"].to_numpy(dtype=bool)
        null = 1.0 if self.scale == "rate_ratio" else 0.0
        ax.axhline(null, color="0.5", linewidth=0.8)
        yerr = np.vstack([est - lo, hi - est])
        ax.errorbar(
            x[~ref], est[~ref], yerr=yerr[:, ~ref], fmt="o", color="C0", capsize=2, markersize=4
        )
        ax.plot(x[ref], est[ref], "o", mfc="white", color="C0", markersize=5, label="reference")
        pre = es["pre"].to_numpy(dtype=bool)
        if pre.any() and (~pre).any():
            boundary = (np.max(x[pre]) + np.min(x[~pre])) / 2
            ax.axvline(boundary, color="0.3", linestyle="--", linewidth=0.8)
        if self.scale == "rate_ratio":
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
            ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%.2g"))
            ax.set_ylabel(f"Rate ratio, {self.spec['outcome']}")
        else:
            ax.set_ylabel(f"Difference, {self.spec['outcome']}")
        ax.set_xlabel(f"{self.spec['time']} (reference {self.spec['reference_period']})")
        pre_line = self._pretrend_line()
        ax.set_title("Event study" + (f"\n{pre_line}" if pre_line else ""), fontsize=9)
        if not is_numeric_dtype(es["period"]):
            ax.set_xticks(x, [str(p) for p in es["period"]], rotation=90)
        else:
            ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        return ax


# ---------------------------------------------------------------------- helpers
def _as_binary(values: pd.Series, name: str, role: str) -> np.ndarray:
    """0/1 integer array from a 0/1 or boolean column, or a ValueError naming the column."""
    if is_bool_dtype(values):
        return values.to_numpy(dtype=np.int8)
    if not is_numeric_dtype(values):
        raise ValueError(
            f"{role} column {name!r} must be 0/1 or boolean; it has dtype {values.dtype}"
        )
    arr = values.to_numpy(dtype=float)
    bad = ~np.isin(arr, (0.0, 1.0))
    if bad.any():
        found = sorted(set(np.unique(arr[bad]).tolist()))[:5]
        raise ValueError(
            f"{role} column {name!r} must be binary (0/1); found other values, e.g. {found}"
        )
    return arr.astype(np.int8)


def _check_columns(panel: pd.DataFrame, named: dict[str, str | None]) -> None:
    missing = [
        f"{role}={col!r}" for role, col in named.items() if col is not None and col not in panel
    ]
    if missing:
        cols = list(map(str, panel.columns))
        shown = ", ".join(cols[:30]) + (", ..." if len(cols) > 30 else "")
        raise ValueError(f"unknown column(s): {'; '.join(missing)}; the panel has: {shown}")


def _covariate_terms(
    data: pd.DataFrame, covariates: list[str], post: np.ndarray, notes: list[str]
) -> list[tuple[str, np.ndarray]]:
    """Build ``covariate x post`` columns; categorical ones as level indicators (first omitted)."""
    terms: list[tuple[str, np.ndarray]] = []
    for cov in covariates:
        s = data[cov]
        if s.nunique(dropna=True) < 2:
            notes.append(f"Covariate {cov!r} is constant in the analysed rows and was dropped.")
            continue
        if is_bool_dtype(s) or is_numeric_dtype(s):
            terms.append((f"{cov}_x_post", s.to_numpy(dtype=float) * post))
            continue
        levels = sorted(s.astype(str).unique())
        notes.append(
            f"Covariate {cov!r} is categorical: entered as {len(levels) - 1} indicator(s) x post, "
            f"reference level {levels[0]!r}."
        )
        as_str = s.astype(str).to_numpy()
        for level in levels[1:]:
            terms.append((f"{cov}[{level}]_x_post", (as_str == level).astype(float) * post))
    return terms


def _infer(coef: np.ndarray, se: np.ndarray, model: str, df: int) -> dict[str, np.ndarray]:
    """Statistic, p-value and 95% CI on the coefficient scale."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = coef / se
    if model == "linear":
        crit = stats.t.ppf(0.5 + _LEVEL / 2, df)
        p = 2 * stats.t.sf(np.abs(stat), df)
    else:
        crit = stats.norm.ppf(0.5 + _LEVEL / 2)
        p = 2 * stats.norm.sf(np.abs(stat))
    return {"statistic": stat, "p_value": p, "lo": coef - crit * se, "hi": coef + crit * se}


def _wald(b: np.ndarray, v: np.ndarray, model: str, denom_df: int) -> tuple[float, int, float]:
    """Joint Wald test that ``b`` is zero: (statistic, df, p-value)."""
    q = len(b)
    try:
        w = float(b @ np.linalg.solve(v, b))
    except np.linalg.LinAlgError:
        q = int(np.linalg.matrix_rank(v))
        w = float(b @ np.linalg.pinv(v) @ b)
    if model == "linear":
        f = w / q
        return f, q, float(stats.f.sf(f, q, denom_df))
    return w, q, float(stats.chi2.sf(w, q))


def _rows(
    names: Sequence[str], fit: FitOutput, model: str, df: int, labels: dict[str, str]
) -> pd.DataFrame:
    idx = [fit.names.index(n) for n in names]
    coef = fit.coef[idx]
    se = np.sqrt(np.diag(fit.vcov)[idx])
    inf = _infer(coef, se, model, df)
    ratio = model == "poisson"
    return pd.DataFrame(
        {
            "term": [labels[n] for n in names],
            "period": pd.Series([None] * len(names), dtype=object),
            "estimate": np.exp(coef) if ratio else coef,
            "std_error": se,
            "statistic": inf["statistic"],
            "p_value": inf["p_value"],
            "ci_low": np.exp(inf["lo"]) if ratio else inf["lo"],
            "ci_high": np.exp(inf["hi"]) if ratio else inf["hi"],
            "scale": "rate_ratio" if ratio else "difference",
        }
    )


def _crude_rates(
    y: np.ndarray,
    tr: np.ndarray,
    post: np.ndarray,
    units: np.ndarray,
    pt: np.ndarray,
    w: np.ndarray,
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "group": np.where(tr == 1, "treated", "control"),
            "period": np.where(post == 1, "post", "pre"),
            "unit": units,
            "events": w * y,
            "person_time": w * pt,
        }
    )
    out = frame.groupby(["group", "period"], sort=False).agg(
        n_units=("unit", "nunique"), events=("events", "sum"), person_time=("person_time", "sum")
    )
    out["rate"] = out["events"] / out["person_time"]
    order = pd.MultiIndex.from_product([["treated", "control"], ["pre", "post"]])
    return out.reindex(order).dropna(how="all").rename_axis(["group", "period"]).reset_index()


# ---------------------------------------------------------------------- public API
def did(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    post: str,
    cluster: str | None = None,
    exposure: str | None = None,
    covariates: Sequence[str] | str | None = None,
    model: Literal["linear", "poisson"] = "linear",
    event_study: bool = False,
    *,
    weights: str | None = None,
    reference_period: Any = -1,
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
    cluster : str, optional
        Cluster column (e.g. ``subclass``, the matched set). Default: ``unit``.
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
        an unknown model; a reference period that is not a pre-period in the data.

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
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, not {type(panel).__name__}")
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, not {model!r}")
    if isinstance(covariates, str):
        covariates = [covariates]
    covs = list(dict.fromkeys(covariates or []))
    named = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "treated": treated,
        "post": post,
        "cluster": cluster,
        "exposure": exposure,
        "weights": weights,
    }
    named.update({f"covariates[{i}]": c for i, c in enumerate(covs)})
    _check_columns(panel, named)
    notes: list[str] = []
    cluster_col = unit if cluster is None else cluster
    if cluster is None:
        notes.append(f"Standard errors clustered by unit ({unit!r}): no cluster column was given.")

    used = list(dict.fromkeys(c for c in named.values() if c is not None))
    data = panel.loc[:, used]
    na = data.isna()
    if na.to_numpy().any():
        bad_cols = [c for c in used if na[c].any()]
        n_na = int(na.any(axis=1).sum())
        notes.append(
            f"{n_na:,} row(s) with a missing value in {', '.join(map(repr, bad_cols))} were left "
            "out."
        )
        data = data.loc[~na.any(axis=1)]
    if data.empty:
        raise ValueError("no rows left to analyse (every row has a missing value)")

    if not (is_numeric_dtype(data[outcome]) or is_bool_dtype(data[outcome])):
        raise ValueError(f"outcome column {outcome!r} must be numeric; it is {data[outcome].dtype}")
    if weights is not None:
        if not is_numeric_dtype(data[weights]):
            raise ValueError(f"weights column {weights!r} must be numeric")
        wv = data[weights].to_numpy(dtype=float)
        if (wv < 0).any() or not np.isfinite(wv).all():
            raise ValueError(f"weights column {weights!r} must be finite and non-negative")
        if (wv == 0).any():
            notes.append(f"{int((wv == 0).sum()):,} row(s) with weight 0 were left out.")
            data = data.loc[wv > 0]
        notes.append(f"Observations weighted by {weights!r}.")
        if data.empty:
            raise ValueError(f"no rows left to analyse: every weight in {weights!r} is 0")

    y = data[outcome].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ValueError(f"outcome column {outcome!r} has infinite values")
    if model == "poisson" and (y < 0).any():
        raise ValueError(
            f"outcome column {outcome!r} has negative values: the Poisson model needs y >= 0"
        )
    tr = _as_binary(data[treated], treated, "treated")
    po = _as_binary(data[post], post, "post")
    unit_codes, _ = pd.factorize(data[unit], sort=True)
    time_codes, time_levels = pd.factorize(data[time], sort=True)
    n_unit_levels = int(unit_codes.max()) + 1

    tr_min = np.full(n_unit_levels, 2, dtype=np.int8)
    tr_max = np.full(n_unit_levels, -1, dtype=np.int8)
    np.minimum.at(tr_min, unit_codes, tr)
    np.maximum.at(tr_max, unit_codes, tr)
    mixed = tr_min != tr_max
    if mixed.any():
        examples = pd.unique(data[unit].to_numpy()[mixed[unit_codes]])[:3].tolist()
        raise ValueError(
            f"treated column {treated!r} is not constant within unit {unit!r}: "
            f"{int(mixed.sum()):,} unit(s) have both 0 and 1 (e.g. {examples})"
        )
    if (tr_max == 1).sum() == 0:
        raise ValueError(f"no treated units: {treated!r} is 0 for every analysed row")
    if (tr_max == 0).sum() == 0:
        raise ValueError(f"no control units: {treated!r} is 1 for every analysed row")
    if (po[tr == 1] == 1).all() or (po[tr == 1] == 0).all():
        which = "post" if (po[tr == 1] == 0).all() else "pre"
        raise ValueError(
            f"the treated units have no {which}-period rows ({post!r} is "
            f"{1 - int(which == 'post')} in every treated row)"
        )
    if (po[tr == 0] == 1).all() or (po[tr == 0] == 0).all():
        which = "post" if (po[tr == 0] == 0).all() else "pre"
        raise ValueError(f"the control units have no {which}-period rows")
    keys = unit_codes.astype(np.int64) * (int(time_codes.max()) + 1) + time_codes
    if len(np.unique(keys)) != len(keys):
        raise ValueError(
            f"repeated ({unit!r}, {time!r}) rows: a panel has one row per unit and period"
        )

    if exposure is not None:
        if not is_numeric_dtype(data[exposure]):
            raise ValueError(f"exposure column {exposure!r} must be numeric")
        ex = data[exposure].to_numpy(dtype=float)
        nonpos = ~(ex > 0) | ~np.isfinite(ex)
        if nonpos.any():
            raise ValueError(
                f"exposure column {exposure!r} must be positive person-time at risk: "
                f"{int(nonpos.sum()):,} row(s) are zero, negative or infinite (drop rows with no "
                "time at risk before fitting)"
            )
        if model == "linear":
            notes.append(
                f"Exposure {exposure!r} is used by the Poisson model only; the linear model "
                "ignores it."
            )
    else:
        ex = np.ones(len(data))
        if model == "poisson":
            notes.append("No exposure given: every row counts as equal person-time at risk.")

    cl_codes, _ = pd.factorize(data[cluster_col], sort=True)
    if cluster is not None:
        per_unit = pd.Series(cl_codes).groupby(unit_codes).nunique()
        if (per_unit > 1).any():
            notes.append(
                f"{int((per_unit > 1).sum()):,} unit(s) span more than one cluster of "
                f"{cluster!r}: the unit effects are not nested in the clusters."
            )

    w = data[weights].to_numpy(dtype=float) if weights is not None else np.ones(len(data))
    crude = _crude_rates(y, tr, po, unit_codes, ex, w)

    # ------------------------------------------------------------ design
    work = pd.DataFrame(
        {"_y": y, "_unit": unit_codes, "_time": time_codes, "_cl": cl_codes, "_w": w}
    )
    if exposure is not None:
        work["_lexpo"] = np.log(ex)
    labels: dict[str, str] = {}
    extra: list[str] = []

    def add(label: str, values: np.ndarray) -> str:
        name = f"x{len(labels)}"
        labels[name] = label
        work[name] = values
        return name

    did_name = add(DID_TERM, (tr * po).astype(float))
    post_by_time = pd.Series(po).groupby(time_codes).agg(["min", "max"])
    if (post_by_time["min"] != post_by_time["max"]).any():
        extra.append(add("post", po.astype(float)))
        notes.append(
            f"{post!r} varies within periods of {time!r}, so it is not absorbed by the period "
            "effects: it was entered as a regressor too."
        )
    for label, values in _covariate_terms(data, covs, po.astype(float), notes):
        extra.append(add(label, values))

    event_names: list[str] = []
    event_periods: list[int] = []
    pre_codes: set[int] = set()
    ref_code: int | None = None
    if event_study:
        treated_rows = tr == 1
        tpost = pd.Series(po[treated_rows]).groupby(time_codes[treated_rows]).agg(["min", "max"])
        if (tpost["min"] != tpost["max"]).any():
            raise ValueError(
                f"event_study needs {time!r} to be time relative to treatment: {post!r} varies "
                "within a period among the treated units"
            )
        try:
            ref_code = int(time_levels.get_loc(reference_period))
        except KeyError:
            raise ValueError(
                f"reference_period {reference_period!r} is not a value of {time!r}"
            ) from None
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
        for k in range(len(time_levels)):
            if k == ref_code or not (has_t[k] and has_c[k]):
                continue
            event_names.append(
                add(f"event[{time_levels[k]}]", (treated_rows & (time_codes == k)).astype(float))
            )
            event_periods.append(k)

    # ------------------------------------------------------------ fit
    n_units_dropped = 0
    if model == "poisson":
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
        unit_tr = pd.Series(tr[work.index.to_numpy()]).groupby(work["_unit"].to_numpy()).max()
        if (unit_tr == 1).sum() == 0 or (unit_tr == 0).sum() == 0:
            raise ValueError(
                "after dropping units whose outcome is zero throughout, no "
                + ("treated" if (unit_tr == 1).sum() == 0 else "control")
                + " units are left"
            )

    def run(regs: list[str]) -> FitOutput:
        if model == "linear":
            return fit_linear(work, regs, weighted=weights is not None)
        return fit_poisson(work, regs, weighted=weights is not None, offset=exposure is not None)

    fit = run([did_name, *extra])
    if did_name not in fit.names:
        raise ValueError(
            f"the treated x post term was absorbed by the fixed effects (does {post!r} vary "
            "within the treated units?)"
        )
    for message in dict.fromkeys(fit.messages):
        notes.append(f"Estimator warning: {message.strip()}")
    df_t = fit.n_clusters - 1
    terms = _rows([n for n in fit.names if n in labels], fit, model, df_t, labels)
    main = terms.iloc[0]
    b = float(fit.coef[fit.names.index(did_name)])

    es_table = None
    pre_stat, pre_df, pre_p = math.nan, None, math.nan
    if event_study:
        es_fit = run([*event_names, *extra])
        for message in dict.fromkeys(es_fit.messages):
            notes.append(f"Estimator warning (event study): {message.strip()}")
        kept = [n for n in event_names if n in es_fit.names]
        if len(kept) < len(event_names):
            notes.append(
                f"Event study: {len(event_names) - len(kept)} period coefficient(s) were dropped "
                "as collinear."
            )
        rows = _rows(kept, es_fit, model, es_fit.n_clusters - 1, labels)
        code_of = dict(zip(event_names, event_periods, strict=True))
        codes = [code_of[n] for n in kept]
        ref_value = 1.0 if model == "poisson" else 0.0
        es_table = pd.DataFrame(
            {
                "period": [time_levels[c] for c in codes] + [time_levels[ref_code]],
                "estimate": [*rows["estimate"], ref_value],
                "std_error": [*rows["std_error"], math.nan],
                "ci_low": [*rows["ci_low"], math.nan],
                "ci_high": [*rows["ci_high"], math.nan],
                "p_value": [*rows["p_value"], math.nan],
                "pre": [c in pre_codes for c in codes] + [True],
                "reference": [False] * len(codes) + [True],
                "_code": [*codes, ref_code],
            }
        )
        es_table = es_table.sort_values("_code").drop(columns="_code").reset_index(drop=True)
        pre_names = [n for n, c in zip(kept, codes, strict=True) if c in pre_codes]
        if pre_names:
            idx = [es_fit.names.index(n) for n in pre_names]
            pre_stat, pre_df, pre_p = _wald(
                es_fit.coef[idx], es_fit.vcov[np.ix_(idx, idx)], model, es_fit.n_clusters - 1
            )
        else:
            pre_df = 0
            notes.append("Event study: no pre-period coefficient, so no pre-trend test.")

    unit_tr = pd.Series(tr[work.index.to_numpy()]).groupby(work["_unit"].to_numpy()).max()
    spec = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "treated": treated,
        "post": post,
        "cluster": cluster_col,
        "exposure": exposure,
        "covariates": covs,
        "model": model,
        "event_study": bool(event_study),
        "weights": weights,
        "reference_period": reference_period if event_study else None,
        "estimand": "ATT: coefficient of treated x post, unit and time fixed effects",
        "fixed_effects": [unit, time],
        "vcov": "CR1 cluster-robust",
        "small_sample": "G/(G-1) * (N-1)/(N-K), K = non-absorbed regressors only",
        "k": len(fit.names),
        "inference": "t(G-1)" if model == "linear" else "normal",
        "level": _LEVEL,
        "engine": fit.engine,
    }
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
        crude_rates=crude,
        event_study=es_table,
        pretrend_stat=float(pre_stat),
        pretrend_df=pre_df,
        pretrend_p_value=float(pre_p),
        pretrend_denominator_df=(
            (es_fit.n_clusters - 1) if event_study and model == "linear" else None
        ),
    )

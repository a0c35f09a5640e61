"""The result of :func:`evalkit.stats.did.did`: :class:`DidResult` and its table columns.

A :class:`~evalkit.stats.result.Result`: ``tidy()`` gives every estimated term, ``summary()`` the
header (estimand, model, inference, N), the estimate, the pre-trend test, the table and the
notes; ``to_dict()`` every number, the spec, notes and tables, JSON-safe;
``plot_event_study()`` draws the event study with :func:`evalkit.stats.plots.event_study`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.evalue import EValueResult, evalue
from evalkit.stats.result import ESTIMATE_COLUMNS, Result, format_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["DID_TERM", "EVENT_STUDY_COLUMNS", "TIDY_COLUMNS", "DidResult"]

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
EVENT_STUDY_COLUMNS: tuple[str, ...] = ("period", *ESTIMATE_COLUMNS, "pre", "reference")


@dataclass(frozen=True, eq=False, repr=False)
class DidResult(Result):
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
        Joint Wald test that the pre-period coefficients of :attr:`pretrend_periods` are zero:
        the F statistic (linear, referred to F(pretrend_df, G - 1)) or the chi-square
        statistic (Poisson). NaN without an event study.
    pretrend_df : int or None
        Number of pre-period coefficients tested.
    pretrend_periods : tuple
        The periods whose coefficients the pre-trend test covered (every pre-period with a
        coefficient unless ``did(pretrend_periods=...)`` chose some); empty without an event
        study.
    pretrend_p_value : float
        p-value of the joint pre-trend test.
    pretrend_denominator_df : int or None
        Denominator degrees of freedom (G - 1) of the linear model's F test; None otherwise.
    event_study_coef : pd.Series or None
        The event-study coefficients (log rate ratios for Poisson), indexed by period, the
        reference period left out.
    event_study_vcov : pd.DataFrame or None
        Their cluster-robust covariance, indexed by period on both axes: with
        ``event_study_coef``, what a sensitivity analysis of the whole path needs
        (Rambachan & Roth bounds).
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
    pretrend_periods: tuple[Any, ...] = ()
    event_study_coef: pd.Series | None = None
    event_study_vcov: pd.DataFrame | None = None

    analysis = "did"

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

    def summary_header(self) -> list[str]:
        """Analysis and estimand, model, inference, N, the estimate and the pre-trend test."""
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
            "",
            f"Estimate: {self.estimate:.4g} (95% CI {self.ci_low:.4g} to {self.ci_high:.4g}), "
            f"SE{' (log scale)' if self.scale == 'rate_ratio' else ''} {self.std_error:.4g}, "
            f"p = {self.p_value:.4g}",
        ]
        pre = self._pretrend_line()
        if pre:
            lines.append(pre)
        return lines

    def _pretrend_line(self) -> str | None:
        """The joint pre-trend test as one line of text; None without an event study."""
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
        return f"Pre-trend test ({self._pretrend_scope()} zero): {stat}, p = " + (
            f"{self.pretrend_p_value:.4g}"
        )

    def _pretrend_scope(self) -> str:
        """Which coefficients the pre-trend test covered, in words."""
        if not self.pretrend_periods:
            return "no pre-period coefficient"
        first, last = self.pretrend_periods[0], self.pretrend_periods[-1]
        if len(self.pretrend_periods) == 1:
            return f"the coefficient of period {first}"
        return f"the {len(self.pretrend_periods)} coefficients of periods {first} to {last}"

    def summary(self) -> str:
        """Header (analysis, estimand, model, inference, N), the tidy table and the notes.

        The base class's layout, with an empty ``period`` shown blank rather than ``None``.

        Returns
        -------
        str
            Plain text; ``repr()`` and Jupyter show the same.
        """
        table = self.tidy()
        table["period"] = ["" if p is None else p for p in table["period"]]
        lines = [*self.summary_header(), "", format_table(table)]
        if self.notes:
            lines += ["", "Notes:", *(f"- {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every number, the spec, the notes and the tables.

        Returns
        -------
        dict
            NaN becomes ``None``; numpy scalars become Python numbers.
        """
        out: dict[str, Any] = {
            "analysis": self.analysis,
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
            "pretrend": self._pretrend_dict(),
        }
        return json_safe(out)

    def _pretrend_dict(self) -> dict[str, Any] | None:
        if self.pretrend_df is None:
            return None
        return {
            "stat": self.pretrend_stat,
            "df": self.pretrend_df,
            "denominator_df": self.pretrend_denominator_df,
            "p_value": self.pretrend_p_value,
            "test": "F" if self.spec["model"] == "linear" else "chi2",
            "periods": list(self.pretrend_periods),
        }

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

    def plot_event_study(
        self, ax: Axes | None = None, *, table: pd.DataFrame | None = None, label: str = ""
    ) -> Axes:
        """Per-period estimates with 95% CIs, by :func:`evalkit.stats.plots.event_study`.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure's axes otherwise.
        table : pd.DataFrame, optional
            A published (rounded) copy of :attr:`event_study` to draw instead, as the report does.
        label : str
            The outcome's name in the title (default: the outcome column).

        Returns
        -------
        matplotlib.axes.Axes
            The axes drawn on (nothing is saved or shown).

        Raises
        ------
        ValueError
            If the fit had no event study.
        """
        if self.event_study is None and table is None:
            raise ValueError("no event study: call did(..., event_study=True)")
        return plots.event_study(
            self.event_study if table is None else table,
            label=label or self.spec["outcome"],
            ax=ax,
            log=self.scale == "rate_ratio",
        )

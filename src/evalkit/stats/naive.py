"""Naive pre/post change for the treated alone: what an uncontrolled evaluation would report.

Shown beside the matched difference-in-differences so readers see what regression to the mean and
secular trends do to a before/after comparison. The rate ratio comes from a Poisson GLM of the
count on a post indicator with log person-time as offset (statsmodels), with standard errors
clustered by unit. The absolute change is each unit's rate after minus its rate before (events per
person-month), scaled to the window and averaged over units, with a t-interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from evalkit.stats.result import Result

__all__ = ["NaiveResult", "naive_prepost"]


@dataclass(frozen=True, repr=False)
class NaiveResult(Result):
    """Before/after change among the treated only (no control group).

    A :class:`~evalkit.stats.result.Result`: ``to_dict()`` carries every number below, the
    spec, the notes and the ``tidy()`` rows; ``repr()`` and Jupyter show ``summary()``.

    Attributes
    ----------
    rate_ratio, rr_ci_low, rr_ci_high : float
        Rate after over rate before, with its 95% CI (Poisson GLM, SEs clustered by unit).
    log_rr_std_error : float
        SE of the log rate ratio.
    difference_per_person, diff_ci_low, diff_ci_high, diff_std_error : float
        Mean over units of (rate after - rate before) x ``window_months``, its t-interval
        and SE.
    rate_before, rate_after : float
        Events per person-month before and after, over all units.
    n_units : int
        Units (treated people) analysed.
    window_months : int
        Length of the post window.
    spec : dict
        The arguments used and the model.
    notes : tuple of str
        Rows left out.
    """

    rate_ratio: float
    rr_ci_low: float
    rr_ci_high: float
    log_rr_std_error: float
    difference_per_person: float
    diff_ci_low: float
    diff_ci_high: float
    diff_std_error: float
    rate_before: float
    rate_after: float
    n_units: int
    window_months: int
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    analysis = "naive_prepost"

    def tidy(self) -> pd.DataFrame:
        """One row per scale: ``scale``, ``estimate``, ``std_error``, ``ci_low``, ``ci_high``."""
        return pd.DataFrame(
            {
                "scale": ["rate_ratio", "difference_per_person"],
                "estimate": [self.rate_ratio, self.difference_per_person],
                "std_error": [self.log_rr_std_error, self.diff_std_error],
                "ci_low": [self.rr_ci_low, self.diff_ci_low],
                "ci_high": [self.rr_ci_high, self.diff_ci_high],
            }
        )

    def summary(self) -> str:
        """Readable summary."""
        return (
            f"Naive pre/post ({self.spec.get('outcome')}), treated only, n = {self.n_units}\n"
            f"  rate before {self.rate_before:.4f}, after {self.rate_after:.4f} per person-month\n"
            f"  rate ratio {self.rate_ratio:.3f} (95% CI {self.rr_ci_low:.3f} to "
            f"{self.rr_ci_high:.3f})\n"
            f"  difference over {self.window_months} months per person "
            f"{self.difference_per_person:.3f} "
            f"({self.diff_ci_low:.3f} to {self.diff_ci_high:.3f})\n"
            "  No control group: includes regression to the mean and secular change."
        )


def naive_prepost(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    post: str,
    *,
    exposure: str | None = None,
    window_months: int,
) -> NaiveResult:
    """Rate ratio and per-person difference after versus before, for the treated alone.

    Parameters
    ----------
    panel : pd.DataFrame
        Treated units' rows, one per unit and period (e.g. person-month), covering the baseline
        and the window only.
    outcome, unit, post : str
        Count column, unit id and 0/1 post indicator.
    exposure : str, optional
        Person-time at risk of each row (rows with zero exposure are dropped).
    window_months : int
        Length of the post window, to express the difference per person over the window.

    Returns
    -------
    NaiveResult
        Rate ratio and per-person difference with 95% CIs, the rates before and after, the
        spec and the notes.
    """
    for col in (outcome, unit, post, *([exposure] if exposure else [])):
        if col not in panel.columns:
            raise ValueError(f"column '{col}' is not in the panel")
    df = panel[[c for c in (outcome, unit, post, exposure) if c]].copy()
    expo = df[exposure].to_numpy(float) if exposure else np.ones(len(df))
    keep = expo > 0
    df, expo = df[keep], expo[keep]
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} rows with no person-time at risk left out.")
    y = df[outcome].to_numpy(float)
    x = sm.add_constant(df[post].to_numpy(float))
    groups = pd.factorize(df[unit])[0]
    fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(expo)).fit(
        cov_type="cluster", cov_kwds={"groups": groups}
    )
    b, se = float(fit.params[1]), float(fit.bse[1])
    z = stats.norm.ppf(0.975)
    # Absolute change: per-unit rates before and after, averaged over units.
    g = pd.DataFrame({"unit": df[unit].to_numpy(), "post": df[post].to_numpy(), "y": y, "e": expo})
    per = g.groupby(["unit", "post"]).agg(y=("y", "sum"), e=("e", "sum")).unstack("post")
    per = per.dropna()
    rate_pre = per[("y", 0)] / per[("e", 0)]
    rate_post = per[("y", 1)] / per[("e", 1)]
    d = (rate_post - rate_pre) * window_months
    n = len(d)
    diff = float(d.mean())
    diff_se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    t = stats.t.ppf(0.975, max(n - 1, 1))
    return NaiveResult(
        rate_ratio=float(np.exp(b)),
        rr_ci_low=float(np.exp(b - z * se)),
        rr_ci_high=float(np.exp(b + z * se)),
        log_rr_std_error=se,
        difference_per_person=diff,
        diff_ci_low=diff - t * diff_se,
        diff_ci_high=diff + t * diff_se,
        diff_std_error=diff_se,
        rate_before=float(y[df[post].to_numpy() == 0].sum() / expo[df[post].to_numpy() == 0].sum()),
        rate_after=float(y[df[post].to_numpy() == 1].sum() / expo[df[post].to_numpy() == 1].sum()),
        n_units=int(df[unit].nunique()),
        window_months=int(window_months),
        spec={
            "outcome": outcome,
            "unit": unit,
            "post": post,
            "exposure": exposure,
            "window_months": int(window_months),
            "model": "poisson_glm_cluster_unit",
        },
        notes=tuple(notes),
    )

"""Completeness of follow-up: how completers differed from non-completers at baseline.

Complete-case change is biased when drop-out depends on the outcome, so the result compares
the baseline score (and any covariates) of the episodes followed up with those lost, by Welch's
t-test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "COVARIATE_COLUMNS",
    "baseline_comparison",
    "covariate_comparison",
    "welch_difference",
]

#: Columns of the completer/non-completer covariate comparison table.
COVARIATE_COLUMNS: tuple[str, ...] = (
    "covariate",
    "mean_completers",
    "mean_noncompleters",
    "difference",
    "ci_low",
    "ci_high",
    "p_value",
    "n_completers",
    "n_noncompleters",
)


def welch_difference(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict[str, float]:
    """Means of a and b, difference a − b with Welch CI and p (scipy ``ttest_ind``).

    The CI and p are NaN unless each group has at least 2 values and one of them varies.

    Examples
    --------
    >>> import numpy as np
    >>> w = welch_difference(np.array([40.0, 44.0, 48.0]), np.array([30.0, 34.0]))
    >>> w["difference"], w["n_a"], w["n_b"]
    (12.0, 3, 2)
    """
    out = {
        "mean_a": float(a.mean()) if a.size else math.nan,
        "mean_b": float(b.mean()) if b.size else math.nan,
        "n_a": int(a.size),
        "n_b": int(b.size),
    }
    out["difference"] = out["mean_a"] - out["mean_b"]
    out.update(ci_low=math.nan, ci_high=math.nan, p_value=math.nan)
    if a.size >= 2 and b.size >= 2 and (a.std() > 0 or b.std() > 0):
        res = stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(level)
        out.update(ci_low=float(ci.low), ci_high=float(ci.high), p_value=float(res.pvalue))
    return out


def baseline_comparison(base: pd.DataFrame) -> tuple[dict[str, float], list[str]]:
    """Baseline score of completers against non-completers, with a note when too few.

    ``base`` holds the episodes with a scorable baseline (``before``, ``completer``).
    """
    w = welch_difference(
        base.loc[base["completer"], "before"].to_numpy(dtype="float64"),
        base.loc[~base["completer"], "before"].to_numpy(dtype="float64"),
    )
    notes = []
    if w["n_b"] < 2 or w["n_a"] < 2:
        notes.append(
            "Too few completers or non-completers (fewer than 2) to compare their baseline scores."
        )
    return w, notes


def covariate_comparison(
    base: pd.DataFrame, covariates: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Each numeric covariate's mean among completers and non-completers, Welch difference.

    ``base`` holds the episodes with a scorable baseline, their covariates and ``completer``.
    A covariate that is not numeric (or is empty) is left out with a note.
    """
    notes: list[str] = []
    rows = []
    for c in covariates:
        vals = pd.to_numeric(base[c], errors="coerce") if base[c].dtype != bool else base[c]
        vals = vals.astype("float64")
        if vals.isna().all():
            notes.append(f"Covariate '{c}' is not numeric or is empty; not compared.")
            continue
        ok = vals.notna()
        cw = welch_difference(
            vals[ok & base["completer"]].to_numpy(),
            vals[ok & ~base["completer"]].to_numpy(),
        )
        rows.append(
            {
                "covariate": c,
                "mean_completers": cw["mean_a"],
                "mean_noncompleters": cw["mean_b"],
                "difference": cw["difference"],
                "ci_low": cw["ci_low"],
                "ci_high": cw["ci_high"],
                "p_value": cw["p_value"],
                "n_completers": cw["n_a"],
                "n_noncompleters": cw["n_b"],
            }
        )
    return pd.DataFrame(rows, columns=list(COVARIATE_COLUMNS)), notes

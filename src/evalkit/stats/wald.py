"""Wald tests of linear hypotheses on estimated coefficients and their covariance.

:func:`wald_test` tests ``R b = 0`` from coefficients ``b`` and their covariance ``V`` (any
covariance: cluster-robust from a fitted model, or the diagonal one of independent estimates);
:func:`equality_wald` tests that k estimates are equal (k - 1 contrasts, each against the
first). Both return a :class:`WaldTestResult`.

Why a computation here and not a library's own method: the two difference-in-differences engines
(linearmodels ``PanelOLS`` and pyfixest ``fepois``) return different objects, and
:mod:`evalkit.stats.did_fit` keeps only their coefficients and cluster-robust covariance, so one
formula on that covariance serves both, exactly as pyfixest's ``Feols.wald_test`` computes it
(``(R b)' (R V R')^+ (R b)``); ``tests/unit/stats/test_wald.py`` checks it against pyfixest and
statsmodels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.jsonsafe import json_safe
from evalkit.stats.result import Result

__all__ = ["WaldTestResult", "equality_contrasts", "equality_wald", "wald_test"]


@dataclass(frozen=True, eq=False, repr=False)
class WaldTestResult(Result):
    """A joint Wald test of ``R b = 0``.

    Attributes
    ----------
    statistic : float
        The chi-square statistic W, or F = W / df for ``distribution="F"``; NaN when nothing
        could be tested.
    df : int
        Number of independent restrictions tested (the rank of ``R V R'``).
    p_value : float
        Upper-tail p-value of ``statistic`` under its reference distribution.
    distribution : {"chi2", "F"}
        Reference distribution: chi-square(df), or F(df, ``denominator_df``).
    denominator_df : int or None
        Denominator degrees of freedom of the F test (G - 1 for clustered errors).
    hypothesis : str
        The null hypothesis in words.
    covariance : str
        Which covariance the test used, in words.
    notes : tuple of str
    """

    analysis = "wald_test"

    statistic: float
    df: int
    p_value: float
    distribution: Literal["chi2", "F"] = "chi2"
    denominator_df: int | None = None
    hypothesis: str = ""
    covariance: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def tidy(self) -> pd.DataFrame:
        """One row: ``test``, ``statistic``, ``df``, ``denominator_df``, ``p_value``."""
        return pd.DataFrame(
            [
                {
                    "test": "wald",
                    "distribution": self.distribution,
                    "statistic": self.statistic,
                    "df": self.df,
                    "denominator_df": self.denominator_df,
                    "p_value": self.p_value,
                }
            ]
        )

    def summary_header(self) -> list[str]:
        """The hypothesis, the covariance and the statistic in one line each."""
        ref = (
            f"chi2({self.df})"
            if self.distribution == "chi2"
            else f"F({self.df}, {self.denominator_df})"
        )
        return [
            f"Wald test: {self.hypothesis or 'R b = 0'}",
            f"Covariance: {self.covariance or 'as given'}",
            f"{ref} = {self.statistic:.4g}, p = {self.p_value:.4g}",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``test`` ("wald"), every number, the hypothesis, covariance and notes."""
        return json_safe(
            {
                "test": "wald",
                "distribution": self.distribution,
                "statistic": self.statistic,
                "df": self.df,
                "denominator_df": self.denominator_df,
                "p_value": self.p_value,
                "hypothesis": self.hypothesis,
                "covariance": self.covariance,
                "notes": list(self.notes),
            }
        )


def wald_test(
    coef: np.ndarray | Sequence[float],
    vcov: np.ndarray,
    restrictions: np.ndarray,
    *,
    distribution: Literal["chi2", "F"] = "chi2",
    denominator_df: int | None = None,
    hypothesis: str = "",
    covariance: str = "",
) -> WaldTestResult:
    """Joint Wald test that ``restrictions @ coef`` is zero.

    ``W = (R b)' (R V R')^+ (R b)`` with the Moore-Penrose pseudo-inverse, so that a singular
    ``R V R'`` (dependent restrictions) tests its rank's worth of restrictions, as pyfixest's
    ``wald_test`` does; ``df`` is that rank. The chi-square test refers W to chi-square(df);
    the F test refers W / df to F(df, ``denominator_df``) (small-sample inference with
    clustered errors: ``denominator_df`` = G - 1, as fixest and Stata use).

    Parameters
    ----------
    coef : array-like
        Coefficients, length p.
    vcov : np.ndarray
        Their p x p covariance.
    restrictions : np.ndarray
        The m x p matrix R (one row per restriction).
    distribution : {"chi2", "F"}
    denominator_df : int, optional
        Needed for ``"F"``.
    hypothesis, covariance : str
        Words for the result's header.

    Returns
    -------
    WaldTestResult

    Examples
    --------
    >>> r = wald_test([1.0, 2.0], np.eye(2), np.eye(2))
    >>> r.statistic, r.df
    (5.0, 2)
    """
    b = np.asarray(coef, dtype=float)
    v = np.asarray(vcov, dtype=float)
    r = np.atleast_2d(np.asarray(restrictions, dtype=float))
    if r.shape[1] != len(b) or v.shape != (len(b), len(b)):
        raise ValueError(
            f"shapes do not agree: coef {b.shape}, vcov {v.shape}, restrictions {r.shape}"
        )
    if distribution == "F" and denominator_df is None:
        raise ValueError("an F test needs denominator_df (G - 1 for clustered errors)")
    rb = r @ b
    rvr = r @ v @ r.T
    notes: list[str] = []
    if not (np.isfinite(rb).all() and np.isfinite(rvr).all()):
        notes.append("A tested coefficient or its variance is not finite: no test.")
        return WaldTestResult(
            float("nan"), 0, float("nan"), distribution, denominator_df, hypothesis, covariance,
            tuple(notes),
        )  # fmt: skip
    q = int(np.linalg.matrix_rank(rvr))
    if q < r.shape[0]:
        notes.append(
            f"The {r.shape[0]} restrictions are not independent: {q} tested (the rank of R V R')."
        )
    w = float(rb @ np.linalg.pinv(rvr) @ rb)
    if distribution == "F":
        stat = w / q
        p = float(stats.f.sf(stat, q, denominator_df))
    else:
        stat = w
        p = float(stats.chi2.sf(w, q))
    return WaldTestResult(
        stat, q, p, distribution, denominator_df, hypothesis, covariance, tuple(notes)
    )


def equality_contrasts(k: int) -> np.ndarray:
    """The (k - 1) x k matrix of contrasts ``b_j - b_0``, j = 1 .. k - 1.

    Examples
    --------
    >>> equality_contrasts(3)
    array([[-1.,  1.,  0.],
           [-1.,  0.,  1.]])
    """
    if k < 2:
        raise ValueError(f"an equality test needs at least two estimates, not {k}")
    return np.hstack([-np.ones((k - 1, 1)), np.eye(k - 1)])


def equality_wald(
    estimates: Sequence[float] | np.ndarray,
    vcov: np.ndarray | None = None,
    *,
    std_errors: Sequence[float] | np.ndarray | None = None,
    hypothesis: str = "the estimates are equal",
    covariance: str = "",
) -> WaldTestResult:
    """Chi-square Wald test that k estimates are equal (k - 1 df).

    Give their joint covariance ``vcov`` (e.g. from one fitted model), or ``std_errors`` of
    independent estimates (a diagonal covariance). With independent estimates the statistic
    equals Cochran's Q (the contrasts' quadratic form is the weighted sum of squares about the
    inverse-variance mean); with estimates from one model that share data, only the joint
    covariance gives a valid test.

    Examples
    --------
    >>> r = equality_wald([0.1, 0.3, -0.2], std_errors=[0.1, 0.141421356, 0.173205081])
    >>> round(r.statistic, 6), r.df
    (5.0, 2)
    """
    b = np.asarray(estimates, dtype=float)
    if (vcov is None) == (std_errors is None):
        raise ValueError("give exactly one of vcov and std_errors")
    if vcov is None:
        v = np.diag(np.asarray(std_errors, dtype=float) ** 2)
        covariance = covariance or "independent estimates (diagonal covariance)"
    else:
        v = np.asarray(vcov, dtype=float)
    return wald_test(b, v, equality_contrasts(len(b)), hypothesis=hypothesis, covariance=covariance)

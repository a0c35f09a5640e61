"""Fitting engines behind :func:`evalkit.stats.did.did`.

Each engine takes a prepared frame with fixed internal column names (``_y``, ``_unit``,
``_time``, ``_cl`` and, when given, ``_lexpo`` and ``_w``) plus the names of the regressor
columns, and returns a :class:`FitOutput`: the non-absorbed coefficients with their cluster-robust
covariance. Inference (t or normal, CIs, Wald tests) is done by the caller, so both engines are
reported the same way.

Both engines use the same small-sample correction, CR1 with

    V = G / (G - 1) * (N - 1) / (N - K) * V_sandwich,

where G is the number of clusters, N the number of observations used and K the number of
*non-absorbed* regressors only. The unit and time fixed effects are not counted in K: the unit
effects are nested in the clusters (a unit never spans two clusters in a matched panel), and
counting nested fixed effects as parameters inflates the SE (Cameron & Miller 2015, "A
practitioner's guide to cluster-robust inference", section III on fixed effects). The time
effects are not counted either, so K does not depend on the panel's length; fixest's default
counts them, which changes the SE by a factor of about 1.0001 on a 36-month panel of 200,000
rows (``docs/decisions/did.md`` has the arithmetic).

- Linear: pyfixest ``feols`` (:func:`fit_linear`; linearmodels' ``PanelOLS`` until 0.4, and
  still the reference its test compares with). The PanelOLS call that gives the same factor is
  ``PanelOLS(entity_effects=True, time_effects=True)`` fitted with
  ``cov_type="clustered", debiased=True, group_debias=True, auto_df=False,
  count_effects=False``. ``debiased`` scales by N / (N - K) and ``group_debias`` by
  G / (G - 1) * (N - 1) / N, which together give the factor above; ``auto_df=False,
  count_effects=False`` stops linearmodels adding the estimated effects to K (its ``auto_df``
  only drops them when there is a single nested effect, and here there are two).
  ``low_memory=True`` removes the two sets of effects by alternating projections (linearmodels
  iterates until no value changes by more than 1e-8 of its column's SD); on a balanced,
  unweighted panel one pass is exact. It is about five times faster on a matched panel of
  200,000 rows than the default, which builds the time dummies and solves a least-squares
  problem for every column through pandas.
- Poisson: pyfixest ``fepois`` (the ppmlhdfe algorithm: fixed effects are projected out, never
  estimated as dummies) with ``vcov={"CRV1": cluster}`` and
  ``ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True)``, which is the same factor.

Two-way clustering (a ``_cl2`` column beside ``_cl``) is Cameron, Gelbach & Miller's (2011)
``V = V_1 + V_2 - V_12``, V_12 clustered by the intersection, each term with its own factor above
(G of that term): linearmodels' ``group_debias`` does this, and pyfixest does it with
``G_df="conventional"``. The reported cluster count, which sets the t degrees of freedom, is the
smaller dimension's, as in Stata and fixest. ``docs/decisions/did-clustering.md`` says why the
target trial clusters by sub-experiment and person.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["FitOutput", "drop_separated", "fit_linear", "fit_poisson"]

#: IRLS convergence tolerance for the Poisson fit (pyfixest's default is 1e-8). Tighter than the
#: default so that the estimate is reproducible to well below its standard error and agrees with
#: an independent GLM fit to about 1e-7 relative; it costs one extra iteration at most.
IWLS_TOL = 1e-10


@dataclass(frozen=True)
class FitOutput:
    """Non-absorbed coefficients of one fitted model and their covariance.

    Attributes
    ----------
    names : tuple of str
        Regressor names, in the order of ``coef``.
    coef : np.ndarray
        Coefficients (log rate ratios for the Poisson engine).
    vcov : np.ndarray
        Cluster-robust (CR1) covariance of ``coef``.
    n_obs : int
        Observations used.
    n_clusters : int
        Distinct clusters among the observations used (the smaller dimension when two-way).
    engine : str
        Library and call that produced the fit.
    messages : tuple of str
        Warnings the engine raised, kept for the notes.
    """

    names: tuple[str, ...]
    coef: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int
    engine: str
    messages: tuple[str, ...] = field(default_factory=tuple)


_LIBRARY_NOISE = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def _collect(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """Messages worth a note; deprecation noise from inside the libraries is dropped."""
    return tuple(str(w.message) for w in caught if not issubclass(w.category, _LIBRARY_NOISE))


def cluster_columns(work: pd.DataFrame) -> list[str]:
    """The prepared frame's cluster columns: ``_cl``, and ``_cl2`` when clustering is two-way."""
    return ["_cl", "_cl2"] if "_cl2" in work else ["_cl"]


def n_clusters(work: pd.DataFrame) -> int:
    """Distinct clusters: the smaller dimension's count when clustering is two-way."""
    return int(min(work[c].nunique() for c in cluster_columns(work)))


#: Convergence tolerance of the alternating projections that remove the unit and time effects
#: in the linear fit (pyfixest's default is 1e-6): tight enough that the fit agrees with
#: linearmodels' ``PanelOLS`` to about 1e-12 of the SE (tests/unit/stats/test_did_fit.py).
DEMEAN_TOL = 1e-10


def fit_linear(work: pd.DataFrame, regressors: list[str], *, weighted: bool) -> FitOutput:
    """Two-way fixed-effects linear model by pyfixest ``feols`` (checked against linearmodels).

    The unit and time effects are removed by alternating projections (pyfixest's compiled MAP
    demeaner, tolerance :data:`DEMEAN_TOL`), the covariance is CR1 with the factor in the module
    docstring (``ssc(k_adj=True, k_fixef="none", G_adj=True)``), two-way as Cameron, Gelbach &
    Miller. Until 0.4 this was linearmodels ``PanelOLS(entity_effects=True, time_effects=True)``
    (``low_memory=True, cov_type="clustered", debiased=True, group_debias=True, auto_df=False,
    count_effects=False``), which gives the same coefficients and covariance to about 1e-12
    relative but demeans through pandas group-bys: 3 to 8 times slower on the report's panels,
    and the largest cost of a report (issue 18). The test keeps linearmodels as the reference.

    Parameters
    ----------
    work : pd.DataFrame
        Prepared frame with ``_y``, ``_unit`` and ``_time`` (integer codes), ``_cl`` (integer
        cluster codes; ``_cl2`` too when two-way), the regressor columns and, if ``weighted``,
        ``_w``.
    regressors : list of str
        Columns of ``work`` entered as regressors.
    weighted : bool
        Whether to fit weighted least squares with (analytic) weights ``_w``.

    Returns
    -------
    FitOutput
        Coefficients and their CR1 covariance (K = ``len(regressors)``).
    """
    import pyfixest as pf

    fml = "_y ~ " + " + ".join(regressors) + " | _unit + _time"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = pf.feols(
            fml,
            data=work,
            vcov={"CRV1": "+".join(cluster_columns(work))},
            ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True, G_df="conventional"),
            weights="_w" if weighted else None,
            weights_type="aweights",
            fixef_rm="none",
            demeaner=pf.MapDemeaner(fixef_tol=DEMEAN_TOL),
            copy_data=False,
            store_data=False,
        )
    names = tuple(str(n) for n in fit._coefnames)
    return FitOutput(
        names=names,
        coef=np.asarray(fit.coef().loc[list(names)], dtype=float),
        vcov=np.asarray(fit._vcov, dtype=float),
        n_obs=int(fit._N),
        n_clusters=n_clusters(work),
        engine=(
            "pyfixest.feols('y ~ x | unit + time', vcov={'CRV1': cluster}, "
            "ssc=ssc(k_adj=True, k_fixef='none', G_adj=True), MapDemeaner(fixef_tol=1e-10))"
        ),
        messages=_collect(caught),
    )


def drop_separated(work: pd.DataFrame) -> tuple[pd.DataFrame, int, int, int]:
    """Drop fixed-effect groups whose outcome is zero throughout, as the FE Poisson must.

    A unit (or period) whose outcome is zero in every row has a fixed effect of minus infinity
    and carries no information on the other coefficients; fixed-effects Poisson solvers drop it.
    Done here, before the solver, so that the count is known exactly and N and G are those of
    the data actually fitted. Units and periods are dropped in turn until none is left.

    Parameters
    ----------
    work : pd.DataFrame
        Prepared frame with ``_y``, ``_unit`` and ``_time``.

    Returns
    -------
    tuple of (pd.DataFrame, int, int, int)
        The kept rows, the number of units dropped, periods dropped and rows dropped.
    """
    keep = np.ones(len(work), dtype=bool)
    y = work["_y"].to_numpy()
    units = work["_unit"].to_numpy()
    times = work["_time"].to_numpy()
    n_units_dropped = n_times_dropped = 0
    while True:
        changed = False
        for codes, kind in ((units, "unit"), (times, "time")):
            sums = np.bincount(codes[keep], weights=y[keep], minlength=codes.max() + 1)
            present = np.bincount(codes[keep], minlength=codes.max() + 1) > 0
            bad = present & (sums <= 0)
            if bad.any():
                keep &= ~bad[codes]
                changed = True
                if kind == "unit":
                    n_units_dropped += int(bad.sum())
                else:
                    n_times_dropped += int(bad.sum())
        if not changed:
            break
    return work.loc[keep], n_units_dropped, n_times_dropped, int((~keep).sum())


def fit_poisson(
    work: pd.DataFrame, regressors: list[str], *, weighted: bool, offset: bool
) -> FitOutput:
    """Poisson model with unit and time fixed effects by pyfixest ``fepois``.

    Parameters
    ----------
    work : pd.DataFrame
        Prepared frame (see :func:`fit_linear`), already cleared of separated groups by
        :func:`drop_separated`; ``_lexpo`` holds log exposure when ``offset``.
    regressors : list of str
        Columns of ``work`` entered as regressors.
    weighted : bool
        Whether to pass ``_w`` as observation weights.
    offset : bool
        Whether to enter ``_lexpo`` as an offset.

    Returns
    -------
    FitOutput
        Log rate-ratio coefficients and their CR1 covariance (K = ``len(regressors)``).
    """
    import pyfixest as pf

    fml = "_y ~ " + " + ".join(regressors) + " | _unit + _time"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = pf.fepois(
            fml,
            data=work,
            vcov={"CRV1": "+".join(cluster_columns(work))},
            ssc=pf.ssc(k_adj=True, k_fixef="none", G_adj=True, G_df="conventional"),
            offset="_lexpo" if offset else None,
            weights="_w" if weighted else None,
            fixef_rm="none",
            separation_check=[],  # done exactly, and counted, by drop_separated()
            copy_data=False,
            store_data=False,
            iwls_tol=IWLS_TOL,
            iwls_maxiter=100,
        )
    names = tuple(str(n) for n in fit._coefnames)
    return FitOutput(
        names=names,
        coef=np.asarray(fit.coef().loc[list(names)], dtype=float),
        vcov=np.asarray(fit._vcov, dtype=float),
        n_obs=int(fit._N),
        n_clusters=n_clusters(work),
        engine=(
            "pyfixest.fepois('y ~ x | unit + time', vcov={'CRV1': cluster}, "
            "ssc=ssc(k_adj=True, k_fixef='none', G_adj=True), offset=log(exposure))"
        ),
        messages=_collect(caught),
    )

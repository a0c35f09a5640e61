"""Difference-in-differences by group in one model, with a joint Wald test of heterogeneity.

:func:`did_by_group` fits the model of :func:`evalkit.stats.did.did` (same engines, fixed
effects, weights, exposure offset and CR1 cluster-robust covariance, one- or two-way) with the
treated x post term interacted with a unit-level grouping (k groups, the first sorted level the
reference)::

    y_it = a_i + g_t + b * treated_i * post_it
           + sum_{j>0} [ c_j * post_it * G_ij + d_j * treated_i * post_it * G_ij ] + e_it

Group j's effect is ``b + d_j`` (``b`` for the reference group): a rate ratio ``exp(b + d_j)``
for the Poisson model. ``post x G_j`` lets each group's controls change from before to after by
their own amount, so each group's participants are compared with their own controls' change
rather than with everyone's; the period effects ``g_t`` are shared. The heterogeneity test is the
joint Wald test that every ``d_j`` is zero (k - 1 restrictions) on the model's cluster-robust
covariance: chi-square(k - 1) for the Poisson model, F(k - 1, G - 1) for the linear one, as
:func:`~evalkit.stats.did.did` refers its own tests.

Why one model and not one fit per group with Cochran's Q across them: Q needs independent group
estimates, and units of different groups can share a cluster (a control person matched in sets
of different groups); the one model's cluster-robust covariance includes the covariance between
the groups' estimates that this sharing creates (docs/decisions/deprivation-heterogeneity.md).

The Wald statistic is computed by :func:`evalkit.stats.wald.wald_test` on the engine's
covariance (the module docstring there says why not by the library's own method).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.jsonsafe import json_safe
from evalkit.stats.did import _check_call, _drop_zero_outcome_groups, _fit_did
from evalkit.stats.did_design import build_design
from evalkit.stats.did_inference import infer
from evalkit.stats.did_inputs import DidColumns, check_columns, prepare_inputs
from evalkit.stats.did_result import DID_TERM
from evalkit.stats.result import ESTIMATE_COLUMNS, Result
from evalkit.stats.wald import WaldTestResult, wald_test

__all__ = ["GROUP_COLUMNS", "DidByGroupResult", "did_by_group"]

#: Columns of :meth:`DidByGroupResult.tidy`, in order.
GROUP_COLUMNS: tuple[str, ...] = (
    "group",
    "reference",
    *ESTIMATE_COLUMNS,
    "coefficient",
    "n_units",
    "n_treated_units",
    "n_control_units",
    "scale",
)


@dataclass(frozen=True, eq=False, repr=False)
class DidByGroupResult(Result):
    """Result of :func:`did_by_group`.

    Attributes
    ----------
    groups : pd.DataFrame
        One row per group (:data:`GROUP_COLUMNS`): the group's DiD effect from the one model
        (a rate ratio for Poisson, with ``std_error`` and ``coefficient`` on the log scale).
    wald : WaldTestResult
        Joint test that the treated x post x group interaction terms are all zero.
    terms : pd.DataFrame
        Every non-absorbed term of the model (``did``'s tidy columns): ``treated_x_post`` (the
        reference group), ``post_x_<group>[<level>]`` and ``treated_x_post_x_<group>[<level>]``.
    coef : pd.Series
        Those terms' coefficients, indexed by term.
    vcov : pd.DataFrame
        Their cluster-robust (CR1) covariance.
    n, n_clusters : int
        Rows fitted; clusters (the smaller dimension's count when two-way).
    scale : {"rate_ratio", "difference"}
    spec : dict
    notes : tuple of str
    """

    analysis = "did_by_group"

    groups: pd.DataFrame
    wald: WaldTestResult
    terms: pd.DataFrame
    coef: pd.Series
    vcov: pd.DataFrame
    n: int
    n_clusters: int
    scale: Literal["rate_ratio", "difference"]
    spec: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def statistic(self) -> float:
        """The heterogeneity test's statistic (chi-square, or F for the linear model)."""
        return self.wald.statistic

    @property
    def df(self) -> int:
        """Its degrees of freedom: k - 1."""
        return self.wald.df

    @property
    def p_value(self) -> float:
        """Its p-value."""
        return self.wald.p_value

    def tidy(self) -> pd.DataFrame:
        """One row per group (:data:`GROUP_COLUMNS`)."""
        return self.groups.copy()

    def summary_header(self) -> list[str]:
        """Model, inference, N and the heterogeneity test."""
        s = self.spec
        return [
            f"Difference-in-differences by {s['group']}: {s['outcome']} ({self.scale}), one "
            f"{s['model']} model, treated x post x group",
            f"Inference: {s['vcov']} by {s['cluster']} ({self.n_clusters:,} clusters); "
            f"N = {self.n:,} rows",
            f"Heterogeneity: {self.wald.summary_header()[-1]} (interaction terms all zero)",
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the groups, the Wald test, the terms, spec and notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "scale": self.scale,
                "n": self.n,
                "n_clusters": self.n_clusters,
                "groups": self.groups.to_dict(orient="records"),
                "wald": self.wald.to_dict(),
                "terms": self.terms.to_dict(orient="records"),
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )


# ---------------------------------------------------------------------- steps
def _group_codes(
    values: pd.Series, unit_codes: np.ndarray, group: str
) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of the group (sorted levels), checked constant within unit."""
    codes, levels = pd.factorize(values, sort=True)
    if len(levels) < 2:
        raise ValueError(f"group column {group!r} has {len(levels)} level(s): at least 2 needed")
    per_unit = pd.Series(codes).groupby(unit_codes).nunique()
    if (per_unit > 1).any():
        raise ValueError(
            f"group column {group!r} is not constant within unit: {int((per_unit > 1).sum()):,} "
            "unit(s) have more than one level"
        )
    return codes, levels


def _check_groups(
    codes: np.ndarray, treated: np.ndarray, post: np.ndarray, levels: pd.Index, group: str
) -> None:
    """Every group has treated and control rows both before and after."""
    for j, level in enumerate(levels):
        in_g = codes == j
        for tr, who in ((1, "treated"), (0, "control")):
            po = post[in_g & (treated == tr)]
            if po.size == 0 or po.min() == po.max():
                raise ValueError(
                    f"group {level!r} of {group!r} has no {who} rows "
                    + ("at all" if po.size == 0 else "both before and after")
                    + ": its effect is not identified"
                )


def _unit_counts(
    work: pd.DataFrame, codes: np.ndarray, treated: np.ndarray, k: int
) -> pd.DataFrame:
    """Units fitted per group, in total and by treated / control."""
    rows = work.index.to_numpy()
    frame = pd.DataFrame({"unit": work["_unit"].to_numpy(), "g": codes[rows], "tr": treated[rows]})
    per = frame.drop_duplicates("unit")
    out = pd.DataFrame(
        {
            "n_units": per.groupby("g").size(),
            "n_treated_units": per[per["tr"] == 1].groupby("g").size(),
            "n_control_units": per[per["tr"] == 0].groupby("g").size(),
        }
    )
    return out.reindex(range(k)).fillna(0).astype(int)


def _group_rows(
    coef: np.ndarray,
    vcov: np.ndarray,
    names: list[str],
    did_name: str,
    interactions: list[str],
    model: str,
    denom_df: int,
) -> dict[str, np.ndarray]:
    """Each group's effect ``L b`` (L picks b, then b + d_j), its SE, CI and p-value."""
    p = len(names)
    lmat = np.zeros((len(interactions) + 1, p))
    lmat[:, names.index(did_name)] = 1.0
    for j, name in enumerate(interactions, start=1):
        lmat[j, names.index(name)] = 1.0
    est = lmat @ coef
    se = np.sqrt(np.einsum("ij,jk,ik->i", lmat, vcov, lmat))
    inf = infer(est, se, model, denom_df)
    return {"coef": est, "se": se, **inf}


# ---------------------------------------------------------------------- public API
def did_by_group(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    post: str,
    group: str,
    cluster: str | list[str] | tuple[str, ...] | None = None,
    exposure: str | None = None,
    model: Literal["linear", "poisson"] = "poisson",
    *,
    weights: str | None = None,
) -> DidByGroupResult:
    """DiD effect per group from one model with treated x post x group terms, and a Wald test.

    The model, inference and small-sample correction are those of
    :func:`evalkit.stats.did.did` (see the module docstring for the interaction terms); the
    group effects share the model's period effects and covariance, so the joint Wald test
    that the interaction terms are zero is valid when groups share clusters.

    Parameters
    ----------
    panel, outcome, unit, time, treated, post, cluster, exposure, model, weights
        As for :func:`evalkit.stats.did.did` (default ``model="poisson"``).
    group : str
        Grouping column, constant within unit (e.g. the IMD group of a matched set's
        participant, given to every unit of the set). The first sorted level is the
        reference; every group needs treated and control units with rows before and after.

    Returns
    -------
    DidByGroupResult
        ``groups`` (one row per group), ``wald`` (the heterogeneity test), terms, covariance.

    Raises
    ------
    ValueError
        As :func:`~evalkit.stats.did.did`; a group column with fewer than two levels, not
        constant within unit, or a group without treated or control rows before and after;
        an interaction term absorbed or dropped as collinear by the engine.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> units, periods = np.arange(80), np.arange(-2, 2)
    >>> df = pd.DataFrame({"id": np.repeat(units, 4), "t": np.tile(periods, 80)})
    >>> df["treat"] = (df["id"] % 2).astype(int)
    >>> df["post"] = (df["t"] >= 0).astype(int)
    >>> df["g"] = np.where(df["id"] < 40, "a", "b")
    >>> df["y"] = rng.normal(size=len(df)) + 2.0 * df["treat"] * df["post"] * (df["g"] == "b")
    >>> fit = did_by_group(df, "y", "id", "t", "treat", "post", "g", model="linear")
    >>> fit.df, bool(fit.p_value < 0.01)
    (1, True)
    """
    _check_call(panel, model)
    # ``group`` rides as a covariate through the row checks (missing values dropped with a
    # note); it is entered below as group terms, never as covariate x post.
    clusters = cluster if cluster is None or isinstance(cluster, str) else tuple(cluster)
    cols = DidColumns(outcome, unit, time, treated, post, clusters, exposure, weights, (group,))
    check_columns(panel, {**cols.named(), "covariates[0]": None, "group": group})
    notes: list[str] = []
    if cluster is None:
        notes.append(f"Standard errors clustered by unit ({unit!r}): no cluster column was given.")
    inputs = prepare_inputs(panel, cols, model, notes)
    codes, levels = _group_codes(inputs.data[group], inputs.unit_codes, group)
    _check_groups(codes, inputs.treated, inputs.post, levels, group)
    design = build_design(inputs, replace(cols, covariates=()), notes)
    po, tp = inputs.post.astype(float), (inputs.treated * inputs.post).astype(float)
    shifts, interactions = [], []
    for j, level in enumerate(levels[1:], start=1):
        ind = (codes == j).astype(float)
        shifts.append(design.add(f"post_x_{group}[{level}]", po * ind))
        interactions.append(design.add(f"{DID_TERM}_x_{group}[{level}]", tp * ind))
    design.extra[:0] = [*shifts, *interactions]
    if model == "poisson":
        design.work = _drop_zero_outcome_groups(design.work, inputs.treated, notes)
    # Counted before fitting: pyfixest (copy_data=False) may change the frame it is given.
    counts = _unit_counts(design.work, codes, inputs.treated, len(levels))
    fit, terms = _fit_did(design, cols, model, notes)
    lost = [design.labels[n] for n in interactions + shifts if n not in fit.names]
    if lost:
        raise ValueError(
            f"term(s) {lost} were dropped by the engine as collinear: a group's effect is not "
            "identified (does every group keep treated and control units after FE-Poisson drops?)"
        )
    names = list(fit.names)
    g = _group_rows(fit.coef, fit.vcov, names, design.did_name, interactions, model,
                    fit.n_clusters - 1)  # fmt: skip
    ratio = model == "poisson"
    groups = pd.DataFrame(
        {
            "group": list(levels),
            "reference": [True] + [False] * (len(levels) - 1),
            "estimate": np.exp(g["coef"]) if ratio else g["coef"],
            "std_error": g["se"],
            "ci_low": np.exp(g["lo"]) if ratio else g["lo"],
            "ci_high": np.exp(g["hi"]) if ratio else g["hi"],
            "p_value": g["p_value"],
            "coefficient": g["coef"],
            **{c: counts[c].to_numpy() for c in counts},
            "scale": "rate_ratio" if ratio else "difference",
        }
    ).loc[:, list(GROUP_COLUMNS)]
    labels = [design.labels[n] for n in names]
    r = np.zeros((len(interactions), len(names)))
    for i, name in enumerate(interactions):
        r[i, names.index(name)] = 1.0
    two_way = len(cols.cluster_cols) > 1
    vcov_words = "CR1 cluster-robust" + (" (two-way)" if two_way else "")
    test = wald_test(
        fit.coef,
        fit.vcov,
        r,
        distribution="F" if model == "linear" else "chi2",
        denominator_df=fit.n_clusters - 1 if model == "linear" else None,
        hypothesis=f"every treated x post x {group} interaction is zero (equal effects in the "
        f"{len(levels)} groups)",
        covariance=f"{vcov_words} of the one model, clustered by {cols.cluster_col}",
    )
    spec = {
        "outcome": outcome,
        "unit": unit,
        "time": time,
        "treated": treated,
        "post": post,
        "group": group,
        "groups": [str(x) for x in levels],
        "reference_group": str(levels[0]),
        "cluster": cols.cluster_col,
        "exposure": exposure,
        "weights": weights,
        "model": model,
        "estimand": "ATT per group: treated x post (+ its group's interaction), unit and time "
        "fixed effects, a post shift per group",
        "vcov": vcov_words,
        "small_sample": "G/(G-1) * (N-1)/(N-K), K = non-absorbed regressors only",
        "k": len(names),
        "inference": "t(G-1), F(k-1, G-1)" if model == "linear" else "normal, chi2(k-1)",
        "engine": fit.engine,
    }
    return DidByGroupResult(
        groups=groups,
        wald=test,
        terms=terms,
        coef=pd.Series(fit.coef, index=labels),
        vcov=pd.DataFrame(fit.vcov, index=labels, columns=labels),
        n=fit.n_obs,
        n_clusters=fit.n_clusters,
        scale="rate_ratio" if ratio else "difference",
        spec=spec,
        notes=tuple(notes),
    )

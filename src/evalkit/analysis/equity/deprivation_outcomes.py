"""Outcomes by deprivation: the utilisation effect and the wellbeing change by IMD quintile.

The matched DiD rate ratio and the paired wellbeing change in each group of IMD quintiles
(adjacent quintiles pooled when numbers are small), with a test of heterogeneity across the
groups. The rate ratios come from one model on the whole matched panel, the main DiD with
treated x post x IMD-group terms (:func:`evalkit.stats.did_groups.did_by_group`), and the test
is its joint Wald test on the cluster-robust covariance: groups share control people across
matched sets, so their estimates are not independent and Cochran's Q would not be valid
(docs/decisions/deprivation-heterogeneity.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.censoring import rate_ratio_not_estimable
from evalkit.analysis.equity.groups import main_instrument
from evalkit.analysis.equity.text import n_label, summary_text
from evalkit.analysis.study import Study
from evalkit.analysis.utilisation import MIN_EVENTS, MatchedCohort, window_rows
from evalkit.analysis.wellbeing import wellbeing_scores
from evalkit.config import instruments
from evalkit.definitions.labels import setting_label
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.did_groups import DidByGroupResult, did_by_group
from evalkit.stats.prepost import prepost
from evalkit.stats.result import ESTIMATE_COLUMNS, Result
from evalkit.stats.wald import WaldTestResult, equality_wald

__all__ = [
    "MIN_GROUP_EVENTS",
    "MIN_GROUP_PARTICIPANTS",
    "POOLING_SCHEMES",
    "OutcomesByDeprivationResult",
    "outcomes_by_deprivation",
]

#: Groupings of IMD quintiles tried in order by :func:`outcomes_by_deprivation`: the first in
#: which every group has enough participants (and events) is used.
POOLING_SCHEMES: tuple[tuple[tuple[int, ...], ...], ...] = (
    ((1,), (2,), (3,), (4,), (5,)),
    ((1, 2), (3,), (4, 5)),
    ((1, 2), (3, 4, 5)),
)
#: Fewest participants a group needs in :func:`outcomes_by_deprivation` (matched participants
#: for utilisation, paired questionnaires for wellbeing).
MIN_GROUP_PARTICIPANTS = 20
#: Fewest participant events a group needs in each of the baseline and follow-up windows for
#: its own rate ratio (a log rate from 10 events has an SE of about 0.3).
MIN_GROUP_EVENTS = 10
#: Column of the IMD group (of the matched set's participant) in the interaction model's panel.
GROUP_COLUMN = "imd_group"

#: Columns of :meth:`OutcomesByDeprivationResult.tidy`, in order.
COLUMNS: tuple[str, ...] = (
    "outcome",
    "method",
    "scale",
    "grouping",
    "level",
    "imd_quintiles",
    "n_participants",
    "n_controls",
    "events_baseline",
    "events_followup",
    *ESTIMATE_COLUMNS,
)


# --------------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------------
def _label(quintiles: Sequence[int]) -> str:
    q = list(quintiles)
    return str(q[0]) if len(q) == 1 else f"{q[0]}-{q[-1]}"


def _choose_scheme(
    counts: pd.DataFrame,
    checks: Sequence[tuple[str, int]],
    estimable: Callable[[tuple[int, ...]], bool] | None = None,
) -> tuple[tuple[tuple[int, ...], ...] | None, str]:
    """First pooling scheme in which every group meets every (column, minimum) check.

    ``estimable``, when given, must also hold for every group of the scheme.
    """
    for scheme in POOLING_SCHEMES:
        ok = True
        for grp in scheme:
            tot = counts.reindex(list(grp)).fillna(0).sum()
            if any(tot[col] < need for col, need in checks) or (
                estimable is not None and not estimable(grp)
            ):
                ok = False
                break
        if ok:
            return scheme, " | ".join(_label(g) for g in scheme)
    return None, "all"


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------
def _outcome_name(outcome: Any, scale: str) -> str:
    """An outcome's name in a figure: a setting's label (rate ratios), else its code."""
    return setting_label(str(outcome), capital=True) if scale == "rate_ratio" else str(outcome)


@dataclass(frozen=True, repr=False)
class OutcomesByDeprivationResult(Result):
    """Utilisation effect and wellbeing change by IMD quintile group, with heterogeneity tests.

    Attributes
    ----------
    table : pd.DataFrame
        ``tidy()``'s table: one row per outcome and group.
    heterogeneity : dict of str to WaldTestResult
        Per outcome, the joint Wald test that the groups' estimates are equal: for a rate
        ratio, that the treated x post x IMD-group terms of the one interaction model are zero
        (chi-square, k - 1 df, cluster-robust covariance); for a wellbeing change, that the
        groups' mean changes are equal (chi-square, k - 1 df; the groups hold disjoint
        episodes and no controls, so their estimates are independent).
    window_months : int
    instrument : str
    spec : dict
    notes : tuple of str
    models : dict of str to DidByGroupResult
        The interaction model of each utilisation setting (its terms and covariance).
    """

    analysis = "outcomes_by_deprivation"

    table: pd.DataFrame
    heterogeneity: dict[str, WaldTestResult]
    window_months: int
    instrument: str
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    models: dict[str, DidByGroupResult] = field(default_factory=dict)

    def tidy(self) -> pd.DataFrame:
        """One row per outcome and IMD group.

        Columns: ``outcome``, ``method`` (``matched_did`` / ``prepost``), ``scale``
        (``rate_ratio`` / ``mean_change``), ``grouping`` (e.g. ``"1-2 | 3 | 4-5"``), ``level``
        (e.g. ``"1-2"``), ``imd_quintiles``, ``n_participants``, ``n_controls``,
        ``events_baseline``, ``events_followup`` (participants' events; utilisation),
        ``estimate``, ``std_error`` (log scale for rate ratios), ``ci_low``, ``ci_high``,
        ``p_value``.
        """
        return self.table.copy()

    def heterogeneity_table(self) -> pd.DataFrame:
        """One row per outcome: ``outcome``, ``test``, ``statistic``, ``df``, ``p_value``."""
        rows = [
            {
                "outcome": o,
                "test": f"Wald {h.distribution}",
                "statistic": h.statistic,
                "df": h.df,
                "p_value": h.p_value,
                "covariance": h.covariance,
            }
            for o, h in self.heterogeneity.items()
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the whole result.

        Keys: ``by``, ``window_months``, ``instrument``, ``entries`` (the tidy rows),
        ``heterogeneity`` (per outcome: ``test`` "wald", ``distribution``, ``statistic``,
        ``df``, ``p_value``, ``hypothesis``, ``covariance``), ``spec``, ``notes``.
        """
        return json_safe(
            {
                "by": "imd_quintile",
                "window_months": self.window_months,
                "instrument": self.instrument,
                "entries": self.table.to_dict(orient="records"),
                "heterogeneity": {o: h.to_dict() for o, h in self.heterogeneity.items()},
                "spec": self.spec,
                "notes": list(self.notes),
            }
        )

    def summary_header(self) -> list[str]:
        """Programme, what each outcome's estimate is, and the heterogeneity test."""
        return [
            f"Outcomes by deprivation (IMD quintile of the participant): "
            f"{self.spec.get('programme', '')}",
            f"Utilisation: matched DiD rate ratio, {self.window_months} months after referral vs "
            "12 before, from one model with treated x post x IMD-group terms; wellbeing: paired "
            f"mean change of {self.instrument} (not an effect: no control group)",
            "Heterogeneity: joint Wald test that the groups' estimates are equal (chi-square, "
            "k - 1 df; rate ratios on the model's cluster-robust covariance)",
        ]

    def summary(self) -> str:
        """Header, estimates by group, heterogeneity tests, notes."""
        cols = [
            "outcome",
            "scale",
            "level",
            "n_participants",
            "estimate",
            "ci_low",
            "ci_high",
        ]
        with pd.option_context("display.width", 140, "display.max_columns", 20):
            table = self.table[cols].to_string(index=False, float_format=lambda x: f"{x:.4g}")
            het = self.heterogeneity_table().to_string(
                index=False, float_format=lambda x: f"{x:.4g}"
            )
        return summary_text(self.summary_header(), [table, het], self.notes)

    def figure_table(
        self,
        table: pd.DataFrame | None = None,
        *,
        outcome: str | None = None,
        scale: str | None = None,
    ) -> pd.DataFrame:
        """The rows :meth:`plot` draws, with a ``label`` per row.

        Parameters
        ----------
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` (the report's
            ``outcomes_by_deprivation`` table) to use instead.
        outcome : str, optional
            One outcome (default the first, unless ``scale`` is given); labelled
            ``IMD <level> (n=...)``.
        scale : {"rate_ratio", "mean_change"}, optional
            Every outcome on this scale (the report's figure: ``"rate_ratio"``); labelled
            ``<Setting>, IMD <level> (n=...)``.

        Returns
        -------
        pd.DataFrame
            Empty when ``table`` has no estimates; a suppressed value is NaN (not drawn), a
            suppressed count is shown as ``n=*``.
        """
        src = self.table if table is None else table
        if src.empty or "estimate" not in src:
            return pd.DataFrame(columns=[*COLUMNS, "label"])
        if outcome is None and scale is not None:
            t = src[src["scale"] == scale].copy()
            name = t["outcome"].map(lambda o: _outcome_name(o, scale)) + ", "
        else:
            outcome = outcome or str(src["outcome"].iloc[0])
            t = src[src["outcome"] == outcome].copy()
            name = ""
        for col in ("estimate", "ci_low", "ci_high"):
            t[col] = pd.to_numeric(t[col], errors="coerce")
        n = t["n_participants"].map(n_label)
        t["label"] = name + "IMD " + t["level"].astype(str) + " (" + n + ")"
        return t

    def plot(
        self,
        outcome: str | None = None,
        ax: Any = None,
        *,
        table: pd.DataFrame | None = None,
        scale: str | None = None,
    ) -> Any:
        """Estimate with 95% CI by IMD group: one outcome (default the first), or one scale.

        Rate ratios on a log scale with a line at 1; mean changes with a line at 0. Drawn with
        :func:`evalkit.stats.plots.forest` from :meth:`figure_table`; a group without an
        estimate is not drawn. The report draws ``plot(table=<published table>,
        scale="rate_ratio")``: every setting's rate ratios in one figure.

        Parameters
        ----------
        outcome : str, optional
        ax : matplotlib.axes.Axes, optional
        table : pd.DataFrame, optional
            A disclosure-controlled copy of ``tidy()`` to draw instead (a suppressed count is
            shown as ``n=*``).
        scale : {"rate_ratio", "mean_change"}, optional
            Draw every outcome on this scale instead of one outcome.

        Returns
        -------
        matplotlib.axes.Axes
        """
        src = self.table if table is None else table
        if src.empty:
            raise ValueError("no estimates by deprivation to plot (see notes)")
        t = self.figure_table(table, outcome=outcome, scale=scale)
        if t.empty:
            raise ValueError(f"no rows for outcome {outcome!r}" if scale is None else scale)
        is_rr = t["scale"].iloc[0] == "rate_ratio"
        return plots.forest(
            t,
            label_col="label",
            ax=ax,
            log=is_rr,
            title=self._figure_title(t, is_rr, several=outcome is None and scale is not None),
            xlabel=("Rate ratio (log scale)" if is_rr else "Mean change") + ", 95% CI",
        )

    def _figure_title(self, t: pd.DataFrame, is_rr: bool, *, several: bool) -> str:
        if several and is_rr:
            return f"Matched DiD rate ratio by deprivation ({self.window_months} months)"
        if several:
            return f"Paired change in {self.instrument} by deprivation"
        outcome = str(t["outcome"].iloc[0])
        h = self.heterogeneity.get(outcome)
        sub = f"; heterogeneity p = {h.p_value:.2g}" if h is not None and h.df >= 1 else ""
        return f"{outcome.replace('_', ' ')} by IMD quintile group{sub}"


# --------------------------------------------------------------------------------------------
# Analysis
# --------------------------------------------------------------------------------------------
def _participant_quintile(mc: MatchedCohort) -> pd.Series:
    """IMD quintile at index of each matched participant row (indexed by ``unit``)."""
    units = mc.panel.loc[mc.panel["referred"] == 1, "unit"].unique()
    q = mc.cohort.candidates.loc[units, "imd_quintile"]
    return pd.Series(q.to_numpy(dtype=np.int64), index=units)


def _set_groups(mc: MatchedCohort, quint: pd.Series, scheme: Sequence[Sequence[int]]) -> pd.Series:
    """The IMD group label of every unit of the panel: its matched set's participant's group."""
    lookup = {q: _label(g) for g in scheme for q in g}
    panel = mc.panel
    part = panel.loc[panel["referred"] == 1, ["unit", "subclass"]].drop_duplicates()
    set_group = pd.Series(
        quint.reindex(part["unit"]).map(lookup).to_numpy(), index=part["subclass"].to_numpy()
    )
    units = panel[["unit", "subclass"]].drop_duplicates("unit")
    return pd.Series(units["subclass"].map(set_group).to_numpy(), index=units["unit"].to_numpy())


def _group_estimable(
    mc: MatchedCohort, rows: pd.DataFrame, quint: pd.Series, setting: str
) -> Callable[[tuple[int, ...]], bool]:
    """Whether a group of quintiles can have its own rate ratio in the interaction model.

    The group's participants, beside every control (the model's time effects are shared by
    all groups), must pass the check the main analysis makes before a Poisson DiD
    (:func:`evalkit.analysis.censoring.rate_ratio_not_estimable`, at
    :data:`evalkit.analysis.utilisation.MIN_EVENTS`), and the group's own controls need events
    both before and after (else the group's post term has no finite estimate).
    """
    subclass = mc.panel.loc[mc.panel["referred"] == 1, ["unit", "subclass"]].drop_duplicates()

    def ok(grp: tuple[int, ...]) -> bool:
        sets = set(subclass.loc[subclass["unit"].isin(quint.index[quint.isin(grp)]), "subclass"])
        in_sets = rows["subclass"].isin(sets)
        controls = rows[in_sets & (rows["referred"] == 0)].groupby("post")[setting].sum()
        if min(controls.get(0, 0), controls.get(1, 0)) <= 0:
            return False
        sub = rows[in_sets | (rows["referred"] == 0)]
        return not rate_ratio_not_estimable(sub, setting, mc.time_column, MIN_EVENTS)

    return ok


def _utilisation_by_group(
    mc: MatchedCohort,
    setting: str,
    months: int,
    min_participants: int,
    min_events: int,
) -> tuple[list[dict[str, Any]], DidByGroupResult | None, list[str]]:
    """Rows by IMD group of one setting from the interaction model, the model, and notes."""
    quint = _participant_quintile(mc)
    panel = mc.panel
    rows_in = window_rows(panel, months)
    part = rows_in[rows_in["referred"] == 1]
    ev = part.groupby(["unit", "post"])[setting].sum().unstack(fill_value=0)
    ev = ev.reindex(columns=[0, 1], fill_value=0)
    per_q = pd.DataFrame(
        {
            "n": quint.groupby(quint).size(),
            "events_baseline": ev[0].groupby(quint.reindex(ev.index)).sum(),
            "events_followup": ev[1].groupby(quint.reindex(ev.index)).sum(),
        }
    ).fillna(0)
    scheme, label = _choose_scheme(
        per_q,
        [
            ("n", min_participants),
            ("events_baseline", min_events),
            ("events_followup", min_events),
        ],
        _group_estimable(mc, rows_in, quint, setting),
    )
    notes: list[str] = []
    if scheme is None:
        notes.append(
            f"{setting}: no grouping of IMD quintiles gives every group {min_participants} "
            f"matched participants and {min_events} participant events before and after (and "
            "a rate ratio the model can estimate); no estimates by deprivation."
        )
        return [], None, notes
    if scheme is not POOLING_SCHEMES[0]:
        notes.append(f"{setting}: IMD quintiles pooled as {label} (small numbers).")
    groups = _set_groups(mc, quint, scheme)
    fit: DidByGroupResult | None = None
    try:
        # The main analysis's call (utilisation()): its rows, time effects, clusters, weights.
        cluster = mc.spec.get("cluster") or "subclass"
        fit = did_by_group(
            rows_in.assign(**{GROUP_COLUMN: rows_in["unit"].map(groups)}),
            setting, "unit", mc.time_column, "referred", "post", GROUP_COLUMN, cluster,
            "exposure", "poisson", weights=mc.weight_column,
        )  # fmt: skip
    except ValueError as exc:  # e.g. stacked effects on small groups: no convergence
        notes.append(f"{setting}: the model by IMD group could not be fitted ({exc}).")
    by_level = {} if fit is None else fit.tidy().set_index("group")
    unit_group = panel[["unit", "referred"]].drop_duplicates("unit")
    unit_group = unit_group.assign(level=unit_group["unit"].map(groups))
    rows = []
    for grp in scheme:
        lvl = _label(grp)
        in_g = unit_group[unit_group["level"] == lvl]
        tot = per_q.reindex(list(grp)).fillna(0).sum()
        row = {
            "outcome": setting,
            "method": "matched_did",
            "scale": "rate_ratio",
            "grouping": label,
            "level": lvl,
            "imd_quintiles": ",".join(map(str, grp)),
            "n_participants": int((in_g["referred"] == 1).sum()),
            "n_controls": int((in_g["referred"] == 0).sum()),
            "events_baseline": int(tot["events_baseline"]),
            "events_followup": int(tot["events_followup"]),
            **dict.fromkeys(ESTIMATE_COLUMNS, math.nan),
        }
        if fit is not None:
            g = by_level.loc[lvl]
            row.update({c: float(g[c]) for c in ESTIMATE_COLUMNS})
        rows.append(row)
    return rows, fit, notes


def _wellbeing_by_group(
    study: Study, instrument: str, min_participants: int
) -> tuple[list[dict[str, Any]], list[str]]:
    scores = wellbeing_scores(study)
    scores = scores[scores["instrument"] == instrument].copy()
    notes: list[str] = []
    if scores.empty:
        return [], [f"{instrument}: no questionnaires."]
    scores["imd_quintile"] = scores["imd_quintile"].astype("Int64")
    defs = instruments()
    base = prepost(scores, instrument, definitions=defs, by="imd_quintile")
    bg = base.by_group.copy()
    bg["level"] = pd.to_numeric(bg["level"], errors="coerce")
    bg = bg.dropna(subset=["level"])
    per_q = bg.set_index(bg["level"].astype(int))[["n_paired"]]
    scheme, label = _choose_scheme(per_q, [("n_paired", min_participants)])
    if scheme is None:
        notes.append(
            f"{instrument}: no grouping of IMD quintiles gives every group {min_participants} "
            "paired questionnaires; no estimates by deprivation."
        )
        return [], notes
    if scheme is not POOLING_SCHEMES[0]:
        notes.append(f"{instrument}: IMD quintiles pooled as {label} (small numbers).")
    lookup = {q: _label(g) for g in scheme for q in g}
    scores["imd_group"] = scores["imd_quintile"].map(lookup)
    res = prepost(scores, instrument, definitions=defs, by="imd_group")
    by = res.by_group.set_index(res.by_group["level"].astype(str))
    rows = []
    for grp in scheme:
        lvl = _label(grp)
        r = by.loc[lvl] if lvl in by.index else None
        rows.append(
            {
                "outcome": instrument,
                "method": "prepost",
                "scale": "mean_change",
                "grouping": label,
                "level": lvl,
                "imd_quintiles": ",".join(map(str, grp)),
                "n_participants": int(r["n_paired"]) if r is not None else 0,
                "n_controls": 0,
                "events_baseline": None,
                "events_followup": None,
                "estimate": float(r["mean_change"]) if r is not None else math.nan,
                "std_error": float(r["std_error"]) if r is not None else math.nan,
                "ci_low": float(r["ci_low"]) if r is not None else math.nan,
                "ci_high": float(r["ci_high"]) if r is not None else math.nan,
                "p_value": float(r["p_value"]) if r is not None else math.nan,
            }
        )
    return rows, notes


def outcomes_by_deprivation(
    study: Study,
    mc: MatchedCohort,
    *,
    settings: Sequence[str] = ("emergency_admission", "gp_appointment"),
    months: int = 6,
    instrument: str | None = None,
    min_participants: int = MIN_GROUP_PARTICIPANTS,
    min_events: int = MIN_GROUP_EVENTS,
) -> OutcomesByDeprivationResult:
    """Utilisation effect and wellbeing change by the participant's IMD quintile.

    Utilisation: the matched DiD rate ratio of each group from ONE model on the whole matched
    panel (:func:`evalkit.stats.did_groups.did_by_group`): the main analysis's fixed-effects
    Poisson DiD (:func:`evalkit.analysis.utilisation.utilisation`: same rows, exposure,
    weights, time effects and clustering) with treated x post x IMD-group terms and a post
    shift per group, each unit in the group of its matched set's participant. Wellbeing: the
    paired mean change of the main instrument (baseline to end) among the group's participants
    (:func:`evalkit.stats.prepost.prepost`).

    Pooling. Groups are the five quintiles when each has at least ``min_participants``
    participants (matched participants, or paired questionnaires for wellbeing) and, for a
    rate ratio, at least ``min_events`` participant events in both the 12 months before and
    the window after referral, and its matched sets pass the main analysis's estimability
    check (controls with events before and after too); otherwise quintiles 1-2, 3 and 4-5;
    otherwise 1-2 and 3-5 (:data:`POOLING_SCHEMES`). The choice is made per outcome and stated
    in the notes; with no adequate grouping the outcome has no estimates by deprivation.

    Heterogeneity: a joint Wald test, chi-square with k - 1 df. For a rate ratio, that the
    model's k - 1 treated x post x group terms are zero, on its cluster-robust covariance
    (by person, two-way with index month in the target trial): valid although control people
    are shared between matched sets of different groups, which Cochran's Q on separate fits
    would ignore. For a wellbeing change, that the groups' mean changes are equal, from their
    SEs (:func:`evalkit.stats.wald.equality_wald`; disjoint episodes, no controls:
    independent estimates).

    Parameters
    ----------
    study : Study
    mc : MatchedCohort
        From :func:`evalkit.analysis.utilisation.matched_cohort`.
    settings : sequence of str
        Utilisation settings (default emergency admissions and GP appointments).
    months : int
        Window after referral (default 6).
    instrument : str, optional
        Wellbeing measure; default
        :func:`~evalkit.analysis.equity.groups.main_instrument`.
    min_participants, min_events : int
        Pooling thresholds (defaults :data:`MIN_GROUP_PARTICIPANTS`,
        :data:`MIN_GROUP_EVENTS`).

    Returns
    -------
    OutcomesByDeprivationResult
    """
    instrument = instrument or main_instrument(study)
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    het: dict[str, WaldTestResult] = {}
    models: dict[str, DidByGroupResult] = {}
    for setting in settings:
        r, fit, n = _utilisation_by_group(mc, setting, months, min_participants, min_events)
        rows += r
        notes += n
        if fit is not None:
            het[setting] = fit.wald
            models[setting] = fit
    r, n = _wellbeing_by_group(study, instrument, min_participants)
    rows += r
    notes += n
    if r:
        het[instrument] = equality_wald(
            [x["estimate"] for x in r],
            std_errors=[x["std_error"] for x in r],
            hypothesis=f"equal mean change of {instrument} in the {len(r)} IMD groups",
            covariance="independent groups (disjoint episodes, no controls): their SEs",
        )
    notes.append(
        f"Pooling thresholds: {min_participants} participants per group; for rate ratios also "
        f"{min_events} participant events before and after referral."
    )
    notes.append(
        "The wellbeing change has no control group: it is a change, not an effect estimate."
    )
    spec = {
        "programme": study.programme.slug,
        "settings": list(settings),
        "window_months": months,
        "instrument": instrument,
        "min_participants": min_participants,
        "min_events": min_events,
        "pooling_schemes": [[list(g) for g in s] for s in POOLING_SCHEMES],
        "heterogeneity": "joint Wald test, chi-square (k - 1 df): rate ratios from one "
        "Poisson DiD with treated x post x IMD-group terms on the matched panel, cluster-robust "
        "covariance as the main analysis; wellbeing changes from independent groups",
        "cluster": mc.spec.get("cluster") or "subclass",
        "time_effects": mc.time_column,
        "weights": mc.weight_column,
        "matching": mc.spec,
    }
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return OutcomesByDeprivationResult(
        table, het, months, instrument, spec, tuple(notes), models=models
    )

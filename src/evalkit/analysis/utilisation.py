"""Healthcare utilisation for a programme: matched cohort -> DiD per setting and window.

Composes the cohort layer (risk-set candidates, person-month panels), :func:`evalkit.match` and
:func:`evalkit.did` as docs/design/methods.md section 1 specifies, with the naive pre/post figure
beside the matched difference-in-differences, event studies and the sensitivity battery.

Propensity model. Prior-utilisation counts (``prior12_<setting>``, ``prior3_<setting>``) enter
the propensity model as ``log(1 + count)``; every other covariate enters as it is. Counts of
healthcare use are heavily right-skewed (at county scale a few people have dozens of emergency
admissions in three months), and a term linear in the raw count extrapolates the log-odds of
referral without bound: the heaviest users get propensity logits far beyond any control's, find
no control within the caliper in their month and sex, and drop out of the analysis (at county
scale 6-12% of participants did). On the log scale the model bends, as referral itself does
(a GP does not refer ten times more readily after 30 appointments than after 3). The balance
table still reports every covariate on its own scale, as analysts know it (the raw counts), so
the diagnostics judge the match on the data, not on the model's transform. The transform is
an analysis choice made before seeing outcomes, stated in the match's notes and in
``MatchedCohort.spec["propensity_terms"]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.censoring import (
    ANALYSIS_WEIGHT,
    DESIGNS,
    ESTIMANDS,
    UNCENSORED_ESTIMAND,
    censor_panel,
    censoring_covariates,
    cohort_options,
    index_covariates,
    rate_ratio_not_estimable,
)
from evalkit.analysis.event_study import event_study as event_study  # re-exported
from evalkit.analysis.study import Study
from evalkit.analysis.utilisation_result import UtilisationResult, no_events_naive
from evalkit.cohort import (
    PRIOR_WINDOWS,
    Cohort,
    build_cohort,
    build_panel,
    followup_before_own_referral,
    naive_panel,
    placebo_cohort,
)
from evalkit.jsonsafe import json_safe
from evalkit.stats.censoring import IpcwResult
from evalkit.stats.did import DidResult, did
from evalkit.stats.evalue import evalue
from evalkit.stats.matching import MatchResult, match
from evalkit.stats.naive import naive_prepost
from evalkit.stats.result import Result

BASELINE = (-12, -1)
#: Covariate-name prefixes of prior-utilisation counts, entered as log(1 + count) in the
#: propensity model (module docstring).
LOG_COUNT_PREFIXES = tuple(f"prior{w}_" for w in PRIOR_WINDOWS)
#: Distance column handed to the second :func:`match` call (the first call's distance).
_PS_DISTANCE = "_ps_distance"
#: Fewest participant events in the baseline or the follow-up for a rate ratio to be estimated;
#: below it the Poisson DiD is degenerate (an estimate of 0 or infinity) and is not reported.
MIN_EVENTS = 5


@dataclass(frozen=True, repr=False)
class MatchedCohort(Result):
    """A programme's matched cohort: the risk set, the match and the person-month panels.

    With the target-trial design (``spec["design"]``) ``panel`` holds the observed rows only
    (controls' rows from their own referral on are left out), ``weight`` is still the matching
    weight, ``analysis_weight`` the outcome model's (matching x censoring weight, see
    :attr:`weight_column`), and ``stack_time`` is index month x event month;
    ``panel_uncensored`` is the whole panel with the matching weights (the sensitivity analysis
    "controls not censored"), ``censoring`` the censoring model and weights, and
    ``index_covariates`` every unit's covariates at its (inherited) index date.
    """

    analysis = "matched_cohort"

    cohort: Cohort
    match: MatchResult
    panel: pd.DataFrame  # matched rows x event months -24..11
    naive: pd.DataFrame  # participants alone
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    censoring: IpcwResult | None = None
    panel_uncensored: pd.DataFrame | None = None
    index_covariates: pd.DataFrame | None = None
    censor_counts: dict[str, int] = field(default_factory=dict)

    @property
    def design(self) -> str:
        """``"target_trial"`` or ``"legacy"``."""
        return str(self.spec.get("design", "legacy"))

    @property
    def estimand(self) -> str:
        """What the matched DiD on this cohort estimates, in words."""
        return str(self.spec.get("estimand", ESTIMANDS[self.design]))

    @property
    def time_column(self) -> str:
        """The DiD's time effects: ``stack_time`` (target trial) or ``event_month`` (legacy)."""
        return "stack_time" if "stack_time" in self.panel else "event_month"

    @property
    def weight_column(self) -> str:
        """The outcome model's weights: ``analysis_weight`` (matching x censoring) or ``weight``.

        ``weight`` is the matching weight, constant within a unit, in both designs.
        """
        return ANALYSIS_WEIGHT if ANALYSIS_WEIGHT in self.panel else "weight"

    @property
    def controls_censored_share(self) -> float:
        """Share of matched control units censored at their own referral (0 when none are)."""
        n = self.censor_counts.get("n_controls", 0)
        return self.censor_counts.get("n_censored", 0) / n if n else 0.0

    @property
    def controls_censored_rows_share(self) -> float:
        """Share of the controls' follow-up person-months left out by censoring."""
        n = self.censor_counts.get("n_control_rows", 0)
        return self.censor_counts.get("n_censored_rows", 0) / n if n else 0.0

    @property
    def n_participants(self) -> int:
        """Participants with at least one matched control."""
        return int(self.panel.loc[self.panel["referred"] == 1, "unit"].nunique())

    @property
    def n_controls(self) -> int:
        """Distinct matched control rows."""
        return int(self.panel.loc[self.panel["referred"] == 0, "unit"].nunique())

    def tidy(self) -> pd.DataFrame:
        """One row: participants, matched participants and controls, candidate person-months."""
        return pd.DataFrame(
            [
                {
                    "programme": self.cohort.programme.slug,
                    "n_participants": self.cohort.n_participants,
                    "n_matched": self.n_participants,
                    "n_controls": self.n_controls,
                    "n_candidate_rows": self.cohort.n_candidate_rows,
                    "design": self.design,
                    "estimand": self.estimand,
                    "controls_censored_share": self.controls_censored_share,
                    "controls_censored_rows_share": self.controls_censored_rows_share,
                }
            ]
        )

    def summary(self) -> str:
        """Cohort, match and panel in a few lines."""
        return "\n".join(
            [
                f"Matched cohort for {self.cohort.programme.slug}: "
                f"{self.n_participants} participants matched to {self.n_controls} controls "
                f"(of {self.cohort.n_participants} participants, "
                f"{self.cohort.n_candidate_rows:,} candidate rows)",
                f"Design: {self.design}; estimand: {self.estimand}",
                f"Controls censored at their own referral: {self.controls_censored_share:.1%} "
                f"of units, {self.controls_censored_rows_share:.1%} of follow-up person-months",
                *[f"  note: {n}" for n in self.notes],
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: the counts, the matching spec, the match's own dict and the notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                **self.tidy().iloc[0].to_dict(),
                "spec": self.spec,
                "match": self.match.to_dict(),
                "censoring": None if self.censoring is None else self.censoring.to_dict(),
                "censor_counts": dict(self.censor_counts),
                "notes": list(self.notes),
            }
        )


def cohort_for(study: Study, design: str = "target_trial") -> Cohort:
    """The study's cohort for ``design`` (built once per design and cached on the study).

    Where the cohort layer does not take a design's options (an older evalkit), the cohort is
    built with its defaults.
    """
    _check_design(design)
    cache = study.__dict__.setdefault("_cache", {})
    key = "cohort" if design == "target_trial" else f"cohort:{design}"
    if key not in cache:
        options = cohort_options(design, build_cohort)
        cache[key] = build_cohort(
            study.data_dir, study.programme, unit_costs=study.unit_costs, **options
        )
    return cache[key]


def _check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, not {design!r}")


def matched_cohort(
    study: Study,
    *,
    ratio: int | None = None,
    caliper: float | str | None = "config",
    exact: list[str] | None = None,
    covariates: list[str] | None = None,
    distance: str | None = None,
    replace_controls: bool | None = None,
    cohort: Cohort | None = None,
    design: str = "target_trial",
) -> MatchedCohort:
    """Match participants to risk-set controls and build the person-month panels.

    Defaults come from the programme's ``matching`` config (ratio 3, caliper 0.2 SD of the logit,
    exact on sex and the index date's risk set). A candidate row (person and index date) is used
    at most once, but a person may be a control in several risk sets, as incidence-density
    sampling requires; the DiD then clusters by person, since matched sets can share a person
    (``one_control_per_person: true`` in the config restores one control row per person and
    clustering by matched set). The target trial clusters two ways, by index month (the
    sub-experiment, in which its time effects are nested) and by that person or set
    (docs/decisions/did-clustering.md). ``spec["cluster"]`` records which.

    ``design="target_trial"`` (default; docs/decisions/censoring.md): matched controls'
    covariates are re-measured at the index date they inherit (balance and covariate
    adjustment use them, where the cohort layer offers ``Cohort.covariates_at``); controls are
    censored at their own referral with inverse-probability-of-censoring weights
    (:func:`evalkit.analysis.censoring.censor_panel`); the DiD's time effects are index month
    x event month. ``design="legacy"``: the design before it (the cohort built with monthly
    risk sets and month 0 from the index date, no censoring, pooled event-month effects).
    """
    _check_design(design)
    m_cfg = study.programme.matching
    cohort = cohort or cohort_for(study, design)
    spec = {
        "design": design,
        "estimand": ESTIMANDS[design],
        "ratio": int(ratio or m_cfg.ratio),
        "caliper": m_cfg.caliper if caliper == "config" else caliper,
        "exact": _exact_for(list(exact if exact is not None else m_cfg.exact), cohort),
        "covariates": list(covariates if covariates is not None else m_cfg.covariates),
        "distance": distance or m_cfg.distance,
        "replace": m_cfg.replace if replace_controls is None else replace_controls,
        "sample_controls_above": m_cfg.sample_controls_above,
        "seed": m_cfg.seed,
        "available_until": (
            "own_referral_date"
            if design == "target_trial" and "own_referral_date" in cohort.candidates
            else None
        ),
        **control_rule(m_cfg.one_control_per_person, design),
    }
    cov_cols = cohort.covariate_columns(spec["covariates"])
    m = _match_log_counts(cohort.candidates, cov_cols, spec)
    spec["propensity_terms"] = m.spec.get("propensity_terms", "as given")
    matched = m.matched.copy()
    matched["row_id"] = matched.index
    panel = build_panel(cohort, matched)
    naive = naive_panel(cohort)
    notes = [*m.notes, *panel.attrs.get("notes", ())]
    if design == "legacy":
        spec["time_effects"] = "event month (pooled across index months)"
        return MatchedCohort(cohort, m, panel, naive, spec, tuple(notes))
    index_cov, m = index_covariates(cohort, m, panel, [*cov_cols, "sex"], notes)
    cens = censor_panel(
        panel,
        censoring_covariates(index_cov, LOG_COUNT_PREFIXES),
        cohort.settings,
        before_referral=followup_before_own_referral(cohort, panel),
    )
    spec["time_effects"] = "index month x event month (stacked: one set per sub-experiment)"
    spec["censoring"] = cens.ipcw.spec
    notes.append(
        f"Target trial: {cens.n_censored:,} of {cens.n_controls:,} matched control units "
        f"({cens.share:.1%}) were referred to the programme during follow-up and are censored "
        f"at their own referral ({cens.n_censored_rows:,} of {cens.n_control_rows:,} follow-up "
        "person-months left out); the rest are weighted by the inverse probability of staying "
        "unreferred (stabilised, truncated at the 1st and 99th percentiles)."
    )
    counts = {
        "n_controls": cens.n_controls,
        "n_censored": cens.n_censored,
        "n_control_rows": cens.n_control_rows,
        "n_censored_rows": cens.n_censored_rows,
    }
    return MatchedCohort(
        cohort,
        m,
        cens.panel,
        naive,
        spec,
        tuple(notes),
        censoring=cens.ipcw,
        panel_uncensored=cens.uncensored,
        index_covariates=index_cov,
        censor_counts=counts,
    )


def _exact_for(exact: list[str], cohort: Cohort) -> list[str]:
    """Exact-matching columns the cohort has: a monthly risk set (legacy) matches on its month."""
    monthly = cohort.spec.get("risk_set") == "month" or "index_week" not in cohort.candidates
    return ["index_month" if c == "index_week" else c for c in exact] if monthly else exact


def control_rule(one_control_per_person: bool, design: str = "target_trial") -> dict[str, Any]:
    """``unit`` passed to :func:`match` and the DiD's ``cluster`` for the control rule.

    One control row per person: cluster by set (sets share no one); otherwise by person. The
    target trial adds the index month, whose sub-experiment's time effects only clusters that
    nest them leave unbiased (docs/decisions/did-clustering.md). The locked plan records this.
    """
    by = "subclass" if one_control_per_person else "person_id"
    cluster: str | list[str] = ["index_month", by] if design == "target_trial" else by
    return {"unit": "person_id" if one_control_per_person else None, "cluster": cluster}


def _match_log_counts(cand: pd.DataFrame, covariates: list[str], spec: dict) -> MatchResult:
    """Match with prior-use counts as ``log1p`` in the propensity model, balance on raw counts.

    :func:`match` fits the propensity model on the covariates with every prior-utilisation
    count replaced by ``log1p`` of it and matches; :meth:`MatchResult.with_balance_on` then
    describes the covariates as they are, so that the balance table reports the raw counts
    (until 0.4 a second matching on the fitted distance did this, giving the same sets at the
    cost of matching twice; ``tests/unit/analysis/test_match_log_counts.py`` checks the two
    agree).
    """
    counts = [c for c in covariates if c.startswith(LOG_COUNT_PREFIXES)]
    common = dict(
        treatment="referred",
        exact=spec["exact"],
        ratio=spec["ratio"],
        caliper=spec["caliper"],
        replace=spec["replace"],
        unit=spec.get("unit"),
        sample_controls_above=spec["sample_controls_above"],
        seed=spec["seed"],
    )
    if spec.get("available_until"):
        # Target trial: a candidate referred later in its week's risk set is a control only for
        # the participants referred before it (not yet referred on their index date).
        common.update(time="index_date", available_until=spec["available_until"])
    if not counts or spec["distance"] not in ("logit", "propensity"):
        return match(cand, covariates=covariates, distance=spec["distance"], **common)
    logged = {f"log1p_{c}": np.log1p(cand[c].to_numpy(dtype=np.float64)) for c in counts}
    data = cand.assign(**logged)
    ps_covariates = [f"log1p_{c}" if c in counts else c for c in covariates]
    m_ps = match(data, covariates=ps_covariates, distance=spec["distance"], **common)
    data[_PS_DISTANCE] = m_ps.distance
    m_bal = m_ps.with_balance_on(data, covariates)  # the same sets, balance on raw counts
    note = (
        f"Propensity model: {len(counts)} prior-utilisation counts entered as log(1 + count) "
        "(skewed counts; a linear term extrapolates the heaviest users out of overlap); the "
        "balance table reports them on their own scale."
    )
    return replace(
        m_bal,
        propensity=m_ps.propensity,
        propensity_params=m_ps.propensity_params,
        spec={
            **m_ps.spec,
            "covariates": list(covariates),
            "propensity_covariates": ps_covariates,
            "propensity_terms": "log1p of prior-utilisation counts",
        },
        notes=(note, *m_ps.notes),
    )


def with_index_covariates(mc: MatchedCohort, columns: list[str]) -> MatchedCohort:
    """The matched cohort with index covariates (from the candidates) joined onto its panels.

    For covariate-adjusted DiD: a covariate fixed at index enters the outcome model as
    covariate x post (on its own it is absorbed by the unit effect). Matched controls take
    their values at the index date they inherit where the matched cohort holds them
    (``index_covariates``, the target-trial design).
    """
    cov = mc.cohort.candidates[columns]
    held = mc.index_covariates
    if held is not None and set(columns) <= set(held.columns):
        cov = cov.copy()
        cov.loc[held.index, columns] = held[columns].to_numpy()
    panel = mc.panel.drop(columns=[c for c in columns if c in mc.panel], errors="ignore")
    naive = mc.naive.drop(columns=[c for c in columns if c in mc.naive], errors="ignore")
    panel = panel.join(cov, on="unit")
    naive = naive.join(cov, on="unit")
    return replace(mc, panel=panel, naive=naive)


def window_rows(panel: pd.DataFrame, months: int, *, washout_months: int = 0) -> pd.DataFrame:
    """Rows of a person-month panel in the baseline or the first ``months`` of follow-up.

    Rows with no person-time at risk (after death or deregistration) are left out, and so are
    the first ``washout_months`` months of follow-up (a washout: 1 drops month 0).
    """
    em = panel["event_month"]
    keep = ((em >= BASELINE[0]) & (em <= BASELINE[1])) | ((em >= washout_months) & (em < months))
    return panel[keep & (panel["exposure"] > 0)]


def utilisation(
    mc: MatchedCohort,
    setting: str,
    months: int,
    *,
    covariates: list[str] | None = None,
    cluster: str | list[str] | None = None,
    washout_months: int = 0,
) -> UtilisationResult:
    """Matched DiD for one setting and window, with the naive pre/post figures beside it.

    The rate ratio is a fixed-effects Poisson DiD with person-time as exposure (not fitted for
    ``total_cost``, which is money, not a count); the absolute change is the linear DiD, per
    person-month, times the window (events per participant over the window). Both weight by
    :attr:`MatchedCohort.weight_column` (matching x censoring weight in the target trial),
    cluster by ``cluster`` (default ``spec["cluster"]``: by person, as matched sets may share
    a control person) and take time effects from :attr:`MatchedCohort.time_column` (index
    month x event month in the target trial, event month in the legacy design).
    ``washout_months`` leaves the first months of follow-up out (the month-0 washout: 1).
    The naive pre/post is computed for the matched participants (``naive_matched``: the same
    people as the DiD) and for every participant (``naive``).
    """
    cluster = cluster or _cluster(mc)
    p = window_rows(mc.panel, months, washout_months=washout_months)
    common = dict(
        outcome=setting,
        unit="unit",
        time=mc.time_column,
        treated="referred",
        post="post",
        cluster=cluster,
        covariates=covariates,
    )
    pois = None
    notes: list[str] = []
    if setting != "total_cost":
        why = rate_ratio_not_estimable(p, setting, mc.time_column, MIN_EVENTS)
        if why:
            notes.append(f"{setting}: {why}: a rate ratio is not estimable at this size.")
        else:
            try:
                pois = did(
                    p, **common, exposure="exposure", model="poisson", weights=mc.weight_column
                )
            except ValueError as exc:  # stacked effects on a small subgroup: no convergence
                if "Demeaning failed" not in str(exc):
                    raise
                notes.append(f"{setting}: the Poisson fit did not converge ({exc}): not estimable.")
    lin = did(p, **common, model="linear", weights=mc.weight_column)
    naive_rows = window_rows(mc.naive, months, washout_months=washout_months)
    matched = naive_rows["unit"].isin(mc.panel.loc[mc.panel["referred"] == 1, "unit"].unique())
    nv, nv_matched = (
        no_events_naive(rows, setting, months)
        or naive_prepost(rows, setting, "unit", "post", exposure="exposure", window_months=months)
        for rows in (naive_rows, naive_rows[matched])
    )
    return UtilisationResult(
        setting,
        months,
        pois,
        lin,
        nv,
        mc.n_participants,
        mc.n_controls,
        tuple(notes),
        estimand=mc.estimand,
        controls_censored_share=mc.controls_censored_share,
        naive_matched=nv_matched,
    )


def _cluster(mc: MatchedCohort) -> str | list[str]:
    """The matched cohort's default cluster column(s) (``subclass`` for older specs)."""
    return mc.spec.get("cluster") or "subclass"


def utilisation_all(mc: MatchedCohort) -> list[UtilisationResult]:
    """Every programme setting and ``total_cost`` at every configured window."""
    prog = mc.cohort.programme
    out = []
    for setting in [*prog.outcomes.settings, "total_cost"]:
        for w in prog.outcomes.windows_months:
            out.append(utilisation(mc, setting, w))
    return out


def utilisation_table(results: list[UtilisationResult]) -> pd.DataFrame:
    """Tidy table of every entry (the results.json ``utilisation`` list as a DataFrame)."""
    return pd.DataFrame([e for r in results for e in r.entries()])


#: The E-value row of :func:`sensitivity`. It treats the DiD rate ratio as one rate ratio, with
#: the E-value's own assumptions (a confounder of referral and the outcome); it does not bound a
#: violation of parallel trends, which the event study's pre-trend test speaks to.
EVALUE_LABEL = "E-value (a single rate ratio, under its own assumptions)"

#: The pre-specified sensitivity battery (docs/design/methods.md section 1) that
#: :func:`sensitivity` runs; the locked analysis plan (``evalkit plan lock``) records it.
SENSITIVITY_BATTERY: dict[str, Any] = {
    "setting": "emergency_admission",
    "window_months": 6,
    "analyses": [
        {"analysis": "caliper", "values": [0.1, 0.5]},
        {"analysis": "ratio", "values": [1, 5]},
        {"analysis": "per_protocol", "population": "completers and their matched sets"},
        {
            "analysis": "cluster",
            "values": ["person_id", "subclass"],
            "run": "each value the main analysis does not cluster by",
        },
        {
            "analysis": "covariate_adjustment",
            "covariates": ["prior12_<setting>", "prior3_<setting>"],
            "entered_as": "covariate x post",
        },
        {
            "analysis": "controls_not_censored",
            "estimand": UNCENSORED_ESTIMAND,
            "run": "target-trial design: controls followed after their own referral, "
            "matching weights only",
        },
        {"analysis": "washout", "months": 1, "drops": "event month 0 from follow-up"},
        {"analysis": "placebo_index", "shift_months": 18, "windows_months": [3, 6]},
        {"analysis": "evalue", "of": "main rate ratio"},
    ],
}


def without_censoring(mc: MatchedCohort) -> MatchedCohort:
    """The target-trial cohort with its controls not censored (matching weights only).

    The sensitivity analysis "controls not censored": the same matched sets, index-month x
    event-month time effects, and every control followed through its own referral.
    """
    if mc.panel_uncensored is None:
        return mc
    spec = {**mc.spec, "estimand": UNCENSORED_ESTIMAND}
    return replace(
        mc,
        panel=mc.panel_uncensored,
        spec=spec,
        censoring=None,
        panel_uncensored=None,
        censor_counts={},
    )


def _battery_row(label: str, res: DidResult | None, note: str = "") -> dict[str, Any]:
    """One row of the sensitivity table (NaN estimates and n 0 when not estimated)."""
    if res is None:
        return {
            "analysis": label,
            "estimate": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "n": 0,
            "note": note,
        }
    return {
        "analysis": label,
        "estimate": res.estimate,
        "ci_low": res.ci_low,
        "ci_high": res.ci_high,
        "n": res.n,
        "note": note,
    }


def _attempted_row(
    label: str, study: Study | None, mc: MatchedCohort, setting: str, months: int, **option: Any
) -> dict[str, Any]:
    """One alternative analysis: ``mc`` (matched again with ``option`` when ``study`` is given).

    A fit or a match that fails on a small programme's data is a row saying so.
    """
    try:
        if study is not None:
            mc = matched_cohort(study, cohort=mc.cohort, design=mc.design, **option)
        return _battery_row(label, utilisation(mc, setting, months).poisson)
    except ValueError as exc:  # includes LinAlgError and the cohort's refusals
        return _battery_row(label, None, f"not estimable: {exc}")


def _design_rows(mc: MatchedCohort, setting: str, months: int) -> list[dict[str, Any]]:
    """The battery's rows on the design: controls not censored (target trial) and the washout."""
    rows = []
    if mc.panel_uncensored is not None:
        rows.append(
            _battery_row(
                "controls not censored (against usual care, which may include later referral)",
                utilisation(without_censoring(mc), setting, months).poisson,
                f"{mc.controls_censored_share:.1%} of matched controls were referred during "
                "follow-up; here they are followed on, with matching weights only",
            )
        )
    wash = int(_battery("washout")["months"])
    rows.append(
        _battery_row(
            "month-0 washout",
            utilisation(mc, setting, months, washout_months=wash).poisson,
            f"event months 0 to {wash - 1} left out of follow-up"
            if wash > 1
            else "event month 0 left out of follow-up",
        )
    )
    return rows


def _battery(name: str) -> dict[str, Any]:
    return next(a for a in SENSITIVITY_BATTERY["analyses"] if a["analysis"] == name)


def sensitivity(
    study: Study,
    mc: MatchedCohort,
    *,
    setting: str = "emergency_admission",
    months: int = 6,
) -> pd.DataFrame:
    """The pre-specified battery for one outcome (docs/design/methods.md section 1), as one table.

    Caliper and ratio variations, per-protocol (completers and their matched controls),
    the other clustering (by matched set when the main analysis clusters by person), covariate
    adjustment (prior utilisation x post), controls not censored at their own referral (the
    target trial's comparison with usual care, which may include later referral, with the
    share of controls censored in the note), a month-0 washout (event month 0 left out of
    follow-up), placebo index dates 18 months earlier (3 and 6 months), and the E-value of
    the main rate ratio.
    """
    rows: list[dict[str, Any]] = []

    def add(label: str, res: DidResult | None, note: str = "") -> None:
        rows.append(_battery_row(label, res, note))

    main = utilisation(mc, setting, months)
    add("main analysis", main.poisson)
    for cal in _battery("caliper")["values"]:
        rows.append(_attempted_row(f"caliper {cal} SD", study, mc, setting, months, caliper=cal))
    for k in _battery("ratio")["values"]:
        rows.append(_attempted_row(f"ratio {k}:1", study, mc, setting, months, ratio=k))
    completers = set(mc.cohort.participants.loc[mc.cohort.participants["completed"], "row_id"])
    sets = mc.panel.loc[(mc.panel["referred"] == 1) & mc.panel["unit"].isin(completers), "subclass"]
    pp = replace(
        mc,
        panel=mc.panel[mc.panel["subclass"].isin(set(sets))],
        naive=mc.naive[mc.naive["unit"].isin(completers)],
    )
    rows.append(_attempted_row("per-protocol (completers)", None, pp, setting, months))
    labels = {"person_id": "clustered by person only", "subclass": "clustered by matched set"}
    for cl in _battery("cluster")["values"]:
        if cl != _cluster(mc):
            res = utilisation(mc, setting, months, cluster=cl)
            add(labels.get(cl, f"clustered by {cl}"), res.poisson)
    prior = [f"prior12_{setting}", f"prior3_{setting}"]
    adjusted = with_index_covariates(mc, prior)
    add(
        "adjusted for prior use x post",
        utilisation(adjusted, setting, months, covariates=prior).poisson,
        f"{' and '.join(prior)} entered as covariate x post",
    )
    rows += _design_rows(mc, setting, months)
    try:
        shift = _battery("placebo_index")["shift_months"]
        placebo = placebo_cohort(mc.cohort, shift)
        pmc = matched_cohort(study, cohort=placebo, design=mc.design)
        for w in _battery("placebo_index")["windows_months"]:
            add(
                f"placebo index 18 months earlier, {w} months",
                utilisation(pmc, setting, w).poisson,
                "should show no effect",
            )
    except Exception as exc:
        add("placebo index 18 months earlier", None, f"not estimable: {exc}")
    if main.poisson is not None:
        ev = evalue(main.poisson.estimate, main.poisson.ci_low, main.poisson.ci_high)
        rows.append(
            {
                "analysis": EVALUE_LABEL,
                "estimate": ev.evalue,
                "ci_low": ev.evalue_ci,
                "ci_high": np.nan,
                "n": main.poisson.n,
                "note": "risk ratio an unmeasured confounder would need with both "
                "referral and the outcome to explain the rate ratio away, treating it as a "
                "single rate ratio; not a bound on differing trends",
            }
        )
    return pd.DataFrame(rows)

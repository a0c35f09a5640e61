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

from evalkit.analysis.study import Study
from evalkit.cohort import (
    PRIOR_WINDOWS,
    Cohort,
    build_cohort,
    build_panel,
    naive_panel,
    placebo_cohort,
)
from evalkit.definitions.labels import setting_label
from evalkit.jsonsafe import json_safe
from evalkit.stats import plots
from evalkit.stats.did import DidResult, did
from evalkit.stats.evalue import evalue
from evalkit.stats.matching import MatchResult, match
from evalkit.stats.naive import NaiveResult, naive_prepost
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
    """A programme's matched cohort: the risk set, the match and the person-month panels."""

    analysis = "matched_cohort"

    cohort: Cohort
    match: MatchResult
    panel: pd.DataFrame  # matched rows x event months -24..11
    naive: pd.DataFrame  # participants alone
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

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
                f"{self.cohort.n_candidate_rows:,} candidate person-months)",
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
                "notes": list(self.notes),
            }
        )


def cohort_for(study: Study) -> Cohort:
    """The study's cohort (built once and cached on the study)."""
    cache = study.__dict__.setdefault("_cache", {})
    if "cohort" not in cache:
        cache["cohort"] = build_cohort(study.data_dir, study.programme, unit_costs=study.unit_costs)
    return cache["cohort"]


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
) -> MatchedCohort:
    """Match participants to risk-set controls and build the person-month panels.

    Defaults come from the programme's ``matching`` config (ratio 3, caliper 0.2 SD of the logit,
    exact on sex and index month). A candidate row (person and month) is used at most once, but
    a person may be a control in several months' risk sets, as incidence-density sampling
    requires; the DiD then clusters by person, since matched sets can share a person
    (``one_control_per_person: true`` in the config restores one control row per person and
    clustering by matched set). ``spec["cluster"]`` records which.
    """
    m_cfg = study.programme.matching
    cohort = cohort or cohort_for(study)
    spec = {
        "ratio": int(ratio or m_cfg.ratio),
        "caliper": m_cfg.caliper if caliper == "config" else caliper,
        "exact": list(exact if exact is not None else m_cfg.exact),
        "covariates": list(covariates if covariates is not None else m_cfg.covariates),
        "distance": distance or m_cfg.distance,
        "replace": m_cfg.replace if replace_controls is None else replace_controls,
        "sample_controls_above": m_cfg.sample_controls_above,
        "seed": m_cfg.seed,
        **control_rule(m_cfg.one_control_per_person),
    }
    m = _match_log_counts(cohort.candidates, cohort.covariate_columns(spec["covariates"]), spec)
    spec["propensity_terms"] = m.spec.get("propensity_terms", "as given")
    matched = m.matched.copy()
    matched["row_id"] = matched.index
    panel = build_panel(cohort, matched)
    naive = naive_panel(cohort)
    notes = [*m.notes, *panel.attrs.get("notes", ())]
    return MatchedCohort(cohort, m, panel, naive, spec, tuple(notes))


def control_rule(one_control_per_person: bool) -> dict[str, str | None]:
    """``unit`` passed to :func:`match` and the DiD's ``cluster`` for the control rule.

    One control row per person: ``unit="person_id"``, matched sets share no one, cluster by
    set. Otherwise (the default) a person may serve several risk sets, so cluster by person.
    The locked plan (``evalkit.reporting.plan``) records the same pair from here.
    """
    if one_control_per_person:
        return {"unit": "person_id", "cluster": "subclass"}
    return {"unit": None, "cluster": "person_id"}


def _match_log_counts(cand: pd.DataFrame, covariates: list[str], spec: dict) -> MatchResult:
    """Match with prior-use counts as ``log1p`` in the propensity model, balance on raw counts.

    Two calls of the public :func:`match`: the first fits the propensity model on the
    covariates with every prior-utilisation count replaced by ``log1p`` of it and matches; the
    second matches again on the first call's distance (a column; same exact strata, caliper
    width, order and tie-breaking, hence the same matched sets, which is checked) with the
    covariates as they are, so that its balance table reports the raw counts. The result is the
    second, carrying the first's propensity model, notes and spec.
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
    if not counts or spec["distance"] not in ("logit", "propensity"):
        return match(cand, covariates=covariates, distance=spec["distance"], **common)
    logged = {f"log1p_{c}": np.log1p(cand[c].to_numpy(dtype=np.float64)) for c in counts}
    data = cand.assign(**logged)
    ps_covariates = [f"log1p_{c}" if c in counts else c for c in covariates]
    m_ps = match(data, covariates=ps_covariates, distance=spec["distance"], **common)
    data[_PS_DISTANCE] = m_ps.distance
    m_bal = match(data, covariates=covariates, distance=_PS_DISTANCE, **common)
    same = m_bal.matched.index.equals(m_ps.matched.index) and np.array_equal(
        m_bal.matched["weight"].to_numpy(), m_ps.matched["weight"].to_numpy()
    )
    if not same:  # pragma: no cover - the same distance and rules give the same sets
        raise RuntimeError("matching on the fitted distance did not reproduce the matched sets")
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
    covariate x post (on its own it is absorbed by the unit effect).
    """
    cov = mc.cohort.candidates[columns]
    panel = mc.panel.drop(columns=[c for c in columns if c in mc.panel], errors="ignore")
    naive = mc.naive.drop(columns=[c for c in columns if c in mc.naive], errors="ignore")
    panel = panel.join(cov, on="unit")
    naive = naive.join(cov, on="unit")
    return replace(mc, panel=panel, naive=naive)


def window_rows(panel: pd.DataFrame, months: int) -> pd.DataFrame:
    """Rows of a person-month panel in the baseline or the first ``months`` of follow-up.

    Rows with no person-time at risk (after death or deregistration) are left out.
    """
    em = panel["event_month"]
    keep = ((em >= BASELINE[0]) & (em <= BASELINE[1])) | ((em >= 0) & (em < months))
    return panel[keep & (panel["exposure"] > 0)]


@dataclass(frozen=True, repr=False)
class UtilisationResult(Result):
    """Matched DiD (rate ratio and per-person difference) and the naive figure, one outcome."""

    analysis = "utilisation"

    setting: str
    window_months: int
    poisson: DidResult | None
    linear: DidResult
    naive: NaiveResult
    n_participants: int
    n_controls: int
    notes: tuple[str, ...] = ()

    def tidy(self) -> pd.DataFrame:
        """Rows in the ``utilisation`` shape of results.json."""
        return pd.DataFrame(self.entries())

    def entries(self) -> list[dict[str, Any]]:
        """The results.json ``utilisation`` entries for this setting and window."""
        base = {
            "setting": self.setting,
            "window_months": self.window_months,
            "n_participants": self.n_participants,
            "n_controls": self.n_controls,
        }
        out = []
        if self.poisson is not None:
            out.append(
                {
                    **base,
                    "method": "matched_did",
                    "scale": "rate_ratio",
                    "estimate": self.poisson.estimate,
                    "ci_low": self.poisson.ci_low,
                    "ci_high": self.poisson.ci_high,
                    "std_error": self.poisson.std_error,
                    "p_value": self.poisson.p_value,
                }
            )
        w = self.window_months
        out.append(
            {
                **base,
                "method": "matched_did",
                "scale": "difference_per_person",
                "estimate": self.linear.estimate * w,
                "ci_low": self.linear.ci_low * w,
                "ci_high": self.linear.ci_high * w,
                "std_error": self.linear.std_error * w,
                "p_value": self.linear.p_value,
            }
        )
        nb = {**base, "method": "naive_prepost", "n_controls": 0}
        if self.poisson is not None:
            out.append(
                {
                    **nb,
                    "scale": "rate_ratio",
                    "estimate": self.naive.rate_ratio,
                    "ci_low": self.naive.rr_ci_low,
                    "ci_high": self.naive.rr_ci_high,
                    "std_error": self.naive.log_rr_std_error,
                    "p_value": None,
                }
            )
        out.append(
            {
                **nb,
                "scale": "difference_per_person",
                "estimate": self.naive.difference_per_person,
                "ci_low": self.naive.diff_ci_low,
                "ci_high": self.naive.diff_ci_high,
                "std_error": self.naive.diff_std_error,
                "p_value": None,
            }
        )
        return out

    def summary(self) -> str:
        """Matched DiD beside the naive figure."""
        lines = [
            f"{self.setting}, {self.window_months} months after referral vs 12 before "
            f"({self.n_participants} participants, {self.n_controls} matched controls)"
        ]
        for e in self.entries():
            lines.append(
                f"  {e['method']:<14} {e['scale']:<22} {e['estimate']:.4g} "
                f"(95% CI {e['ci_low']:.4g} to {e['ci_high']:.4g})"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: setting, window, counts, the results.json entries and the notes."""
        return json_safe(
            {
                "analysis": self.analysis,
                "setting": self.setting,
                "window_months": self.window_months,
                "n_participants": self.n_participants,
                "n_controls": self.n_controls,
                "entries": self.entries(),
                "notes": list(self.notes),
            }
        )

    def plot_comparison(self, ax: Any = None, *, table: pd.DataFrame | None = None) -> Any:
        """Matched DiD beside the naive before/after rate ratio, with 95% CIs.

        Drawn by :func:`evalkit.stats.plots.comparison`, the function the report uses for all
        windows of a setting at once (on the disclosure-controlled table).
        """
        rows = self.tidy() if table is None else table
        return plots.comparison(
            rows[rows["scale"] == "rate_ratio"],
            label=setting_label(self.setting, capital=True),
            ax=ax,
        )


def utilisation(
    mc: MatchedCohort,
    setting: str,
    months: int,
    *,
    covariates: list[str] | None = None,
    cluster: str | None = None,
) -> UtilisationResult:
    """Matched DiD for one setting and window, with the naive pre/post figure beside it.

    The rate ratio is a fixed-effects Poisson DiD with person-time as exposure (not fitted for
    ``total_cost``, which is money, not a count); the absolute change is the linear DiD, per
    person-month, times the window (events per participant over the window). Both weight by
    the matching weights and cluster by ``cluster`` (default the matched cohort's
    ``spec["cluster"]``: by person, as matched sets may share a control person).
    """
    cluster = cluster or _cluster(mc)
    p = window_rows(mc.panel, months)
    common = dict(
        outcome=setting,
        unit="unit",
        time="event_month",
        treated="referred",
        post="post",
        cluster=cluster,
        covariates=covariates,
    )
    pois = None
    notes: list[str] = []
    if setting != "total_cost":
        treated = p[p["referred"] == 1]
        events = treated.groupby("post")[setting].sum()
        fewest = int(min(events.get(0, 0), events.get(1, 0)))
        if fewest < MIN_EVENTS:
            notes.append(
                f"{setting}: participants had {fewest} event(s) in the "
                f"{'baseline' if events.get(0, 0) <= events.get(1, 0) else 'follow-up'} period, "
                f"fewer than {MIN_EVENTS}: a rate ratio is not estimable at this size."
            )
        else:
            pois = did(p, **common, exposure="exposure", model="poisson", weights="weight")
    lin = did(p, **common, model="linear", weights="weight")
    nv = naive_prepost(
        window_rows(mc.naive, months),
        setting,
        "unit",
        "post",
        exposure="exposure",
        window_months=months,
    )
    return UtilisationResult(
        setting, months, pois, lin, nv, mc.n_participants, mc.n_controls, tuple(notes)
    )


def _cluster(mc: MatchedCohort) -> str:
    """The matched cohort's default cluster column (``subclass`` for older specs)."""
    return str(mc.spec.get("cluster") or "subclass")


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


def event_study(mc: MatchedCohort, setting: str, *, model: str = "poisson") -> DidResult:
    """Event-month coefficients (-24..11, reference -1) with the joint pre-trend test."""
    p = mc.panel[mc.panel["exposure"] > 0]
    kw = {"exposure": "exposure"} if model == "poisson" else {}
    return did(
        p,
        outcome=setting,
        unit="unit",
        time="event_month",
        treated="referred",
        post="post",
        cluster=_cluster(mc),
        model=model,
        event_study=True,
        weights="weight",
        **kw,
    )


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
        {"analysis": "placebo_index", "shift_months": 18, "windows_months": [3, 6]},
        {"analysis": "evalue", "of": "main rate ratio"},
    ],
}


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
    adjustment (prior utilisation x post), placebo index dates 18 months earlier (3 and 6
    months), and the E-value of the main rate ratio.
    """
    rows: list[dict[str, Any]] = []

    def add(label: str, res: DidResult | None, note: str = "") -> None:
        if res is None:
            rows.append(
                {
                    "analysis": label,
                    "estimate": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "n": 0,
                    "note": note,
                }
            )
            return
        rows.append(
            {
                "analysis": label,
                "estimate": res.estimate,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "n": res.n,
                "note": note,
            }
        )

    main = utilisation(mc, setting, months)
    add("main analysis", main.poisson)
    for cal in _battery("caliper")["values"]:
        alt = matched_cohort(study, caliper=cal, cohort=mc.cohort)
        add(f"caliper {cal} SD", utilisation(alt, setting, months).poisson)
    for k in _battery("ratio")["values"]:
        alt = matched_cohort(study, ratio=k, cohort=mc.cohort)
        add(f"ratio {k}:1", utilisation(alt, setting, months).poisson)
    completers = set(mc.cohort.participants.loc[mc.cohort.participants["completed"], "row_id"])
    sets = mc.panel.loc[(mc.panel["referred"] == 1) & mc.panel["unit"].isin(completers), "subclass"]
    pp = replace(
        mc,
        panel=mc.panel[mc.panel["subclass"].isin(set(sets))],
        naive=mc.naive[mc.naive["unit"].isin(completers)],
    )
    add("per-protocol (completers)", utilisation(pp, setting, months).poisson)
    labels = {"person_id": "clustered by person", "subclass": "clustered by matched set"}
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
    try:
        shift = _battery("placebo_index")["shift_months"]
        placebo = placebo_cohort(mc.cohort, shift)
        pmc = matched_cohort(study, cohort=placebo)
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
                "analysis": "E-value (unmeasured confounding)",
                "estimate": ev.evalue,
                "ci_low": ev.evalue_ci,
                "ci_high": np.nan,
                "n": main.poisson.n,
                "note": "risk ratio an unmeasured confounder would need with both "
                "referral and the outcome to explain the estimate away",
            }
        )
    return pd.DataFrame(rows)

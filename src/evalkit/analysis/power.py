"""Power for a programme's study: the MDE beside each estimate, and planning power.

What a programme's evaluation could detect. The formulas are :mod:`evalkit.stats.mde` (any data
set); this module feeds them a programme's own data:

- :func:`mde_utilisation` estimates the design inputs of one setting and window from the
  programme's **matched cohort** (the matched controls' baseline and window rates, their
  over-dispersion, the within-person correlation of baseline and window totals, follow-up
  completeness, the effective number of controls and the correlation of change within matched
  sets) and returns the minimum detectable rate ratio and difference per person, to sit as
  ``mde`` beside each ``matched_did`` entry of results.json (:func:`add_mde`).
- :func:`mde_wellbeing` gives the minimum detectable mean change of a wellbeing result from its
  own baseline count, follow-up completeness and SD of change.
- :func:`power_plan` answers the planning questions before a programme has participants
  ("how many participants to detect a 20 % fall in emergency admissions?", "what could 150
  participants detect?") from the county's **eligible population**: a seeded sample of the
  risk-set candidate rows, followed over the same event months as a matched control would be.

The ``design`` MDE's inputs are estimated from the matched controls, or from people before any
outcome of a participant is seen. The ``calibrated`` MDE that results.json reports scales that
variance to the fitted model's cluster-robust SE at the estimated rate ratio, so the
participants' outcomes enter through the precision of the fit; it is still the smallest effect
the design detects with 80 % power, not the power to detect the observed estimate ("observed
power" is not computed). ``bench/bench_mde_simulation.py`` checks it: 76-82 % power at the
reported MDE with about 1,100 matched participants.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis.study import Study, load_study
from evalkit.analysis.utilisation import BASELINE, MatchedCohort, UtilisationResult, cohort_for
from evalkit.cohort import build_panel
from evalkit.definitions.labels import setting_label
from evalkit.stats.mde import (
    DidPower,
    PairedPower,
    did_log_rr_variance,
    mde_did,
    mde_from_se,
    mde_paired,
    power_did,
    sample_size_did,
)
from evalkit.stats.prepost import PrePostResult

__all__ = [
    "MDE_METHOD",
    "add_mde",
    "design_inputs",
    "mde_utilisation",
    "mde_utilisation_all",
    "mde_wellbeing",
    "power_plan",
]

BASELINE_MONTHS = BASELINE[1] - BASELINE[0] + 1

#: Plain-English statement of the MDE method, for the report's methods appendix.
MDE_METHOD = (
    "Minimum detectable effects (MDE) are the smallest true effects the analysis would find "
    "statistically significant (5% two-sided) in 80% of evaluations of this design. For "
    "healthcare use, the variance of the matched difference-in-differences rate ratio is "
    "derived by the delta method from the four group totals (participants and matched controls, "
    "before and after referral), with negative binomial over-dispersion, the correlation of a "
    "person's use before and after, the share of follow-up observed, the effective number of "
    "matched controls and the correlation of change within matched sets, estimated from the "
    "matched controls; that variance is then scaled so that, at the estimated rate ratio, it "
    "equals the fitted model's own cluster-robust standard error (which also reflects the "
    "matching). The rate ratio nearest 1 with 80% power is the MDE (a fall), and the MDE of the "
    "difference per person is 2.8 standard errors of the linear difference-in-differences. In "
    "simulations on the synthetic county the power at the reported MDE was 76-82% with about "
    "1,100 matched participants, but ranged from about 65% to 90% with about 100, so at small "
    "sizes the MDE is a rough guide. For wellbeing, the MDE is the mean change a paired "
    "t-test on the paired questionnaires detects with 80% power, from the SD of the changes. An "
    "estimate whose confidence interval includes no effect is reported as not distinguishable "
    "from no effect, never as no effect; an outcome whose MDE is larger than any plausible effect "
    "was not one the evaluation was powered to assess."
)
#: Largest within-set correlation of change credited to matching (keeps the variance positive).
MAX_MATCHING_CORRELATION = 0.9


# ----------------------------------------------------------------------------------------------
# Design inputs from a panel
# ----------------------------------------------------------------------------------------------
def _unit_totals(panel: pd.DataFrame, setting: str, months: int) -> pd.DataFrame:
    """Per unit: baseline and window totals (y0, y1) and person-time (e0, e1), months at risk."""
    em = panel["event_month"]
    at_risk = panel["exposure"] > 0
    base = (em >= BASELINE[0]) & (em <= BASELINE[1]) & at_risk
    win = (em >= 0) & (em < months) & at_risk
    cols = ["unit", "subclass", "referred", "weight"]
    units = panel.drop_duplicates("unit").set_index("unit")[cols[1:]]
    y = panel[setting].to_numpy(dtype=float)
    e = panel["exposure"].to_numpy(dtype=float)
    unit = panel["unit"].to_numpy()
    out = pd.DataFrame(index=units.index)
    for tag, mask in (("0", base.to_numpy()), ("1", win.to_numpy())):
        g = pd.DataFrame({"unit": unit[mask], "y": y[mask], "e": e[mask]}).groupby("unit").sum()
        out[f"y{tag}"] = g["y"].reindex(out.index, fill_value=0.0)
        out[f"e{tag}"] = g["e"].reindex(out.index, fill_value=0.0)
    return out.join(units)


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w))


def _dispersion(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> float:
    """Method-of-moments NB2 excess dispersion a from Var(y) = mu + a mu^2 (0 if under)."""
    den = float(np.sum(w * mu**2))
    if den <= 0:
        return 0.0
    return max(0.0, float(np.sum(w * ((y - mu) ** 2 - mu))) / den)


def _wcorr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    if len(x) < 3:
        return 0.0
    mx, my = _wmean(x, w), _wmean(y, w)
    vx, vy = _wmean((x - mx) ** 2, w), _wmean((y - my) ** 2, w)
    if vx <= 0 or vy <= 0:
        return 0.0
    return float(_wmean((x - mx) * (y - my), w) / math.sqrt(vx * vy))


def _set_correlation(z: np.ndarray, sets: np.ndarray) -> tuple[float, int]:
    """Intraclass correlation of change scores between controls of one matched set."""
    frame = pd.DataFrame({"z": z - z.mean(), "s": sets}).dropna()
    if frame.empty:
        return 0.0, 0
    g = frame.groupby("s")["z"].agg(["sum", "count"])
    sq = frame.assign(z2=frame["z"] ** 2).groupby("s")["z2"].sum()
    pairs = g["count"] * (g["count"] - 1)
    n_pairs = int(pairs.sum())
    var = float((frame["z"] ** 2).mean())
    if n_pairs == 0 or var <= 0:
        return 0.0, 0
    cross = float((g["sum"] ** 2 - sq).sum())
    return cross / n_pairs / var, n_pairs


def design_inputs(
    panel: pd.DataFrame, setting: str, months: int, *, matched_sets: bool = True
) -> dict[str, Any]:
    """Estimate the count-DiD design inputs of one setting and window from a panel's controls.

    Parameters
    ----------
    panel : pd.DataFrame
        A person-month panel (:func:`evalkit.cohort.build_panel`) with ``unit``, ``subclass``,
        ``referred``, ``weight``, ``event_month``, ``exposure`` and the ``setting`` column.
        Only its control rows (``referred == 0``) are read, weighted by ``weight``.
    setting : str
        Count column.
    months : int
        Window after index (months 0 .. months - 1) against the baseline (-12 .. -1).
    matched_sets : bool
        Estimate the correlation of change within matched sets (``subclass``); False for a
        sample of unmatched eligible people.

    Returns
    -------
    dict
        Keyword arguments for :func:`evalkit.stats.mde.mde_did` (``baseline_rate``,
        ``post_rate``, ``k``, ``k_post``, ``correlation``, ``completeness``,
        ``baseline_completeness``, ``matching_correlation``, ``window_months``,
        ``baseline_months``) plus ``n_controls_effective`` and ``n_control_units``.

    Notes
    -----
    Rates are events over person-time (``exposure`` months) in the baseline and the window;
    completeness is mean person-time over the months of each period; the NB2 excess
    dispersion a = 1/k is the method-of-moments estimate sum w[(y - mu)^2 - mu] / sum w mu^2
    with mu = rate x the unit's person-time (0, i.e. Poisson, when the counts are not
    over-dispersed); the within-person correlation is the weighted Pearson correlation of the
    baseline and window residuals y - mu among controls at risk in both; the matched-set
    correlation is the intraclass correlation of the change score y1/mu1 - y0/mu0 between
    controls of one set, bounded to [0, 0.9]. The effective number of controls is
    (sum w)^2 / sum w^2.
    """
    tot = _unit_totals(panel, setting, months)
    c = tot[tot["referred"] == 0]
    if c.empty:
        raise ValueError("the panel has no control rows to estimate the design from")
    w = c["weight"].to_numpy(dtype=float)
    y0, y1 = c["y0"].to_numpy(), c["y1"].to_numpy()
    e0, e1 = c["e0"].to_numpy(), c["e1"].to_numpy()
    lam0 = float(np.sum(w * y0) / np.sum(w * e0)) if np.sum(w * e0) > 0 else math.nan
    lam1 = float(np.sum(w * y1) / np.sum(w * e1)) if np.sum(w * e1) > 0 else math.nan
    mu0, mu1 = lam0 * e0, lam1 * e1
    a0 = _dispersion(y0, mu0, w)
    ok1 = e1 > 0
    a1 = _dispersion(y1[ok1], mu1[ok1], w[ok1])
    both = (e0 > 0) & (e1 > 0)
    rho = _wcorr(y0[both] - mu0[both], y1[both] - mu1[both], w[both])
    psi, n_pairs = 0.0, 0
    if matched_sets and both.sum() >= 3 and lam0 > 0 and lam1 > 0:
        z = y1[both] / mu1[both] - y0[both] / mu0[both]
        psi, n_pairs = _set_correlation(z, c["subclass"].to_numpy()[both])
        psi = min(max(psi, 0.0), MAX_MATCHING_CORRELATION)
    return {
        "baseline_rate": lam0,
        "post_rate": lam1,
        "k": (1.0 / a0) if a0 > 0 else None,
        "k_post": (1.0 / a1) if a1 > 0 else None,
        "correlation": float(np.clip(rho, -0.99, 0.99)),
        "completeness": min(1.0, _wmean(e1, w) / months),
        "baseline_completeness": min(1.0, _wmean(e0, w) / BASELINE_MONTHS),
        "matching_correlation": float(psi),
        "window_months": int(months),
        "baseline_months": BASELINE_MONTHS,
        "n_controls_effective": float(np.sum(w) ** 2 / np.sum(w**2)),
        "n_control_units": len(c),
        "n_set_pairs": n_pairs,
    }


_DESIGN_KEYS = (
    "baseline_rate",
    "post_rate",
    "k",
    "k_post",
    "correlation",
    "completeness",
    "baseline_completeness",
    "matching_correlation",
    "window_months",
    "baseline_months",
)


def _design_kw(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: inputs[k] for k in _DESIGN_KEYS}


# ----------------------------------------------------------------------------------------------
# Retrospective: beside each estimate
# ----------------------------------------------------------------------------------------------
def mde_utilisation(
    mc: MatchedCohort,
    setting: str,
    months: int,
    *,
    fit: UtilisationResult | None = None,
    method: str | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
) -> DidPower:
    """Minimum detectable effect of the matched DiD for one setting and window.

    Parameters
    ----------
    mc : MatchedCohort
        The programme's matched cohort (:func:`evalkit.analysis.utilisation.matched_cohort`).
    setting : str
        Activity setting (or ``"total_cost"``: difference per person only).
    months : int
        Window after referral.
    fit : UtilisationResult, optional
        The estimate this MDE will sit beside; needed for ``method="calibrated"``.
    method : {"design", "calibrated"}, optional
        Default: ``"calibrated"`` when ``fit`` has a rate ratio, else ``"design"``.
        ``"design"``: the design formula of
        :func:`evalkit.stats.mde.did_log_rr_variance` with inputs estimated from the
        matched controls (:func:`design_inputs`). ``"calibrated"``: the same formula scaled by
        a design effect so that, at the fitted rate ratio, it reproduces the fitted model's own
        cluster-robust SE (Bloom's MDE = 2.8 x SE, with the formula carrying the SE from the
        fitted rate ratio to the MDE); the difference per person is ``mde_from_se`` of the
        linear fit's SE on G - 1 degrees of freedom.
    alpha, power : float
        Two-sided significance level and power (0.05, 0.8).

    Returns
    -------
    DidPower
        ``value_for("rate_ratio")`` and ``value_for("difference_per_person")`` give the
        results.json ``mde`` of each entry; ``sentence()`` the report's line; ``spec`` the
        estimated inputs.
    """
    if method is None:
        method = "calibrated" if fit is not None and fit.poisson is not None else "design"
    if method not in ("design", "calibrated"):
        raise ValueError(f"method must be 'design' or 'calibrated', not {method!r}")
    n = mc.n_participants
    inputs = design_inputs(mc.panel, setting, months)
    label = setting_label(setting)
    notes = [
        f"Design inputs from the {inputs['n_control_units']} matched controls: baseline "
        f"{inputs['baseline_rate']:.4g} and window {inputs['post_rate']:.4g} events per "
        f"person-month, within-person correlation {inputs['correlation']:.2f}, follow-up "
        f"completeness {inputs['completeness']:.0%}, matched-set correlation "
        f"{inputs['matching_correlation']:.2f}.",
    ]
    if setting == "total_cost":
        return _cost_mde(mc, months, fit, inputs, alpha, power, notes)
    ratio = inputs["n_controls_effective"] / n
    kw = _design_kw(inputs)
    if ratio < 1:
        kw["matching_correlation"] = 0.0
    deff = 1.0
    if method == "calibrated":
        if fit is None or fit.poisson is None:
            raise ValueError("method='calibrated' needs the fitted UtilisationResult (fit=...)")
        formula_var = did_log_rr_variance(
            n, ratio=ratio, rate_ratio=fit.poisson.estimate, **{**kw, "design_effect": 1.0}
        )
        deff = fit.poisson.std_error**2 / formula_var
        notes.append(
            f"Calibrated to the fitted model's SE: design effect {deff:.3g} (the formula's "
            "variance at the fitted rate ratio times this equals the cluster-robust SE squared)."
        )
    res = mde_did(
        n,
        ratio=ratio,
        alpha=alpha,
        power=power,
        outcome=label,
        design_effect=deff,
        **kw,
    )
    if method == "calibrated" and fit is not None:
        lin_mde = mde_from_se(
            fit.linear.std_error * months,
            alpha=alpha,
            power=power,
            df=max(fit.linear.n_clusters - 1, 1),
        )
        res = _replace(res, mde_difference_per_person=lin_mde)
    spec = {
        **res.spec,
        "setting": setting,
        "method": method,
        "source": "matched controls",
        "n_controls_actual": mc.n_controls,
        "n_controls_effective": inputs["n_controls_effective"],
        "n_set_pairs": inputs["n_set_pairs"],
    }
    return _replace(res, spec=spec, notes=(*notes, *res.notes))


def _replace(res: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(res, **changes)


def _cost_mde(
    mc: MatchedCohort,
    months: int,
    fit: UtilisationResult | None,
    inputs: dict[str, Any],
    alpha: float,
    power: float,
    notes: list[str],
) -> DidPower:
    """MDE of the cost DiD (difference per person only): moments of the controls' costs."""
    tot = _unit_totals(mc.panel, "total_cost", months)
    c = tot[(tot["referred"] == 0) & (tot["e0"] > 0) & (tot["e1"] > 0)]
    w = c["weight"].to_numpy(dtype=float)
    d = (c["y1"] / c["e1"] - c["y0"] / c["e0"]).to_numpy()
    var_d = _wmean((d - _wmean(d, w)) ** 2, w)
    n = mc.n_participants
    m = inputs["n_controls_effective"]
    se = months * math.sqrt(var_d * (1.0 / n + 1.0 / m))
    if fit is not None:
        se_used = fit.linear.std_error * months
        notes.append("Cost: calibrated to the linear fit's SE.")
    else:
        se_used = se
    mde = mde_from_se(se_used, alpha=alpha, power=power, df=max(n - 1, 1))
    notes.append(
        "Cost is money, not a count: no rate ratio; the MDE is the linear DiD's, from the "
        "variance of the controls' change in monthly cost (matched sets assumed independent)."
    )
    return DidPower(
        solved_for="mde",
        n_participants=float(n),
        n_controls=float(m),
        rate_ratio=math.nan,
        power=power,
        alpha=alpha,
        target_power=power,
        mde_rate_ratio=math.nan,
        mde_rate_ratio_rise=math.nan,
        mde_difference_per_person=mde,
        expected_events_per_participant=math.nan,
        std_error_log_rr=math.nan,
        std_error_difference=se_used,
        window_months=int(months),
        baseline_months=BASELINE_MONTHS,
        outcome=setting_label("total_cost"),
        spec={
            "setting": "total_cost",
            "source": "matched controls",
            "method": "calibrated" if fit is not None else "design",
            "alpha": alpha,
        },
        notes=tuple(notes),
    )


def mde_utilisation_all(
    mc: MatchedCohort,
    fits: list[UtilisationResult] | None = None,
    *,
    method: str = "calibrated",
) -> dict[tuple[str, int], DidPower]:
    """MDEs for every programme setting (and ``total_cost``) and window, keyed (setting, W).

    With ``fits`` (from :func:`evalkit.analysis.utilisation.utilisation_all`) each MDE is given
    its fit and calibrated to it (``method="calibrated"``, the default, which the simulation in
    ``bench/bench_mde_simulation.py`` supports); settings without a fitted rate ratio, or
    without ``fits``, use the design formula.
    """
    prog = mc.cohort.programme
    by_key = {(f.setting, f.window_months): f for f in fits or []}
    out: dict[tuple[str, int], DidPower] = {}
    for setting in [*prog.outcomes.settings, "total_cost"]:
        for w in prog.outcomes.windows_months:
            fit = by_key.get((setting, w))
            use = method if (fit is not None and fit.poisson is not None) else "design"
            try:
                out[(setting, w)] = mde_utilisation(mc, setting, w, fit=fit, method=use)
            except ValueError as err:
                # No events in the baseline or the window, or too few for the power curve to
                # be defined (a small programme): no MDE; the entry is published without one.
                if not any(m in str(err) for m in ("must be positive", "solver cannot continue")):
                    raise
    return out


def add_mde(
    entries: list[dict[str, Any]], mdes: dict[tuple[str, int], DidPower]
) -> list[dict[str, Any]]:
    """Return results.json ``utilisation`` entries with ``mde`` (and its sentence) added.

    Each ``matched_did`` entry gets ``mde`` on its own scale (a rate ratio below 1 for
    ``rate_ratio``, events per participant for ``difference_per_person``) and
    ``mde_sentence``; naive entries are returned unchanged.
    """
    out = []
    for e in entries:
        e = dict(e)
        key = (e.get("setting"), e.get("window_months"))
        if e.get("method") == "matched_did" and key in mdes:
            m = mdes[key]
            value = m.value_for(e["scale"])
            e["mde"] = None if not np.isfinite(value) else float(value)
            e["mde_sentence"] = m.sentence()
        out.append(e)
    return out


def mde_wellbeing(result: PrePostResult, *, alpha: float = 0.05, power: float = 0.8) -> PairedPower:
    """Minimum detectable mean change of one wellbeing measure, from its own design.

    Uses the result's scorable baselines, its follow-up completeness and the SD of the
    observed changes (the paired t-test's own variance; the mean change itself is not used), so
    the MDE equals :attr:`PrePostResult.mde`.

    Parameters
    ----------
    result : PrePostResult
        From :func:`evalkit.analysis.wellbeing.wellbeing`.
    alpha, power : float

    Returns
    -------
    PairedPower
    """
    comp = result.follow_up_completeness
    n = result.n_baseline
    if not (n > 0 and np.isfinite(comp) and comp > 0 and np.isfinite(result.sd_change)):
        return PairedPower(
            solved_for="mde",
            n=float(n),
            completeness=float(comp) if np.isfinite(comp) else 0.0,
            n_paired=int(result.n_paired),
            sd_change=float(result.sd_change),
            effect=math.nan,
            power=math.nan,
            alpha=alpha,
            target_power=power,
            mde=math.nan,
            mde_standardised=math.nan,
            outcome=result.title,
            unit="points",
            spec={"instrument": result.instrument, "alpha": alpha, "power": power},
            notes=("Too few paired measures for an MDE.",),
        )
    res = mde_paired(
        n,
        sd_change=float(result.sd_change),
        completeness=float(comp),
        alpha=alpha,
        power=power,
        outcome=result.title,
        unit="points",
    )
    return _replace(
        res,
        spec={**res.spec, "instrument": result.instrument, "source": "observed SD of change"},
        notes=(
            "SD of change from the paired measures themselves; the mean change is not used.",
            *res.notes,
        ),
    )


# ----------------------------------------------------------------------------------------------
# Prospective: planning from the eligible population
# ----------------------------------------------------------------------------------------------
def _eligible_panel(study: Study, sample: int, seed: int) -> tuple[pd.DataFrame, int]:
    cohort = cohort_for(study)
    cand = cohort.candidates
    pool = cand.index[cand["referred"] == 0].to_numpy()
    if len(pool) == 0:
        raise ValueError(f"{study.programme.slug}: no eligible candidate rows in the data")
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(pool, size=min(sample, len(pool)), replace=False))
    matched = pd.DataFrame(
        {
            "row_id": take,
            "referred": np.zeros(len(take), dtype=np.int8),
            "subclass": pd.array([pd.NA] * len(take), dtype="Int64"),
            "weight": np.ones(len(take)),
        },
        index=take,
    )
    return build_panel(cohort, matched), len(pool)


def power_plan(
    study_or_processed_dir: Study | str | Path,
    programme: str | None = None,
    effect: float | None = None,
    participants: int | None = None,
    setting: str = "emergency_admission",
    months: int = 6,
    ratio: int | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    sample: int = 4000,
    seed: int = 20240401,
) -> DidPower:
    """Plan a programme's utilisation evaluation from the county's eligible population.

    Answers "how many participants would we need to detect a ``effect`` fall?" (``effect``
    given), "what could ``participants`` detect?" (``participants`` given), or the power of
    ``participants`` for ``effect`` (both). With neither, the MDE for the programme's current
    number of participants.

    Parameters
    ----------
    study_or_processed_dir : Study, str or Path
        A loaded study, or the processed data directory (then ``programme`` is needed).
    programme : str, optional
        Programme slug (ignored when a Study is given).
    effect : float, optional
        Relative fall to detect, as a share: 0.2 is a 20 % fall (rate ratio 0.8); a negative
        value is a rise.
    participants : int, optional
        Planned number of participants.
    setting : str
        Activity setting (default emergency admissions).
    months : int
        Window after referral (default 6).
    ratio : int, optional
        Matched controls per participant (default: the programme's matching ratio).
    alpha, power : float
        Two-sided significance level and target power.
    sample : int
        Eligible candidate rows sampled (seeded) to estimate the rates (default 4,000).
    seed : int
        Seed of that sample.

    Returns
    -------
    DidPower
        Its ``sentence()`` is the answer in words; ``spec`` records the inputs estimated.

    Notes
    -----
    The rates, over-dispersion, within-person correlation and completeness are those of a
    seeded sample of the programme's risk-set candidate rows (eligible people not yet referred,
    at each month's index date), followed over the same event months as a matched control.
    Participants usually use more care than the average eligible person; matched controls are
    chosen to resemble them, so a real evaluation's baseline rate is usually higher and its
    MDE smaller than planned here: the plan errs on the cautious side. Matched sets are taken
    as independent (no credit for matching).
    """
    if isinstance(study_or_processed_dir, Study):
        study = study_or_processed_dir
    else:
        if programme is None:
            raise ValueError("give the programme slug with a processed data directory")
        study = load_study(programme, study_or_processed_dir)
    prog = study.programme
    if setting not in prog.outcomes.settings:
        raise ValueError(
            f"{setting!r} is not an outcome of {prog.slug}: {', '.join(prog.outcomes.settings)}"
        )
    if effect is not None and not (-10 < effect < 1 and effect != 0):
        raise ValueError("effect is a relative fall, e.g. 0.2 for 20 %; it must be below 1")
    k = int(ratio or prog.matching.ratio)
    panel, pool_rows = _eligible_panel(study, sample, seed)
    inputs = design_inputs(panel, setting, months, matched_sets=False)
    kw = {**_design_kw(inputs), "matching_correlation": 0.0}
    label = setting_label(setting)
    notes = [
        f"Rates from {inputs['n_control_units']:,} sampled eligible candidate rows (of "
        f"{pool_rows:,}; seed {seed}): baseline {inputs['baseline_rate']:.4g} and window "
        f"{inputs['post_rate']:.4g} {label} per person-month, within-person correlation "
        f"{inputs['correlation']:.2f}, completeness {inputs['completeness']:.0%}.",
        "Participants usually use more care than the average eligible person; the plan is "
        "likely cautious (real matched controls have higher rates, so smaller MDEs).",
    ]
    common = {"ratio": k, "alpha": alpha, "power": power, "outcome": label, **kw}
    if effect is not None and participants is None:
        res = sample_size_did(1.0 - effect, **common)
    elif participants is not None and effect is not None:
        res = power_did(1.0 - effect, participants, **common)
    else:
        n = participants
        if n is None:
            n = cohort_for(study).n_participants
            notes.append(f"Planned for the programme's current {n} participants.")
        if n < 1:
            raise ValueError("the programme has no participants: give participants= or effect=")
        res = mde_did(n, **common)
    spec = {
        **res.spec,
        "programme": prog.slug,
        "setting": setting,
        "source": "eligible population sample",
        "sample": sample,
        "seed": seed,
        "effect": effect,
        "participants": participants,
    }
    return _replace(res, spec=spec, notes=(*notes, *res.notes))

"""The truth file, ``synthetic_truth.json``: what the synthetic programmes really did.

The generator knows each participant's expected activity with and without the programme, the
referral hazards and the latent wellbeing scores, so it can state the estimands exactly; the
analyses of the synthetic county are checked against this file. What each quantity means is
written into the file itself (:data:`DEFINITIONS`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from evalkit import __version__
from evalkit.config import Programme, UnitCostTable
from evalkit.contract import SETTINGS
from evalkit.synth.calendar import Calendar
from evalkit.synth.people import Population
from evalkit.synth.programmes import Attendance

__all__ = [
    "DEFINITIONS",
    "HARD_DEFINITIONS",
    "TRUTH_FILE",
    "WINDOWS",
    "reach_truth",
    "selection_truth",
    "truth_document",
    "utilisation_truth",
]

TRUTH_FILE = "synthetic_truth.json"
#: Follow-up windows (event months) of the utilisation truth.
WINDOWS = (3, 6, 12)
#: What the truth's quantities mean (written into the file).
DEFINITIONS = {
    "utilisation": "sum of expected counts with / without the programme over event months "
    "0..W-1 among participants (first referrals), months after death or "
    "deregistration excluded",
    "wellbeing": "expected change in the scored instrument given the latent scores, among "
    "complete cases (mean_change) and among all starters (mean_change_all)",
    "reach": "expected first-referral rate per eligible person-month by IMD quintile "
    "relative to quintile 5",
}
#: The hard world's definitions, where they differ (the data contract's event months).
HARD_DEFINITIONS = {
    "utilisation": "sum of expected counts with / without the programme over event months "
    "0..W-1 of all participants (first referrals); event month m runs from the day after "
    "(referral date + m calendar months) to (referral date + m + 1 calendar months), "
    "inclusive, so the referral day ends month -1; person-time outside registration, after "
    "death or after the data end excluded. The estimand: referral now against not being "
    "referred now (controls censored at their own referral). A negative-control setting "
    "has rate ratio exactly 1",
    "reach": "expected first-referral rate per eligible person-month by IMD quintile "
    "relative to quintile 5 (daily hazards summed by calendar month)",
    "eligible_3_months_before_referral": "participants eligible (and registered all month) "
    "in 3 or more calendar months of the referral window before their referral month: "
    "candidate controls at earlier referral dates",
}


def _ratio_and_difference(a0: float, a1: float, n_p: int) -> tuple[float, float]:
    """Rate ratio (NaN without expected events) and difference per participant."""
    ratio = float(a1 / a0) if a0 > 0 else float("nan")
    return ratio, float((a1 - a0) / max(n_p, 1))


def utilisation_truth(
    lam0: np.ndarray,
    lam1: np.ndarray,
    settings: tuple[str, ...],
    unit_cost: np.ndarray,
    cost_mask: np.ndarray,
    *,
    outcomes: tuple[str, ...] = SETTINGS,
) -> dict[str, Any]:
    """True rate ratios and differences per participant, per setting and for total cost.

    ``lam0`` and ``lam1`` are the expected counts without and with the programme, shape
    (participants, 12 event months, settings); each window ``W`` of :data:`WINDOWS` sums event
    months 0..W-1. Rate ratios are stated for the ``outcomes`` settings (the hard world adds its
    negative control); total cost sums the settings of ``cost_mask``.
    """
    n_p = lam0.shape[0]
    out: dict[str, dict] = {}
    for k, s in enumerate(settings):
        if s not in outcomes:
            continue
        out[s] = {"rate_ratio": {}, "difference_per_person": {}}
        for w in WINDOWS:
            a0, a1 = lam0[:, :w, k].sum(), lam1[:, :w, k].sum()
            ratio, diff = _ratio_and_difference(a0, a1, n_p)
            out[s]["rate_ratio"][str(w)] = ratio
            out[s]["difference_per_person"][str(w)] = diff
    c0 = (lam0 * (unit_cost * cost_mask)[None, None, :]).sum(axis=2)
    c1 = (lam1 * (unit_cost * cost_mask)[None, None, :]).sum(axis=2)
    out["total_cost"] = {"rate_ratio": {}, "difference_per_person": {}}
    for w in WINDOWS:
        a0, a1 = c0[:, :w].sum(), c1[:, :w].sum()
        ratio, diff = _ratio_and_difference(a0, a1, n_p)
        out["total_cost"]["rate_ratio"][str(w)] = ratio
        out["total_cost"]["difference_per_person"][str(w)] = diff
    return {"utilisation": out}


def reach_truth(
    elig: np.ndarray,
    hazard: np.ndarray,
    at_risk_until: np.ndarray,
    truly_at_risk: np.ndarray,
    q: np.ndarray,
) -> dict[str, float]:
    """Expected referrals over the analysis's person-time at risk, by quintile, relative to 5."""
    months = np.arange(elig.shape[1])
    analysis_time = elig & (months[None, :] <= at_risk_until[:, None])
    generator_risk = elig & (months[None, :] <= truly_at_risk[:, None])
    rate = {}
    for k in range(1, 6):
        rows = q == k
        pm = analysis_time[rows].sum()
        rate[k] = (hazard[rows] * generator_risk[rows]).sum() / pm if pm else float("nan")
    return {str(k): float(rate[k] / rate[5]) for k in range(1, 6)}


def _attendance_by_quintile(att: Attendance, q: np.ndarray) -> dict[str, dict]:
    by_q = {}
    for k in range(1, 6):
        rows = q == k
        started = att.started[rows]
        by_q[str(k)] = {
            "n": int(rows.sum()),
            "expected_p_start": float(att.p_start[rows].mean()) if rows.any() else None,
            "expected_p_complete_given_start": float(att.p_complete[rows][started].mean())
            if started.any()
            else None,
        }
    return by_q


def selection_truth(
    prog: Programme,
    regime: str,
    c: float,
    att: Attendance,
    pop: Population,
    persons: np.ndarray,
) -> dict[str, Any]:
    """How participants were selected: the referral model, attendance and measurement."""
    syn = prog.synthetic
    return {
        "referral_hazard_scale_per_month": c,
        "log_rate_ratios": {
            "imd_quintile": {
                str(k): float(np.log(v)) for k, v in syn.imd_quintile_referral_rr.items()
            },
            "age_per_decade": syn.age_log_rr_per_decade,
            "female": syn.female_log_rr,
            "log1p_recent_use_3m": syn.prior_util_log_rr,
            "recent_admissions_3m_capped_at_2": syn.admission_log_rr,
            "episode_intensity": syn.episode_log_rr if regime == "realistic" else 0.0,
        },
        "attendance": {
            "by_imd_quintile": _attendance_by_quintile(att, pop.imd_quintile[persons]),
            "expected_p_start": float(att.p_start.mean()) if persons.size else None,
            "p_baseline_measure_given_start": syn.wellbeing.p_baseline,
            "p_end_measure": {
                "completer": syn.wellbeing.p_end_completer,
                "dropout": syn.wellbeing.p_end_dropout,
            },
        },
        "effects": syn.effects.model_dump(),
        "one_programme_per_person": True,
    }


def truth_document(
    *,
    seed: int,
    regime: str,
    scale: str,
    population: int,
    pool: str,
    people_written: int,
    cal: Calendar,
    unit_costs: UnitCostTable,
    programmes: dict[str, dict],
    world: str = "legacy",
    world_details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole truth file: how the county was drawn, what the truth means, each programme's.

    ``world_details`` (hard world) adds the referral window, the shock and the negative
    controls under ``"hard_world"``.
    """
    definitions = dict(DEFINITIONS)
    if world == "hard":
        definitions.update(HARD_DEFINITIONS)
    doc = {
        "world": world,
        "seed": seed,
        "regime": regime,
        "scale": scale,
        "population": population,
        "pool": pool,
        "people_written": people_written,
        "generator": f"evalkit {__version__}",
        "study_start": str(cal.start),
        "study_end": str(cal.end),
        "unit_costs": {"table": unit_costs.name, "price_year": unit_costs.price_year},
        "definitions": definitions,
        "programmes": programmes,
    }
    if world_details is not None:
        doc["hard_world"] = world_details
    return doc

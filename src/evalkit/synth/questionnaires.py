"""Item-level questionnaires generated from a latent wellbeing score, and their true mean change.

Each participant who starts has a latent wellbeing ``theta`` (SD units, population mean 0) at
baseline and ``theta + delta`` at the end of the course, with ``delta`` larger for completers.
Every item response is an ordinal draw around ``loc_item + slope x sign x theta`` with logistic
noise, rounded to the item's categories, so that scale scoring, the SWEMWBS conversion and
missing-item rules are all exercised. The true mean change of an instrument is computed exactly
from the item response distributions given ``theta``, after the instrument's own scoring (the
SWEMWBS metric score is the expectation of the conversion table over the raw-sum distribution).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from evalkit.config import InstrumentDefinition, Programme, SyntheticWellbeing
from evalkit.synth.calendar import NONE, Calendar

#: Per instrument: (location of an item at theta = 0 on the response scale, slope per SD, noise).
#: Locations give population means near the published norms (SWEMWBS ~23.5, WEMWBS ~50, ONS4
#: 7.4 / 7.7 / 7.4 / 3.2); CAT and RCADS locations describe a clinical group.
ITEM_MODEL: dict[str, tuple[float | dict[str, float], float, float]] = {
    "wemwbs": (3.55, 0.55, 0.45),
    "swemwbs": (3.35, 0.55, 0.45),
    "ons4": (
        {"life_satisfaction": 7.4, "worthwhile": 7.7, "happiness": 7.4, "anxiety": 3.2},
        1.6,
        0.9,
    ),
    "cat": (2.2, 0.6, 0.5),
    "rcads_anxiety": (1.2, 0.5, 0.35),
    "pseq": (3.2, 1.0, 0.6),
}
GBO_BASE, GBO_SLOPE, GBO_NOISE = 3.0, 5.0, 0.8
TIMEPOINT_THETA_FOLLOWUP = 0.8  # share of the end-of-course change kept at 3-month follow-up


def _params(inst: InstrumentDefinition) -> tuple[np.ndarray, float, float, np.ndarray]:
    """Item locations, slope, noise and sign (+1 higher-is-better) for an instrument."""
    rng_width = inst.item_max - inst.item_min
    loc, slope, noise = ITEM_MODEL.get(
        inst.name, (inst.item_min + rng_width / 2, rng_width / 6, rng_width / 10)
    )
    if isinstance(loc, dict):
        locs = np.array([loc[i] for i in inst.items], dtype=float)
    else:
        locs = np.full(len(inst.items), float(loc))
    sign = np.array([1.0 if inst.item_direction(i) == "higher" else -1.0 for i in inst.items])
    return locs, slope, noise, sign


def item_pmf(inst: InstrumentDefinition, theta: np.ndarray, gbo_goal_loc=None) -> np.ndarray:
    """Response probabilities, shape (n, n_items, n_categories), for latent ``theta`` (n,).

    Reverse-scored items are generated on the reversed scale, so that after the instrument's own
    reversal every item moves with ``theta`` in its stated direction.
    """
    cats = np.arange(inst.item_min, inst.item_max + 1, dtype=float)
    if inst.scoring == "mean_of_goals":
        centre = gbo_goal_loc + GBO_SLOPE * theta[:, None]
        noise = GBO_NOISE
    else:
        locs, slope, noise, sign = _params(inst)
        centre = locs[None, :] + slope * sign[None, :] * theta[:, None]
    upper = np.concatenate([cats[:-1] + 0.5, [np.inf]])
    cdf = expit((upper[None, None, :] - centre[:, :, None]) / noise)
    pmf = np.diff(np.concatenate([np.zeros((*cdf.shape[:2], 1)), cdf], axis=2), axis=2)
    if inst.reverse_scored:
        rev = np.array([i in inst.reverse_scored for i in inst.items])
        pmf[:, rev, :] = pmf[:, rev, ::-1]
    return pmf


def expected_score(inst: InstrumentDefinition, pmf: np.ndarray) -> np.ndarray:
    """Expected score per person (per item for per-item instruments), after the scoring.

    Works on the scored scale: reverse-scored items are reversed back before summing.
    """
    cats = np.arange(inst.item_min, inst.item_max + 1, dtype=float)
    scored = pmf.copy()
    if inst.reverse_scored:
        rev = np.array([i in inst.reverse_scored for i in inst.items])
        scored[:, rev, :] = scored[:, rev, ::-1]
    if inst.scoring in ("per_item", "mean_of_goals"):
        return scored @ cats  # (n, n_items)
    if inst.scoring == "sum":
        return (scored @ cats).sum(axis=1)
    # sum_then_convert: distribution of the raw total, then the conversion table.
    dist = scored[:, 0, :]
    for j in range(1, scored.shape[1]):
        dist = np.stack([np.convolve(d, p) for d, p in zip(dist, scored[:, j, :], strict=True)])
    lo = len(inst.items) * inst.item_min
    table = np.array([inst.conversion[lo + k] for k in range(dist.shape[1])])
    return dist @ table


@dataclass
class Questionnaires:
    """Long-format measures rows (as columns) and the truth per instrument."""

    episode: list[np.ndarray]
    instrument: list[np.ndarray]
    timepoint: list[np.ndarray]
    assessed_on: list[np.ndarray]
    item: list[np.ndarray]
    response: list[np.ndarray]  # float with NaN = empty response
    truth: dict[str, dict[str, float]]


@dataclass
class _Latent:
    """Each participant's latent wellbeing, who is measured when, and their goals (GBO)."""

    theta0: np.ndarray  # latent wellbeing at baseline
    delta: np.ndarray  # change by the end of the course
    has_base: np.ndarray
    has_end: np.ndarray
    has_fu: np.ndarray
    fu_day: np.ndarray  # 3-month follow-up day
    n_goals: np.ndarray
    goal_loc: np.ndarray  # (n, 3) goal locations


def _draw_latent(
    wb: SyntheticWellbeing,
    started: np.ndarray,
    completed: np.ndarray,
    end_date: np.ndarray,
    last_day: np.ndarray,
    frailty: np.ndarray,
    regime: str,
    rng: np.random.Generator,
) -> _Latent:
    """Latent scores and measurement: end-of-course answers missing not at random (realistic)."""
    n = started.size
    theta0 = wb.baseline_mean - 0.7 - 0.2 * frailty + 0.85 * rng.standard_normal(n)
    mean_delta = np.where(completed, wb.effect_completer, wb.effect_dropout)
    delta = mean_delta + wb.effect_sd * rng.standard_normal(n)
    has_base = started & (rng.random(n) < wb.p_baseline)
    p_end = np.where(completed, wb.p_end_completer, wb.p_end_dropout)
    if regime == "realistic" and wb.effect_sd > 0:
        z = (delta - mean_delta) / wb.effect_sd
        p_end = expit(logit(np.clip(p_end, 1e-6, 1 - 1e-6)) + wb.mnar_strength * z)
    end_ok = started & (end_date <= last_day) & (end_date < NONE)
    has_end = has_base & end_ok & (rng.random(n) < p_end)
    fu_day = end_date + 91
    has_fu = has_end & (fu_day <= last_day) & (rng.random(n) < 0.4)
    n_goals = rng.choice([1, 2, 3], size=n, p=[0.2, 0.3, 0.5])
    goal_loc = GBO_BASE + 0.7 * rng.standard_normal((n, 3))
    return _Latent(theta0, delta, has_base, has_end, has_fu, fu_day, n_goals, goal_loc)


def draw_questionnaires(
    prog: Programme,
    defs: dict[str, InstrumentDefinition],
    episode_ids: np.ndarray,
    started: np.ndarray,
    completed: np.ndarray,
    start_date: np.ndarray,
    end_date: np.ndarray,
    last_day: np.ndarray,
    frailty: np.ndarray,
    cal: Calendar,
    regime: str,
    rng: np.random.Generator,
) -> Questionnaires:
    """Questionnaires at baseline, end and 3-month follow-up for one programme's first referrals."""
    wb = prog.synthetic.wellbeing
    lat = _draw_latent(wb, started, completed, end_date, last_day, frailty, regime, rng)
    out = Questionnaires([], [], [], [], [], [], {})
    dates = {"baseline": start_date, "end": end_date, "followup_3m": lat.fu_day}
    for name in prog.instruments:
        _draw_instrument(out, name, defs[name], lat, episode_ids, dates, started, wb, rng)
    return out


def _thetas(inst: InstrumentDefinition, lat: _Latent) -> dict[str, np.ndarray]:
    """Latent score at each timepoint (GBO goals start at 0 and move by the change alone)."""
    if inst.scoring == "mean_of_goals":
        return {
            "baseline": np.zeros(lat.delta.size),
            "end": lat.delta,
            "followup_3m": TIMEPOINT_THETA_FOLLOWUP * lat.delta,
        }
    return {
        "baseline": lat.theta0,
        "end": lat.theta0 + lat.delta,
        "followup_3m": lat.theta0 + TIMEPOINT_THETA_FOLLOWUP * lat.delta,
    }


def _draw_instrument(
    out: Questionnaires,
    name: str,
    inst: InstrumentDefinition,
    lat: _Latent,
    episode_ids: np.ndarray,
    dates: dict[str, np.ndarray],
    started: np.ndarray,
    wb: SyntheticWellbeing,
    rng: np.random.Generator,
) -> None:
    """One instrument's rows at every timepoint, appended to ``out``, and its truth."""
    n = episode_ids.size
    items = np.array(inst.items)
    k = len(items)
    is_gbo = inst.scoring == "mean_of_goals"
    goal_loc = lat.goal_loc[:, :k] if is_gbo else None
    thetas = _thetas(inst, lat)
    masks = {"baseline": lat.has_base, "end": lat.has_end, "followup_3m": lat.has_fu}
    answered = {}
    for tp, theta in thetas.items():
        pmf = item_pmf(inst, theta, goal_loc)
        cum = pmf.cumsum(axis=2)
        u = rng.random((n, k))
        resp = inst.item_min + (u[:, :, None] > cum).sum(axis=2)
        resp = np.minimum(resp, inst.item_max).astype(float)
        present = np.ones((n, k), dtype=bool)
        if is_gbo:
            present &= np.arange(k)[None, :] < lat.n_goals[:, None]
        missing = rng.random((n, k)) < wb.p_item_missing
        absent_row = missing & (rng.random((n, k)) < 0.5)
        resp[missing & ~absent_row] = np.nan
        rows = present & ~absent_row & masks[tp][:, None]
        answered[tp] = present & ~missing & masks[tp][:, None]
        r_idx, c_idx = np.nonzero(rows)
        out.episode.append(episode_ids[r_idx])
        out.instrument.append(np.full(r_idx.size, name, dtype=object))
        out.timepoint.append(np.full(r_idx.size, tp, dtype=object))
        out.assessed_on.append(dates[tp][r_idx])
        out.item.append(items[c_idx])
        out.response.append(resp[r_idx, c_idx])
    out.truth.update(_instrument_truth(name, inst, thetas, goal_loc, answered, lat, started))


def _instrument_truth(
    name: str,
    inst: InstrumentDefinition,
    thetas: dict[str, np.ndarray],
    goal_loc: np.ndarray | None,
    answered: dict[str, np.ndarray],
    lat: _Latent,
    started: np.ndarray,
) -> dict[str, dict[str, float]]:
    """Expected change among complete cases (scorable baseline and end) and among all starters.

    Computed from the response distributions given the latent scores; per-item instruments get
    one entry per item (``<name>_<item>``).
    """
    items = np.array(inst.items)
    k = len(items)
    need = inst.min_items if inst.min_items is not None else k
    pmf0 = item_pmf(inst, thetas["baseline"], goal_loc)
    pmf1 = item_pmf(inst, thetas["end"], goal_loc)
    e0, e1 = expected_score(inst, pmf0), expected_score(inst, pmf1)
    if inst.scoring == "per_item":
        out = {}
        for j, item in enumerate(items):
            cc = answered["baseline"][:, j] & answered["end"][:, j]
            out[f"{name}_{item}"] = _truth(e1[:, j] - e0[:, j], cc, started)
        return out
    if inst.scoring == "mean_of_goals":
        goals = np.arange(k)[None, :] < lat.n_goals[:, None]
        both = answered["baseline"] & answered["end"]
        cc_change = np.where(both, e1 - e0, 0).sum(axis=1) / np.maximum(both.sum(axis=1), 1)
        all_change = np.where(goals, e1 - e0, 0).sum(axis=1) / goals.sum(axis=1)
        cc = both.sum(axis=1) >= need
        return {
            name: {
                "mean_change": _mean(cc_change, cc),
                "mean_change_all": _mean(all_change, started),
                "n_complete_cases": int(cc.sum()),
            }
        }
    cc = (answered["baseline"].sum(axis=1) >= need) & (answered["end"].sum(axis=1) >= need)
    return {name: _truth(e1 - e0, cc, started)}


def _mean(x: np.ndarray, mask: np.ndarray) -> float:
    return float(x[mask].mean()) if mask.any() else float("nan")


def _truth(change: np.ndarray, cc: np.ndarray, started: np.ndarray) -> dict[str, float]:
    return {
        "mean_change": _mean(change, cc),
        "mean_change_all": _mean(change, started),
        "n_complete_cases": int(cc.sum()),
    }

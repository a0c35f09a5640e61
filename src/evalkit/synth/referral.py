"""Referral: every programme's competing monthly hazards, at most one programme per person.

Each programme's first referrals are drawn among the people ever eligible for it
(:func:`evalkit.synth.programmes.draw_referrals`), from hazards that follow recent activity
(and, in the realistic regime, latent health episodes); a person referred to several
programmes keeps only the earliest referral (ties: slug order).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.synth.calendar import NONE
from evalkit.synth.people import Population
from evalkit.synth.programmes import (
    RECENT_SETTINGS,
    draw_referrals,
    eligible_months,
    referral_log_hazard,
)
from evalkit.synth.streams import Generation

__all__ = ["Referrals", "draw_first_referrals", "recent_counts"]


@dataclass
class Referrals:
    """Each programme's first-referral draw, and the one programme each person is referred to."""

    elig: dict[str, tuple[np.ndarray, np.ndarray]]  # people ever eligible, their eligible months
    first: dict[str, np.ndarray]  # first referral month per person, -1 for none
    days: dict[str, np.ndarray]  # first referral day per person, NONE for none
    scale: dict[str, float]  # calibrated monthly hazard scale
    hazards: dict[str, np.ndarray]  # monthly referral hazards of the people ever eligible
    winner: np.ndarray  # programme index of the earliest referral (ties: slug order)
    any_ref: np.ndarray  # referred to any programme
    first_any: np.ndarray  # month of the earliest referral to any programme (n_months + 1: none)


def recent_counts(counts: np.ndarray, cols: list[int]) -> np.ndarray:
    """Events in the three calendar months before each month, summed over ``cols``."""
    n, m = counts.shape[:2]
    monthly = counts[:, :, cols].sum(axis=2, dtype=np.int32)
    c = np.concatenate([np.zeros((n, 1), np.int32), monthly.cumsum(axis=1)], axis=1)
    m_idx = np.arange(m)
    return c[:, m_idx] - c[:, np.maximum(m_idx - 3, 0)]


def draw_first_referrals(
    run: Generation, pop: Population, counts: np.ndarray, episode_all: np.ndarray
) -> Referrals:
    """Every programme's first referrals; the earliest wins (one programme per person)."""
    n, cal, settings = pop.n, run.cal, run.settings
    recent = recent_counts(counts, [settings.index(s) for s in RECENT_SETTINGS])
    recent_admissions = recent_counts(counts, [settings.index("emergency_admission")])
    elig, first, days, scale_c, hazards = {}, {}, {}, {}, {}
    years = (cal.referral_last_month - cal.referral_first_month + 1) / 12
    for k, slug in enumerate(run.slugs):
        prog = run.programmes[slug]
        full_elig = eligible_months(pop, prog, cal)
        rows = np.flatnonzero(full_elig.any(axis=1))  # work only on people ever eligible
        sub = pop.subset(rows)
        elig[slug] = (rows, full_elig[rows])
        lp = referral_log_hazard(
            sub, prog, recent[rows], recent_admissions[rows], episode_all[rows], cal, run.regime
        )
        # Volume per 100,000 of the whole population, also when only the pool is simulated.
        target = prog.synthetic.referrals_per_year_per_100k * run.n_full / 1e5 * years
        f_sub, d_sub, scale_c[slug], hazards[slug] = draw_referrals(
            elig[slug][1], lp, target, sub, cal, run.regime, run.rng("referrals", k)
        )
        first[slug] = np.full(n, -1, dtype=np.int64)
        first[slug][rows] = f_sub
        days[slug] = np.full(n, NONE, dtype=np.int64)
        days[slug][rows] = d_sub
        run.bar.update(1)
    big = cal.n_months + 1
    stacked = np.stack([np.where(first[s] >= 0, first[s], big) for s in run.slugs])
    winner = stacked.argmin(axis=0)  # ties: programme order (slug order)
    any_ref = stacked.min(axis=0) < big
    first_any = np.where(any_ref, stacked.min(axis=0), big)
    return Referrals(elig, first, days, scale_c, hazards, winner, any_ref, first_any)

"""Referral, attendance and drop-out for each programme, driven by its config's ``synthetic`` block.

Referral is a monthly hazard among eligible people (the eligibility the analysis uses) in months
25-60 of the study::

    h = c x rr_imd(quintile) x exp(age, sex terms) x exp(prior_util_log_rr x log1p(recent use))
        [realistic regime only] x exp(episode_log_rr x episode intensity)

with ``c`` calibrated to the programme's referral volume. In the ``observables`` regime referral
depends only on what the analysis can match on, and referrals happen on the first day of the
month so that the "3 months before referral" the analysis measures is exactly the window that
drove referral. A person is referred to at most one programme (the earliest hazard wins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from evalkit.config import Programme
from evalkit.contract import CONDITIONS
from evalkit.synth.calendar import NONE, Calendar
from evalkit.synth.people import Population

EPISODE_CAP = 3.0  # episode intensity above this adds no further referral hazard
HAZARD_CAP = 0.5  # monthly referral probability never exceeds this
REFERRAL_DAY_SPREAD = 7  # realistic regime: referral in the first week of the month
#: Recorded use that makes referral more likely.
RECENT_SETTINGS = ("gp_appointment", "ae_attendance", "emergency_admission", "ooh_contact")


def eligible_months(pop: Population, prog: Programme, cal: Calendar) -> np.ndarray:
    """Boolean (n, n_months): eligible and registered all month, within the referral window."""
    starts = cal.month_starts
    age = (starts[None, :-1] - pop.birth[:, None]) / 365.25
    elig = (age >= prog.eligibility.age_min) & (age < prog.eligibility.age_max + 1)
    cols = [CONDITIONS.index(c) for c in prog.eligibility.conditions_any]
    first_dx = pop.diagnosis[:, cols].min(axis=1)
    elig &= first_dx[:, None] <= starts[None, :-1]
    full = (pop.reg_from[:, None] <= starts[None, :-1]) & (
        pop.reg_end[:, None] >= starts[None, 1:] - 1
    )
    elig &= full
    window = np.zeros(cal.n_months, dtype=bool)
    window[cal.referral_first_month : cal.referral_last_month + 1] = True
    return elig & window[None, :]


def _year_start(years: np.ndarray) -> np.ndarray:
    """Day number of 1 January of each calendar year."""
    return (
        (np.asarray(years, dtype=np.int64) - 1970)
        .astype("datetime64[Y]")
        .astype("datetime64[D]")
        .astype(np.int64)
    )


def ever_eligible(pop: Population, prog: Programme, cal: Calendar) -> np.ndarray:
    """Boolean per person: could be eligible for ``prog`` on some day of the study period.

    The union of the generator's eligibility (:func:`eligible_months`, any month) and the
    analysis's rules on any day of the six years (``evalkit.cohort.eligibility``: age as
    ``calendar year - year_of_birth`` within ``[age_min, age_max + 1]``, a required condition
    diagnosed by that day, registered and alive on it). The analysis's history requirement and
    its index and placebo dates only narrow this, so every person who can appear in a cohort, as
    participant or as candidate control, at any index date, is in the pool. Used by
    ``generate_county(pool="eligible")``.

    Parameters
    ----------
    pop : Population
        The people.
    prog : Programme
        Supplies the age range and the required conditions.
    cal : Calendar
        The study calendar.

    Returns
    -------
    np.ndarray
        Boolean, shape ``(pop.n,)``.
    """
    starts = cal.month_starts
    first_day, last_day = int(starts[0]), int(starts[-1]) - 1
    cols = [CONDITIONS.index(c) for c in prog.eligibility.conditions_any]
    first_dx = pop.diagnosis[:, cols].min(axis=1).astype(np.int64)
    yob = pop.year_of_birth.astype(np.int64)
    age_from = _year_start(yob + prog.eligibility.age_min)
    age_to = _year_start(yob + prog.eligibility.age_max + 2) - 1
    lo = np.maximum.reduce([np.full(pop.n, first_day), pop.reg_from, first_dx, age_from])
    hi = np.minimum.reduce([np.full(pop.n, last_day), pop.reg_end, age_to])
    return (lo <= hi) | eligible_months(pop, prog, cal).any(axis=1)


def referral_log_hazard(
    pop: Population,
    prog: Programme,
    recent_counts: np.ndarray,
    recent_admissions: np.ndarray,
    episode: np.ndarray,
    cal: Calendar,
    regime: str,
) -> np.ndarray:
    """Log of the relative referral hazard per person and month, shape (n, n_months).

    Recorded recent use drives referral in both regimes (GP, A&E, emergency admissions and
    out-of-hours contacts in the three months before, and separately emergency admissions, as
    clinicians refer after an exacerbation): this is what creates the pre-referral peak, and
    it is observable, so matching on prior use can remove it.
    """
    syn = prog.synthetic
    starts = cal.month_starts[:-1]
    age = (starts[None, :] - pop.birth[:, None]) / 365.25
    q = pop.imd_quintile
    log_rr = np.log(np.array([syn.imd_quintile_referral_rr[k] for k in range(1, 6)]))[q - 1]
    lp = log_rr[:, None] + syn.age_log_rr_per_decade * (age - 50) / 10
    lp = lp + syn.female_log_rr * (pop.sex == "F")[:, None]
    lp = lp + syn.prior_util_log_rr * np.log1p(recent_counts)
    lp = lp + syn.admission_log_rr * np.minimum(recent_admissions, 2)
    if regime == "realistic":
        # Referral follows the episode: it depends on the mean intensity over the three previous
        # months, so referral tends to come after the utilisation spike, as in life (a GP sees
        # the person through a bad spell, then refers). Capped so that a handful of extreme
        # episodes cannot dominate the hazard's scale.
        csum = np.concatenate([np.zeros((episode.shape[0], 1)), np.cumsum(episode, axis=1)], axis=1)
        m = np.arange(episode.shape[1])
        recent_episode = (csum[:, m] - csum[:, np.maximum(m - 3, 0)]) / 3
        lp = lp + syn.episode_log_rr * np.minimum(recent_episode, EPISODE_CAP)
    return lp


def draw_referrals(
    elig: np.ndarray,
    lp: np.ndarray,
    target: float,
    pop: Population,
    cal: Calendar,
    regime: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """First month each person is referred (-1 = never), the referral day, ``c`` and the hazards.

    ``c`` scales the relative hazards so that the expected number of referrals over all eligible
    person-months, with each monthly probability capped at ``HAZARD_CAP``, equals ``target``
    (found by bisection; depletion by earlier referral is negligible at these rates).
    """
    rel = np.where(elig, np.exp(np.where(elig, lp, 0.0)), 0.0)
    total = rel.sum()
    c = target / total if total > 0 else 0.0
    if c > 0 and np.minimum(c * rel, HAZARD_CAP).sum() < target:
        lo, hi = c, c * 1e4
        for _ in range(60):
            mid = np.sqrt(lo * hi)
            if np.minimum(mid * rel, HAZARD_CAP).sum() < target:
                lo = mid
            else:
                hi = mid
        c = hi
    h = np.minimum(c * rel, HAZARD_CAP)
    hit = rng.random(h.shape) < h
    first = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    starts = cal.month_starts
    day = np.full(pop.n, NONE, dtype=np.int64)
    ok = first >= 0
    # The hazard reads the three calendar months before the referral month, so referral falls
    # early in the month: the 3 months before the referral date (what the analysis matches on)
    # then cover the window that drove referral. Exactly the 1st in the observables regime.
    if regime == "observables":
        day[ok] = starts[first[ok]]
    else:
        day[ok] = starts[first[ok]] + rng.integers(0, REFERRAL_DAY_SPREAD, size=int(ok.sum()))
    return first, day, float(c), h


@dataclass
class Attendance:
    """Attendance outcome per participant."""

    started: np.ndarray
    completed: np.ndarray
    dose: np.ndarray  # share of the full effect received (1 completer, dropout_dose, 0)
    start_date: np.ndarray  # day or NONE
    end_date: np.ndarray  # day or NONE
    sessions_offered: np.ndarray
    sessions_attended: np.ndarray
    discharge_reason: np.ndarray
    referral_source: np.ndarray
    provider: np.ndarray
    p_start: np.ndarray
    p_complete: np.ndarray


def draw_attendance(
    prog: Programme,
    persons: np.ndarray,
    ref_day: np.ndarray,
    pop: Population,
    cal: Calendar,
    rng: np.random.Generator,
) -> Attendance:
    """Who starts, attends and completes; dates and sessions. Depends on deprivation and need."""
    att = prog.synthetic.attendance
    n = persons.size
    q = pop.imd_quintile[persons]
    steps = 5 - q  # 0 for the least deprived quintile .. 4 for the most deprived
    need = pop.frailty[persons]
    p_start = expit(
        logit(att.p_start) + np.log(att.deprivation_start_odds_ratio) * steps - 0.15 * need
    )
    p_complete = expit(
        logit(att.p_complete) + np.log(att.deprivation_complete_odds_ratio) * steps - 0.2 * need
    )
    started = rng.random(n) < p_start
    completed = started & (rng.random(n) < p_complete)
    wait = np.maximum(rng.gamma(3.0, att.wait_days_mean / 3.0, size=n).astype(np.int64), 1)
    offered = np.full(n, att.sessions_offered, dtype=np.int64)
    full_attend = rng.binomial(offered - 1, 0.9) + 1
    min_complete = int(np.ceil(0.5 * att.sessions_offered))
    attended_complete = np.maximum(full_attend, min_complete)
    attended_drop = 1 + (rng.random(n) * max(min_complete - 1, 1)).astype(np.int64)
    attended = np.where(completed, attended_complete, np.where(started, attended_drop, 0))
    start = np.where(started, ref_day + wait, NONE)
    last_session = np.where(
        completed, offered - 1, np.where(started, attended - 1 + rng.integers(0, 3, size=n), 0)
    )
    end = np.where(started, start + last_session * att.session_interval_days, ref_day + wait + 14)
    reason = np.where(completed, "completed", np.where(started, "dropped_out", "did_not_start"))
    # Leaving or dying before the course ends overrides the outcome.
    reg_end = pop.reg_end[persons]
    cut = reg_end < end
    died = cut & (pop.death[persons] < NONE)
    reason = np.where(cut, np.where(died, "died", "moved"), reason)
    end = np.where(cut, np.maximum(reg_end, ref_day), end)
    never = cut & (start > end)
    start = np.where(never, NONE, start)
    attended = np.where(never, 0, attended)
    started = started & ~never
    completed = completed & ~cut
    other = (reason == "dropped_out") & (rng.random(n) < 0.05)
    reason = np.where(other, "other", reason)
    dose = np.where(completed, 1.0, np.where(started, prog.synthetic.effects.dropout_dose, 0.0))
    sources = list(prog.synthetic.referral_sources)
    probs = np.array([prog.synthetic.referral_sources[s] for s in sources])
    source = np.array(sources)[rng.choice(len(sources), size=n, p=probs)]
    provider = np.array(prog.providers)[rng.integers(0, len(prog.providers), size=n)]
    return Attendance(
        started=started,
        completed=completed,
        dose=dose,
        start_date=start,
        end_date=end,
        sessions_offered=offered,
        sessions_attended=attended,
        discharge_reason=reason,
        referral_source=source,
        provider=provider,
        p_start=p_start,
        p_complete=p_complete,
    )


def effect_multiplier(prog: Programme, settings: tuple[str, ...], dose: np.ndarray) -> np.ndarray:
    """Rate ratio by participant, event month 0..n and setting: shape (n, 48, n_settings).

    Ramps in linearly over ``ramp_months`` from referral, scaled by the participant's dose.
    """
    eff = prog.synthetic.effects
    t = np.arange(48)
    ramp = np.minimum(1.0, (t + 1) / eff.ramp_months)
    rr = np.array([eff.rate_ratio.get(s, 1.0) for s in settings])
    return 1 - (1 - rr)[None, None, :] * dose[:, None, None] * ramp[None, :, None]


def rereferrals(
    persons: np.ndarray,
    ref_day: np.ndarray,
    pop: Population,
    cal: Calendar,
    p: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """A few participants are referred again 6-12 months later (part of their exposure)."""
    again = rng.random(persons.size) < p
    later = ref_day + rng.integers(183, 366, size=persons.size)
    ok = again & (later <= np.minimum(pop.reg_end[persons], cal.month_starts[-1] - 1))
    return np.flatnonzero(ok), later[ok]

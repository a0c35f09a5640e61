"""Hard world: participants' activity from the day after referral, on the contract's event months.

Event month ``m`` runs from the day after (referral date + ``m`` calendar months) to (referral
date + ``m + 1`` calendar months), both inclusive, "+ m months" clipped to the month's end
(:func:`evalkit.dates.add_months_days`); the referral day itself ends month -1. A participant's
events on and before the referral day are the county-wide draw's (they drove referral); from the
day after they are drawn again here, on pieces of calendar months cut at event-month boundaries,
so each event month's rate ratio applies to exactly its days. Person-time outside registration or
after the data end adds nothing, to the draw or to the truth's expected counts.
"""

from __future__ import annotations

import numpy as np

from evalkit.config import Programme
from evalkit.synth import activity as act
from evalkit.synth.calendar import add_months_days
from evalkit.synth.people import Population
from evalkit.synth.programmes import effect_multiplier
from evalkit.synth.world import REFERRING_CONTACT, World

__all__ = [
    "FOLLOW_MONTHS",
    "draw_piece_events",
    "event_month_starts",
    "followup_activity",
    "referring_contacts",
    "registered_days",
]

#: Event months the truth sums (windows up to 12 months).
FOLLOW_MONTHS = 12


def event_month_starts(ref_day: int, n: int) -> np.ndarray:
    """First days of event months 0..n-1 after a referral on ``ref_day``, then of month n."""
    return add_months_days(np.full(n + 1, ref_day), np.arange(n + 1)) + 1


def followup_activity(
    prog: Programme,
    persons: np.ndarray,
    ref_day: np.ndarray,
    dose: np.ndarray,
    pop: Population,
    need_all: np.ndarray,
    episode_all: np.ndarray,
    world: World,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Participants' expected counts without/with the programme and their events after referral.

    Returns lam0 and lam1, shape (participants, :data:`FOLLOW_MONTHS`, settings), and the events
    (person, day, setting) drawn from the day after each referral to the end of the data.
    """
    cal, settings = world.cal, world.settings
    S, n_p = len(settings), persons.size
    lam0 = np.zeros((n_p, FOLLOW_MONTHS, S))
    lam1 = np.zeros((n_p, FOLLOW_MONTHS, S))
    if n_p == 0:
        empty = np.array([], dtype=np.int32)
        return lam0, lam1, (empty, empty, empty.astype(np.int8))
    rates = act.monthly_rates(
        pop,
        persons,
        need_all[persons],
        episode_all[persons],
        cal,
        settings,
        season_amplitude=world.season_extra,
        calendar_mult=world.calendar_multiplier(),
    )
    effect = effect_multiplier(prog, settings, dose)  # (n, 48, S)
    starts, lengths = cal.month_starts, cal.month_lengths
    end_excl = int(starts[-1])
    ev_p: list[np.ndarray] = []
    ev_d: list[np.ndarray] = []
    ev_s: list[np.ndarray] = []
    for j in range(n_p):
        p, r = int(persons[j]), int(ref_day[j])
        bounds = event_month_starts(r, cal.n_months)
        inside = (bounds > r + 1) & (bounds < end_excl)
        cal_cuts = starts[(starts > r + 1) & (starts < end_excl)]
        cuts = np.union1d(np.concatenate([[r + 1, end_excl], cal_cuts]), bounds[inside])
        lo, hi = cuts[:-1], cuts[1:]
        cal_m = np.searchsorted(starts, lo, side="right") - 1
        t = np.searchsorted(bounds, lo, side="right") - 1  # event month of each piece, >= 0
        reg_lo, ndays = registered_days(lo, hi, int(pop.reg_from[p]), int(pop.reg_end[p]))
        mu0 = rates[j, cal_m, :] / lengths[cal_m][:, None] * ndays[:, None]
        mu1 = mu0 * effect[j, np.minimum(t, effect.shape[1] - 1), :]
        in_follow = t < FOLLOW_MONTHS
        np.add.at(lam0[j], t[in_follow], mu0[in_follow])
        np.add.at(lam1[j], t[in_follow], mu1[in_follow])
        piece_events = draw_piece_events(mu1, reg_lo, ndays, p, rng)
        for acc, ev in zip((ev_p, ev_d, ev_s), piece_events, strict=True):
            acc.append(ev)
    return lam0, lam1, (np.concatenate(ev_p), np.concatenate(ev_d), np.concatenate(ev_s))


def registered_days(
    lo: np.ndarray, hi: np.ndarray, reg_from: int, reg_end: int
) -> tuple[np.ndarray, np.ndarray]:
    """First registered day and registered days of each piece ``[lo, hi)`` of one person."""
    reg_lo = np.maximum(lo, reg_from)
    reg_hi = np.minimum(hi, reg_end + 1)
    return reg_lo, np.clip(reg_hi - reg_lo, 0, None)


def draw_piece_events(
    mu: np.ndarray, reg_lo: np.ndarray, ndays: np.ndarray, person: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts of each piece and setting (``mu``: pieces x settings), on uniform days.

    Returns the events' person, day and setting code.
    """
    drawn = rng.poisson(mu)
    piece, s = np.nonzero(drawn)
    reps = drawn[piece, s]
    piece = np.repeat(piece, reps)
    s = np.repeat(s, reps)
    u = rng.random(piece.size)
    day = reg_lo[piece] + np.floor(u * ndays[piece]).astype(np.int64)
    return (
        np.full(piece.size, person, dtype=np.int32),
        day.astype(np.int32),
        s.astype(np.int8),
    )


def referring_contacts(
    persons: np.ndarray, ref_day: np.ndarray, source: np.ndarray, settings: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The contact that made each referral, on the referral day (none for self or school).

    A GP appointment for GP and social-prescriber referrals, an outpatient attendance for
    hospital clinicians and CAMHS (:data:`~evalkit.synth.world.REFERRING_CONTACT`).
    """
    setting = np.array([REFERRING_CONTACT.get(str(s), "") for s in source], dtype=object)
    has = setting != ""
    codes = np.array([settings.index(s) for s in setting[has]], dtype=np.int8)
    return persons[has].astype(np.int32), ref_day[has].astype(np.int32), codes

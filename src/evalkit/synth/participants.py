"""Participants' activity from the referral month on, with and without the programme.

A participant's activity before the referral month comes from the county-wide monthly draw; from
the referral month on it is drawn again here, on pieces of calendar months cut at event-month
boundaries (referral date plus whole months), so that the programme's rate ratio for each event
month applies to exactly the days of that event month. The expected counts with and without the
programme are what the truth file's utilisation effects are computed from.
"""

from __future__ import annotations

import numpy as np

from evalkit.config import Programme
from evalkit.synth import activity as act
from evalkit.synth.calendar import Calendar, add_months_days
from evalkit.synth.people import Population
from evalkit.synth.programmes import effect_multiplier

__all__ = ["participant_activity"]


def participant_activity(
    prog: Programme,
    persons: np.ndarray,
    ref_day: np.ndarray,
    ref_month: np.ndarray,
    dose: np.ndarray,
    pop: Population,
    need_all: np.ndarray,
    episode_all: np.ndarray,
    cal: Calendar,
    settings: tuple[str, ...],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Redraw participants' activity from the referral month on, split at event-month boundaries.

    Each calendar month from the referral month is cut where an event month (referral date plus
    whole months) begins; a piece's expected count is the month's daily rate times the days
    registered in the piece, times the programme's rate ratio for that event month. Returns the
    expected counts without (lam0) and with (lam1) the programme for event months 0..11, shape
    (n, 12, S), and the drawn events (person, day, setting).
    """
    S = len(settings)
    n_p = persons.size
    lam0 = np.zeros((n_p, 12, S))
    lam1 = np.zeros((n_p, 12, S))
    if n_p == 0:
        empty = np.array([], dtype=np.int32)
        return lam0, lam1, (empty, empty, empty.astype(np.int8))
    rates = act.monthly_rates(pop, persons, need_all[persons], episode_all[persons], cal, settings)
    effect = effect_multiplier(prog, settings, dose)  # (n, 48, S)
    starts = cal.month_starts
    end_excl = starts[-1]
    lengths = cal.month_lengths
    ev_p, ev_d, ev_s = [], [], []
    for j in range(n_p):
        p = persons[j]
        r = int(ref_day[j])
        m0 = int(ref_month[j])
        bounds_event = add_months_days(np.full(49, r), np.arange(49))
        cuts = np.union1d(
            starts[m0:], bounds_event[(bounds_event > starts[m0]) & (bounds_event < end_excl)]
        )
        lo, hi = cuts[:-1], cuts[1:]
        cal_m = np.searchsorted(starts, lo, side="right") - 1
        t = np.searchsorted(bounds_event, lo, side="right") - 1  # -1 before referral
        reg_lo = np.maximum(lo, pop.reg_from[p])
        reg_hi = np.minimum(hi, pop.reg_end[p] + 1)
        ndays = np.clip(reg_hi - reg_lo, 0, None)
        mu0 = rates[j, cal_m, :] / lengths[cal_m][:, None] * ndays[:, None]
        mult = np.where((t >= 0)[:, None], effect[j, np.clip(t, 0, 47), :], 1.0)
        mu1 = mu0 * mult
        in_follow = (t >= 0) & (t < 12)
        np.add.at(lam0[j], t[in_follow], mu0[in_follow])
        np.add.at(lam1[j], t[in_follow], mu1[in_follow])
        drawn = rng.poisson(mu1)
        piece, s = np.nonzero(drawn)
        reps = drawn[piece, s]
        piece = np.repeat(piece, reps)
        s = np.repeat(s, reps)
        u = rng.random(piece.size)
        day = reg_lo[piece] + np.floor(u * ndays[piece]).astype(np.int64)
        ev_p.append(np.full(piece.size, p, dtype=np.int32))
        ev_d.append(day.astype(np.int32))
        ev_s.append(s.astype(np.int8))
    return lam0, lam1, (np.concatenate(ev_p), np.concatenate(ev_d), np.concatenate(ev_s))

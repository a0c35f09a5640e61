"""Hard world: referral from a daily hazard of the use recorded up to the referral day.

Every eligible person-day in the referral window has a hazard::

    h = min(c x rr_imd x exp(age, sex terms) x exp(prior_util_log_rr x log1p(use_90d))
            x exp(admission_log_rr x min(admissions_90d, 2))
            [realistic regime] x exp(episode_log_rr x min(episode, 3)), DAILY_HAZARD_CAP)

``use_90d`` counts the person's own GP, A&E, emergency-admission and out-of-hours events on the
90 days before the day (the day itself not included), ``admissions_90d`` their emergency
admissions, and ``episode`` is the mean latent episode intensity of the day's calendar month and
the one before. ``c`` is calibrated (bisection when the cap binds) so that the hazards summed over
all eligible person-days equal the programme's referral volume, as in the legacy world. A day is
eligible when its calendar month is one of the person's eligible months
(:func:`~evalkit.synth.programmes.eligible_months`). The first referral is the first day whose
cumulative hazard exceeds a unit exponential draw; a person referred to several programmes keeps
the earliest (ties: slug order).

Work runs over blocks of :data:`BLOCK` people, twice (calibration, then the draw), so memory is
bounded at county scale; the use counts are read from the events already dated.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from evalkit.config import Programme
from evalkit.synth.calendar import NONE
from evalkit.synth.people import Population
from evalkit.synth.programmes import (
    EPISODE_CAP,
    RECENT_SETTINGS,
    eligible_months,
    referral_log_hazard,
)
from evalkit.synth.referral import Referrals
from evalkit.synth.streams import CHUNK, Generation

__all__ = [
    "BLOCK",
    "DAILY_HAZARD_CAP",
    "RECENT_DAYS",
    "daily_relative_hazard",
    "draw_daily_referrals",
    "episode_term",
    "recent_use",
]

#: People handled at a time.
BLOCK = 4_096
#: Days of recorded use that drive referral.
RECENT_DAYS = 90
#: A daily referral probability never exceeds this (about 45% in a 30-day month).
DAILY_HAZARD_CAP = 0.02


def recent_use(
    rows: np.ndarray, person: np.ndarray, day: np.ndarray, first_day: int, n_days: int
) -> np.ndarray:
    """Events of each of ``rows`` (sorted person indices) on the 90 days before each day.

    ``person`` and ``day`` are events; the result has shape (rows, n_days) for the days
    ``first_day .. first_day + n_days - 1``, and counts events on days ``d - 90 .. d - 1``.
    """
    width = n_days + RECENT_DAYS
    lo = first_day - RECENT_DAYS
    p = np.searchsorted(rows, person)
    ok = (p < rows.size) & (day >= lo) & (day < first_day + n_days)
    ok[ok] = rows[p[ok]] == person[ok]
    flat = p[ok] * width + (day[ok] - lo)
    grid = np.bincount(flat, minlength=rows.size * width).reshape(rows.size, width)
    csum = np.zeros((rows.size, width + 1), dtype=np.int32)
    np.cumsum(grid, axis=1, out=csum[:, 1:])
    return csum[:, RECENT_DAYS : RECENT_DAYS + n_days] - csum[:, :n_days]


def episode_term(episode: np.ndarray) -> np.ndarray:
    """Mean episode intensity of each calendar month and the one before, capped."""
    prev = np.concatenate([episode[:, :1], episode[:, :-1]], axis=1)
    return np.minimum((episode + prev) / 2, EPISODE_CAP)


def daily_relative_hazard(
    prog: Programme,
    person_month_lp: np.ndarray,
    day_month: np.ndarray,
    eligible: np.ndarray,
    use_90d: np.ndarray,
    admissions_90d: np.ndarray,
) -> np.ndarray:
    """Relative hazard per person and day (0 where not eligible), shape (people, days).

    ``person_month_lp`` holds the terms that change by calendar month only (deprivation, age,
    sex and, realistic regime, episodes); ``day_month`` the calendar month of each day.
    """
    syn = prog.synthetic
    # exp(a + b + c) as a product of looked-up factors: no exponential per person-day.
    month_factor = np.where(eligible, np.exp(np.where(eligible, person_month_lp, 0.0)), 0.0)
    use_factor = np.exp(
        syn.prior_util_log_rr * np.log1p(np.arange(int(use_90d.max(initial=0)) + 1))
    )
    adm_factor = np.exp(syn.admission_log_rr * np.arange(3))
    rel = month_factor[:, day_month]
    rel *= use_factor[use_90d]
    rel *= adm_factor[np.minimum(admissions_90d, 2)]
    return rel


def _blocks(people: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """Blocks of at most :data:`BLOCK` people, never across a chunk of people; with the chunk."""
    chunk = people // CHUNK
    for c in np.unique(chunk):
        mine = people[chunk == c]
        for a in range(0, mine.size, BLOCK):
            yield int(c), mine[a : a + BLOCK]


@dataclass
class _Window:
    """The referral window's days and what every block of people shares."""

    run: Generation
    pop: Population
    events: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]
    episode_all: np.ndarray
    first_day: int
    n_days: int
    day_month: np.ndarray  # calendar month of each day of the window
    full_elig: dict[str, np.ndarray]  # eligible months per person, per programme
    rows: dict[str, np.ndarray]  # people ever eligible, per programme

    def hazards(self, c: int, block: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Each programme's relative daily hazards for the block's people eligible for it."""
        run, settings = self.run, self.run.settings
        person, day, setting = self.events[0][c], self.events[1][c], self.events[2][c]
        use_mask = np.isin(setting, [settings.index(s) for s in RECENT_SETTINGS])
        use = recent_use(block, person[use_mask], day[use_mask], self.first_day, self.n_days)
        adm = setting == settings.index("emergency_admission")
        adm90 = recent_use(block, person[adm], day[adm], self.first_day, self.n_days)
        for k, slug in enumerate(run.slugs):
            mine = np.isin(block, self.rows[slug], assume_unique=True)
            if not mine.any():
                continue
            who = block[mine]
            prog = run.programmes[slug]
            zeros = np.zeros((who.size, run.cal.n_months))
            lp = referral_log_hazard(
                self.pop.subset(who), prog, zeros, zeros, zeros, run.cal, "observables"
            )
            if run.regime == "realistic":
                lp = lp + prog.synthetic.episode_log_rr * episode_term(self.episode_all[who])
            elig = self.full_elig[slug][who]
            yield (
                k,
                who,
                daily_relative_hazard(prog, lp, self.day_month, elig, use[mine], adm90[mine]),
            )

    def all_hazards(self) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
        """(chunk, programme, people, relative hazards) over every block of people."""
        union = np.unique(np.concatenate(list(self.rows.values())))
        for c, block in _blocks(union):
            for k, who, rel in self.hazards(c, block):
                yield c, k, who, rel


def draw_daily_referrals(
    run: Generation,
    pop: Population,
    events: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
    episode_all: np.ndarray,
) -> Referrals:
    """Every programme's first referral day from the daily hazard; the earliest wins."""
    cal = run.cal
    starts = cal.month_starts
    m0, m1 = cal.referral_first_month, cal.referral_last_month
    first_day, n_days = int(starts[m0]), int(starts[m1 + 1] - starts[m0])
    full_elig = {s: eligible_months(pop, run.programmes[s], cal) for s in run.slugs}
    win = _Window(
        run=run,
        pop=pop,
        events=events,
        episode_all=episode_all,
        first_day=first_day,
        n_days=n_days,
        day_month=np.searchsorted(starts, first_day + np.arange(n_days), side="right") - 1,
        full_elig=full_elig,
        rows={s: np.flatnonzero(full_elig[s].any(axis=1)) for s in run.slugs},
    )
    # Pass 1: the calibration of c. The relative hazards that might reach the cap are kept,
    # judged by a first guess of c from each programme's first block.
    n = len(run.slugs)
    years = (m1 - m0 + 1) / 12
    target = [
        run.programmes[s].synthetic.referrals_per_year_per_100k * run.n_full / 1e5 * years
        for s in run.slugs
    ]
    lengths = cal.month_lengths
    elig_days = [float((full_elig[s] * lengths[None, :]).sum()) for s in run.slugs]
    total, biggest = np.zeros(n), np.zeros(n)
    low = np.full(n, np.nan)  # relative hazards above this are kept
    kept: list[list[np.ndarray]] = [[] for _ in range(n)]
    for _, k, who, rel in win.all_hazards():
        block_total = float(rel.sum())
        if np.isnan(low[k]) and block_total > 0:
            block_days = float((full_elig[run.slugs[k]][who] * lengths[None, :]).sum())
            guess = target[k] / (block_total * elig_days[k] / block_days)
            low[k] = DAILY_HAZARD_CAP / (64 * guess)
        total[k] += block_total
        biggest[k] = max(biggest[k], float(rel.max(initial=0)))
        if not np.isnan(low[k]):
            kept[k].append(rel[rel > low[k]])
    scale = {
        slug: _calibrate(win, k, target[k], total[k], biggest[k], kept[k], low[k])
        for k, slug in enumerate(run.slugs)
    }
    # Pass 2: the draw (first day whose cumulative hazard exceeds a unit exponential).
    first_day_of = {s: np.full(pop.n, NONE, dtype=np.int64) for s in run.slugs}
    hazards = {s: np.zeros((win.rows[s].size, cal.n_months)) for s in run.slugs}
    month_offsets = (starts[m0 : m1 + 1] - first_day).astype(np.int64)
    for c, k, who, rel in win.all_hazards():
        slug = run.slugs[k]
        h = np.minimum(scale[slug] * rel, DAILY_HAZARD_CAP)
        e = run.rng("referrals", k, c, int(who[0])).exponential(size=who.size)
        hit = np.cumsum(-np.log1p(-h), axis=1) > e[:, None]
        got = hit.any(axis=1)
        first_day_of[slug][who[got]] = first_day + hit[got].argmax(axis=1)
        pos = np.searchsorted(win.rows[slug], who)
        hazards[slug][pos, m0 : m1 + 1] = np.add.reduceat(h, month_offsets, axis=1)
    return _first_referrals(run, full_elig, win.rows, first_day_of, scale, hazards)


def _calibrate(
    win: _Window,
    k: int,
    target: float,
    total: float,
    biggest: float,
    kept: list[np.ndarray],
    kept_above: float,
) -> float:
    """The scale ``c`` with sum(min(c x rel, cap)) = target over all eligible person-days.

    ``kept`` holds every relative hazard above ``kept_above``; when the cap binds, only those
    that could reach it (with ``c`` up to 16 times ``target / total``) matter. If ``kept`` does
    not hold them all, they are computed again.
    """
    c0 = target / total if total > 0 else 0.0
    if c0 * biggest <= DAILY_HAZARD_CAP:
        return float(c0)
    low = DAILY_HAZARD_CAP / (16 * c0)
    if not low >= kept_above:  # the first guess of c was too low (or never made)
        kept = [rel[rel > low] for _, kk, _, rel in win.all_hazards() if kk == k]
    big = np.concatenate(kept)
    big = big[big > low]

    def capped_sum(x: float) -> float:
        over = big[x * big > DAILY_HAZARD_CAP]
        return x * total - float((x * over - DAILY_HAZARD_CAP).sum())

    lo, hi = c0, 16 * c0
    if capped_sum(hi) < target:  # pragma: no cover - needs absurd volumes
        raise RuntimeError("referral volume unreachable under the daily hazard cap")
    for _ in range(60):
        mid = np.sqrt(lo * hi)
        lo, hi = (mid, hi) if capped_sum(mid) < target else (lo, mid)
    return float(hi)


def _first_referrals(
    run: Generation,
    full_elig: dict[str, np.ndarray],
    rows: dict[str, np.ndarray],
    first_day_of: dict[str, np.ndarray],
    scale: dict[str, float],
    hazards: dict[str, np.ndarray],
) -> Referrals:
    """The :class:`Referrals` of the daily draw: the earliest day wins (ties: slug order)."""
    starts = run.cal.month_starts
    first: dict[str, np.ndarray] = {}
    for slug in run.slugs:
        d = first_day_of[slug]
        first[slug] = np.where(d < NONE, np.searchsorted(starts, d, side="right") - 1, -1)
    stacked = np.stack([first_day_of[s] for s in run.slugs])
    winner = stacked.argmin(axis=0)
    any_ref = stacked.min(axis=0) < NONE
    big = run.cal.n_months + 1
    earliest = stacked.min(axis=0)
    first_any = np.where(any_ref, np.searchsorted(starts, earliest, side="right") - 1, big)
    elig = {s: (rows[s], full_elig[s][rows[s]]) for s in run.slugs}
    return Referrals(elig, first, first_day_of, scale, hazards, winner, any_ref, first_any)

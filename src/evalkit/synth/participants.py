"""Participants' activity from the referral month on, with and without the programme.

A participant's activity before the referral month comes from the county-wide monthly draw; from
the referral month on it is drawn again here, on pieces of calendar months cut at event-month
boundaries (referral date plus whole months), so that the programme's rate ratio for each event
month applies to exactly the days of that event month. The expected counts with and without the
programme are what the truth file's utilisation effects are computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from evalkit.config import InstrumentDefinition, Programme, UnitCostTable
from evalkit.contract import SETTINGS
from evalkit.synth import activity as act
from evalkit.synth.calendar import Calendar, add_months_days
from evalkit.synth.daily import DAILY_HAZARD_CAP
from evalkit.synth.followup import (
    draw_piece_events,
    followup_activity,
    referring_contacts,
    registered_days,
)
from evalkit.synth.people import Population
from evalkit.synth.programmes import (
    Attendance,
    draw_attendance,
    effect_multiplier,
    eligible_months,
    rereferrals,
)
from evalkit.synth.questionnaires import Questionnaires, draw_questionnaires
from evalkit.synth.referral import Referrals
from evalkit.synth.streams import Generation
from evalkit.synth.tables import referral_rows
from evalkit.synth.truth import reach_truth, selection_truth, utilisation_truth
from evalkit.synth.world import World

__all__ = ["Participants", "draw_participants", "participant_activity"]


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
        reg_lo, ndays = registered_days(lo, hi, int(pop.reg_from[p]), int(pop.reg_end[p]))
        mu0 = rates[j, cal_m, :] / lengths[cal_m][:, None] * ndays[:, None]
        mult = np.where((t >= 0)[:, None], effect[j, np.clip(t, 0, 47), :], 1.0)
        mu1 = mu0 * mult
        in_follow = (t >= 0) & (t < 12)
        np.add.at(lam0[j], t[in_follow], mu0[in_follow])
        np.add.at(lam1[j], t[in_follow], mu1[in_follow])
        piece_events = draw_piece_events(mu1, reg_lo, ndays, int(p), rng)
        for acc, ev in zip((ev_p, ev_d, ev_s), piece_events, strict=True):
            acc.append(ev)
    return lam0, lam1, (np.concatenate(ev_p), np.concatenate(ev_d), np.concatenate(ev_s))


@dataclass
class Participants:
    """What the participant step gives the later ones."""

    truth: dict[str, dict] = field(default_factory=dict)
    referral_parts: list[dict] = field(default_factory=list)
    measure_parts: list[Questionnaires] = field(default_factory=list)
    events: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    episodes: int = 0  # episode ids handed out so far
    # Hard world: each participant and referral day (their county-wide events after it are
    # replaced by their own draw).
    cut: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def next_episode_ids(self, k: int) -> np.ndarray:
        """The next ``k`` episode ids (``EP0000001``, ...)."""
        ids = np.array([f"EP{self.episodes + i + 1:07d}" for i in range(k)])
        self.episodes += k
        return ids


def draw_participants(
    run: Generation,
    pop: Population,
    ref: Referrals,
    need_all: np.ndarray,
    episode_all: np.ndarray,
    counts: np.ndarray,
    instrument_defs: dict[str, InstrumentDefinition],
    unit_costs: UnitCostTable,
    world: World,
) -> Participants:
    """Every programme's participants, in slug order.

    Legacy world: ``counts`` loses the participants' months from the referral month on. Hard
    world: ``counts`` is not used; :attr:`Participants.cut` says whose events to replace.
    """
    unit_cost = np.array([unit_costs.cost_of(s) if s in SETTINGS else 0.0 for s in run.settings])
    cost_mask = np.array([s in SETTINGS for s in run.settings])
    acc = Participants()
    for k in range(len(run.slugs)):
        step = _hard_participants if world.hard else _programme_participants
        step(
            run,
            k,
            pop,
            ref,
            need_all,
            episode_all,
            counts,
            instrument_defs,
            unit_cost,
            cost_mask,
            acc,
            world,
        )
        run.bar.update(1)
    return acc


def _first_referrals(ref: Referrals, k: int, slug: str) -> tuple[np.ndarray, ...]:
    """People whose one programme is number ``k``, by referral day: persons, day and month."""
    persons = np.flatnonzero(ref.any_ref & (ref.winner == k))
    ref_day = ref.days[slug][persons]
    order = np.lexsort((persons, ref_day))
    persons, ref_day = persons[order], ref_day[order]
    return persons, ref_day, ref.first[slug][persons]


def _reach(ref: Referrals, slug: str, pop: Population, big: int) -> dict[str, float]:
    """Reach truth: at-risk person-time is the eligible months up to the first referral."""
    rows, el = ref.elig[slug]
    at_risk_until = np.where(ref.first[slug][rows] >= 0, ref.first[slug][rows], big)
    return reach_truth(
        el, ref.hazards[slug], at_risk_until, ref.first_any[rows], pop.imd_quintile[rows]
    )


def _programme_participants(
    run: Generation,
    k: int,
    pop: Population,
    ref: Referrals,
    need_all: np.ndarray,
    episode_all: np.ndarray,
    counts: np.ndarray,
    instrument_defs: dict[str, InstrumentDefinition],
    unit_cost: np.ndarray,
    cost_mask: np.ndarray,
    acc: Participants,
    world: World,
) -> None:
    """Programme ``k``'s first referrals: attendance, activity, questionnaires, truth, rows."""
    slug, cal = run.slugs[k], run.cal
    prog = run.programmes[slug]
    persons, ref_day, ref_month = _first_referrals(ref, k, slug)
    att = draw_attendance(prog, persons, ref_day, pop, cal, run.rng("attendance", k))
    lam0, lam1, ev = participant_activity(
        prog,
        persons,
        ref_day,
        ref_month,
        att.dose,
        pop,
        need_all,
        episode_all,
        cal,
        run.settings,
        run.rng("participants", k),
    )
    # From the referral month on, participants' events are their own draw (``ev``).
    m_idx = np.arange(cal.n_months)
    counts[persons] = np.where(m_idx[None, :, None] >= ref_month[:, None, None], 0, counts[persons])
    acc.events.append(ev)
    truth = utilisation_truth(lam0, lam1, run.settings, unit_cost, cost_mask)
    _finish(run, k, pop, ref, persons, ref_day, att, instrument_defs, truth, acc)


def _hard_participants(
    run: Generation,
    k: int,
    pop: Population,
    ref: Referrals,
    need_all: np.ndarray,
    episode_all: np.ndarray,
    counts: np.ndarray | None,
    instrument_defs: dict[str, InstrumentDefinition],
    unit_cost: np.ndarray,
    cost_mask: np.ndarray,
    acc: Participants,
    world: World,
) -> None:
    """Hard world: as :func:`_programme_participants`, redrawn from the day after referral.

    The referring contact falls on the referral day; the truth covers the contract's event
    months (the referral day ends month -1) and the negative-control setting.
    """
    slug = run.slugs[k]
    prog = run.programmes[slug]
    persons, ref_day, ref_month = _first_referrals(ref, k, slug)
    att = draw_attendance(prog, persons, ref_day, pop, run.cal, run.rng("attendance", k))
    lam0, lam1, ev = followup_activity(
        prog,
        persons,
        ref_day,
        att.dose,
        pop,
        need_all,
        episode_all,
        world,
        run.rng("participants", k),
    )
    acc.events.append(ev)
    acc.events.append(referring_contacts(persons, ref_day, att.referral_source, run.settings))
    acc.cut.append((persons, ref_day))
    truth = utilisation_truth(
        lam0, lam1, run.settings, unit_cost, cost_mask, outcomes=world.outcome_settings
    )
    # Eligible in 3 or more months of the referral window before the referral month: candidate
    # controls at earlier referral dates before they were referred.
    before = eligible_months(pop.subset(persons), prog, run.cal)
    before &= np.arange(run.cal.n_months)[None, :] < ref_month[:, None]
    truth["eligible_3_months_before_referral"] = int((before.sum(axis=1) >= 3).sum())
    _finish(run, k, pop, ref, persons, ref_day, att, instrument_defs, truth, acc)
    sel = truth["selection"]
    # The hard world's hazard is daily: its scale and terms say so.
    sel["referral_hazard_scale_per_day"] = sel.pop("referral_hazard_scale_per_month")
    log_rr = sel["log_rate_ratios"]
    log_rr["log1p_recent_use_90d"] = log_rr.pop("log1p_recent_use_3m")
    log_rr["recent_admissions_90d_capped_at_2"] = log_rr.pop("recent_admissions_3m_capped_at_2")
    sel["hazard"] = (
        "daily, on eligible days of the referral window; use and admissions on the 90 days "
        "before the day; episode term: mean intensity of the day's calendar month and the "
        f"month before, capped at 3; daily probability capped at {DAILY_HAZARD_CAP}"
    )


def _finish(
    run: Generation,
    k: int,
    pop: Population,
    ref: Referrals,
    persons: np.ndarray,
    ref_day: np.ndarray,
    att: Attendance,
    instrument_defs: dict[str, InstrumentDefinition],
    truth: dict,
    acc: Participants,
) -> None:
    """Reach, questionnaires, selection truth, referral rows and re-referrals of programme k."""
    slug, cal = run.slugs[k], run.cal
    prog = run.programmes[slug]
    truth["reach"] = {"imd_quintile": _reach(ref, slug, pop, cal.n_months + 1)}
    episode_ids = acc.next_episode_ids(persons.size)
    last_day = np.minimum(pop.reg_end[persons], cal.month_starts[-1] - 1)
    q = draw_questionnaires(
        prog,
        instrument_defs,
        episode_ids,
        att.started,
        att.completed,
        att.start_date,
        att.end_date,
        last_day,
        pop.frailty[persons],
        cal,
        run.regime,
        run.rng("questionnaires", k),
    )
    acc.measure_parts.append(q)
    truth["wellbeing"] = q.truth
    truth["n_participants"] = int(persons.size)
    truth["selection"] = selection_truth(prog, run.regime, ref.scale[slug], att, pop, persons)
    # The calibration target: referral hazards summed over eligible person-months.
    truth["selection"]["expected_referrals"] = float(ref.hazards[slug].sum())
    acc.truth[slug] = truth
    acc.referral_parts.append(referral_rows(slug, persons, ref_day, episode_ids, att))
    _rereferrals(run, k, pop, persons, ref_day, acc)


def _rereferrals(
    run: Generation,
    k: int,
    pop: Population,
    persons: np.ndarray,
    ref_day: np.ndarray,
    acc: Participants,
) -> None:
    """Re-referrals of the same people: part of their exposure, no effect of their own."""
    prog = run.programmes[run.slugs[k]]
    again, later = rereferrals(
        persons,
        ref_day,
        pop,
        run.cal,
        prog.synthetic.rereferral_probability,
        run.rng("rereferrals", k),
    )
    if again.size:
        re_ids = acc.next_episode_ids(again.size)
        re_att = draw_attendance(
            prog, persons[again], later, pop, run.cal, run.rng("rereferrals", 100 + k)
        )
        acc.referral_parts.append(
            referral_rows(run.slugs[k], persons[again], later, re_ids, re_att)
        )

"""Generate the synthetic county: the contract's raw tables plus ``synthetic_truth.json``.

Everything is drawn from one ``numpy.random.SeedSequence``, split into named streams (and per
chunk of people for the activity), so the same seed gives the same files byte for byte. Work is
vectorised over people in chunks, which bounds memory at county scale.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from evalkit import __version__
from evalkit.config import InstrumentDefinition, Programme, UnitCostTable
from evalkit.contract import COLUMNS, CONDITIONS, SETTINGS, TABLES
from evalkit.files import write_json
from evalkit.jsonsafe import round_floats
from evalkit.synth import activity as act
from evalkit.synth.calendar import NONE, Calendar, add_months_days
from evalkit.synth.faults import (
    apply_plan,
    global_positions,
    plan_faults,
    sidecar_entries,
    slice_plan,
)
from evalkit.synth.geography import build_geography
from evalkit.synth.ids import derive_key, pseudonymise, synthetic_nhs_numbers
from evalkit.synth.people import Population, build_population
from evalkit.synth.programmes import (
    RECENT_SETTINGS,
    draw_attendance,
    draw_referrals,
    effect_multiplier,
    eligible_months,
    ever_eligible,
    referral_log_hazard,
    rereferrals,
)
from evalkit.synth.questionnaires import draw_questionnaires

log = logging.getLogger(__name__)

SCALES = {"demo": 60_000, "county": 660_000}
CHUNK = 20_000
STREAMS = (
    "geography", "population", "ids", "need", "episodes", "counts", "referrals", "attendance",
    "participants", "events", "questionnaires", "faults", "rereferrals",
)  # fmt: skip
WINDOWS = (3, 6, 12)
#: ``pool`` options: everyone, or only people who could be eligible for one of the programmes.
POOLS = ("all", "eligible")
TRUTH_FILE = "synthetic_truth.json"
FAULTS_FILE = "synthetic_faults.json"


@dataclass
class SynthResult:
    """What was written and how long it took."""

    out: Path
    files: dict[str, Path]
    rows: dict[str, int]
    n_participants: dict[str, int]
    seconds: float
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """Readable summary of the generated county."""
        lines = [f"Synthetic county written to {self.out} in {self.seconds:.1f} s"]
        lines += [f"  {t:<12} {n:>12,} rows" for t, n in self.rows.items()]
        lines += [f"  participants {p}: {n:,}" for p, n in self.n_participants.items()]
        return "\n".join(lines + self.notes)


def _streams(seed: int) -> dict[str, np.random.SeedSequence]:
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return dict(zip(STREAMS, children, strict=True))


def _rng(ss: np.random.SeedSequence, *key: int) -> np.random.Generator:
    """A generator for a sub-stream (e.g. one chunk), independent of the other sub-streams."""
    return np.random.default_rng(
        np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, *key))
    )


def _date_array(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    mask = days >= NONE
    return pa.array(np.where(mask, 0, days).astype(np.int32), mask=mask).cast(pa.date32())


def generate_county(
    out: Path,
    *,
    programmes: dict[str, Programme],
    instrument_defs: dict[str, InstrumentDefinition],
    unit_costs: UnitCostTable,
    population: int | None = None,
    scale: str = "demo",
    seed: int = 42,
    regime: str = "realistic",
    faults: float = 0.0,
    fmt: str = "csv",
    with_prescriptions: bool = False,
    progress: bool = True,
    pool: str = "all",
) -> SynthResult:
    """Generate a synthetic county into ``out``.

    Parameters
    ----------
    out : Path
        Directory to write (created if missing). Table files already there are replaced only if
        the directory holds a previous synthetic county (``synthetic_truth.json``).
    programmes, instrument_defs, unit_costs
        Programme configs (their ``synthetic`` blocks drive referral, attendance and effects),
        instrument definitions (item ranges, scoring) and the unit costs that price the truth.
    population : int, optional
        People ever registered during the six years; defaults to the scale's size.
    scale : {"demo", "county"}
    seed : int
    regime : {"realistic", "observables"}
        Whether referral also follows latent health episodes (realistic) or only what the
        analysis can match on (observables).
    faults : float
        Share of rows of each table made faulty (0 = clean); the sidecar lists them.
    fmt : {"csv", "parquet"}
    with_prescriptions : bool
        Also write ``prescription_item`` activity (large).
    progress : bool
        Show a progress bar.
    pool : {"all", "eligible"}
        ``"all"`` writes everyone. ``"eligible"`` (reduced scale, for simulation studies) draws
        the whole population of ``population`` people but keeps only those who could be
        eligible for one of ``programmes`` on some day of the study
        (:func:`~evalkit.synth.programmes.ever_eligible`, a superset of both the generator's
        and the analysis's eligibility), and simulates activity, referral and everything else
        for them alone. Each kept person's data follow exactly the model of the full county,
        and the referral volume is still calibrated to the full population (the config's
        referrals per 100,000 times ``population``), so participants per eligible person, the
        risk sets and the truth are distributed as in the full county. Draws differ from the
        full county of the same seed (the random streams are split over the kept people), but
        the population rows of kept people are identical to it. The truth file records
        ``pool`` and ``people_written``.

    Notes
    -----
    Reduced-scale counties hold no-one outside the pool, so analyses of other programmes, or of
    the whole population (e.g. a population denominator), must not be run on them.
    """
    t0 = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    if regime not in ("realistic", "observables"):
        raise ValueError(f"regime must be 'realistic' or 'observables', got {regime!r}")
    if pool not in POOLS:
        raise ValueError(f"pool must be 'all' or 'eligible', got {pool!r}")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"format must be 'csv' or 'parquet', got {fmt!r}")
    if not 0 <= faults <= 0.2:
        raise ValueError(f"faults is a rate between 0 and 0.2, got {faults}")
    n_full = int(population or SCALES[scale])
    if n_full < 2_000:
        raise ValueError("population must be at least 2,000 people")
    if pool == "eligible" and not programmes:
        raise ValueError("pool='eligible' needs at least one programme")
    out = Path(out)
    _prepare_out(out)
    cal = Calendar()
    ss = _streams(seed)
    settings = (*SETTINGS, "prescription_item") if with_prescriptions else SETTINGS
    S, M = len(settings), cal.n_months
    slugs = sorted(programmes)
    n_chunks = (n_full + CHUNK - 1) // CHUNK
    bar = tqdm(
        total=n_chunks * 2 + 6 + len(slugs),
        desc="synthetic county",
        unit="step",
        disable=not progress,
        leave=False,
    )

    geo = build_geography(_rng(ss["geography"]))
    pop = build_population(n_full, geo, cal, _rng(ss["population"]))
    nhs_numbers = synthetic_nhs_numbers(n_full, _rng(ss["ids"]))
    if pool == "eligible":
        # Keep only the programmes' eligible pools; everything below runs on them alone.
        keep = np.flatnonzero(
            np.logical_or.reduce([ever_eligible(pop, programmes[s], cal) for s in slugs])
        )
        if keep.size == 0:
            raise ValueError("no one in the population could be eligible for these programmes")
        pop = pop.subset(keep)
        nhs_numbers = nhs_numbers[keep]
    n = pop.n  # people simulated and written
    person_ids = pseudonymise(nhs_numbers, derive_key(seed))
    if len(set(person_ids.tolist())) != n:  # pragma: no cover - 64-bit tokens
        raise RuntimeError("pseudonym collision; choose another seed")
    n_chunks = (n + CHUNK - 1) // CHUNK
    bar.total = n_chunks * 2 + 6 + len(slugs)
    bar.update(1)

    # ---- pass 1: need, episodes and monthly counts for everyone -----------------------------
    need_all = np.empty((n, S), dtype=np.float64)
    episode_all = np.empty((n, M), dtype=np.float32)
    counts = np.empty((n, M, S), dtype=np.uint16)
    for c in range(n_chunks):
        idx = np.arange(c * CHUNK, min(n, (c + 1) * CHUNK))
        need_all[idx] = act.person_need(pop, idx, _rng(ss["need"], c), settings)
        episode_all[idx] = act.episodes(pop, idx, cal, _rng(ss["episodes"], c))
        mu = act.monthly_rates(pop, idx, need_all[idx], episode_all[idx], cal, settings)
        mu *= act.registered_fraction(pop, idx, cal)[:, :, None]
        drawn = _rng(ss["counts"], c).poisson(mu)
        if drawn.max(initial=0) >= np.iinfo(np.uint16).max:  # pragma: no cover
            raise RuntimeError("monthly count overflow")
        counts[idx] = drawn
        bar.update(1)

    # ---- referral: competing monthly hazards, at most one programme per person ---------------
    m_idx = np.arange(M)

    recent = _last3(counts, [settings.index(s) for s in RECENT_SETTINGS])
    recent_admissions = _last3(counts, [settings.index("emergency_admission")])
    elig, first, days, scale_c, hazards = {}, {}, {}, {}, {}
    years = (cal.referral_last_month - cal.referral_first_month + 1) / 12
    for k, slug in enumerate(slugs):
        prog = programmes[slug]
        full_elig = eligible_months(pop, prog, cal)
        rows = np.flatnonzero(full_elig.any(axis=1))  # work only on people ever eligible
        sub = pop.subset(rows)
        elig[slug] = (rows, full_elig[rows])
        lp = referral_log_hazard(
            sub, prog, recent[rows], recent_admissions[rows], episode_all[rows], cal, regime
        )
        # Volume per 100,000 of the whole population, also when only the pool is simulated.
        target = prog.synthetic.referrals_per_year_per_100k * n_full / 1e5 * years
        f_sub, d_sub, scale_c[slug], hazards[slug] = draw_referrals(
            elig[slug][1], lp, target, sub, cal, regime, _rng(ss["referrals"], k)
        )
        first[slug] = np.full(n, -1, dtype=np.int64)
        first[slug][rows] = f_sub
        days[slug] = np.full(n, NONE, dtype=np.int64)
        days[slug][rows] = d_sub
        bar.update(1)
    big = M + 1
    stacked = np.stack([np.where(first[s] >= 0, first[s], big) for s in slugs])
    winner = stacked.argmin(axis=0)  # ties: programme order (slug order)
    any_ref = stacked.min(axis=0) < big
    first_any = np.where(any_ref, stacked.min(axis=0), big)

    # ---- participants: attendance, post-referral utilisation and the truth -------------------
    unit_cost = np.array([unit_costs.cost_of(s) for s in settings])
    cost_mask = np.array([s in SETTINGS for s in settings])
    truth_prog: dict[str, dict] = {}
    ref_tables, meas_parts, part_events = [], [], []
    episode_counter = 0
    for k, slug in enumerate(slugs):
        prog = programmes[slug]
        persons = np.flatnonzero(any_ref & (winner == k))
        ref_day = days[slug][persons]
        order = np.lexsort((persons, ref_day))
        persons, ref_day = persons[order], ref_day[order]
        ref_month = first[slug][persons]
        att = draw_attendance(prog, persons, ref_day, pop, cal, _rng(ss["attendance"], k))
        lam0, lam1, ev = _participant_activity(
            prog,
            persons,
            ref_day,
            ref_month,
            att.dose,
            pop,
            need_all,
            episode_all,
            cal,
            settings,
            _rng(ss["participants"], k),
        )
        counts[persons] = np.where(
            m_idx[None, :, None] >= ref_month[:, None, None], 0, counts[persons]
        )
        part_events.append(ev)
        truth_prog[slug] = _utilisation_truth(lam0, lam1, settings, unit_cost, cost_mask)
        # at-risk person-time for reach: eligible months up to this programme's first referral
        rows, el = elig[slug]
        at_risk_until = np.where(first[slug][rows] >= 0, first[slug][rows], big)
        truth_prog[slug]["reach"] = {
            "imd_quintile": _reach_truth(
                el, hazards[slug], at_risk_until, first_any[rows], pop.imd_quintile[rows]
            )
        }
        episode_ids = np.array([f"EP{episode_counter + i + 1:07d}" for i in range(persons.size)])
        episode_counter += persons.size
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
            regime,
            _rng(ss["questionnaires"], k),
        )
        meas_parts.append(q)
        truth_prog[slug]["wellbeing"] = q.truth
        truth_prog[slug]["n_participants"] = int(persons.size)
        truth_prog[slug]["selection"] = _selection_truth(
            prog, regime, scale_c[slug], att, pop, persons
        )
        # The calibration target: referral hazards summed over eligible person-months.
        truth_prog[slug]["selection"]["expected_referrals"] = float(hazards[slug].sum())
        ref_tables.append(_referral_rows(slug, persons, ref_day, episode_ids, att))
        # re-referrals of the same person: part of their exposure, no effect of their own
        again, later = rereferrals(
            persons,
            ref_day,
            pop,
            cal,
            prog.synthetic.rereferral_probability,
            _rng(ss["rereferrals"], k),
        )
        if again.size:
            re_ids = np.array([f"EP{episode_counter + i + 1:07d}" for i in range(again.size)])
            episode_counter += again.size
            re_att = draw_attendance(
                prog, persons[again], later, pop, cal, _rng(ss["rereferrals"], 100 + k)
            )
            ref_tables.append(_referral_rows(slug, persons[again], later, re_ids, re_att))
        bar.update(1)

    # ---- events for everyone (participants' post-referral months come from their own draw) ---
    del recent, recent_admissions, episode_all
    part_p = (
        np.concatenate([ev[0] for ev in part_events]) if part_events else np.array([], np.int32)
    )
    part_d = (
        np.concatenate([ev[1] for ev in part_events]) if part_events else np.array([], np.int32)
    )
    part_s = np.concatenate([ev[2] for ev in part_events]) if part_events else np.array([], np.int8)
    part_chunk = part_p // CHUNK
    ev_person, ev_day, ev_setting = [], [], []
    starts = cal.month_starts
    for c in range(n_chunks):
        idx0 = c * CHUNK
        block = counts[idx0 : min(n, (c + 1) * CHUNK)]
        i, m, s = np.nonzero(block)
        reps = block[i, m, s].astype(np.int64)
        i = np.repeat(i + idx0, reps)
        m = np.repeat(m, reps)
        s = np.repeat(s, reps)
        lo = np.maximum(starts[m], pop.reg_from[i])
        hi = np.minimum(starts[m + 1] - 1, pop.reg_end[i])
        u = _rng(ss["events"], c).random(i.size)
        mine = part_chunk == c
        p_c = np.concatenate([i.astype(np.int32), part_p[mine]])
        d_c = np.concatenate([(lo + np.floor(u * (hi - lo + 1))).astype(np.int32), part_d[mine]])
        s_c = np.concatenate([s.astype(np.int8), part_s[mine]])
        # An extract sorted by patient, then date, then setting.
        order = np.lexsort((s_c, d_c, p_c))
        ev_person.append(p_c[order])
        ev_day.append(d_c[order])
        ev_setting.append(s_c[order])
        bar.update(1)
    del counts
    ev_person = np.concatenate(ev_person)
    ev_day = np.concatenate(ev_day)
    ev_setting = np.concatenate(ev_setting)
    ea = ev_setting == settings.index("emergency_admission")
    beds = np.full(ev_person.size, -1, dtype=np.int32)
    age_at = (ev_day[ea] - pop.birth[ev_person[ea]]) / 365.25
    beds[ea] = act.bed_days(int(ea.sum()), age_at, _rng(ss["events"], 10_000))
    del ea, age_at
    bar.update(1)

    # ---- tables (activity is written in slices to bound memory) -----------------------------
    tables = {"population": _population_table(pop, person_ids)}
    referrals = _concat_referrals(ref_tables)
    ref_person = referrals.pop("_person")
    tables["referrals"] = _referrals_table(referrals, ref_person, person_ids)
    tables["measures"], meas_ep_row, meas_item_max = _measures_table(
        meas_parts, tables["referrals"], instrument_defs
    )
    bar.update(1)
    if fmt == "csv":
        tables = {t: _dates_to_text(tb) for t, tb in tables.items()}

    sidecar = None
    plans = None
    n_rows = {"activity": int(ev_person.size)}
    if faults > 0:
        ref_dates = referrals["referral_date"]
        plans = plan_faults(
            faults,
            fmt,
            _rng(ss["faults"]),
            person_ids=person_ids,
            reg_from=pop.reg_from,
            act_person=ev_person,
            ref_person=ref_person,
            ref_started=referrals["start_date"] < NONE,
            ref_date=ref_dates,
            ref_offered=referrals["sessions_offered"],
            meas_episode_row=meas_ep_row,
            meas_item_max=meas_item_max,
            episode_ids=np.asarray(tables["referrals"]["episode_id"]),
        )
        entries, deps = [], []
        for t in TABLES:
            if t == "activity":
                new_pos = global_positions(plans[t])
                n_rows[t] = int(plans[t].n + len(plans[t].duplicate))
            else:
                tables[t], new_pos = apply_plan(tables[t], plans[t])
            f, d = sidecar_entries(t, plans[t], new_pos)
            entries += f
            deps += d
        sidecar = {
            "rate": faults,
            "seed": seed,
            "format": fmt,
            "row_numbers": "1-based data rows, header not counted",
            "faults": entries,
            "dependents": deps,
        }
    files: dict[str, Path] = {}
    for t in TABLES:
        if t == "activity":
            files[t] = _write_activity(
                out / f"activity.{fmt}",
                fmt,
                ev_person,
                ev_day,
                ev_setting,
                beds,
                person_ids,
                settings,
                plans["activity"] if plans else None,
            )
        else:
            files[t] = _write_table(tables[t], out / f"{t}.{fmt}", fmt)
            n_rows[t] = tables[t].num_rows
    truth = {
        "seed": seed,
        "regime": regime,
        "scale": scale,
        "population": n_full,
        "pool": pool,
        "people_written": n,
        "generator": f"evalkit {__version__}",
        "study_start": str(cal.start),
        "study_end": str(cal.end),
        "unit_costs": {"table": unit_costs.name, "price_year": unit_costs.price_year},
        "definitions": {
            "utilisation": "sum of expected counts with / without the programme over event months "
            "0..W-1 among participants (first referrals), months after death or "
            "deregistration excluded",
            "wellbeing": "expected change in the scored instrument given the latent scores, among "
            "complete cases (mean_change) and among all starters (mean_change_all)",
            "reach": "expected first-referral rate per eligible person-month by IMD quintile "
            "relative to quintile 5",
        },
        "programmes": truth_prog,
    }
    write_json(round_floats(truth), out / TRUTH_FILE)
    faults_path = out / FAULTS_FILE
    if sidecar is not None:
        write_json(round_floats(sidecar), faults_path)
    elif faults_path.exists():
        faults_path.unlink()
    bar.update(1)
    bar.close()
    return SynthResult(
        out=out,
        files=files,
        rows={t: n_rows[t] for t in TABLES},
        n_participants={s: truth_prog[s]["n_participants"] for s in slugs},
        seconds=time.perf_counter() - t0,
    )


# ------------------------------------------------------------------------------------------
def _participant_activity(
    prog, persons, ref_day, ref_month, dose, pop, need_all, episode_all, cal, settings, rng
):
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


def _utilisation_truth(lam0, lam1, settings, unit_cost, cost_mask) -> dict:
    n_p = lam0.shape[0]
    out: dict[str, dict] = {}
    for k, s in enumerate(settings):
        if s not in SETTINGS:
            continue
        out[s] = {"rate_ratio": {}, "difference_per_person": {}}
        for w in WINDOWS:
            a0, a1 = lam0[:, :w, k].sum(), lam1[:, :w, k].sum()
            out[s]["rate_ratio"][str(w)] = float(a1 / a0) if a0 > 0 else float("nan")
            out[s]["difference_per_person"][str(w)] = float((a1 - a0) / max(n_p, 1))
    c0 = (lam0 * (unit_cost * cost_mask)[None, None, :]).sum(axis=2)
    c1 = (lam1 * (unit_cost * cost_mask)[None, None, :]).sum(axis=2)
    out["total_cost"] = {"rate_ratio": {}, "difference_per_person": {}}
    for w in WINDOWS:
        a0, a1 = c0[:, :w].sum(), c1[:, :w].sum()
        out["total_cost"]["rate_ratio"][str(w)] = float(a1 / a0) if a0 > 0 else float("nan")
        out["total_cost"]["difference_per_person"][str(w)] = float((a1 - a0) / max(n_p, 1))
    return {"utilisation": out}


def _reach_truth(elig, hazard, at_risk_until, truly_at_risk, q) -> dict[str, float]:
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


def _selection_truth(prog, regime, c, att, pop, persons) -> dict:
    syn = prog.synthetic
    q = pop.imd_quintile[persons]
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
            "by_imd_quintile": by_q,
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


def _referral_rows(slug, persons, ref_day, episode_ids, att) -> dict[str, np.ndarray]:
    return {
        "_person": persons,
        "episode_id": episode_ids,
        "programme": np.full(persons.size, slug, dtype=object),
        "provider": att.provider,
        "referral_date": ref_day,
        "referral_source": att.referral_source,
        "start_date": att.start_date,
        "end_date": att.end_date,
        "sessions_offered": att.sessions_offered,
        "sessions_attended": att.sessions_attended,
        "discharge_reason": att.discharge_reason,
    }


def _concat_referrals(parts: list[dict]) -> dict[str, np.ndarray]:
    if not parts:
        return {k: np.array([]) for k in ("_person", *COLUMNS["referrals"])}
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["episode_id"], cols["referral_date"]))
    return {k: v[order] for k, v in cols.items()}


def _population_table(pop: Population, person_ids) -> pa.Table:
    data = {
        "person_id": pa.array(person_ids, pa.string()),
        "year_of_birth": pa.array(pop.year_of_birth, pa.int32()),
        "sex": pa.array(pop.sex, pa.string()),
        "ethnicity": pa.array(pop.ethnicity, pa.string()),
        "lsoa": pa.array(pop.lsoa, pa.string()),
        "imd_decile": pa.array(pop.imd_decile, pa.int32()),
        "district": pa.array(pop.district, pa.string()),
        "pcn": pa.array(pop.pcn, pa.string()),
        "registered_from": _date_array(pop.reg_from),
        "registered_to": _date_array(pop.reg_to),
        "date_of_death": _date_array(pop.death),
    }
    for j, cond in enumerate(CONDITIONS):
        data[cond] = _date_array(pop.diagnosis[:, j].astype(np.int64))
    return pa.table(data)


def _activity_table(person, day, setting, beds, person_ids, settings, first_id: int) -> pa.Table:
    n = person.size
    ids = pa.array(np.arange(first_id, first_id + n, dtype=np.int64)).cast(pa.string())
    event_id = pc.binary_join_element_wise("E", pc.utf8_lpad(ids, 10, "0"), "")
    pid = pa.array(np.asarray(person_ids)[person], pa.string())
    st = pa.DictionaryArray.from_arrays(
        pa.array(setting, pa.int8()), pa.array(list(settings), pa.string())
    )
    return pa.table(
        {
            "event_id": event_id,
            "person_id": pid,
            "event_date": _date_array(day.astype(np.int64)),
            "setting": st.cast(pa.string()),
            "bed_days": pa.array(beds, pa.int32(), mask=beds < 0),
        }
    )


ACTIVITY_SLICE = 2_000_000


def _write_activity(path, fmt, person, day, setting, beds, person_ids, settings, plan) -> Path:
    """Write the activity table in slices, applying any planned faults slice by slice."""
    tmp = path.with_name(f".{path.name}.tmp")
    writer = None
    try:
        for a in range(0, max(person.size, 1), ACTIVITY_SLICE):
            b = min(person.size, a + ACTIVITY_SLICE)
            table = _activity_table(
                person[a:b], day[a:b], setting[a:b], beds[a:b], person_ids, settings, first_id=a + 1
            )
            if fmt == "csv":
                table = _dates_to_text(table)
            if plan is not None:
                table, _ = apply_plan(table, slice_plan(plan, a, b))
            if writer is None:
                if fmt == "csv":
                    writer = pacsv.CSVWriter(tmp, table.schema)
                else:
                    writer = pq.ParquetWriter(
                        tmp,
                        table.schema,
                        compression="zstd",
                        use_dictionary=["person_id", "event_date", "setting"],
                    )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    os.replace(tmp, path)
    return path


def _referrals_table(r: dict[str, np.ndarray], person: np.ndarray, person_ids) -> pa.Table:
    return pa.table(
        {
            "episode_id": pa.array(r["episode_id"], pa.string()),
            "person_id": pa.array(np.asarray(person_ids)[person.astype(np.int64)], pa.string()),
            "programme": pa.array(r["programme"], pa.string()),
            "provider": pa.array(r["provider"], pa.string()),
            "referral_date": _date_array(r["referral_date"]),
            "referral_source": pa.array(r["referral_source"], pa.string()),
            "start_date": _date_array(r["start_date"]),
            "end_date": _date_array(r["end_date"]),
            "sessions_offered": pa.array(r["sessions_offered"], pa.int32()),
            "sessions_attended": pa.array(r["sessions_attended"], pa.int32()),
            "discharge_reason": pa.array(r["discharge_reason"], pa.string()),
        }
    )


def _last3(counts: np.ndarray, cols: list[int]) -> np.ndarray:
    """Events in the three calendar months before each month, summed over ``cols``."""
    n, m = counts.shape[:2]
    monthly = counts[:, :, cols].sum(axis=2, dtype=np.int32)
    c = np.concatenate([np.zeros((n, 1), np.int32), monthly.cumsum(axis=1)], axis=1)
    m_idx = np.arange(m)
    return c[:, m_idx] - c[:, np.maximum(m_idx - 3, 0)]


def _measures_table(parts, referrals: pa.Table, defs) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    def cat(name: str) -> np.ndarray:
        return (
            np.concatenate([x for p in parts for x in getattr(p, name)]) if parts else np.array([])
        )

    episode, instrument, timepoint = cat("episode"), cat("instrument"), cat("timepoint")
    assessed, item, response = cat("assessed_on"), cat("item"), cat("response")
    tp_order = {"baseline": 0, "end": 1, "followup_3m": 2, "followup_6m": 3}
    tp_code = np.array([tp_order[t] for t in timepoint])
    item_pos = np.array(
        [defs[ins].items.index(it) for ins, it in zip(instrument, item, strict=True)]
    )
    order = np.lexsort((item_pos, instrument, tp_code, episode))
    episode, instrument, timepoint = episode[order], instrument[order], timepoint[order]
    assessed, item, response = assessed[order], item[order], response[order]
    ep_ids = np.asarray(referrals["episode_id"])
    ep_index = {e: i for i, e in enumerate(ep_ids.tolist())}
    ep_row = np.array([ep_index[e] for e in episode], dtype=np.int64)
    item_max = np.array([defs[i].item_max for i in instrument])
    resp_mask = np.isnan(response)
    table = pa.table(
        {
            "episode_id": pa.array(episode, pa.string()),
            "instrument": pa.array(instrument, pa.string()),
            "timepoint": pa.array(timepoint, pa.string()),
            "assessed_on": _date_array(assessed.astype(np.int64)),
            "item": pa.array(item, pa.string()),
            "response": pa.array(
                np.where(resp_mask, 0, response).astype(np.int32), pa.int32(), mask=resp_mask
            ),
        }
    )
    return table, ep_row, item_max


def _dates_to_text(table: pa.Table) -> pa.Table:
    for i, f in enumerate(table.schema):
        if pa.types.is_date32(f.type) or pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(pa.string()))
    return table


def _write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    if fmt == "csv":
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(include_header=True))
    else:
        pq.write_table(table, tmp, compression="zstd", row_group_size=1 << 20)
    os.replace(tmp, path)
    return path


def _prepare_out(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    existing = [p for t in TABLES for p in (out / f"{t}.csv", out / f"{t}.parquet") if p.exists()]
    if existing and not (out / TRUTH_FILE).exists():
        raise FileExistsError(
            f"{out} already holds data tables ({', '.join(p.name for p in existing)}) that are not "
            "a synthetic county; refusing to overwrite them. Choose another --out."
        )
    for p in existing:
        p.unlink()

"""Generate the synthetic county: the contract's raw tables plus ``synthetic_truth.json``.

Everything is drawn from one ``numpy.random.SeedSequence``, split into named streams (and per
chunk of people for the activity, :mod:`~evalkit.synth.streams`), so the same seed gives the
same files byte for byte. Work is vectorised over people in chunks, which bounds memory at
county scale.

The steps of :func:`generate_county`, in order: the people (:mod:`~evalkit.synth.people`); their
monthly activity counts; each programme's referrals, at most one programme per person
(:mod:`~evalkit.synth.referral`); the participants' attendance, redrawn activity, questionnaires
and truth (:mod:`~evalkit.synth.participants`, :mod:`~evalkit.synth.truth`); every event's day;
the contract tables and their writing (:mod:`~evalkit.synth.tables`), with faults
(:mod:`~evalkit.synth.faults`) if asked for.

That is the legacy world's order. The hard world (the default, :mod:`~evalkit.synth.world`)
dates every counted event first, draws referral from a daily hazard of the use dated up to each
day (:mod:`~evalkit.synth.daily`), then redraws participants' events from the day after their
referral (:mod:`~evalkit.synth.followup`) and adds the referring contacts.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from evalkit.config import InstrumentDefinition, Programme, UnitCostTable, project_root
from evalkit.contract import TABLES
from evalkit.files import write_json
from evalkit.jsonsafe import round_floats
from evalkit.synth import activity as act
from evalkit.synth.calendar import NONE, to_days
from evalkit.synth.daily import draw_daily_referrals
from evalkit.synth.faults import (
    TablePlan,
    apply_plan,
    global_positions,
    plan_faults,
    sidecar_entries,
)
from evalkit.synth.geography import build_geography
from evalkit.synth.ids import (
    capacity_of_test_range,
    derive_key,
    pseudonymise,
    synthetic_nhs_numbers,
)
from evalkit.synth.nhs_layout import (
    LAYOUTS,
    default_presets_dir,
    remove_nhs_layout,
    write_nhs_layout,
)
from evalkit.synth.participants import Participants, draw_participants
from evalkit.synth.people import Population, build_population
from evalkit.synth.programmes import ever_eligible
from evalkit.synth.referral import draw_first_referrals
from evalkit.synth.streams import CHUNK, STREAMS, Generation, n_chunks, spawn_streams
from evalkit.synth.tables import (
    concat_referrals,
    dates_to_text,
    measures_table,
    population_table,
    referrals_table,
    submission_days,
    write_activity,
    write_table,
)
from evalkit.synth.truth import TRUTH_FILE, WINDOWS, truth_document
from evalkit.synth.world import NEGATIVE_CONTROL, SHOCK, WORLDS, make_world

__all__ = [
    "CHUNK",
    "FAULTS_FILE",
    "LAYOUTS",
    "POOLS",
    "SCALES",
    "STREAMS",
    "TRUTH_FILE",
    "WINDOWS",
    "WORLDS",
    "SynthResult",
    "generate_county",
]

log = logging.getLogger(__name__)

SCALES = {"demo": 60_000, "county": 660_000}
#: ``pool`` options: everyone, or only people who could be eligible for one of the programmes.
POOLS = ("all", "eligible")
FAULTS_FILE = "synthetic_faults.json"
#: Whether the hard world writes ``referrals.submitted_on`` unless told. It changes only the
#: referrals file (every published number stays; results.json's ``data_sha256.referrals`` and
#: the report appendix's hash moved when it was turned on, with the digests rewritten).
SUBMITTED_ON_DEFAULT = True


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


@dataclass
class _Events:
    """Every activity event, sorted by person, day and setting within each chunk of people."""

    person: np.ndarray
    day: np.ndarray
    setting: np.ndarray
    beds: np.ndarray  # bed days of emergency admissions, -1 elsewhere


@dataclass
class _Built:
    """The in-memory contract tables and what fault planning needs to know of their rows."""

    tables: dict[str, pa.Table]  # population, referrals, measures (activity is written in slices)
    referrals: dict[str, np.ndarray]  # the referral columns as arrays, in table order
    ref_person: np.ndarray  # person index of each referral row
    meas_episode_row: np.ndarray  # referral row of each measures row's episode
    meas_item_max: np.ndarray  # highest item value of each measures row's instrument


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
    world: str = "hard",
    layout: str = "contract",
    nhs_numbers: bool = False,
    submitted_on: bool = SUBMITTED_ON_DEFAULT,
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
    world : {"hard", "legacy"}
        ``"hard"`` (default): the world not fitted to any estimator
        (:mod:`~evalkit.synth.world`): daily referral hazards driven by use up to the
        referral day, the referring contact on the referral day, referrals in study months
        15..68, a winter peak in every setting, a shock in August 2022 and the negative-control
        setting ``elective_admission``; its truth follows the contract's event months (the
        referral day ends month -1). ``"legacy"``: the generator before issue #14, byte for
        byte (its truth file only gains ``"world"``).
    layout : {"contract", "nhs"}
        ``"contract"`` (default): the data contract's four tables. ``"nhs"``: the same county
        as NHS-shaped multi-file CSV extracts with ``nhs_mapping.yaml`` beside them
        (:mod:`~evalkit.synth.nhs_layout`; ``fmt`` is then only the format of the contract
        tables it is made from, which are not kept). Not with ``faults`` or prescriptions.
    nhs_numbers : bool
        NHS layout only: write each person's synthetic NHS number (999 test range, valid
        Modulus 11, never issued to a patient) in the person columns instead of the token, for
        ``evalkit pseudonymise`` to replace before intake (``nhs_layout.json`` lists the
        columns). Intake refuses the files until then.
    submitted_on : bool
        Hard world: also write ``referrals.submitted_on`` (the day each row was submitted, from
        its own stream ``submissions``; no other table or draw changes). Off by default until
        the demo reports' pinned digests are rewritten (only their input hash changes).

    Notes
    -----
    Reduced-scale counties hold no-one outside the pool, so analyses of other programmes, or of
    the whole population (e.g. a population denominator), must not be run on them.
    """
    t0 = time.perf_counter()
    n_full = _check_arguments(scale, regime, pool, fmt, faults, population, programmes)
    _check_layout(layout, faults, with_prescriptions, nhs_numbers, n_full)
    the_world = make_world(world, with_prescriptions)
    out = Path(out)
    _prepare_out(out)
    slugs = sorted(programmes)
    run = Generation(
        cal=the_world.cal,
        streams=spawn_streams(seed),
        settings=the_world.settings,
        programmes=programmes,
        slugs=slugs,
        regime=regime,
        n_full=n_full,
        bar=tqdm(
            total=n_chunks(n_full) * 2 + 6 + len(slugs),
            desc="synthetic county",
            unit="step",
            disable=not progress,
            leave=False,
        ),
        world=the_world,
    )
    pop, person_ids, numbers = _draw_people(run, pool, seed)
    run.bar.total = n_chunks(pop.n) * 2 + 6 + len(slugs)
    run.bar.update(1)

    need_all, episode_all, counts = _monthly_counts(run, pop)
    if the_world.hard:
        # Days first: referral reads the use recorded up to each day.
        county = _event_days(run, pop, counts, [], sort=False)
        del counts
        ref = draw_daily_referrals(run, pop, county, episode_all)
        parts = draw_participants(
            run, pop, ref, need_all, episode_all, None, instrument_defs, unit_costs, the_world
        )
        chunks = _replace_participant_events(pop, county, parts)
    else:
        ref = draw_first_referrals(run, pop, counts, episode_all)
        parts = draw_participants(
            run, pop, ref, need_all, episode_all, counts, instrument_defs, unit_costs, the_world
        )
        chunks = _event_days(run, pop, counts, parts.events)
        del counts  # the largest array: freed before the events are joined
    del episode_all
    events = _join_events(run, pop, chunks)
    run.bar.update(1)

    # Hard world: when each referral row was submitted (its own stream; legacy stays as it was).
    submitted = (
        (run.rng("submissions"), to_days(run.cal.end)) if the_world.hard and submitted_on else None
    )
    built = _contract_tables(pop, person_ids, parts, instrument_defs, fmt, submitted)
    run.bar.update(1)
    plans, sidecar = (None, None)
    if faults > 0:
        plans, sidecar = _inject_faults(run, built, pop, person_ids, events, faults, fmt, seed)
    notes: list[str] = []
    if layout == "nhs":
        # The NHS files are a transformation of the contract tables, written aside and removed.
        staging = Path(tempfile.mkdtemp(prefix=".contract-", dir=out))
        try:
            _, n_rows = _write_tables(staging, fmt, built, events, person_ids, run.settings, None)
            extract = write_nhs_layout(
                staging,
                out,
                seed=seed,
                presets_dir=default_presets_dir(project_root()),
                person_values=_nhs_number_values(person_ids, numbers) if nhs_numbers else None,
            )
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        files = {f: out / f for f in extract.rows}
        notes = extract.summary().splitlines()
    else:
        files, n_rows = _write_tables(out, fmt, built, events, person_ids, run.settings, plans)
    truth = truth_document(
        seed=seed,
        regime=regime,
        scale=scale,
        population=n_full,
        pool=pool,
        people_written=pop.n,
        cal=run.cal,
        unit_costs=unit_costs,
        programmes=parts.truth,
        world=world,
        world_details=_hard_world_details(run) if the_world.hard else None,
    )
    _write_truth_and_faults(out, truth, sidecar)
    run.bar.update(1)
    run.bar.close()
    return SynthResult(
        out=out,
        files=files,
        rows={t: n_rows[t] for t in TABLES},
        n_participants={s: parts.truth[s]["n_participants"] for s in slugs},
        seconds=time.perf_counter() - t0,
        notes=notes,
    )


# ---- arguments and the output directory ----------------------------------------------------
def _check_arguments(
    scale: str,
    regime: str,
    pool: str,
    fmt: str,
    faults: float,
    population: int | None,
    programmes: dict[str, Programme],
) -> int:
    """Refuse bad arguments; return the number of people to draw."""
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
    return n_full


def _check_layout(
    layout: str, faults: float, with_prescriptions: bool, nhs_numbers: bool, n_full: int
) -> None:
    """Refuse an unknown layout, options the NHS layout does not write, too many NHS numbers."""
    if nhs_numbers and layout != "nhs":
        raise ValueError("NHS numbers are written in the NHS layout only (add --layout nhs)")
    if nhs_numbers and n_full > capacity_of_test_range():
        raise ValueError(
            f"--nhs-numbers: the 999 test range holds {capacity_of_test_range():,} valid NHS "
            f"numbers, fewer than {n_full:,} people; write this county without them"
        )
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    if layout == "nhs" and faults > 0:
        raise ValueError(
            "faults are injected into the contract layout only (use --layout contract)"
        )
    if layout == "nhs" and with_prescriptions:
        raise ValueError("the NHS layout has no prescriptions extract (drop --with-prescriptions)")


def _prepare_out(out: Path) -> None:
    """Create ``out``; remove a previous synthetic county's tables, refuse anyone else's."""
    out.mkdir(parents=True, exist_ok=True)
    existing = [p for t in TABLES for p in (out / f"{t}.csv", out / f"{t}.parquet") if p.exists()]
    if existing and not (out / TRUTH_FILE).exists():
        raise FileExistsError(
            f"{out} already holds data tables ({', '.join(p.name for p in existing)}) that are not "
            "a synthetic county; refusing to overwrite them. Choose another --demo folder."
        )
    for p in existing:
        p.unlink()
    if (out / TRUTH_FILE).exists():
        remove_nhs_layout(out)  # a previous NHS-shaped county's files (listed in its manifest)


# ---- people --------------------------------------------------------------------------------
def _nhs_number_values(person_ids: np.ndarray, numbers: np.ndarray) -> dict[str, str]:
    """Each person's token -> their synthetic NHS number as 10 digits (for the NHS layout)."""
    return dict(zip(person_ids.tolist(), (f"{n:010d}" for n in numbers.tolist()), strict=True))


def _draw_people(
    run: Generation, pool: str, seed: int
) -> tuple[Population, np.ndarray, np.ndarray]:
    """Geography, population and NHS numbers; keep the pool; return people, pseudonyms, numbers."""
    geo = build_geography(run.rng("geography"))
    pop = build_population(run.n_full, geo, run.cal, run.rng("population"))
    nhs_numbers = synthetic_nhs_numbers(run.n_full, run.rng("ids"))
    if pool == "eligible":
        # Keep only the programmes' eligible pools; everything below runs on them alone.
        keep = np.flatnonzero(
            np.logical_or.reduce(
                [ever_eligible(pop, run.programmes[s], run.cal) for s in run.slugs]
            )
        )
        if keep.size == 0:
            raise ValueError("no one in the population could be eligible for these programmes")
        pop = pop.subset(keep)
        nhs_numbers = nhs_numbers[keep]
    person_ids = pseudonymise(nhs_numbers, derive_key(seed))
    if len(set(person_ids.tolist())) != pop.n:  # pragma: no cover - 64-bit tokens
        raise RuntimeError("pseudonym collision; choose another seed")
    return pop, person_ids, nhs_numbers


# ---- pass 1: need, episodes and monthly counts for everyone --------------------------------
def _monthly_counts(run: Generation, pop: Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each person's need per setting, episode intensity per month and counts per month."""
    n, cal, settings = pop.n, run.cal, run.settings
    S, M = len(settings), cal.n_months
    need_all = np.empty((n, S), dtype=np.float64)
    episode_all = np.empty((n, M), dtype=np.float32)
    counts = np.empty((n, M, S), dtype=np.uint16)
    for c in range(n_chunks(n)):
        idx = np.arange(c * CHUNK, min(n, (c + 1) * CHUNK))
        need_all[idx] = act.person_need(pop, idx, run.rng("need", c), settings)
        episode_all[idx] = act.episodes(pop, idx, cal, run.rng("episodes", c))
        mu = act.monthly_rates(
            pop,
            idx,
            need_all[idx],
            episode_all[idx],
            cal,
            settings,
            season_amplitude=run.world.season_extra,
            calendar_mult=run.world.calendar_multiplier(),
        )
        mu *= act.registered_fraction(pop, idx, cal)[:, :, None]
        drawn = run.rng("counts", c).poisson(mu)
        if drawn.max(initial=0) >= np.iinfo(np.uint16).max:  # pragma: no cover
            raise RuntimeError("monthly count overflow")
        counts[idx] = drawn
        run.bar.update(1)
    return need_all, episode_all, counts


# ---- events for everyone (participants' post-referral months come from their own draw) ----
def _event_days(
    run: Generation,
    pop: Population,
    counts: np.ndarray,
    part_events: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    *,
    sort: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """A day for every counted event, chunk by chunk, with the participants' own events added.

    Returns per chunk the persons, days and settings, sorted by person, day, then setting (an
    extract sorted by patient); with ``sort=False`` (the hard world, which sorts once the
    participants' events are in) by person only.
    """
    n = pop.n
    empty32 = np.array([], np.int32)
    part_p = np.concatenate([ev[0] for ev in part_events]) if part_events else empty32
    part_d = np.concatenate([ev[1] for ev in part_events]) if part_events else empty32
    part_s = np.concatenate([ev[2] for ev in part_events]) if part_events else np.array([], np.int8)
    part_chunk = part_p // CHUNK
    ev_person, ev_day, ev_setting = [], [], []
    starts = run.cal.month_starts
    for c in range(n_chunks(n)):
        idx0 = c * CHUNK
        block = counts[idx0 : min(n, (c + 1) * CHUNK)]
        i, m, s = np.nonzero(block)
        reps = block[i, m, s].astype(np.int64)
        i = np.repeat(i + idx0, reps)
        m = np.repeat(m, reps)
        s = np.repeat(s, reps)
        lo = np.maximum(starts[m], pop.reg_from[i])
        hi = np.minimum(starts[m + 1] - 1, pop.reg_end[i])
        u = run.rng("events", c).random(i.size)
        mine = part_chunk == c
        p_c = np.concatenate([i.astype(np.int32), part_p[mine]])
        d_c = np.concatenate([(lo + np.floor(u * (hi - lo + 1))).astype(np.int32), part_d[mine]])
        s_c = np.concatenate([s.astype(np.int8), part_s[mine]])
        # An extract sorted by patient, then date, then setting.
        order = np.lexsort((s_c, d_c, p_c)) if sort else slice(None)
        ev_person.append(p_c[order])
        ev_day.append(d_c[order])
        ev_setting.append(s_c[order])
        run.bar.update(1)
    return ev_person, ev_day, ev_setting


def _replace_participant_events(
    pop: Population,
    county: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
    parts: Participants,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Hard world: participants' county-wide events after the referral day give way to their own.

    Events on and before the referral day are kept (they drove referral); the participants' own
    draw and their referring contacts are added; each chunk is sorted by person, day, setting.
    """
    cut = np.full(pop.n, NONE, dtype=np.int64)
    for persons, days in parts.cut:
        cut[persons] = days
    empty32 = np.array([], np.int32)
    own = parts.events
    part_p = np.concatenate([ev[0] for ev in own]) if own else empty32
    part_d = np.concatenate([ev[1] for ev in own]) if own else empty32
    part_s = np.concatenate([ev[2] for ev in own]) if own else np.array([], np.int8)
    part_chunk = part_p // CHUNK
    out: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]] = ([], [], [])
    for c, (p, d, s) in enumerate(zip(*county, strict=True)):
        keep = d <= cut[p]
        mine = part_chunk == c
        p_c = np.concatenate([p[keep], part_p[mine]])
        d_c = np.concatenate([d[keep], part_d[mine]])
        s_c = np.concatenate([s[keep], part_s[mine]])
        order = np.lexsort((s_c, d_c, p_c))
        out[0].append(p_c[order])
        out[1].append(d_c[order])
        out[2].append(s_c[order])
    return out


def _hard_world_details(run: Generation) -> dict:
    """What the truth file says of the hard world: window, shock, negative controls."""
    cal = run.cal
    starts = cal.month_starts

    def iso(day: int) -> str:
        return str(np.datetime64(int(day), "D"))

    return {
        "referral_months": [cal.referral_first_month, cal.referral_last_month],
        "referral_first_day": iso(starts[cal.referral_first_month]),
        "referral_last_day": iso(starts[cal.referral_last_month + 1] - 1),
        "shock": {
            "month": SHOCK.month,
            "first_day": iso(starts[SHOCK.month]),
            "floor": dict(SHOCK.floor),
            "recovery_months": SHOCK.recovery_months,
        },
        "negative_controls": [NEGATIVE_CONTROL],
        "referral_hazard": "daily; use on the 90 days before the day",
    }


def _join_events(
    run: Generation,
    pop: Population,
    chunks: tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]],
) -> _Events:
    """Join the chunks' events and draw bed days for the emergency admissions."""
    ev_person = np.concatenate(chunks[0])
    ev_day = np.concatenate(chunks[1])
    ev_setting = np.concatenate(chunks[2])
    ea = ev_setting == run.settings.index("emergency_admission")
    beds = np.full(ev_person.size, -1, dtype=np.int32)
    age_at = (ev_day[ea] - pop.birth[ev_person[ea]]) / 365.25
    beds[ea] = act.bed_days(int(ea.sum()), age_at, run.rng("events", 10_000))
    return _Events(ev_person, ev_day, ev_setting, beds)


# ---- tables (activity is written in slices to bound memory) --------------------------------
def _contract_tables(
    pop: Population,
    person_ids: np.ndarray,
    parts: Participants,
    instrument_defs: dict[str, InstrumentDefinition],
    fmt: str,
    submitted: tuple[np.random.Generator, int] | None = None,
) -> _Built:
    """The population, referrals and measures tables (dates as text for CSV).

    ``submitted`` (the ``submissions`` stream's generator and the extract's last day) adds
    ``referrals.submitted_on`` (:func:`~evalkit.synth.tables.submission_days`).
    """
    tables = {"population": population_table(pop, person_ids)}
    referrals = concat_referrals(parts.referral_parts)
    ref_person = referrals.pop("_person")
    if submitted is not None:
        rng, last_day = submitted
        referrals["submitted_on"] = submission_days(
            rng, referrals["referral_date"], last_day, referrals["end_date"]
        )
    tables["referrals"] = referrals_table(referrals, ref_person, person_ids)
    tables["measures"], meas_ep_row, meas_item_max = measures_table(
        parts.measure_parts, tables["referrals"], instrument_defs
    )
    if fmt == "csv":
        tables = {t: dates_to_text(tb) for t, tb in tables.items()}
    return _Built(tables, referrals, ref_person, meas_ep_row, meas_item_max)


def _inject_faults(
    run: Generation,
    built: _Built,
    pop: Population,
    person_ids: np.ndarray,
    events: _Events,
    rate: float,
    fmt: str,
    seed: int,
) -> tuple[dict[str, TablePlan], dict]:
    """Plan faults for every table, apply them to the in-memory tables; return plans and sidecar.

    Activity's plan is applied slice by slice when the activity table is written.
    """
    referrals = built.referrals
    plans = plan_faults(
        rate,
        fmt,
        run.rng("faults"),
        person_ids=person_ids,
        reg_from=pop.reg_from,
        act_person=events.person,
        ref_person=built.ref_person,
        ref_started=referrals["start_date"] < NONE,
        ref_date=referrals["referral_date"],
        ref_offered=referrals["sessions_offered"],
        meas_episode_row=built.meas_episode_row,
        meas_item_max=built.meas_item_max,
        episode_ids=np.asarray(built.tables["referrals"]["episode_id"]),
    )
    entries, deps = [], []
    for t in TABLES:
        if t == "activity":
            new_pos = global_positions(plans[t])
        else:
            built.tables[t], new_pos = apply_plan(built.tables[t], plans[t])
        f, d = sidecar_entries(t, plans[t], new_pos)
        entries += f
        deps += d
    sidecar = {
        "rate": rate,
        "seed": seed,
        "format": fmt,
        "row_numbers": "1-based data rows, header not counted",
        "faults": entries,
        "dependents": deps,
    }
    return plans, sidecar


def _write_tables(
    out: Path,
    fmt: str,
    built: _Built,
    events: _Events,
    person_ids: np.ndarray,
    settings: tuple[str, ...],
    plans: dict[str, TablePlan] | None,
) -> tuple[dict[str, Path], dict[str, int]]:
    """Write the four tables; return their paths and the data rows written."""
    files: dict[str, Path] = {}
    n_rows: dict[str, int] = {}
    for t in TABLES:
        if t == "activity":
            plan = plans["activity"] if plans else None
            files[t] = write_activity(
                out / f"activity.{fmt}",
                fmt,
                events.person,
                events.day,
                events.setting,
                events.beds,
                person_ids,
                settings,
                plan,
            )
            n_rows[t] = int(plan.n + len(plan.duplicate)) if plan else int(events.person.size)
        else:
            files[t] = write_table(built.tables[t], out / f"{t}.{fmt}", fmt)
            n_rows[t] = built.tables[t].num_rows
    return files, n_rows


def _write_truth_and_faults(out: Path, truth: dict, sidecar: dict | None) -> None:
    """Write the truth file, and the faults sidecar (or remove an old one)."""
    write_json(round_floats(truth), out / TRUTH_FILE)
    faults_path = out / FAULTS_FILE
    if sidecar is not None:
        write_json(round_floats(sidecar), faults_path)
    elif faults_path.exists():
        faults_path.unlink()

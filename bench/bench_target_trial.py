"""Simulation harness: the target-trial matched DiD against the legacy design.

Each replication (seed ``BASE_SEED + rep``; the generator splits one seed into independent named
streams, ``evalkit.synth.streams``) generates one reduced-scale county per (world, regime): the
``mindsong`` eligible pool of a county of ``POPULATION`` people (``pool="eligible"``: referral
calibrated to the whole county, so participants, risk sets and truth are distributed as in it).
The same seed serves every world and regime (common random numbers: paired comparisons between
regimes are sharper; each (world, regime) on its own is an ordinary independent-replication study).
On that one county both designs are fitted:

- ``target_trial``: ``matched_cohort(study, design="target_trial")`` on a cohort with weekly risk
  sets and event month 0 starting the day after the index date; controls censored at their own
  referral with IPCW; index-month x event-month effects;
- ``legacy``: the design before the target trial (risk sets by month, covariates at the 1st of the
  month, month 0 starting on the index date, no censoring, pooled event-month effects).

For emergency admissions, GP appointments and the negative-control setting ``elective_admission``
(the programme config's ``outcomes.negative_controls``; the design's panel counts it where the
county's activity holds it, i.e. the hard world) at 6 and 12 months it records the matched
Poisson DiD log
rate ratio, its SE and CI, and the naive pre/post, with the replication's own truth
(``synthetic_truth.json``), one CSV row per (design, setting, window, method), appended to
``results/target_trial_reps.csv`` as each replication finishes. The summary
(``target_trial_summary.py``) writes ``results/target_trial.md``: bias, RMSE, empirical SD against
mean SE and coverage, each with its Monte Carlo SE, and the acceptance checks.

The new APIs are detected (``inspect.signature``) and today's code is used where they are
missing: ``generate_county(world=)``, ``build_cohort(risk_set=, event_months=)`` and
``matched_cohort(design=)``. Each row records what ran (``world_generated``, ``design_impl`` and
``code``, a fingerprint of the estimating modules), a file is resumed only by the same, and the
acceptance checks count only rows of the current code (``design_impl`` ``current``) on a county
of the world named.

Add a metric here
-----------------
A metric is a function of one fitted design on one county, :class:`Replication`, returning named
floats; register it in :data:`METRICS` (columns added to every row of that design's replication)
or, when it belongs to one setting and window, in :data:`CELL_METRICS` (called with the setting and
the window; columns added to that cell's rows, both methods)::

    def my_metric(r: Replication) -> dict[str, float]:
        return {"my_share": float((r.matched.panel["weight"] > 1).mean())}

    METRICS["my_metric"] = my_metric   # at module level: the workers import this module

``Replication`` holds the county's truth, the open study (its directory still exists while metrics
run), the matched cohort and every ``UtilisationResult`` of the design. Old rows lack a new column
(empty in the CSV); the summary only reads the core columns, a new metric's summary is its own.

Script::

    PYTHONPATH=src python bench/bench_target_trial.py --reps 1000 --workers 2 --max-minutes 120
    PYTHONPATH=src python bench/bench_target_trial.py --reps 1000 --summary-only
    PYTHONPATH=src python -m pytest -m slow bench/bench_target_trial.py   # acceptance checks
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import target_trial_summary as summary  # the summary, beside this file

PROGRAMME = "mindsong"
POPULATION = 100_000
POOL = "eligible"
WORLDS = ("hard", "legacy")
REGIMES = ("observables", "realistic")
DESIGNS = ("target_trial", "legacy")
OUTCOMES = ("emergency_admission", "gp_appointment")
NEGATIVE_CONTROLS = ("elective_admission",)
WINDOWS = (6, 12)
#: Seeds of this study (not the 0.3.0 study's 20_240_000 + rep).
BASE_SEED = 20_261_400
RESULTS = Path(__file__).resolve().parent / "results"
REPS_FILE = RESULTS / "target_trial_reps.csv"
REPORT_FILE = RESULTS / "target_trial.md"
#: Cohort options per design, passed when ``build_cohort`` takes them (helper B's API).
COHORT_OPTIONS: dict[str, dict[str, str]] = {
    "target_trial": {"risk_set": "week", "event_months": "day_after"},
    "legacy": {"risk_set": "month", "event_months": "index"},
}
#: What identifies a file's design: rows of another value must not be mixed into it.
FILE_IDENTITY = ("programme", "population", "pool")


# --------------------------------------------------------------------------------------------
# What the code offers (the target-trial APIs, detected so that older code still runs)
# --------------------------------------------------------------------------------------------


def capabilities() -> dict[str, bool]:
    """Which of the target-trial APIs the installed evalkit has."""
    from evalkit.analysis.utilisation import matched_cohort
    from evalkit.cohort import build_cohort
    from evalkit.synth import generate_county

    def takes(fn: Callable[..., Any], *names: str) -> bool:
        return set(names) <= set(inspect.signature(fn).parameters)

    return {
        "world": takes(generate_county, "world"),
        "risk_set": takes(build_cohort, "risk_set", "event_months"),
        "design": takes(matched_cohort, "design"),
    }


#: evalkit subpackages whose code decides a replication's numbers (fingerprinted per row).
ESTIMATE_CODE = ("synth", "cohort", "stats", "analysis")


def code_fingerprint() -> str:
    """SHA-256 (12 hex digits) of the evalkit modules that decide the estimates.

    Recorded on every row, and a file is resumed only by the same code: a study of 1,000
    replications must not mix generator or estimator versions (it would average them).
    """
    import hashlib

    import evalkit

    root = Path(evalkit.__file__).resolve().parent
    h = hashlib.sha256()
    for sub in ESTIMATE_CODE:
        for f in sorted((root / sub).rglob("*.py")):
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def design_impl(caps: dict[str, bool]) -> str:
    """What fitting a design runs: ``"current"``, ``"partial"`` or ``"older"``.

    ``current``: ``matched_cohort(design=)`` on a cohort built with the design's options;
    ``partial``: one of the two is missing; ``older``: code without either, which is the legacy
    design (for ``target_trial`` a stand-in that only times the pipeline).
    """
    have = caps["design"] + caps["risk_set"]
    return {2: "current", 1: "partial", 0: "older"}[have]


# --------------------------------------------------------------------------------------------
# One replication
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Replication:
    """One design fitted on one replication's county: what a metric reads."""

    world: str
    regime: str
    rep: int
    seed: int
    design: str
    truth: dict[str, Any]  # this county's synthetic_truth.json
    study: Any  # evalkit.analysis.Study (its data directory exists while metrics run)
    matched: Any  # evalkit.analysis.utilisation.MatchedCohort
    results: dict[tuple[str, int], Any] = field(default_factory=dict)  # UtilisationResult
    settings: tuple[str, ...] = ()  # outcomes, then negative controls present
    seconds: float = math.nan  # cohort, matching and models of this design

    def true_rate_ratio(self, setting: str, window: int) -> tuple[float, str]:
        """The truth's rate ratio and where it came from (a negative control's is 1)."""
        util = self.truth["programmes"][PROGRAMME]["utilisation"]
        rr = util.get(setting, {}).get("rate_ratio", {}).get(str(window))
        if rr is not None:
            return float(rr), "synthetic_truth"
        if setting in NEGATIVE_CONTROLS:
            return 1.0, "negative_control"
        return math.nan, "missing"


Metric = Callable[[Replication], dict[str, float]]
CellMetric = Callable[[Replication, str, int], dict[str, float]]


def _num(x: Any) -> float:
    """A float, NaN for None or anything not numeric."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def cohort_metric(r: Replication) -> dict[str, float]:
    """Participants, matched participants and their share, matched control units."""
    mc = r.matched
    n, k = mc.cohort.n_participants, mc.n_participants
    return {
        "participants": float(n),
        "matched": float(k),
        "matched_share": k / n if n else math.nan,
        "control_units": float(mc.n_controls),
        "candidate_rows": float(mc.cohort.n_candidate_rows),
    }


def referred_within(panel: pd.DataFrame, referrals: pd.DataFrame, months: int) -> float:
    """Share of control units whose person is referred within ``months`` of their index date.

    Design-free (it reads only the panel's units and the referrals table): how much censoring
    the target trial must handle, and how much later referral the legacy design ignores. A
    referral on ``[index_date, index_date + months)`` counts.
    """
    units = panel.loc[panel["referred"] == 0, ["unit", "person_id", "index_date"]]
    units = units.drop_duplicates("unit")
    if units.empty:
        return math.nan
    ref = referrals[["person_id", "referral_date"]].copy()
    ref["referral_date"] = pd.to_datetime(ref["referral_date"])
    j = units.assign(index_date=pd.to_datetime(units["index_date"])).merge(ref, on="person_id")
    end = j["index_date"] + pd.DateOffset(months=months)
    hit = j[(j["referral_date"] >= j["index_date"]) & (j["referral_date"] < end)]
    return hit["unit"].nunique() / len(units)


def censoring_metric(r: Replication) -> dict[str, float]:
    """Share of controls the design censored (its own figure) and the design-free share."""
    mc = r.matched
    whole = getattr(mc, "panel_uncensored", None)  # the target trial's panel before censoring
    own = getattr(mc, "controls_censored_share", None)
    if own is None:
        own = getattr(censoring_result(mc), "censored_share", None)
    return {
        "controls_censored_share": _num(own),
        "controls_censored_rows_share": _num(getattr(mc, "controls_censored_rows_share", None)),
        "controls_referred_12m_share": referred_within(
            mc.panel if whole is None else whole, r.study.referrals, 12
        ),
    }


#: Statistics of the censoring weights recorded (``IpcwResult.distribution`` keys).
IPCW_STATS = ("min", "p1", "median", "p99", "max", "mean")


def censoring_result(mc: Any) -> Any:
    """The matched cohort's censoring result (``IpcwResult``), if the design has one."""
    for name in ("censoring", "ipcw"):
        res = getattr(mc, name, None)
        if res is not None and hasattr(res, "distribution"):
            return res
    return None


def ipcw_metric(r: Replication) -> dict[str, float]:
    """The censoring weights' distribution before (``ipcw_raw_*``) and after truncation.

    Read from ``IpcwResult.distribution`` / ``distribution_used`` (uncensored rows); NaN where
    the design has no censoring weights (legacy). Also the rows truncated.
    """
    res = censoring_result(r.matched)
    out = {}
    for prefix, attr in (("ipcw_raw_", "distribution"), ("ipcw_", "distribution_used")):
        dist = getattr(res, attr, None) or {}
        out |= {prefix + k: _num(dist.get(k)) for k in IPCW_STATS}
    out["ipcw_truncated_rows"] = _num(getattr(res, "n_truncated", None))
    return out


def linear_metric(r: Replication, setting: str, window: int) -> dict[str, float]:
    """The linear DiD's events per participant over the window, with SE and its truth."""
    res = r.results[(setting, window)]
    util = r.truth["programmes"][PROGRAMME]["utilisation"].get(setting, {})
    true_diff = util.get("difference_per_person", {}).get(str(window))
    if true_diff is None and setting in NEGATIVE_CONTROLS:
        true_diff = 0.0
    return {
        "diff_estimate": res.linear.estimate * window,
        "diff_std_error": res.linear.std_error * window,
        "diff_truth": _num(true_diff),
    }


def naive_matched_metric(r: Replication, setting: str, window: int) -> dict[str, float]:
    """The naive pre/post on the matched participants only (the ``naive_prepost`` rows: all).

    Its gap to the matched DiD is regression to the mean among the same people; NaN where the
    code does not compute it.
    """
    nv = getattr(r.results[(setting, window)], "naive_matched", None)
    return {
        "naive_matched_estimate": _num(getattr(nv, "rate_ratio", None)),
        "naive_matched_std_error": _num(getattr(nv, "log_rr_std_error", None)),
    }


#: Per-replication metrics (module docstring: "Add a metric here").
METRICS: dict[str, Metric] = {
    "cohort": cohort_metric,
    "censoring": censoring_metric,
    "ipcw": ipcw_metric,
}
#: Per (setting, window) metrics.
CELL_METRICS: dict[str, CellMetric] = {
    "linear": linear_metric,
    "naive_matched": naive_matched_metric,
}


def _generate(out: Path, world: str, regime: str, seed: int, caps: dict[str, bool]) -> dict:
    """Generate the county; return its truth."""
    from evalkit import config
    from evalkit.synth import generate_county

    progs = config.load_programmes()
    generate_county(
        out,
        programmes={PROGRAMME: progs[PROGRAMME]},
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=POPULATION,
        seed=seed,
        regime=regime,
        fmt="parquet",
        progress=False,
        pool=POOL,
        **({"world": world} if caps["world"] else {}),
    )
    return json.loads((out / "synthetic_truth.json").read_text())


def study_programme(data_dir: Path) -> Any:
    """The programme config as the report uses it.

    Its ``outcomes.negative_controls`` names ``elective_admission``: the cohort counts it in
    the panels where the county's activity holds it (the hard world) and lists it as not in the
    data otherwise (the legacy world), so no setting is added here any more. ``data_dir`` is
    kept for callers; the cohort reads the data.
    """
    from evalkit import config

    prog = config.load_programmes()[PROGRAMME]
    missing = set(NEGATIVE_CONTROLS) - set(getattr(prog.outcomes, "negative_controls", []))
    if missing:
        raise SystemExit(f"{PROGRAMME}.yaml names no negative control {sorted(missing)}")
    return prog


def fit_design(study: Any, design: str, caps: dict[str, bool]) -> Any:
    """The design's matched cohort: the report's own path where ``design=`` exists.

    With ``matched_cohort(design=)`` the cohort is the one it builds for the design
    (``cohort_for(study, design)``); before it, the cohort is built here (with the design's
    options where ``build_cohort`` takes them), not taken from the study's cache, so that each
    design's seconds include its own cohort.
    """
    from evalkit.analysis.utilisation import matched_cohort
    from evalkit.cohort import build_cohort

    if caps["design"]:
        return matched_cohort(study, design=design)
    options = COHORT_OPTIONS[design] if caps["risk_set"] else {}
    cohort = build_cohort(study.data_dir, study.programme, unit_costs=study.unit_costs, **options)
    # Monthly risk sets are matched within their month (the config's default may be the week).
    exact = ["sex", "index_month"] if design == "legacy" else None
    return matched_cohort(study, cohort=cohort, exact=exact)


def design_rows(r: Replication, base: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of one fitted design: core columns, then every metric's."""
    extra: dict[str, float] = {}
    for fn in METRICS.values():
        extra.update(fn(r))
    rows = []
    for setting in r.settings:
        role = "negative_control" if setting in NEGATIVE_CONTROLS else "outcome"
        for window in WINDOWS:
            res = r.results[(setting, window)]
            truth, source = r.true_rate_ratio(setting, window)
            cell = {
                **base,
                "design": r.design,
                "setting": setting,
                "role": role,
                "window": window,
                "truth": truth,
                "truth_source": source,
                "estimand": getattr(res, "estimand", None) or getattr(r.matched, "estimand", ""),
                **extra,
            }
            for fn in CELL_METRICS.values():
                cell.update(fn(r, setting, window))
            p, nv = res.poisson, res.naive
            rows.append(
                {
                    **cell,
                    "method": "matched_did",
                    "estimate": p.estimate if p is not None else math.nan,
                    "std_error": p.std_error if p is not None else math.nan,
                    "ci_low": p.ci_low if p is not None else math.nan,
                    "ci_high": p.ci_high if p is not None else math.nan,
                }
            )
            rows.append(
                {
                    **cell,
                    "method": "naive_prepost",
                    "estimate": nv.rate_ratio,
                    "std_error": nv.log_rr_std_error,
                    "ci_low": nv.rr_ci_low,
                    "ci_high": nv.rr_ci_high,
                }
            )
    return rows


def replicate(
    world: str, regime: str, rep: int, designs: tuple[str, ...] = DESIGNS
) -> list[dict[str, Any]]:
    """Run one replication: one county, each of ``designs``; return its rows."""
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import utilisation

    caps = capabilities()
    seed = BASE_SEED + rep
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"tt_{world}_{regime}_{rep}_"))
    try:
        truth = _generate(tmp, world, regime, seed, caps)
        t_gen = time.perf_counter() - t0
        study = load_study(study_programme(tmp), tmp)
        base = {
            "world": world,
            "regime": regime,
            "rep": rep,
            "seed": seed,
            "programme": PROGRAMME,
            "population": POPULATION,
            "pool": POOL,
            "world_generated": truth.get("world", "unrecorded"),
            "people_written": truth.get("people_written", math.nan),
            "generate_seconds": t_gen,
        }
        rows = []
        for design in designs:
            t1 = time.perf_counter()
            mc = fit_design(study, design, caps)
            # The settings the panel counts: a negative control only where the county holds it
            # (the cohort counts the config's negative controls the activity data has).
            settings = tuple(s for s in (*OUTCOMES, *NEGATIVE_CONTROLS) if s in mc.panel)
            results = {(s, w): utilisation(mc, s, w) for s in settings for w in WINDOWS}
            secs = time.perf_counter() - t1
            r = Replication(
                world, regime, rep, seed, design, truth, study, mc, results, settings, secs
            )
            impl = {
                "design_impl": design_impl(caps),
                "code": code_fingerprint(),
                "design_seconds": secs,
            }
            rows += design_rows(r, {**base, **impl})
        total = time.perf_counter() - t0
        for row in rows:
            row["seconds"] = total
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Running and resuming
# --------------------------------------------------------------------------------------------


def done_keys(
    out: Path, caps: dict[str, bool], *, allow_code_change: bool = False
) -> set[tuple[str, str, int]]:
    """(world, regime, rep) already in ``out``; refuse a file of another design or code."""
    if not out.exists():
        return set()
    prev = pd.read_csv(out)
    want = {"programme": PROGRAMME, "population": POPULATION, "pool": POOL}
    for col in FILE_IDENTITY:
        have = set(prev[col].dropna().unique()) if col in prev else {None}
        if have != {want[col]}:
            raise SystemExit(f"{out} holds {col} {sorted(map(str, have))}, not {want[col]!r}")
    impl, have = design_impl(caps), set(prev["design_impl"].unique())
    if have != {impl}:
        raise SystemExit(
            f"{out} holds rows of {sorted(have)} code and this code runs {impl!r}: give another "
            "--out (rows of older code must not be mixed in)"
        )
    code = code_fingerprint()
    have = set(prev["code"].dropna().unique()) if "code" in prev else set()
    if have - {code} and not allow_code_change:
        raise SystemExit(
            f"{out} holds rows of evalkit code {sorted(have)} and this is {code}: the code that "
            "decides the estimates changed; give another --out, or --allow-code-change if the "
            "change cannot move a number (say so in the report)"
        )
    if caps["world"] and (prev["world_generated"] != prev["world"]).any():
        raise SystemExit(f"{out} holds counties generated before --world existed: another --out")
    return set(zip(prev["world"], prev["regime"], prev["rep"], strict=True))


def _record(future: Future, out: Path) -> bool:
    """Append a finished replication's rows to ``out``; False if it failed (reported)."""
    try:
        rows = future.result()
    except Exception as exc:  # a failed replication is reported, not retried
        print(f"replication failed: {exc!r}", flush=True)
        return False
    df = pd.DataFrame(rows)
    if out.exists():  # union of columns: files written before a metric was added resume
        df = pd.concat([pd.read_csv(out), df], ignore_index=True)
    tmp = out.with_suffix(".csv.tmp")
    df.to_csv(tmp, index=False)
    tmp.replace(out)
    r0 = rows[0]
    secs = {d: r["design_seconds"] for r in rows for d in [r["design"]]}
    print(
        f"{r0['world']} {r0['regime']} rep {r0['rep']}: {r0['seconds']:.1f} s (generation "
        f"{r0['generate_seconds']:.1f}; "
        + ", ".join(f"{d} {s:.1f}" for d, s in secs.items())
        + ")",
        flush=True,
    )
    return True


def run(
    reps: int,
    workers: int,
    out: Path,
    max_minutes: float | None,
    worlds: tuple[str, ...] = ("hard",),
    regimes: tuple[str, ...] = REGIMES,
    *,
    allow_code_change: bool = False,
    designs: tuple[str, ...] = DESIGNS,
) -> pd.DataFrame:
    """Run (or resume) the study; rows are appended to ``out`` as replications finish."""
    done = done_keys(out, capabilities(), allow_code_change=allow_code_change)
    # Interleaved, so a time-limited run has about as many replications of each.
    todo = [
        (w, g, r) for r in range(reps) for w in worlds for g in regimes if (w, g, r) not in done
    ]
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: set[Future] = set()
        it = iter(todo)

        def launch() -> None:
            if max_minutes is not None and time.perf_counter() - t0 > max_minutes * 60:
                return
            nxt = next(it, None)
            if nxt is not None:
                pending.add(pool.submit(replicate, *nxt, designs))

        for _ in range(workers):
            launch()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                pending.discard(f)
                _record(f, out)
                launch()
    return pd.read_csv(out) if out.exists() else pd.DataFrame()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000, help="replications per (world, regime)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-minutes", type=float, default=None, help="stop launching after this")
    ap.add_argument("--worlds", nargs="+", choices=WORLDS, default=["hard"])
    ap.add_argument("--regimes", nargs="+", choices=REGIMES, default=list(REGIMES))
    ap.add_argument(
        "--designs",
        nargs="+",
        choices=DESIGNS,
        default=list(DESIGNS),
        help="designs fitted per county (a file's legacy rows may come from an earlier run)",
    )
    ap.add_argument("--out", type=Path, default=REPS_FILE)
    ap.add_argument("--report", type=Path, default=REPORT_FILE)
    ap.add_argument("--summary-only", action="store_true", help="summarise the file, run none")
    ap.add_argument(
        "--allow-code-change",
        action="store_true",
        help="resume a file written by other evalkit code (synth, cohort, stats, analysis)",
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.summary_only:
        reps, wall = pd.read_csv(a.out), math.nan
    else:
        reps = run(
            a.reps,
            a.workers,
            a.out,
            a.max_minutes,
            tuple(a.worlds),
            tuple(a.regimes),
            allow_code_change=a.allow_code_change,
            designs=tuple(a.designs),
        )
        wall = (time.perf_counter() - t0) / 60
    reps = reps[reps["rep"] < a.reps]
    meta = {
        "reps_requested": a.reps,
        "wall_minutes": wall,
        "workers": a.workers,
        "command": "PYTHONPATH=src python bench/bench_target_trial.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "base_seed": BASE_SEED,
        "programme": PROGRAMME,
        "population": POPULATION,
    }
    table = summary.write_report(reps, a.report, meta)
    print(f"wrote {a.report} ({len(table)} summary rows)")


@pytest.mark.slow
def test_target_trial_acceptance_checks_pass_at_1000_replications() -> None:
    """The acceptance checks on the replications file (run the script first).

    Hard observables, target trial: coverage 93-97% and |bias| <= max(2.576 MCSE, 0.01) for
    emergency admissions and GP appointments at 6 and 12 months; hard realistic: naive |bias|
    above the DiD's by more than 2.576 MCSE. Asserted only with 1,000 replications per regime
    of the current code (``design_impl`` and ``world_generated``); otherwise skipped, saying how
    many there are.
    """
    reps = pd.read_csv(REPS_FILE) if REPS_FILE.exists() else pd.DataFrame()
    counts = summary.valid_replications(reps)
    if min(counts.values(), default=0) < summary.FULL_REPS:
        pytest.skip(
            f"{counts or 'no'} valid replications (hard world, target trial, current code) "
            f"in {REPS_FILE.name}, not {summary.FULL_REPS} per regime: run the script"
        )
    checks = summary.acceptance_checks(summary.valid_rows(reps)[lambda d: d["rep"] < 1000])
    failed = checks[checks["asserted"] & ~checks["passed"].astype(bool)]
    assert failed.empty, failed.to_string()


if __name__ == "__main__":
    main()

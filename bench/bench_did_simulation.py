"""Simulation study of the matched DiD and naive pre/post: bias, RMSE and CI coverage.

Each replication generates a seeded synthetic county at reduced scale (raw Parquet, one
programme's referrals, ``pool="eligible"``: only the programme's eligible pool of a county of
``population`` people is simulated and written, with referral calibrated to the whole county, so
participants, risk sets and truth are distributed as in the full county; see
``evalkit.synth.generate_county``), builds the programme's matched cohort at default settings
and estimates the rate ratio for
emergency admissions and GP appointments 6 months after referral against the 12 months before,
by the matched Poisson DiD and by the naive pre/post comparison. Against the replication's own
true rate ratio (``synthetic_truth.json``) it reports, per regime, method and setting: bias and
RMSE on the log scale, and 95% CI coverage, each with its Monte Carlo standard error.

With ``population=100,000`` a replication has about 170 participants (``mindsong``) and its
eligible pool about 8,000 people, which keeps a replication near 3-4 s per worker.

Script::

    PYTHONPATH=src python bench/bench_did_simulation.py --reps 1000 --workers 2 \
        --out bench/results/did_simulation_pool_reps.csv --report bench/results/did_simulation.md

``--max-minutes`` stops launching new replications after that wall time (the rows done so far
are kept and summarised, and the report states the number achieved). Re-running with the same
``--out`` resumes: finished (regime, replication) pairs are skipped.

Test (marker ``slow``): ``pytest bench/bench_did_simulation.py -m slow`` runs the summary checks
on the replications file when it holds the full 1,000 replications per regime, and otherwise
runs a short study and checks only that it produces finite figures.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

PROGRAMME = "mindsong"
SETTINGS = ("emergency_admission", "gp_appointment")
WINDOW = 6
REGIMES = ("observables", "realistic")
DEFAULT_POPULATION = 100_000
#: Generator pool: only the programme's eligible pool (reduced scale, same distributions).
POOL = "eligible"
REPS_FILE = "did_simulation_pool_reps.csv"
BASE_SEED = 20_240_000
#: The issue's acceptance band for the observables regime at 1,000 replications (the 99% Monte
#: Carlo band around 95%).
COVERAGE_BAND = (0.932, 0.968)
#: "Bias within Monte Carlo error of zero": |bias| below this many MCSEs, the same 99% Monte
#: Carlo level as the coverage band (fixed before the 0.3.0 replications were run).
BIAS_MCSE_LIMIT = 2.576
#: A propensity coefficient this large means the logistic fit diverged (separation).
DIVERGED_COEF = 100.0


def replicate(regime: str, rep: int, population: int, programme: str = PROGRAMME) -> list[dict]:
    """Run one replication; return one row per (setting, method).

    Parameters
    ----------
    regime : {"observables", "realistic"}
        Generator regime.
    rep : int
        Replication number; the seed is ``BASE_SEED + rep`` (the same seeds in both regimes).
    population : int
        People ever registered in the generated county.
    programme : str
        Programme slug whose referrals are generated and analysed.

    Returns
    -------
    list of dict
        Keys: regime, rep, seed, setting, method, estimate, std_error (log scale), ci_low,
        ci_high, truth (rate ratio), n_participants, n_matched, max_abs_smd_after (over
        covariates), separation (the propensity fit warned of separation), max_abs_coef
        (largest |coefficient| of the propensity model), seconds.
    """
    import json

    from evalkit import config
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import matched_cohort, utilisation
    from evalkit.synth import generate_county

    t0 = time.perf_counter()
    seed = BASE_SEED + rep
    tmp = Path(tempfile.mkdtemp(prefix=f"didsim_{regime}_{rep}_"))
    try:
        progs = config.load_programmes()
        generate_county(
            tmp,
            programmes={programme: progs[programme]},
            instrument_defs=config.instruments(),
            unit_costs=config.load_unit_costs(),
            population=population,
            seed=seed,
            regime=regime,
            fmt="parquet",
            progress=False,
            pool=POOL,
        )
        t_gen = time.perf_counter() - t0
        truth = json.loads((tmp / "synthetic_truth.json").read_text())
        util_truth = truth["programmes"][programme]["utilisation"]
        study = load_study(programme, tmp)
        mc = matched_cohort(study)
        bal = mc.match.balance().drop(index="distance")
        max_smd = float(bal["smd_after"].abs().max())
        # The propensity fit's own warning of (quasi-)complete separation, kept per replication
        # so that replications with a degenerate propensity model can be told apart.
        separation = any("separation" in n for n in mc.match.notes)
        params = mc.match.propensity_params
        max_coef = float(params.abs().max()) if params is not None else math.nan
        rows = []
        for setting in SETTINGS:
            res = utilisation(mc, setting, WINDOW)
            true_rr = float(util_truth[setting]["rate_ratio"][str(WINDOW)])
            base = {
                "regime": regime,
                "rep": rep,
                "seed": seed,
                "setting": setting,
                "truth": true_rr,
                "n_participants": mc.cohort.n_participants,
                "n_matched": mc.n_participants,
                "max_abs_smd_after": max_smd,
                "separation": separation,
                "max_abs_coef": max_coef,
                "population": population,
                "pool": POOL,
                "people_written": truth.get("people_written", math.nan),
            }
            if res.poisson is not None:
                p = res.poisson
                rows.append(
                    {
                        **base,
                        "method": "matched_did",
                        "estimate": p.estimate,
                        "std_error": p.std_error,
                        "ci_low": p.ci_low,
                        "ci_high": p.ci_high,
                    }
                )
            else:
                rows.append(
                    {
                        **base,
                        "method": "matched_did",
                        "estimate": np.nan,
                        "std_error": np.nan,
                        "ci_low": np.nan,
                        "ci_high": np.nan,
                    }
                )
            nv = res.naive
            rows.append(
                {
                    **base,
                    "method": "naive_prepost",
                    "estimate": nv.rate_ratio,
                    "std_error": nv.log_rr_std_error,
                    "ci_low": nv.rr_ci_low,
                    "ci_high": nv.rr_ci_high,
                }
            )
        secs = time.perf_counter() - t0
        for r in rows:
            r["seconds"] = secs
            r["generate_seconds"] = t_gen
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def summarise(reps: pd.DataFrame) -> pd.DataFrame:
    """Bias, RMSE and 95% CI coverage (log rate-ratio scale) with Monte Carlo SEs.

    Hand-written because these are plain means over replications; the Monte Carlo SEs follow
    Morris, White & Crowther (2019, Stat Med 38:2074), table 6: bias ``sd / sqrt(R)``, coverage
    ``sqrt(p (1 - p) / R)``, RMSE by the delta method on the MSE.
    """
    out = []
    for (regime, setting, method), g in reps.groupby(["regime", "setting", "method"], sort=True):
        ok = g.dropna(subset=["estimate", "ci_low", "ci_high"])
        ok = ok[np.isfinite(np.log(ok["estimate"].clip(lower=1e-300)))]
        n_rep = len(ok)
        err = np.log(ok["estimate"].to_numpy()) - np.log(ok["truth"].to_numpy())
        cover = ((ok["ci_low"] <= ok["truth"]) & (ok["truth"] <= ok["ci_high"])).to_numpy()
        bias = float(err.mean()) if n_rep else math.nan
        bias_mcse = float(err.std(ddof=1) / math.sqrt(n_rep)) if n_rep > 1 else math.nan
        mse = float((err**2).mean()) if n_rep else math.nan
        mse_mcse = float((err**2).std(ddof=1) / math.sqrt(n_rep)) if n_rep > 1 else math.nan
        rmse = math.sqrt(mse) if n_rep else math.nan
        cov = float(cover.mean()) if n_rep else math.nan
        out.append(
            {
                "regime": regime,
                "setting": setting,
                "method": method,
                "replications": n_rep,
                "not_estimable": int(len(g) - n_rep),
                "mean_truth_rr": float(ok["truth"].mean()) if n_rep else math.nan,
                "bias_log": bias,
                "bias_mcse": bias_mcse,
                "bias_over_mcse": bias / bias_mcse if n_rep > 1 and bias_mcse > 0 else math.nan,
                "rmse_log": rmse,
                "rmse_mcse": mse_mcse / (2 * rmse) if n_rep > 1 and rmse > 0 else math.nan,
                "mean_se_log": float(ok["std_error"].mean()) if n_rep else math.nan,
                "empirical_sd_log": float(err.std(ddof=1)) if n_rep > 1 else math.nan,
                "coverage": cov,
                "coverage_mcse": math.sqrt(cov * (1 - cov) / n_rep) if n_rep else math.nan,
            }
        )
    return pd.DataFrame(out)


def _markdown(table: pd.DataFrame, cols: list[str]) -> list[str]:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table[cols].iterrows():
        cells = [f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(reps: pd.DataFrame, table: pd.DataFrame, path: Path, meta: dict) -> None:
    """Write the markdown results table."""
    lines = [
        "# Simulation study: matched DiD and naive pre/post",
        "",
        f"Generated by `bench/bench_did_simulation.py` on {meta['date']}.",
        "",
        f"- Programme `{meta['programme']}`, county population {meta['population']:,} per "
        f"replication, of which only the programme's eligible pool (median "
        f'{meta["median_people"]:,.0f} people) is simulated (`pool="eligible"`) '
        f"(seed = {BASE_SEED} + replication), window {WINDOW} months vs the 12 "
        "before, default matching (3:1, caliper 0.2 SD of the logit, exact on sex and index "
        "month).",
        f"- Replications requested: {meta['reps_requested']} per regime; achieved: "
        + ", ".join(f"{r} {n}" for r, n in meta["achieved"].items())
        + (
            f" (wall time of this run {meta['wall_minutes']:.1f} min with {meta['workers']} "
            "worker(s); "
            if math.isfinite(meta["wall_minutes"])
            else " ("
        )
        + f"mean {meta['sec_per_rep']:.1f} s per replication per worker, of which "
        f"{meta['gen_sec_per_rep']:.1f} s generation).",
        f"- Participants per replication (cohort): median {meta['median_participants']:.0f}; "
        f"matched: median {meta['median_matched']:.0f}.",
        "- Scale: log rate ratio. Bias = mean(log estimate - log truth), truth = the "
        "replication's own `synthetic_truth.json` rate ratio; coverage = share of 95% CIs "
        "containing the truth. MCSE = Monte Carlo standard error (Morris et al. 2019).",
        "",
    ]
    if meta["achieved_min"] < 1000:
        lines += [
            f"**Incomplete:** only {meta['achieved_min']} replications per regime were run "
            "in the time available, not the 1,000 the issue requires; the acceptance band "
            "93.2-96.8% applies at 1,000 replications. Run "
            "`PYTHONPATH=src python bench/bench_did_simulation.py --reps 1000 --workers 2` "
            "to complete "
            "(it resumes from the replications file).",
            "",
        ]
    cols = [
        "regime",
        "setting",
        "method",
        "replications",
        "mean_truth_rr",
        "bias_log",
        "bias_mcse",
        "rmse_log",
        "rmse_mcse",
        "mean_se_log",
        "empirical_sd_log",
        "coverage",
        "coverage_mcse",
    ]
    lines += _markdown(table, cols)
    per_rep = reps.drop_duplicates(["regime", "rep"]).copy()
    per_rep["share_matched"] = per_rep["n_matched"] / per_rep["n_participants"]
    lines += ["", "## Matching per replication", ""]
    for regime, g in per_rep.groupby("regime"):
        line = (
            f"- {regime}: share of participants matched median {g['share_matched'].median():.3f} "
            f"(min {g['share_matched'].min():.3f}); all participants matched in "
            f"{int((g['share_matched'] == 1).sum())} of {len(g)} replications"
        )
        if "separation" in g and g["separation"].notna().any():
            known = g[g["separation"].notna()]
            line += (
                f"; propensity fit warned of separation in "
                f"{int(known['separation'].astype(bool).sum())} of {len(known)}; max |SMD| "
                f"after over covariates median {known['max_abs_smd_after'].median():.3f}"
            )
        lines.append(line + ".")
    if "max_abs_coef" in reps and reps["max_abs_coef"].notna().any():
        known = reps[reps["max_abs_coef"].notna()]
        clean = known[known["max_abs_coef"] < DIVERGED_COEF]
        n_bad = known.loc[known["max_abs_coef"] >= DIVERGED_COEF, "rep"].nunique()
        lines += [
            "",
            f"## Replications whose propensity coefficients stayed below {DIVERGED_COEF:g}",
            "",
            f"{n_bad} replication(s) had a propensity coefficient diverging (|b| >= "
            f"{DIVERGED_COEF:g}, the Newton fit stopping on a criterion relative to the "
            "largest coefficient); the table below leaves them out.",
            "",
        ]
        if len(clean):
            lines += _markdown(summarise(clean), cols)
    lines += ["", "## Checks (observables regime, matched DiD)", ""]
    if meta["achieved_min"] < 1000:
        lines += [
            f"Indicative only: at {meta['achieved_min']} replications the Monte Carlo SE of a "
            "95% coverage is about "
            f"{math.sqrt(0.95 * 0.05 / max(meta['achieved_min'], 1)):.3f}, so the band "
            "(built for 1,000) cannot yet be judged.",
            "",
        ]
    obs = table[(table["regime"] == "observables") & (table["method"] == "matched_did")]
    for _, r in obs.iterrows():
        in_band = COVERAGE_BAND[0] <= r["coverage"] <= COVERAGE_BAND[1]
        lines.append(
            f"- {r['setting']}: coverage {r['coverage']:.3f} (MCSE {r['coverage_mcse']:.3f}; "
            f"band 0.932-0.968 {'met' if in_band else 'NOT met'}), bias {r['bias_log']:+.4f} "
            f"= {r['bias_over_mcse']:+.2f} MCSE "
            f"({'within' if abs(r['bias_over_mcse']) < BIAS_MCSE_LIMIT else 'NOT within'} "
            f"{BIAS_MCSE_LIMIT} MCSE of zero, the 99% Monte Carlo band)"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _done_replications(out: Path, population: int) -> set[tuple[str, int]]:
    """(regime, rep) already in ``out``; refuse a file of another design."""
    if not out.exists():
        return set()
    prev = pd.read_csv(out)
    for col, want in (("population", population), ("pool", POOL)):
        have = set(prev[col].dropna().unique()) if col in prev else {None}
        if have != {want}:
            raise SystemExit(
                f"{out} holds replications with {col} {sorted(map(str, have))}, not {want!r}: "
                "give another --out (replications of different designs must not be mixed)"
            )
    return set(zip(prev["regime"], prev["rep"], strict=True))


def _record(future: Future, out: Path) -> bool:
    """Append a finished replication's rows to ``out`` and print a line.

    A failed replication is reported and False returned (no replacement is launched for it).
    """
    try:
        rows = future.result()
    except Exception as exc:  # a failed replication is reported
        print(f"replication failed: {exc!r}", flush=True)
        return False
    df = pd.DataFrame(rows)
    if out.exists():  # union of columns, so files from older versions resume
        df = pd.concat([pd.read_csv(out), df], ignore_index=True)
    df.to_csv(out, index=False)
    r0 = rows[0]
    print(
        f"{r0['regime']} rep {r0['rep']}: {r0['seconds']:.1f} s, "
        f"{r0['n_matched']}/{r0['n_participants']} matched",
        flush=True,
    )
    return True


def run(
    reps: int,
    workers: int,
    out: Path,
    population: int,
    max_minutes: float | None,
    regimes: tuple[str, ...] = REGIMES,
) -> pd.DataFrame:
    """Run (or resume) the study; rows are appended to ``out`` as replications finish."""
    done = _done_replications(out, population)
    # Interleave regimes so a time-limited run has as many replications in each.
    todo = [(g, r) for r in range(reps) for g in regimes if (g, r) not in done]
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = set()
        it = iter(todo)

        def launch() -> bool:
            if max_minutes is not None and time.perf_counter() - t0 > max_minutes * 60:
                return False
            nxt = next(it, None)
            if nxt is None:
                return False
            pending.add(pool.submit(replicate, nxt[0], nxt[1], population))
            return True

        for _ in range(workers):
            launch()
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                pending.discard(f)
                if _record(f, out):
                    launch()
    return pd.read_csv(out)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--population", type=int, default=DEFAULT_POPULATION)
    ap.add_argument("--max-minutes", type=float, default=None)
    ap.add_argument(
        "--regimes", nargs="+", choices=REGIMES, default=list(REGIMES), help="regimes to run"
    )
    ap.add_argument("--out", type=Path, default=Path("bench/results") / REPS_FILE)
    ap.add_argument("--report", type=Path, default=Path("bench/results/did_simulation.md"))
    ap.add_argument(
        "--summary-only", action="store_true", help="summarise the replications file, run none"
    )
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.summary_only:
        reps, wall = pd.read_csv(a.out), math.nan
    else:
        reps = run(a.reps, a.workers, a.out, a.population, a.max_minutes, tuple(a.regimes))
        wall = (time.perf_counter() - t0) / 60
    reps = reps[reps["rep"] < a.reps]
    table = summarise(reps)
    per_rep = reps.drop_duplicates(["regime", "rep"])
    achieved = per_rep.groupby("regime")["rep"].nunique().to_dict()
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "programme": PROGRAMME,
        "population": a.population,
        "reps_requested": a.reps,
        "achieved": achieved,
        "achieved_min": min(achieved.values()) if achieved else 0,
        "wall_minutes": wall,
        "workers": a.workers,
        "sec_per_rep": float(per_rep["seconds"].mean()),
        "gen_sec_per_rep": float(per_rep["generate_seconds"].mean()),
        "median_people": float(per_rep["people_written"].median()),
        "median_participants": float(per_rep["n_participants"].median()),
        "median_matched": float(per_rep["n_matched"].median()),
    }
    write_report(reps, table, a.report, meta)
    with pd.option_context("display.width", 200, "display.max_columns", 30):
        print(table.to_string(index=False))


@pytest.mark.slow
def test_did_simulation_observables_coverage_and_bias_within_mc_error() -> None:
    """Full study: observables coverage in 93.2-96.8% and bias within 2.576 MCSE of zero;
    realistic regime: naive pre/post clearly worse than the matched DiD (see the comments).

    Uses the replications file when it holds 1,000 per regime (run the script first);
    otherwise runs one replication per regime, checks only that the figures are finite and
    skips the acceptance checks, saying why.
    """
    path = Path(__file__).parent / "results" / REPS_FILE
    reps = pd.read_csv(path) if path.exists() else None
    n_min = (
        0
        if reps is None
        else reps.drop_duplicates(["regime", "rep"]).groupby("regime").size().min()
    )
    if n_min < 1000:
        rows = [r for g in REGIMES for r in replicate(g, 0, DEFAULT_POPULATION)]
        table = summarise(pd.DataFrame(rows))
        assert np.isfinite(table["bias_log"]).all()
        pytest.skip(f"{n_min} replications per regime on file, not 1,000: run the script")
    table = summarise(reps[reps["rep"] < 1000])
    obs = table[(table["regime"] == "observables") & (table["method"] == "matched_did")]
    for _, r in obs.iterrows():
        assert COVERAGE_BAND[0] <= r["coverage"] <= COVERAGE_BAND[1], r.to_dict()
        assert abs(r["bias_log"]) < BIAS_MCSE_LIMIT * r["bias_mcse"], r.to_dict()
    # Naive pre/post must be clearly worse than the matched DiD in the realistic regime: for
    # emergency admissions, where the regime's regression to the mean is large (about -0.23
    # log), on bias, RMSE and coverage; for GP appointments, where the generator's regression to
    # the mean is small (about -0.04 log, below one replication's SE), on bias and coverage.
    # Naive's RMSE for GP is about the DiD's or lower: without controls it has less variance,
    # which a small bias does not outweigh (reported in results/did_simulation.md).
    real = table[table["regime"] == "realistic"].set_index(["setting", "method"])
    for s in SETTINGS:
        naive, dd = real.loc[(s, "naive_prepost")], real.loc[(s, "matched_did")]
        assert abs(naive["bias_log"]) > abs(dd["bias_log"]), (s, real)
        assert naive["coverage"] < dd["coverage"], (s, real)
    ea_naive = real.loc[("emergency_admission", "naive_prepost")]
    ea_did = real.loc[("emergency_admission", "matched_did")]
    assert ea_naive["rmse_log"] > 1.2 * ea_did["rmse_log"], real


if __name__ == "__main__":
    main()

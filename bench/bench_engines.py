"""Benchmark: cohort + matching + the DiD set by county size and engine (the scaling curve).

For each population size (default 60 k, 200 k, 660 k and 2 M people; seed 42, the hard world as
``evalkit synth`` writes it, Parquet) the county is generated and taken through intake once
(cached under ``--cache``; synth and intake wall seconds recorded, intake being a target of its
own), then, in a fresh Python process per (size, engine), one programme's analysis is timed:

- ``cohort``: :func:`evalkit.cohort.build_cohort` (eligibility, index dates, weekly risk sets,
  covariates) on the engine;
- ``matching``: :func:`evalkit.analysis.utilisation.matched_cohort` (propensity model, matching,
  censoring weights, person-month panels built on the engine);
- ``did``: :func:`evalkit.analysis.utilisation.utilisation_all` (every setting and total cost at
  3, 6 and 12 months, Poisson and linear, naive beside).

Recorded per run: wall seconds per step, the process's peak resident memory (``ru_maxrss`` of the
child), the rows fetched into Python per stage (``evalkit.engine.fetch_log``), and for PostgreSQL
the load (``evalkit load``) time. DuckDB runs at every size; PostgreSQL and Spark at the sizes in
``--server-sizes`` (default 660 k). The check: t(2 M) <= 3.3 x t(660 k) on DuckDB.

Script (a PostgreSQL server from ``make postgres``; Java for Spark)::

    export EVALKIT_DATABASE_URL=postgresql://evalkit@127.0.0.1:54329/evalkit
    PYTHONPATH=src python bench/bench_engines.py --cache /tmp/evalkit_scale \
        --report bench/results/engines.md

Figures go to ``bench/results/engines.md`` and ``engines.json``; pause other work while timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIZES = (60_000, 200_000, 660_000, 2_000_000)
SEED = 42
SCALING_LIMIT = 3.3
ENGINE_ORDER = ("duckdb", "postgres", "spark")


def _cli(args: list[str]) -> float:
    """Run ``python -m evalkit.cli ARGS`` (this checkout's source); wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args],
        check=True,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def county(cache: Path, people: int) -> tuple[Path, dict[str, float]]:
    """Processed folder of a county of ``people`` (generated and taken in once, then cached)."""
    raw, processed = cache / f"county_{people}", cache / f"county_{people}_processed"
    timing_file = cache / f"county_{people}_timing.json"
    if not (processed / "intake_report.json").is_file():
        t_synth = _cli(
            [
                "synth",
                "--population",
                str(people),
                "--seed",
                str(SEED),
                "--format",
                "parquet",
                "--demo",
                str(raw),
                "--no-progress",
            ]
        )
        t_intake = _cli(
            ["intake", "--raw", str(raw), "--processed", str(processed), "--no-progress"]
        )
        timing_file.write_text(json.dumps({"synth": t_synth, "intake": t_intake}))
    return processed, json.loads(timing_file.read_text())


def worker(data: Path, engine_kind: str, programme: str) -> dict[str, Any]:
    """One timed analysis in this process (run by the parent as a child); returns the figures."""
    from evalkit import engine, engines
    from evalkit.analysis import load_study
    from evalkit.analysis.utilisation import matched_cohort, utilisation_all
    from evalkit.cohort import build_cohort

    choice = engines.choose(engine_kind)
    engines.use(choice)
    out: dict[str, Any] = {"engine": engine_kind, "programme": programme}
    t0 = time.perf_counter()
    loaded = engines.ensure_loaded(choice, data)
    out["load"] = time.perf_counter() - t0 if loaded else 0.0
    con = engines.connect(choice)
    study = load_study(programme, data, con=con)
    engine.fetch_log(reset=True)
    t0 = time.perf_counter()
    cohort = build_cohort(data, study.programme, unit_costs=study.unit_costs, con=con)
    out["cohort"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    mc = matched_cohort(study, cohort=cohort)
    out["matching"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = utilisation_all(mc)
    out["did"] = time.perf_counter() - t0
    out["total"] = out["cohort"] + out["matching"] + out["did"]
    out["participants"] = int(cohort.n_participants)
    out["candidate_rows"] = int(cohort.n_candidate_rows)
    out["matched"] = int(mc.n_participants)
    out["models"] = int(sum((r.poisson is not None) + 1 for r in results))
    out["primary_rr"] = [float(r.poisson.estimate) for r in results if r.poisson is not None][:1]
    # peak resident memory of this Python process (DuckDB runs inside it; a PostgreSQL server
    # and Spark's JVM are other processes, not counted)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["fetched"] = {
        k: {
            "rows": v["rows"],
            "largest": v["largest"],
            "calls": v["calls"],
            "activity_columns": "event_id" in v["columns"],
        }
        for k, v in engine.fetch_log().items()
    }
    return out


def run_child(data: Path, engine_kind: str, programme: str) -> dict[str, Any]:
    """Run :func:`worker` in a fresh process; adds its peak RSS (MB) and wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OPENBLAS_NUM_THREADS": "1"}
    cmd = [sys.executable, __file__, "--worker", str(data), engine_kind, programme]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"{engine_kind} on {data} failed (exit {proc.returncode})")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall"] = time.perf_counter() - t0
    return res


def write_report(rows: list[dict[str, Any]], path: Path) -> None:
    """The markdown table, the scaling check and the fetch bounds."""
    lines = [
        "# Engines and scale: cohort + matching + DiD set (bench/bench_engines.py)",
        "",
        f"Run on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; one fresh process per row; seed {SEED}, hard world, "
        "programme mindsong. Peak MB is the Python process's largest resident set (DuckDB runs "
        "inside it; the PostgreSQL server and Spark's JVM are other processes, not counted). "
        "The machine was shared with other work unless a note below says otherwise.",
        "",
        "| people | engine | synth s | intake s | load s | cohort s | matching s | DiD s (models) "
        "| total s | peak MB | participants | candidate rows | fetched rows (largest) | "
        "activity rows fetched |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fetched = sum(v["rows"] for v in r["fetched"].values())
        largest = max((v["largest"] for v in r["fetched"].values()), default=0)
        activity = any(v["activity_columns"] for v in r["fetched"].values())
        lines.append(
            f"| {r['people']:,} | {r['engine']} | {r['synth']:.0f} | {r['intake']:.1f} "
            f"| {r['load']:.1f} | {r['cohort']:.1f} | {r['matching']:.1f} "
            f"| {r['did']:.1f} ({r['models']}) | {r['total']:.1f} | {r['peak_mb']:,.0f} "
            f"| {r['participants']:,} | {r['candidate_rows']:,} | {fetched:,} ({largest:,}) "
            f"| {'YES' if activity else 'none'} |"
        )
    duck = {r["people"]: r["total"] for r in rows if r["engine"] == "duckdb"}
    lines.append("")
    if 660_000 in duck and 2_000_000 in duck:
        ratio = duck[2_000_000] / duck[660_000]
        verdict = "met" if ratio <= SCALING_LIMIT else "NOT met"
        lines.append(
            f"Scaling on DuckDB: t(2 M) / t(660 k) = {duck[2_000_000]:.1f} / {duck[660_000]:.1f} "
            f"= {ratio:.2f} (limit {SCALING_LIMIT}: {verdict}; 2 M / 660 k people = 3.03)."
        )
    same = {}
    for r in rows:
        same.setdefault(r["people"], set()).add(
            (r["participants"], r["candidate_rows"], r["matched"], tuple(r["primary_rr"]))
        )
    lines.append(
        "Same cohort, matches and first rate ratio on every engine at each size: "
        + ", ".join(f"{n:,}: {'yes' if len(v) == 1 else 'NO'}" for n, v in sorted(same.items()))
        + "."
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps(rows, indent=1))


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        print(json.dumps(worker(Path(argv[1]), argv[2], argv[3])), flush=True)
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/evalkit_scale"))
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--server-sizes", type=int, nargs="*", default=[660_000])
    ap.add_argument("--engines", nargs="+", default=["duckdb", "postgres", "spark"])
    ap.add_argument("--programme", default="mindsong")
    ap.add_argument("--report", type=Path, default=ROOT / "bench/results/engines.md")
    ap.add_argument("--fresh", action="store_true", help="drop the rows of earlier runs")
    a = ap.parse_args(argv)
    a.cache.mkdir(parents=True, exist_ok=True)
    # rows of earlier runs are kept unless this run measures the same (people, engine) again
    old = a.report.with_suffix(".json")
    rows = json.loads(old.read_text()) if old.is_file() and not a.fresh else []
    for people in a.sizes:
        data, timing = county(a.cache, people)
        for kind in a.engines:
            if kind != "duckdb" and people not in a.server_sizes:
                continue
            res = run_child(data, kind, a.programme)
            res.update(people=people, **timing)
            rows = [r for r in rows if (r["people"], r["engine"]) != (people, kind)] + [res]
            rows.sort(key=lambda r: (r["people"], ENGINE_ORDER.index(r["engine"])))
            print(json.dumps({k: v for k, v in res.items() if k != "fetched"}), flush=True)
            write_report(rows, a.report)


if __name__ == "__main__":
    main()

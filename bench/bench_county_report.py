"""Benchmark: the mindsong report at county scale, this code against an earlier commit.

Each variant is a (code, world) pair: the evalkit source tree to run (this checkout, or a git
worktree of an earlier commit) and the synthetic world its county is generated in. For each
variant, in one run on the same machine: the county (660,000 people, seed 42, Parquet) is
generated and taken through intake by that code, then ``evalkit report --programme mindsong`` is
timed (wall seconds, the intake already done) with the report's own stage lines and the
executed notebook's slowest cells (papermill's per-cell durations), which is the profile.

Script::

    git worktree add /tmp/evalkit_before 64ed8ac      # the last commit before the target trial
    PYTHONPATH=src python bench/bench_county_report.py \
        --variant before=/tmp/evalkit_before:legacy --variant now=.:hard \
        --variant now_legacy=.:legacy

Figures go to ``bench/results/county_report.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAMME = "mindsong"
SEED = 42


def _run(code: Path, args: list[str], cwd: Path) -> tuple[float, str]:
    """Run ``python -m evalkit.cli ARGS`` on the source tree ``code``; wall seconds, output."""
    env = {**os.environ, "PYTHONPATH": str(code / "src"), "OPENBLAS_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    secs = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({code}):\n{done.stdout}\n{done.stderr}")
    return secs, done.stdout


def _takes_world(code: Path, cwd: Path) -> bool:
    env = {**os.environ, "PYTHONPATH": str(code / "src")}
    out = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", "synth", "--help"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "--world" in out


def slowest_cells(notebook: Path, n: int = 8) -> list[tuple[float, str]]:
    """The ``n`` slowest code cells of an executed notebook (papermill's durations)."""
    if not notebook.exists():
        return []
    nb = json.loads(notebook.read_text())
    cells = []
    for c in nb["cells"]:
        dur = c.get("metadata", {}).get("papermill", {}).get("duration")
        if c["cell_type"] == "code" and dur is not None:
            first = next((ln for ln in "".join(c["source"]).splitlines() if ln.strip()), "")
            cells.append((float(dur), first[:70]))
    return sorted(cells, reverse=True)[:n]


def variant(name: str, code: Path, world: str, work: Path) -> dict:
    """Generate, take in and report one variant; its timings."""
    raw, proc, out = work / f"{name}_raw", work / f"{name}_proc", work / f"{name}_reports"
    synth = ["synth", "--scale", "county", "--seed", str(SEED), "--out", str(raw)]
    synth += ["--format", "parquet", "--no-progress"]
    if _takes_world(code, code):
        synth += ["--world", world]
    elif world != "legacy":
        raise SystemExit(f"{code} has no --world: it generates the legacy world only")
    t_synth, _ = _run(code, synth, code)
    t_intake, _ = _run(code, ["intake", "--raw", str(raw), "--out", str(proc)], code)
    args = ["report", "--programme", PROGRAMME, "--raw", str(raw), "--processed", str(proc)]
    t_report, stdout = _run(code, [*args, "--out", str(out), "--no-progress"], code)
    commit = subprocess.run(
        ["git", "-C", str(code), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "name": name,
        "code": str(code),
        "commit": commit,
        "world": world,
        "synth_s": t_synth,
        "intake_s": t_intake,
        "report_s": t_report,
        "stages": [ln for ln in stdout.splitlines() if ln.startswith(f"[{PROGRAMME}]")],
        "cells": slowest_cells(out / PROGRAMME / "notebook.ipynb"),
    }


def write(results: list[dict], path: Path, command: str) -> None:
    """The markdown report."""
    lines = [
        "# County report timing: mindsong at 660,000 people, this code against earlier code",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        "2-core machine, nothing else running. Wall seconds; the report's time excludes synth "
        "and intake (`evalkit report` on processed data).",
        "",
        "| variant | commit | world | synth s | intake s | report s | vs first |",
        "|---|---|---|---|---|---|---|",
    ]
    base = results[0]["report_s"]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['commit']} | {r['world']} | {r['synth_s']:.1f} | "
            f"{r['intake_s']:.1f} | {r['report_s']:.1f} | {r['report_s'] / base - 1:+.0%} |"
        )
    for r in results:
        lines += ["", f"## {r['name']}: the report's stages and slowest notebook cells", ""]
        lines += [f"- `{s}`" for s in r["stages"]]
        lines += [f"- {d:.1f} s: `{src}`" for d, src in r["cells"]]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", required=True, help="NAME=CODE_DIR:WORLD")
    ap.add_argument("--report", type=Path, default=ROOT / "bench/results/county_report.md")
    a = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="county_report_"))
    try:
        results = []
        for spec in a.variant:
            name, rest = spec.split("=", 1)
            code, world = rest.rsplit(":", 1)
            results.append(variant(name, Path(code).resolve(), world, work))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "cells"}), flush=True)
        cmd = "PYTHONPATH=src python bench/bench_county_report.py " + " ".join(
            f"--variant {v}" for v in a.variant
        )
        write(results, a.report, cmd)
        print(f"wrote {a.report}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark: synthetic county generation + intake, wall time and peak memory.

Runs ``evalkit synth`` and ``evalkit intake`` as separate processes under ``/usr/bin/time -v``
(peak resident memory of each process) at demo and county scale, and writes a markdown table to
``bench/results/synth_intake.md``. Targets (2-core machine): demo under 20 s; county
under 3 minutes and under 6 GB peak memory.

Usage::

    python bench/bench_synth_intake.py                 # demo and county
    python bench/bench_synth_intake.py --scales demo   # demo only
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return wall, rss_kb / 1024**2


def run(scale: str, fmt: str, work: Path) -> dict[str, float]:
    """Generate and take in one county; return timings and memory."""
    raw, processed = work / f"{scale}_raw", work / f"{scale}_processed"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.rmtree(processed, ignore_errors=True)
    exe = [sys.executable, "-m", "evalkit.cli"]
    g_wall, g_mem = _timed(
        [*exe, "synth", "--scale", scale, "--format", fmt, "--demo", str(raw), "--no-progress"]
    )
    i_wall, i_mem = _timed(
        [*exe, "intake", "--raw", str(raw), "--processed", str(processed), "--no-progress"]
    )
    return {"generate_s": g_wall, "generate_gb": g_mem, "intake_s": i_wall, "intake_gb": i_mem}


def main() -> None:
    """Run the benchmark and write the results table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scales", nargs="+", default=["demo", "county"])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            fmt = "parquet" if scale == "county" else "csv"
            r = run(scale, fmt, Path(tmp))
            total = r["generate_s"] + r["intake_s"]
            rows.append(
                f"| {scale} ({fmt}) | {r['generate_s']:.1f} | {r['intake_s']:.1f} | {total:.1f} "
                f"| {r['generate_gb']:.2f} | {r['intake_gb']:.2f} |"
            )
            print(rows[-1], flush=True)
    table = "\n".join(
        [
            "| scale | generate (s) | intake (s) | total (s) | generate peak (GB) | "
            "intake peak (GB) |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "synth_intake.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()

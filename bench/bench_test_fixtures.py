"""Benchmark: CPU cost of the matched cohorts the analysis tests share (tests/conftest.py).

One ``load_study`` + ``matched_cohort`` per programme (target trial) and mindsong's legacy
design, on the processed demo county (seed 42), timed with ``time.process_time`` (CPU seconds of
the process and its threads, which a busy machine changes little). The figures are in
``bench/results/test_timing.md``: each build the tests no longer repeat saves this much.

Script::

    python bench/bench_test_fixtures.py                  # generates the demo county first
    python bench/bench_test_fixtures.py PROCESSED_DIR    # an existing intake output
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from evalkit import config
from evalkit.analysis import load_study
from evalkit.analysis.utilisation import matched_cohort
from evalkit.intake import run_intake
from evalkit.synth import generate_county

BUILDS = [
    ("mindsong", "target_trial"),
    ("cyp", "target_trial"),
    ("chronic_pain", "target_trial"),
    ("mindsong", "legacy"),
]


def demo_processed(root: Path) -> Path:
    """The demo county (seed 42, Parquet) and its intake under ``root``."""
    generate_county(
        root / "raw",
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        fmt="parquet",
        progress=False,
    )
    run_intake(root / "raw", root / "processed", progress=False)
    return root / "processed"


def main(argv: list[str]) -> None:
    """Print the CPU and wall seconds of each build."""
    with tempfile.TemporaryDirectory() as tmp:
        processed = Path(argv[0]) if argv else demo_processed(Path(tmp))
        for slug, design in BUILDS:
            cpu, wall = time.process_time(), time.perf_counter()
            matched_cohort(load_study(slug, processed), design=design)
            print(
                f"{slug} {design}: CPU {time.process_time() - cpu:.1f} s, "
                f"wall {time.perf_counter() - wall:.1f} s",
                flush=True,
            )


if __name__ == "__main__":
    main(sys.argv[1:])

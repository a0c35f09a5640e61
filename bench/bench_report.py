"""Benchmark: `make report` on the demo county, wall time from nothing but the environment.

The 0.2 release's targets, on the 2-core machine with `.venv` already built:

- `make report PROGRAMME=mindsong` in an empty project folder (so the demo county is generated
  and taken through intake first) in under 60 s;
- all three programmes (`make reports` from the same empty start) in under 3 minutes.

Each run is a fresh temporary copy of the project's config (programmes/, notebooks/) with empty
`data/` and `reports/`, driven through the real Makefile targets so nothing is skipped. The
figures go to `bench/results/report_timing.md`.

Script::

    python bench/bench_report.py            # both measurements
    python bench/bench_report.py --only one # mindsong only
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"one": 60.0, "all": 180.0}


def _project_copy(where: Path) -> Path:
    """A minimal project tree: Makefile, config, notebooks and the existing .venv (linked)."""
    proj = where / "proj"
    proj.mkdir()
    for name in (
        "Makefile",
        "pyproject.toml",
        "requirements.lock",
        "programmes",
        "notebooks",
        "scripts",
    ):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, proj / name)
    (proj / ".venv").symlink_to(ROOT / ".venv")
    for sub in ("data/raw", "data/processed", "reports"):
        (proj / sub).mkdir(parents=True)
    # The venv's stamp is newer than these copies, so make does not rebuild it.
    stamp = ROOT / ".venv" / ".stamp"
    if stamp.exists():
        t = stamp.stat().st_mtime - 60
        for name in (
            "pyproject.toml",
            "requirements.lock",
            "scripts/venv.sh",
            "scripts/lockdiff.py",
        ):
            if (proj / name).exists():
                os.utime(proj / name, (t, t))
    return proj


def _run(target: list[str], where: Path) -> float:
    with tempfile.TemporaryDirectory(dir=where) as tmp:
        proj = _project_copy(Path(tmp))
        env = {**os.environ, "EVALKIT_ROOT": str(proj), "MPLBACKEND": "Agg"}
        t0 = time.perf_counter()
        subprocess.run(
            ["make", *target, "--no-print-directory"],
            cwd=proj,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - t0
        assert (proj / "reports" / "mindsong" / "index.html").exists()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["one", "all"], default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "report_timing.md")
    args = parser.parse_args()
    if not (ROOT / ".venv" / "bin" / "evalkit").exists():
        raise SystemExit("build the environment first: make venv")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "one"):
            rows.append(
                (
                    "make report PROGRAMME=mindsong",
                    _run(["report", "PROGRAMME=mindsong"], Path(tmp)),
                    "one",
                )
            )
        if args.only in (None, "all"):
            rows.append(("make reports (3 programmes)", _run(["reports"], Path(tmp)), "all"))
    lines = [
        "# Report timing (bench/bench_report.py)",
        "",
        f"{os.cpu_count()} CPU(s); empty data/ and reports/; .venv already built.",
        "",
        "| command | wall time (s) | target (s) | met |",
        "|---|---|---|---|",
    ]
    for label, secs, key in rows:
        lines.append(
            f"| `{label}` | {secs:.1f} | {TARGETS[key]:.0f} | "
            f"{'yes' if secs < TARGETS[key] else 'NO'} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()

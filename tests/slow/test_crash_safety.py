"""Killed builds (issue #20 item 4, marker ``slow``): SIGKILL at seeded writes and at the swap.

``intake`` and ``report`` run in a child process with the test hook
:func:`evalkit.files.crash_point` armed (``EVALKIT_CRASH_AT``): the k-th write into a staging or
work folder, or the k-th step of the final swap (a report's folder swap, intake's undoable
moves), SIGKILLs the build, and for a report also its notebook kernel. One clean build first
counts the points; then 20 seeded points per build (always including the last one, after the
swap) are each killed once, in one sequence on the same output folder, and after each kill:

- the previous outputs are intact (intake: after the leftovers are cleaned as the next run
  does first, the folder holds exactly the previous run's files, or, killed after its last
  move, exactly the new run's; a report: the folder is byte for byte the previous one, or, when
  killed between the swap's two renames, it waits beside it as ``.<slug>-old``);
- ``evalkit check`` finds nothing in the report whenever there is one (the kill's leftovers are
  findings of their own: a staging folder is never published, and the next run removes it);
- the leftovers of the kill before are gone (the next run removed them under the lock);

and a last, unkilled run leaves no hidden entry and gives byte-identical results. The county
is small (12,000 people, seed 7); the report is mindsong's cut to 8 participants (a small
programme's report: reach, pathway, referrals over time), so each build takes seconds.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from evalkit.files import CRASH_ENV, clean_leftovers
from evalkit.intake import run as intake_run
from evalkit.reporting.checker import LEFTOVER_KIND
from evalkit.reporting.pipeline import check_reports
from helpers.shared import shared_dir
from helpers.small_county import generate

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROGRAMME = "mindsong"
KILLS = 20
SEED = 20  # the kill points' seed
INTAKE = (
    "import sys; from evalkit.intake import run_intake; run_intake(*sys.argv[1:3], progress=False)"
)
REPORT = "import sys; from evalkit.reporting import render_report; render_report(*sys.argv[1:4])"
#: Files of a report that are not results: the executed notebook records cell timings.
VOLATILE = ("notebook.ipynb",)
INJECTED_ID = re.compile(rb'(celltag_injected-parameters" id=")cell-id=[0-9a-f-]+')


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12,000-person county: ``raw/`` and ``processed/``."""
    return shared_dir(tmp_path_factory, "crash_county12k", generate)


def _cut_referrals(referrals: pd.DataFrame, n: int) -> pd.DataFrame:
    """Every referral except mindsong's, whose people are cut to ``n`` (fixed random subset)."""
    people = referrals.loc[referrals["programme"] == PROGRAMME, "person_id"].drop_duplicates()
    kept = set(people.sort_values().sample(n=n, random_state=0))
    return referrals[(referrals["programme"] != PROGRAMME) | referrals["person_id"].isin(kept)]


def _run(code: str, *args: Path, crash: tuple[int, Path] | None = None) -> int:
    """Run ``code`` in a child process (its own session); the return code (-9: SIGKILL)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop(CRASH_ENV, None)
    if crash is not None:
        crash[1].unlink(missing_ok=True)
        env[CRASH_ENV] = f"{crash[0]}:{crash[1]}"
    run = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        start_new_session=True,
        check=False,
        timeout=1800,
    )
    if run.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"build failed ({run.returncode}):\n{run.stderr[-3000:]}")
    return run.returncode


def _files(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``folder`` outside hidden entries, by relative path.

    In ``index.html`` the id of papermill's injected-parameters cell is replaced: papermill
    draws it at random on every run (the page's only bytes that differ between two builds).
    """
    out = {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.name not in skip
    }
    if "index.html" in out:
        out["index.html"] = INJECTED_ID.sub(rb"\1cell-id=injected", out["index.html"])
    return out


def _leftovers(folder: Path) -> set[tuple[str, int, int]]:
    """Hidden entries of ``folder`` but lock files (a killed holder's is reused, not left).

    By name, inode and change time: a later kill at the swap leaves a new ``.<slug>-old``.
    """
    return {
        (p.name, p.stat().st_ino, p.stat().st_ctime_ns)
        for p in folder.iterdir()
        if p.name.startswith(".") and p.suffix != ".lock"
    }


def _points(n: int) -> list[int]:
    """KILLS seeded kill points of 1..n: the last one (after the swap) and KILLS - 1 others."""
    rng = random.Random(SEED)
    others = list(range(1, n))
    picked = rng.sample(others, min(KILLS - 1, len(others)))
    picked += rng.choices(others, k=KILLS - 1 - len(picked))  # fewer points than kills
    return [*sorted(picked), n]


def _count(code: str, *args: Path, counter: Path) -> int:
    """Crash points in one clean build (k = 0 only counts)."""
    assert _run(code, *args, crash=(0, counter)) == 0
    return counter.stat().st_size


def _recovered(folder: Path, scratch: Path, clean: Callable[[Path], object]) -> Path:
    """A copy of ``folder`` after ``clean`` (what the next run does first, under the lock)."""
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(folder, scratch, symlinks=True)
    clean(scratch)
    return scratch


def test_intake_killed_at_seeded_points_keeps_outputs_whole(county: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    raw_new = county / "raw"
    raw_old = tmp_path / "raw_old"  # the previous extract: 20 referrals fewer
    raw_old.mkdir()
    for f in raw_new.iterdir():
        if f.name != "referrals.parquet":
            (raw_old / f.name).symlink_to(f.resolve())
    ref = pd.read_parquet(raw_new / "referrals.parquet")
    ref.iloc[:-20].to_parquet(raw_old / "referrals.parquet", index=False)

    out, counter = tmp_path / "processed", tmp_path / "counter"
    n = _count(INTAKE, raw_new, out, counter=counter)
    new = _files(out)
    shutil.rmtree(out)
    assert _run(INTAKE, raw_old, out) == 0
    old = _files(out)
    assert old != new

    last: set[tuple[str, int, int]] = set()
    outcomes = []
    for k in _points(n):
        assert _run(INTAKE, raw_new, out, crash=(k, counter)) == -signal.SIGKILL, k
        left = _leftovers(out)
        assert left and not (last & left), f"kill at {k}: {last & left} left by the kill before"
        now = _files(_recovered(out, tmp_path / "scratch", intake_run._clean_work))
        assert now in (old, new), f"kill at {k}: a mix of the previous and the new outputs"
        assert now == old or k == n, f"kill at {k}: the new outputs in place before the end"
        outcomes.append("previous" if now == old else "new")
        last = left
    assert _run(INTAKE, raw_new, out) == 0
    assert _files(out) == new, "a killed sequence changed the results"
    assert {p.name for p in out.iterdir() if p.name.startswith(".")} == set()
    print(
        f"\nintake: {n} crash points, {KILLS} kills at {_points(n)}: outputs after clean-up "
        f"{outcomes.count('previous')} previous, {outcomes.count('new')} new; "
        f"{time.monotonic() - started:.0f} s"
    )


def _in_leftover(reports: Path, path: str) -> bool:
    """Whether a finding's file is in (or is) a killed build's hidden folder."""
    return Path(path).relative_to(reports).parts[0].startswith(".")


def test_report_killed_at_seeded_points_keeps_the_previous_report(
    county: Path, tmp_path: Path
) -> None:
    started = time.monotonic()
    processed = tmp_path / "processed"
    shutil.copytree(
        county / "processed", processed, ignore=shutil.ignore_patterns("referrals.parquet")
    )
    ref = pd.read_parquet(county / "processed" / "referrals.parquet")
    _cut_referrals(ref, 8).to_parquet(processed / "referrals.parquet", index=False)

    reports, counter = tmp_path / "reports", tmp_path / "counter"
    target = reports / PROGRAMME
    n = _count(REPORT, PROGRAMME, processed, reports, counter=counter)
    previous = _files(target, skip=VOLATILE)

    def clean(folder: Path) -> None:
        clean_leftovers(folder, [f".{PROGRAMME}-staging-*"], swapped=PROGRAMME)

    last: set[tuple[str, int, int]] = set()
    between = 0
    for k in _points(n):
        assert _run(REPORT, PROGRAMME, processed, reports, crash=(k, counter)) == -signal.SIGKILL
        left = _leftovers(reports)
        assert not (last & left), f"kill at {k}: {last & left} left by the kill before"
        if target.exists():
            assert _files(target, skip=VOLATILE) == previous, f"kill at {k}: report changed"
            slugs = sorted(p.parent.name for p in reports.glob("*/results.json"))  # as the CLI
            check = check_reports(reports, slugs, processed)
            published = [f for f in check.findings if not _in_leftover(reports, f.path)]
            assert not published, f"kill at {k}: {check.summary()}"
            hidden = {p.name for p in reports.iterdir() if p.is_dir() and p.name.startswith(".")}
            named = {Path(f.path).name for f in check.findings if f.kind == LEFTOVER_KIND}
            assert named == hidden, f"kill at {k}: leftovers {hidden}, named {named}"
        else:  # killed between the swap's two renames: the previous report waits beside it
            between += 1
            assert _files(reports / f".{PROGRAMME}-old", skip=VOLATILE) == previous
        recovered = _recovered(reports, tmp_path / "scratch", clean)
        assert _files(recovered / PROGRAMME, skip=VOLATILE) == previous, f"kill at {k}"
        last = left
    assert _run(REPORT, PROGRAMME, processed, reports) == 0
    assert _files(target, skip=VOLATILE) == previous, "a killed sequence changed the report"
    assert {p.name for p in reports.iterdir() if p.name.startswith(".")} == set()
    print(
        f"\nreport: {n} crash points, {KILLS} kills at {_points(n)} ({between} between the swap's "
        f"renames); {time.monotonic() - started:.0f} s"
    )

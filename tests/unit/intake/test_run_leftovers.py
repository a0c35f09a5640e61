"""A killed intake's work folder (issue #20 item 4): undone and removed by the next run, under
the output folder's lock (``docs/decisions/crash-safety.md``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evalkit.files import MOVES_FILE, build_lock
from evalkit.intake import IntakeError, is_stale, run_intake
from evalkit.intake import run as intake_run
from evalkit.intake.example import (
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

KW = example_kw(validate=False)


def _outputs(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.relative_to(out).parts[0].startswith(".")
    }


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """The example extract's raw folder and the outputs of one intake of it."""
    root = tmp_path_factory.mktemp("leftovers")
    write_tables(example_tables(), root / "raw", "csv")
    run_intake(root / "raw", root / "out", **KW)
    return root / "raw", _outputs(root / "out")


def _killed_half_way(out: Path, outputs: dict[str, bytes]) -> Path:
    """``out`` as a run killed while moving its files in leaves it: two files new, one aside."""
    for name, data in outputs.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    work = out / ".intake-work-0123456789ab"
    undo = work / "undo"
    names = ["quarantine/population.parquet", "population.parquet", "referrals.parquet"]
    had = {n: (out / n).exists() for n in names}
    (undo / "previous").mkdir(parents=True)
    (undo / MOVES_FILE).write_text(json.dumps({"names": names, "had_previous": had}))
    for name in names[:2]:
        (undo / "previous" / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(out / name, undo / "previous" / name)
        (out / name).write_bytes(b"the killed run's new file")
    os.replace(out / names[2], undo / "previous" / names[2])  # killed between the two renames
    (work / "spill").mkdir()
    return work


def test_killed_intake_work_folder_is_undone_exactly(previous, tmp_path: Path) -> None:
    _, outputs = previous
    out = tmp_path / "out"
    _killed_half_way(out, outputs)
    assert _outputs(out) != outputs
    intake_run._clean_work(out)
    assert _outputs(out) == outputs
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_killed_intake_makes_it_stale_and_the_next_run_leaves_nothing(
    previous, tmp_path: Path
) -> None:
    raw, outputs = previous
    out = tmp_path / "out"
    _killed_half_way(out, outputs)
    assert is_stale(raw, out)
    run_intake(raw, out, **KW)
    assert _outputs(out) == outputs
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []
    assert not is_stale(raw, out)


def test_intake_while_another_runs_fails_after_the_timeout_naming_the_folder(
    previous, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, _ = previous
    out = tmp_path / "out"
    monkeypatch.setattr(intake_run, "LOCK_TIMEOUT", 0.3)
    with build_lock(out, "intake"), pytest.raises(IntakeError) as err:
        run_intake(raw, out, **KW)
    assert str(err.value).startswith(f"{out}: another build of intake")
    assert list(out.iterdir()) == []  # nothing written, and the lock file gone with the lock

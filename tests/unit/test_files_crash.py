"""Crash safety (issue #20 item 4): the build lock, leftovers of killed runs, undoable moves.

Fast checks of the pieces in :mod:`evalkit.files`; the SIGKILL study of whole intake and report
builds is ``tests/slow/test_crash_safety.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from evalkit import files
from evalkit.files import (
    CRASH_ENV,
    LockTimeout,
    build_lock,
    clean_leftovers,
    move_into,
    undo_moves,
    write_text,
)

HOLD = textwrap.dedent(
    """
    import sys, time
    from evalkit.files import build_lock
    folder, log, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with build_lock(folder, "mindsong"):
        with open(log, "a") as f:
            f.write(f"start {time.monotonic()}\\n")
        time.sleep(hold)
        with open(log, "a") as f:
            f.write(f"end {time.monotonic()}\\n")
    """
)


def _holder(folder: Path, log: Path, hold: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), str(log), str(hold)],
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in (path.read_text() if path.exists() else ""):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.02)


def test_build_lock_serialises_two_processes_and_the_second_says_it_waits(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    first = _holder(tmp_path, log, 1.0)
    _wait_for(log, "start")
    second = _holder(tmp_path, log, 0.0)
    _, err_first = first.communicate(timeout=60)
    _, err_second = second.communicate(timeout=60)
    assert first.returncode == second.returncode == 0, err_first + err_second
    events = [line.split() for line in log.read_text().splitlines()]
    assert [e[0] for e in events] == ["start", "end", "start", "end"]
    assert float(events[1][1]) <= float(events[2][1])  # the second began after the first ended
    waits = [line for line in err_second.splitlines() if "waiting for another build" in line]
    assert len(waits) == 1 and str(first.pid) in waits[0]
    assert err_first == ""
    assert list(tmp_path.glob(".*.lock")) == []  # a finished build leaves no lock file


def test_build_lock_of_a_killed_holder_is_free_at_once(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    holder = _holder(tmp_path, log, 60.0)
    _wait_for(log, "start")
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / ".mindsong.lock").exists()  # killed: its lock file stays, unlocked
    started = time.monotonic()
    with build_lock(tmp_path, "mindsong", timeout=5):
        assert time.monotonic() - started < 1
    assert list(tmp_path.glob(".*.lock")) == []


def test_build_lock_timeout_raises_one_clear_message(tmp_path: Path) -> None:
    with build_lock(tmp_path, "mindsong"), pytest.raises(LockTimeout) as err:
        with build_lock(tmp_path, "mindsong", timeout=0.3, poll=0.05):
            pass
    message = str(err.value)
    assert "another build of mindsong" in message and str(os.getpid()) in message
    assert ".mindsong.lock" in message and "\n" not in message


def test_build_lock_other_targets_do_not_wait(tmp_path: Path) -> None:
    with build_lock(tmp_path, "mindsong"), build_lock(tmp_path, "cyp", timeout=0):
        assert sorted(p.name for p in tmp_path.iterdir()) == [".cyp.lock", ".mindsong.lock"]


def _folder(path: Path, **contents: str) -> Path:
    path.mkdir(parents=True)
    for name, text in contents.items():
        (path / name).write_text(text)
    return path


def test_clean_leftovers_removes_this_targets_staging_only(tmp_path: Path) -> None:
    _folder(tmp_path / "mindsong", **{"results.json": "{}"})
    _folder(tmp_path / ".mindsong-staging-ab12", **{"bad.csv": "n_people\n3\n"})
    _folder(tmp_path / ".mindsong-staging-cd34")
    (tmp_path / ".index.html.tmp-1-ab").write_text("half")
    _folder(tmp_path / ".mindsong-old", **{"results.json": "{}"})
    _folder(tmp_path / ".cyp-staging-ef56")  # another programme's build: not ours to remove
    _folder(tmp_path / ".mindsongextra-staging-x")  # a programme whose slug starts the same
    removed = clean_leftovers(
        tmp_path, [".mindsong-staging-*", ".index.html.tmp-*"], swapped="mindsong"
    )
    assert sorted(p.name for p in removed) == [
        ".index.html.tmp-1-ab",
        ".mindsong-old",
        ".mindsong-staging-ab12",
        ".mindsong-staging-cd34",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".cyp-staging-ef56",
        ".mindsongextra-staging-x",
        "mindsong",
    ]


def test_clean_leftovers_puts_back_a_folder_left_between_the_swaps_renames(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _folder(tmp_path / ".mindsong-old", **{"results.json": "previous"})
    _folder(tmp_path / ".mindsong-staging-ab12", **{"results.json": "new"})
    with caplog.at_level("WARNING", logger="evalkit.files"):
        clean_leftovers(tmp_path, [".mindsong-staging-*"], swapped="mindsong")
    assert [p.name for p in tmp_path.iterdir()] == ["mindsong"]
    assert (tmp_path / "mindsong" / "results.json").read_text() == "previous"
    assert any("put back" in r.getMessage() for r in caplog.records)
    assert any(".mindsong-staging-ab12" in r.getMessage() for r in caplog.records)


class Killed(BaseException):
    """Stands in for SIGKILL inside the process: nothing after the crash point runs."""


def _crash_at(monkeypatch: pytest.MonkeyPatch, k: int) -> None:
    calls = iter(range(1, 10_000))

    def crash() -> None:
        if next(calls) == k:
            raise Killed

    monkeypatch.setattr(files, "crash_point", crash)


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.relative_to(folder).parts[0].startswith(".")
    }


NAMES = ["quarantine/t.parquet", "t.parquet", "new_only.parquet", "report.json"]
#: Crash points in one undoable move of NAMES: the journal's write, then one before each move.
POINTS = 1 + len(NAMES)


@pytest.mark.parametrize("k", range(1, POINTS + 1))
def test_move_into_killed_at_each_point_is_undone_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, k: int
) -> None:
    out = _folder(tmp_path / "out", **{"t.parquet": "old", "report.json": "old", "keep": "x"})
    _folder(out / "quarantine", **{"t.parquet": "old q"})
    before = _tree(out)
    work = out / ".work"
    for n in NAMES:
        (work / "out" / n).parent.mkdir(parents=True, exist_ok=True)
        (work / "out" / n).write_text("new")
    _crash_at(monkeypatch, k)
    with pytest.raises(Killed):
        move_into(work / "out", out, NAMES, undo=work / "undo")
    undo_moves(work / "undo", out)
    assert _tree(out) == before
    assert undo_moves(work / "undo", out) == []  # the journal is gone: nothing more to undo


def test_move_into_finished_leaves_nothing_to_undo(tmp_path: Path) -> None:
    out = _folder(tmp_path / "out", **{"a": "old"})
    work = _folder(out / ".work" / "out", **{"a": "new", "b": "new"})
    move_into(work, out, ["a", "b"], undo=out / ".work" / "undo")
    assert undo_moves(out / ".work" / "undo", out) == []
    assert _tree(out) == {"a": "new", "b": "new"}


CRASH = textwrap.dedent(
    """
    import sys
    from evalkit.files import write_text
    for name in ("a.txt", "b.txt", "c.txt"):
        write_text(name, sys.argv[1] + "/" + name)
    """
)


def test_crash_point_sigkills_the_process_at_the_kth_write(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    env = {**os.environ, CRASH_ENV: f"2:{counter}"}
    run = subprocess.run([sys.executable, "-c", CRASH, str(tmp_path)], env=env, check=False)
    assert run.returncode == -signal.SIGKILL
    assert counter.read_bytes() == b".."
    assert (tmp_path / "a.txt").read_text() == "a.txt"
    assert not (tmp_path / "b.txt").exists() and not (tmp_path / "c.txt").exists()
    assert len(list(tmp_path.glob(".b.txt.tmp-*"))) == 1  # what a killed write leaves


def test_crash_point_is_off_without_the_variable(tmp_path: Path) -> None:
    assert CRASH_ENV not in os.environ
    write_text("x", tmp_path / "x.txt")
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]

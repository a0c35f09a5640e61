"""The test suite's shared session directories (tests/helpers/shared.py) under pytest-xdist."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from helpers.shared import BUILT, LazyMap, shared_dir, shared_parts


class _Factory:
    """A stand-in for pytest's TempPathFactory of one xdist worker."""

    def __init__(self, session: Path, worker: str) -> None:
        self.base = session / f"popen-{worker}"
        self.base.mkdir(parents=True, exist_ok=True)

    def getbasetemp(self) -> Path:
        return self.base

    def mktemp(self, basename: str) -> Path:
        raise AssertionError("under xdist the shared directory is used, not mktemp")


def _build_slowly(out: Path) -> None:
    """Record the build in the session directory, then take long enough for the other worker."""
    with open(out.parent / "builds.log", "a") as log:
        log.write(f"{out.name}\n")
    time.sleep(0.5)
    (out / "data.txt").write_text("built")


def _worker(session: str, worker: str, results: mp.Queue) -> None:
    os.environ["PYTEST_XDIST_WORKER"] = worker
    out = shared_dir(_Factory(Path(session), worker), "county", _build_slowly)
    results.put(((out / "data.txt").read_text(), str(out)))


def test_shared_dir_two_workers_build_once_and_both_read_it(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(str(tmp_path), w, results)) for w in ("gw0", "gw1")]
    for p in procs:
        p.start()
    got = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got == [("built", str(tmp_path / "county"))] * 2
    assert (tmp_path / "builds.log").read_text() == "county\n"
    assert (tmp_path / "county" / BUILT).exists()


def test_shared_dir_failed_build_leaves_no_marker_and_next_worker_rebuilds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")

    def broken(out: Path) -> None:
        (out / "half.txt").write_text("x")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError, match="generator failed"):
        shared_dir(_Factory(tmp_path, "gw0"), "county", broken)
    assert not (tmp_path / "county" / BUILT).exists()
    out = shared_dir(_Factory(tmp_path, "gw1"), "county", _build_slowly)
    assert sorted(p.name for p in out.iterdir()) == [BUILT, "data.txt"]


def test_shared_dir_without_xdist_builds_in_mktemp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

    class Serial:
        def mktemp(self, basename: str) -> Path:
            out = tmp_path / f"{basename}0"
            out.mkdir()
            return out

    out = shared_dir(Serial(), "county", _build_slowly)
    assert out == tmp_path / "county0" and (out / "data.txt").read_text() == "built"
    assert not (out / BUILT).exists()


def _build_part_slowly(out: Path, part: str) -> None:
    """Record the part, and hold the first one until the other worker is building a part too."""
    log = out.parent / "parts.log"
    with open(log, "a") as f:
        f.write(f"{part} {os.environ['PYTEST_XDIST_WORKER']}\n")
    deadline = time.monotonic() + 60
    while len(log.read_text().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    (out / part).write_text(part)


def _index(out: Path) -> None:
    (out / "index.txt").write_text(",".join(sorted(p.name for p in out.iterdir())))


def _parts_worker(session: str, worker: str, results: mp.Queue) -> None:
    os.environ["PYTEST_XDIST_WORKER"] = worker
    out = shared_parts(
        _Factory(Path(session), worker), "reports", ["a", "b", "c"], _build_part_slowly, _index
    )
    results.put(((out / "index.txt").read_text(), str(out)))


def test_shared_parts_two_workers_build_each_part_once_and_share_them_out(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_parts_worker, args=(str(tmp_path), w, results)) for w in ("gw0", "gw1")
    ]
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert got == [("a,b,c", str(tmp_path / "reports"))] * 2
    built = [line.split() for line in (tmp_path / "parts.log").read_text().splitlines()]
    assert sorted(part for part, _ in built) == ["a", "b", "c"]  # each part once
    assert {worker for _, worker in built} == {"gw0", "gw1"}  # both workers took a part
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["a", "b", "c", "index.txt"]


def test_shared_parts_without_xdist_builds_every_part_in_order_then_finishes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    order: list[str] = []

    class Serial:
        def mktemp(self, basename: str) -> Path:
            out = tmp_path / f"{basename}0"
            out.mkdir()
            return out

    out = shared_parts(
        Serial(), "reports", ["b", "a"], lambda o, p: order.append(p), lambda o: order.append("/")
    )
    assert out == tmp_path / "reports0" and order == ["b", "a", "/"]


def test_lazy_map_builds_each_value_once_on_first_access() -> None:
    calls: list[str] = []
    m = LazyMap(["a", "b"], lambda k: calls.append(k) or k.upper())
    assert calls == [] and list(m) == ["a", "b"] and len(m) == 2
    assert m["b"] == "B" and m["b"] == "B" and calls == ["b"]
    assert dict(m) == {"a": "A", "b": "B"} and calls == ["b", "a"]
    with pytest.raises(KeyError):
        m["c"]

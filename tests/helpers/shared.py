"""Session fixtures shared by pytest-xdist workers: a directory built once, and a lazy mapping.

:func:`shared_dir` lets ``make test PYTEST_WORKERS=2`` build the demo counties and the demo
reports once for all workers instead of once per worker (they are the suite's costliest
fixtures); :class:`LazyMap` builds a programme's matched cohort only when a test asks for it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

#: Marker file written once a shared directory is complete (a worker that failed part-way
#: leaves none, and the next one to ask rebuilds it).
BUILT = ".built"


class _TempFactory(Protocol):
    def mktemp(self, basename: str) -> Path: ...
    def getbasetemp(self) -> Path: ...


def shared_dir(factory: _TempFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A directory filled by ``build(path)`` once per test session, whatever the workers.

    Without xdist this is ``factory.mktemp(name)``, built in place. Under xdist each worker's
    base temporary directory sits in the one session directory; ``name`` is built there by the
    first worker to ask, under an exclusive ``flock``, and the others wait for the lock and
    reuse it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        out = factory.mktemp(name)
        build(out)
        return out
    root = factory.getbasetemp().parent
    out = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / BUILT).exists():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            build(out)
            (out / BUILT).touch()
    return out


def shared_parts(
    factory: _TempFactory,
    name: str,
    parts: list[str],
    build_part: Callable[[Path, str], object],
    finish: Callable[[Path], object] = lambda out: None,
) -> Path:
    """A directory of ``parts`` built once each by ``build_part(out, part)``, then ``finish(out)``.

    Like :func:`shared_dir`, but under xdist the workers share the parts out: each takes a part
    no one is building (a non-blocking ``flock`` per part), so two workers build two parts at
    once instead of one waiting for the whole directory; a worker with nothing left to take
    waits for the parts still being built. The completion markers sit beside ``out``, not in it.
    """
    if os.environ.get("PYTEST_XDIST_WORKER") is None:
        out = factory.mktemp(name)
        for part in parts:
            build_part(out, part)
        finish(out)
        return out
    root = factory.getbasetemp().parent
    out = root / name
    out.mkdir(exist_ok=True)
    pending = list(parts)
    while pending:
        for part in list(pending):
            with open(root / f"{name}.{part}.lock", "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another worker is building it
                if not (root / f"{name}.{part}{BUILT}").exists():
                    build_part(out, part)
                    (root / f"{name}.{part}{BUILT}").touch()
                pending.remove(part)
        if pending:  # every part left is being built elsewhere: wait for the first of them
            with open(root / f"{name}.{pending[0]}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}{BUILT}").exists():
            finish(out)
            (root / f"{name}{BUILT}").touch()
    return out


class LazyMap(Mapping[str, Any]):
    """A read-only mapping whose values are built on first access, once each."""

    def __init__(self, keys: list[str], make: Callable[[str], Any]) -> None:
        self._keys = list(keys)
        self._make = make
        self._built: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        if key not in self._built:
            self._built[key] = self._make(key)
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

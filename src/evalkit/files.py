"""The one atomic writer: every file and folder evalkit writes goes through this module.

A write goes to a temporary file beside its target and is moved into place with ``os.replace``
only when it is complete, so an interrupted run leaves the previous file (or none), never a
half-written one. Folders built elsewhere are moved into place the same way:
:func:`move_into` moves finished files into a folder one by one, in an order the caller chooses,
and :func:`swap_folder` replaces a whole folder, keeping the previous one until the new one is
in place. Imports nothing from evalkit, so every layer can use it.

Crash safety (``docs/decisions/crash-safety.md``): a build holds :func:`build_lock` on its
target while it runs, and first removes what a killed run of the same target left
(:func:`clean_leftovers`, :func:`undo_moves`). :func:`crash_point` is the test hook that kills a
build at its k-th write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "LockTimeout",
    "atomic_path",
    "build_lock",
    "clean_leftovers",
    "crash_point",
    "move_into",
    "swap_folder",
    "undo_moves",
    "write_bytes",
    "write_json",
    "write_text",
]

log = logging.getLogger(__name__)
#: Test hook (:func:`crash_point`): ``"<k>:<counter file>"`` kills the build at its k-th write.
CRASH_ENV = "EVALKIT_CRASH_AT"
#: The build process a report kernel works for (set by the report pipeline): killed with it.
BUILD_PID_ENV = "EVALKIT_BUILD_PID"
#: The journal of a :func:`move_into` that can be undone (in its ``undo`` folder).
MOVES_FILE = "moves.json"


def crash_point() -> None:
    """Kill this build with SIGKILL at its k-th write, when the test hook asks for it.

    Off unless the environment variable ``EVALKIT_CRASH_AT`` is ``"<k>:<counter file>"``.
    Every call appends one byte to the counter file (shared by the build and its report
    kernel, which run one at a time, so the count is the same on every run); the k-th call
    SIGKILLs the process in ``EVALKIT_BUILD_PID`` (the build a kernel works for) and itself:
    no ``finally`` block or clean-up runs, as when a build is killed from outside. ``k = 0``
    only counts. Called before each write is moved into place and at each step of a swap.
    """
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    at, counter = spec.split(":", 1)
    with open(counter, "ab") as f:
        f.write(b".")
        n = f.tell()
    if n != int(at):
        return
    build = int(os.environ.get(BUILD_PID_ENV) or os.getpid())
    if build != os.getpid():
        os.kill(build, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)


class LockTimeout(RuntimeError):
    """Another build of the same target held the lock for longer than the timeout."""


@contextlib.contextmanager
def build_lock(
    folder: str | Path, name: str, *, timeout: float | None = None, poll: float = 0.2
) -> Iterator[Path]:
    """Hold an exclusive lock on ``folder/.<name>.lock`` for the block: one build at a time.

    ``fcntl.flock`` on the lock file, so the lock ends with the process that holds it, killed
    or not (no stale lock to remove by hand). A second build of the same target waits, and
    says so once (a warning naming the lock file and the process holding it); after
    ``timeout`` seconds (None: no limit) it raises :class:`LockTimeout`. The holder writes its
    pid into the file and removes the file when it is done (a waiting build that then holds the
    removed file's lock notices and locks the new file instead), so a finished build leaves no
    lock file; a killed one leaves an unlocked file, which the next build takes. The descriptor
    is not inherited by child processes (a report kernel never holds the lock).

    Examples
    --------
    >>> import tempfile
    >>> with build_lock(tempfile.mkdtemp(), "mindsong") as lock:
    ...     lock.name
    '.mindsong.lock'
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f".{name}.lock"
    deadline = None if timeout is None else time.monotonic() + timeout
    waiting = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if _try_lock(fd):
            if _is_current(fd, path):
                break
            os.close(fd)  # the holder removed this file as it finished: lock the new one
            continue
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        if not waiting:
            log.warning("waiting for another build of %s (lock %s, process %s)", name, path, holder)
            waiting = True
        if deadline is not None and time.monotonic() > deadline:
            raise LockTimeout(
                f"another build of {name} (process {holder}) has held {path} for more than "
                f"{timeout:.0f} s; wait for it to finish, or stop it, and run again"
            )
        time.sleep(poll)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # while still holding the lock (see above)
        os.close(fd)  # releases the lock


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _is_current(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the file at ``path`` (not removed or replaced)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)


def clean_leftovers(
    folder: str | Path, patterns: Iterable[str], *, swapped: str | None = None
) -> list[Path]:
    """Remove what killed runs left in ``folder``: entries matching ``patterns`` (globs).

    Call it holding the target's :func:`build_lock`, so no running build's files are taken.
    ``swapped`` names a folder :func:`swap_folder` replaces: a run killed between the swap's two
    renames left the previous folder as ``.<swapped>-old`` and no ``<swapped>``; it is put back
    (logged), else a leftover ``.<swapped>-old`` is removed. Each removal is logged.

    Returns
    -------
    list of Path
        What was removed (or put back).
    """
    folder = Path(folder)
    done: list[Path] = []
    if swapped:
        target, old = folder / swapped, folder / f".{swapped}-old"
        if old.is_dir() and not target.exists():
            os.replace(old, target)
            log.warning("put back %s, which an interrupted swap had left as %s", target, old)
            done.append(old)
        patterns = [*patterns, old.name]
    for pattern in patterns:
        for p in sorted(folder.glob(pattern)):
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
            log.warning("removed %s, left by an interrupted run", p)
            done.append(p)
    return done


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place with ``os.replace``.

    An interrupted write leaves at most a ``.<name>.tmp-*`` file behind, never a half-written
    ``path``. The temporary file is removed if the block raises.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        crash_point()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(obj: Any, path: str | Path, *, ensure_ascii: bool = True) -> Path:
    """Write JSON with sorted keys, two-space indent and a final newline, atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=ensure_ascii)
    return write_text(text + "\n", path)


def move_into(
    source: str | Path,
    target: str | Path,
    names: Iterable[str],
    *,
    undo: str | Path | None = None,
) -> list[Path]:
    """Move finished files ``source/<name>`` to ``target/<name>``, in the order of ``names``.

    Each file is moved with one ``os.replace``, so each target file is either its old version
    or the new one, never half of either. The files are not moved all at once: the caller
    orders ``names`` so that a file describing others (a report, a manifest) comes last. An
    interruption (a missing source file, say) leaves the files already moved in place and the
    rest of ``target`` as it was. ``source`` must be on the same file system as ``target``
    (a work folder inside ``target`` is). Parent folders of each ``target/<name>`` are created.

    With ``undo`` (a folder on the same file system), the moves can be undone if the process is
    killed half-way: a journal (``undo/moves.json``: the names, and which had a previous file)
    is written first, each previous file is moved into ``undo`` before its replacement comes
    in, and the journal is removed when every file is in place. :func:`undo_moves` then puts
    the previous files back.

    Parameters
    ----------
    source, target
        The folder holding the finished files, and the folder they go to.
    names
        Paths relative to both folders (``"quarantine/people.parquet"``).
    undo
        Where previous files are kept until every move is done (None: not kept).

    Returns
    -------
    list of Path
        The moved files, in their new place.
    """
    source, target = Path(source), Path(target)
    names = list(names)
    journal = Path(undo) / MOVES_FILE if undo is not None else None
    if journal is not None:
        had = {n: (target / n).exists() for n in names}
        write_json({"names": names, "had_previous": had}, journal)
    moved = []
    for name in names:
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if journal is not None and dest.exists():
            kept = journal.parent / "previous" / name
            kept.parent.mkdir(parents=True, exist_ok=True)
            os.replace(dest, kept)
        crash_point()
        os.replace(source / name, dest)
        moved.append(dest)
    if journal is not None:
        journal.unlink()  # every file is in place: nothing to undo
        crash_point()
    return moved


def undo_moves(undo: str | Path, target: str | Path) -> list[str]:
    """Put back the previous files of a :func:`move_into` that was killed half-way.

    Reads the journal in ``undo`` (none: the moves finished, or never began; nothing to do).
    A name that had a previous file gets it back from ``undo/previous`` (if it was moved there);
    a name that had none loses a new file already moved in. ``target`` is then as it was before
    the moves began. Returns the names restored or removed.
    """
    undo, target = Path(undo), Path(target)
    journal = undo / MOVES_FILE
    if not journal.is_file():
        return []
    plan = json.loads(journal.read_text(encoding="utf-8"))
    changed = []
    for name in plan["names"]:
        kept, dest = undo / "previous" / name, target / name
        if plan["had_previous"][name]:
            if kept.exists():
                os.replace(kept, dest)
                changed.append(name)
        elif dest.exists():
            dest.unlink()
            changed.append(name)
    journal.unlink()
    if changed:
        log.warning(
            "put back the previous %s in %s (a run was killed while moving files in)",
            ", ".join(changed),
            target,
        )
    return changed


def swap_folder(staging: str | Path, target: str | Path) -> Path:
    """Replace the folder ``target`` with the finished folder ``staging``.

    The previous ``target`` is renamed aside to ``.<name>-old`` (a leftover of an earlier,
    interrupted swap is removed first), ``staging`` is renamed to ``target``, then the old
    folder is deleted. If the second rename fails, the previous folder is put back, so
    ``target`` holds a complete folder, old or new, except for the instant between the two
    renames. ``staging`` must be on the same file system as ``target`` (a staging folder
    beside it is).

    Returns
    -------
    Path
        ``target``.
    """
    staging, target = Path(staging), Path(target)
    old = target.with_name(f".{target.name}-old")
    shutil.rmtree(old, ignore_errors=True)
    had_target = target.exists()
    crash_point()
    if had_target:
        os.replace(target, old)
    crash_point()  # the instant with no target: clean_leftovers(swapped=...) puts the old back
    try:
        os.replace(staging, target)
    except BaseException:
        if had_target:
            os.replace(old, target)
        raise
    crash_point()
    shutil.rmtree(old, ignore_errors=True)
    return target

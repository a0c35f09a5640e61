"""The one atomic writer: every file and folder evalkit writes goes through this module.

A write goes to a temporary file beside its target and is moved into place with ``os.replace``
only when it is complete, so an interrupted run leaves the previous file (or none), never a
half-written one. Folders built elsewhere are moved into place the same way:
:func:`move_into` moves finished files into a folder one by one, in an order the caller chooses,
and :func:`swap_folder` replaces a whole folder, keeping the previous one until the new one is
in place. Imports nothing from evalkit, so every layer can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "move_into", "swap_folder", "write_bytes", "write_json", "write_text"]


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


def move_into(source: str | Path, target: str | Path, names: Iterable[str]) -> list[Path]:
    """Move finished files ``source/<name>`` to ``target/<name>``, in the order of ``names``.

    Each file is moved with one ``os.replace``, so each target file is either its old version
    or the new one, never half of either. The files are not moved all at once: the caller
    orders ``names`` so that a file describing others (a report, a manifest) comes last. An
    interruption (a missing source file, say) leaves the files already moved in place and the
    rest of ``target`` as it was. ``source`` must be on the same file system as ``target``
    (a work folder inside ``target`` is). Parent folders of each ``target/<name>`` are created.

    Parameters
    ----------
    source, target
        The folder holding the finished files, and the folder they go to.
    names
        Paths relative to both folders (``"quarantine/people.parquet"``).

    Returns
    -------
    list of Path
        The moved files, in their new place.
    """
    source, target = Path(source), Path(target)
    moved = []
    for name in names:
        dest = target / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source / name, dest)
        moved.append(dest)
    return moved


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
    if had_target:
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except BaseException:
        if had_target:
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target

"""The one atomic writer: every file evalkit writes goes through :func:`atomic_path`.

A write goes to a temporary file beside its target and is moved into place with ``os.replace``
only when it is complete, so an interrupted run leaves the previous file (or none), never a
half-written one. Imports nothing from evalkit, so every layer can use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "write_bytes", "write_json", "write_text"]


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

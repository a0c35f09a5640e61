"""The one atomic writer: a write is complete or absent, never half-done."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evalkit import files
from evalkit.files import (
    atomic_path,
    move_into,
    swap_folder,
    write_bytes,
    write_json,
    write_text,
)


def test_atomic_path_exception_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_write_json_sorted_keys_indent_and_final_newline(tmp_path: Path) -> None:
    path = write_json({"b": 1, "a": [1, 2]}, tmp_path / "sub" / "x.json")
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps({"a": [1, 2], "b": 1}, indent=2) + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_write_json_ensure_ascii_false_keeps_pound_sign(tmp_path: Path) -> None:
    path = write_json({"cost": "£5"}, tmp_path / "x.json", ensure_ascii=False)
    assert "£5" in path.read_text(encoding="utf-8")
    assert "\\u00a3" in write_json({"cost": "£5"}, tmp_path / "y.json").read_text()


def test_write_text_and_bytes_replace_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    write_bytes(b"old", target)
    write_bytes(b"new", target)
    assert target.read_bytes() == b"new"
    write_text("text", target)
    assert target.read_text(encoding="utf-8") == "text"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def _folder(path: Path, **contents: str) -> Path:
    path.mkdir(parents=True)
    for name, text in contents.items():
        (path / name).write_text(text)
    return path


def _contents(path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


def test_swap_folder_replaces_existing_target_and_removes_the_old_one(tmp_path: Path) -> None:
    target = _folder(tmp_path / "report", **{"a.txt": "old", "gone.txt": "old"})
    staging = _folder(tmp_path / ".staging", **{"a.txt": "new"})
    assert swap_folder(staging, target) == target
    assert _contents(target) == {"a.txt": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_swap_folder_without_target_moves_staging_into_place(tmp_path: Path) -> None:
    staging = _folder(tmp_path / ".staging", **{"a.txt": "new"})
    swap_folder(staging, tmp_path / "report")
    assert _contents(tmp_path / "report") == {"a.txt": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_swap_folder_removes_leftover_of_an_interrupted_swap(tmp_path: Path) -> None:
    _folder(tmp_path / ".report-old", **{"stale.txt": "older"})
    target = _folder(tmp_path / "report", **{"a.txt": "old"})
    swap_folder(_folder(tmp_path / ".staging", **{"a.txt": "new"}), target)
    assert _contents(target) == {"a.txt": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_swap_folder_interrupted_keeps_the_previous_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _folder(tmp_path / "report", **{"a.txt": "old"})
    staging = _folder(tmp_path / ".staging", **{"a.txt": "new"})
    real_replace = os.replace

    def fail_on_staging(src: Path, dst: Path) -> None:
        if Path(src) == staging:
            raise OSError("interrupted")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", fail_on_staging)
    with pytest.raises(OSError, match="interrupted"):
        swap_folder(staging, target)
    assert _contents(target) == {"a.txt": "old"}
    assert _contents(staging) == {"a.txt": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "report"]


def test_move_into_moves_files_in_order_into_existing_target(tmp_path: Path) -> None:
    work = _folder(tmp_path / "out" / ".work", **{"t.parquet": "new", "report.json": "new"})
    _folder(work / "quarantine", **{"t.parquet": "new q"})
    (tmp_path / "out" / "t.parquet").write_text("old")
    (tmp_path / "out" / "keep.txt").write_text("old")
    names = ["quarantine/t.parquet", "t.parquet", "report.json"]
    moved = move_into(work, tmp_path / "out", names)
    assert moved == [tmp_path / "out" / n for n in names]
    assert (tmp_path / "out" / "quarantine" / "t.parquet").read_text() == "new q"
    assert (tmp_path / "out" / "t.parquet").read_text() == "new"
    assert (tmp_path / "out" / "report.json").read_text() == "new"
    assert (tmp_path / "out" / "keep.txt").read_text() == "old"
    assert [p.name for p in work.rglob("*.*")] == []


def test_move_into_interrupted_leaves_the_rest_of_target_as_it_was(tmp_path: Path) -> None:
    out = _folder(tmp_path / "out", **{"a.txt": "old", "b.txt": "old", "report.json": "old"})
    work = _folder(out / ".work", **{"a.txt": "new", "report.json": "new"})
    with pytest.raises(FileNotFoundError):
        move_into(work, out, ["a.txt", "b.txt", "report.json"])
    assert (out / "a.txt").read_text() == "new"
    assert (out / "b.txt").read_text() == "old"
    assert (out / "report.json").read_text() == "old"
    assert (work / "report.json").read_text() == "new"

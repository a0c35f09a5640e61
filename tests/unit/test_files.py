"""The one atomic writer: a write is complete or absent, never half-done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.files import atomic_path, write_bytes, write_json, write_text


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

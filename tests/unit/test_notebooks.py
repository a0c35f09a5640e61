"""The report notebooks are narratives: parameters first, one evalkit call per cell, no logic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted(Path("notebooks").glob("*.ipynb"))
FORBIDDEN = [
    r"^\s*def ",
    r"^\s*class ",
    r"^\s*for ",
    r"^\s*while ",
    r"lambda",
    r"import pandas",
    r"\.groupby\(",
    r"\.merge\(",
    r"\.loc\[",
    r"\.iloc\[",
]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_notebooks_exist() -> None:
    assert NOTEBOOKS, "notebooks/ holds the report notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_parameters_cell_first_and_literal(path: Path) -> None:
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    for line in "".join(code[0]["source"]).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.match(r"^\w+: \w+ = .+  # .+$", line), f"typed, commented literal: {line}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_cells_hold_no_logic(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        for pattern in FORBIDDEN:
            assert not re.search(pattern, src, re.MULTILINE), f"{pattern!r} in cell: {src}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_ignore_markers_only_on_timing_or_version_cells(path: Path) -> None:
    for cell in _cells(path):
        src = "".join(cell["source"])
        if "NBVAL_IGNORE_OUTPUT" in src or "NBVAL_SKIP" in src:
            assert re.search(r"version|timing", src, re.IGNORECASE), src
        assert "nbval-lax" not in src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=str)
def test_notebook_committed_with_outputs(path: Path) -> None:
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert sum(bool(c.get("outputs")) for c in code) >= len(code) // 2

"""The repeated-code cap of `make lint`: counts repeated blocks, fails on a pylint failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "duplicate_code.py"

BLOCK = """
def f(values):
    total = 0
    for v in values:
        if v > 0:
            total += v * 2
        else:
            total -= v
    return total
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_duplicate_code_repeated_block_counts_and_fails_above_cap(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(BLOCK)
    (pkg / "b.py").write_text(BLOCK.replace("def f", "def g"))
    over = _run("--max", "0", str(pkg))
    assert over.returncode == 1
    assert "1 repeated block" in over.stdout
    assert _run("--max", "1", str(pkg)).returncode == 0


def test_duplicate_code_missing_path_fails_instead_of_counting_zero(tmp_path: Path) -> None:
    res = _run("--max", "5", str(tmp_path / "nowhere"))
    assert res.returncode == 1
    assert "did not complete" in res.stdout

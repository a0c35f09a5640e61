"""Report repeated code in ``src/`` with pylint's similarity checker, and fail above a cap.

Usage: ``python scripts/duplicate_code.py --max N src/evalkit`` (``make lint`` runs it). Each
block of four or more lines (comments, docstrings, imports and signatures ignored: pylint's
``[tool.pylint.similarities]`` settings in pyproject.toml) that stands in two places is one
finding (R0801). The cap is the Makefile's ``DUPLICATE_MAX``: the count measured before the 0.4
restructure was 8, and the restructure's target was a third of that.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys


def count_duplicates(paths: list[str]) -> tuple[int, str]:
    """Number of R0801 findings pylint reports for ``paths``, and its report."""
    proc = subprocess.run(
        [sys.executable, "-m", "pylint", "--disable=all", "--enable=duplicate-code", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    report = proc.stdout
    # pylint's exit code is a bit mask: 1 fatal, 2 error, 32 usage error; 8 (refactor) is R0801.
    if proc.returncode & (1 | 2 | 32) or "Your code has been rated" not in report:
        raise RuntimeError(
            f"pylint did not complete (exit {proc.returncode}): "
            + (proc.stderr.strip() or report.strip() or "no output")[:500]
        )
    return len(re.findall(r"\bR0801\b", report)), report


def main(argv: list[str] | None = None) -> int:
    """Print the repeated blocks and their count; exit 1 above ``--max``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, required=True, help="most findings allowed")
    parser.add_argument("paths", nargs="+")
    args = parser.parse_args(argv)
    try:
        n, report = count_duplicates(args.paths)
    except RuntimeError as exc:
        print(f"duplicate-code: {exc}")
        return 1
    blocks = [line for line in report.splitlines() if line.startswith("==")]
    for line in blocks:
        print(f"  {line}")
    print(f"duplicate-code: {n} repeated block(s) in {' '.join(args.paths)} (at most {args.max})")
    return 0 if n <= args.max else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Keyword arguments for ``run_intake`` on the example extract, shared by the intake tests."""

from __future__ import annotations

from typing import Any

from evalkit.intake.example import EXAMPLE_EXTRACT_END, EXAMPLE_INSTRUMENTS, EXAMPLE_PROGRAMMES


def example_kw(
    *, extract_end: bool = True, validate: bool = True, threads: int | None = None
) -> dict[str, Any]:
    """``run_intake`` options for the example extract: its programmes, instruments, end date.

    ``validate=False`` skips the pandera check of the output (the tests check what they need);
    ``threads=1`` keeps DuckDB on one thread (property and fuzz tests run many small intakes).
    """
    kw: dict[str, Any] = {
        "programmes": EXAMPLE_PROGRAMMES,
        "instrument_defs": EXAMPLE_INSTRUMENTS,
        "progress": False,
    }
    if extract_end:
        kw["extract_end"] = EXAMPLE_EXTRACT_END
    if not validate:
        kw["validate"] = False
    if threads is not None:
        kw["threads"] = threads
    return kw

"""Validated intake: raw contract tables in, typed Parquet, quarantine and a report out.

>>> from evalkit.intake import run_intake                      # doctest: +SKIP
>>> report = run_intake(Path("data/raw"), Path("data/processed"))  # doctest: +SKIP
>>> report.summary()                                            # doctest: +SKIP

See ``docs/decisions/intake.md`` for the order in which quarantine reasons are given, and
``intake_mappings/README.md`` for pointing intake at a real warehouse extract.
"""

from __future__ import annotations

from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping, MappingError, load_mapping
from evalkit.intake.report import REASON_TEXT, IntakeReport, TableReport
from evalkit.intake.run import run_intake
from evalkit.intake.staleness import is_stale

__all__ = [
    "REASON_TEXT",
    "IntakeError",
    "IntakeMapping",
    "IntakeReport",
    "MappingError",
    "TableReport",
    "is_stale",
    "load_mapping",
    "run_intake",
]

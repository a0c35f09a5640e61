"""Whether the processed tables must be rebuilt from the raw ones (``make data`` asks first)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit import contract as C
from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping, load_mapping
from evalkit.intake.source_record import SOURCE_FILE
from evalkit.intake.sources import file_sha256, find_file

__all__ = ["REPORT_FILE", "is_stale"]

#: The report intake writes beside the processed tables.
REPORT_FILE = "intake_report.json"
#: Name of an intake's work directory inside its output folder (hidden; never an output).
WORK_PREFIX = ".intake-work-"


def is_stale(raw_dir: Path, out_dir: Path, *, mapping: Path | None = None) -> bool:
    """Whether ``out_dir`` must be rebuilt from ``raw_dir``.

    Stale when ``intake_report.json``, the source record (``source.json``, written by evalkit 0.4
    and later) or any processed or quarantine table is missing, when the report was made with
    another mapping, or when any raw file's SHA-256 (every file of a table with several) differs
    from the one the report recorded (a raw file that cannot be found also counts as stale, so
    that running intake gives the proper error). A file whose size differs is stale without
    being hashed, and a hash computed here is remembered for the intake run that follows in the
    same process. A work directory left by an intake that was killed (or is still running) also
    makes it stale: the next intake waits for the lock and undoes a half-finished publish.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if any(out_dir.glob(f"{WORK_PREFIX}*")):
        return True
    try:
        report = json.loads((out_dir / REPORT_FILE).read_text(encoding="utf-8"))
        m = load_mapping(mapping)
    except (OSError, ValueError):
        return True
    if not (out_dir / SOURCE_FILE).is_file():
        return True
    if _mapping_changed(report.get("spec", {}), mapping):
        return True
    entries = report.get("tables", {})
    return any(
        _table_stale(raw_dir, out_dir, table, entries.get(table), m, mapping) for table in C.TABLES
    )


def _mapping_changed(spec: dict[str, Any], mapping: Path | None) -> bool:
    """The report was made with another mapping file, or the mapping file has changed."""
    if spec.get("mapping") != (str(mapping) if mapping else None):
        return True
    return mapping is not None and spec.get("mapping_sha256") != file_sha256(Path(mapping))


def _table_stale(
    raw_dir: Path,
    out_dir: Path,
    table: str,
    entry: dict[str, Any] | None,
    m: IntakeMapping,
    mapping: Path | None,
) -> bool:
    """One table's outputs are missing, or any of its raw files is not the one recorded.

    Every file of the table is compared (a mapping's ``sources`` may list several): by name, by
    size, then by SHA-256, against the report's ``sources`` entries (reports written before
    those existed: the table's own ``source_file``, ``size_bytes`` and ``sha256``).
    """
    if not (out_dir / f"{table}.parquet").is_file():
        return True
    if not (out_dir / "quarantine" / f"{table}.parquet").is_file():
        return True
    if not entry:
        return True
    try:
        paths = [find_file(raw_dir, table, m, mapping, spec) for spec in m.table(table).files()]
    except IntakeError:
        return True
    recorded = entry.get("sources") or [
        {"file": entry.get("source_file"), "sha256": entry.get("sha256"), **entry}
    ]
    if [r.get("file") for r in recorded] != [p.name for p in paths]:
        return True
    for path, r in zip(paths, recorded, strict=True):
        size = r.get("size_bytes")
        if size is not None and size != path.stat().st_size:
            return True
        if r.get("sha256") != file_sha256(path):
            return True
    return False

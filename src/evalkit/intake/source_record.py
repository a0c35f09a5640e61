"""The source record, ``source.json``: what a processed folder was made from.

Intake writes it beside the processed tables (:func:`evalkit.intake.run_intake`), so that
``make report`` can tell real processed data from the demo county's, re-run intake with the
mapping it was made with when the raw files change, and say on every report's first screen what
the report was built from (``results.json`` -> ``data_source``, the data contract's additions).
See ``docs/decisions/data-source.md``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from evalkit.intake.sources import Source, file_sha256

__all__ = [
    "EXTRACT_END_RULE",
    "SOURCE_FILE",
    "activity_end",
    "data_source",
    "mapping_label",
    "read_source",
    "source_record",
]

#: The record intake writes beside the processed tables.
SOURCE_FILE = "source.json"
#: The raw folder holds a synthetic county when the generator's truth file is there.
TRUTH_FILE = "synthetic_truth.json"
#: What ``extract_end`` means (the data contract leaves the choice to the record; say which).
EXTRACT_END_RULE = (
    "the last event date in the accepted activity table: the date the analysis takes as the end "
    "of the data (evalkit.cohort.tables.activity_period)"
)
#: The query engine intake and the analysis run on.
ENGINE = "duckdb"


def activity_end(activity_parquet: Path) -> dt.date | None:
    """The last ``event_date`` in a processed activity table (None if it has no row).

    Read from the Parquet row-group statistics where every row group has them (no data read),
    else from the column itself.

    Examples
    --------
    >>> import tempfile, pyarrow as pa, pyarrow.parquet as pq
    >>> p = Path(tempfile.mkdtemp()) / "activity.parquet"
    >>> dates = [dt.date(2024, 1, 5), dt.date(2024, 3, 31), dt.date(2023, 2, 1)]
    >>> pq.write_table(pa.table({"event_date": dates}), p)
    >>> activity_end(p)
    datetime.date(2024, 3, 31)
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    f = pq.ParquetFile(activity_parquet)
    i = f.schema_arrow.get_field_index("event_date")
    md = f.metadata
    stats = [md.row_group(g).column(i).statistics for g in range(md.num_row_groups)]
    if stats and all(s is not None and s.has_min_max for s in stats):
        return max(s.max for s in stats)
    value = pc.max(f.read(columns=["event_date"]).column(0)).as_py()
    return value


def mapping_label(mapping: Path | None, root: Path | None = None) -> str | None:
    """The mapping file as a report names it: relative to the project root, else its name.

    A path outside the project (a secure share) is reduced to the file name, so a report never
    publishes where an extract is kept.

    Examples
    --------
    >>> mapping_label(Path("/proj/intake_mappings/icb.yaml"), Path("/proj"))
    'intake_mappings/icb.yaml'
    >>> mapping_label(Path("/secure/share/icb.yaml"), Path("/proj"))
    'icb.yaml'
    >>> print(mapping_label(None))
    None
    """
    if mapping is None:
        return None
    if root is None:
        from evalkit.config import project_root

        root = project_root()
    path = Path(mapping).resolve()
    try:
        return path.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return path.name


def _synthetic(raw_dir: Path) -> dict[str, Any] | None:
    """How the synthetic county in ``raw_dir`` was drawn (from its truth file), else None."""
    path = raw_dir / TRUTH_FILE
    if not path.is_file():
        return None
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        truth = {}
    keys = ("seed", "regime", "world", "scale", "population", "study_end")
    return {k: truth.get(k) for k in keys}


def _synthetic_source(s: dict[str, Any]) -> str:
    """The ``source`` text of a synthetic county: seed, regime and world."""
    name = "synthetic demo county" if s.get("scale") == "demo" else "synthetic county"
    return f"{name}, seed {s.get('seed')}, regime {s.get('regime')}, world {s.get('world')}"


def source_record(
    raw_dir: Path,
    sources: list[Source],
    *,
    mapping: Path | None,
    mapping_source: str,
    extract_end: dt.date | None,
    stated_extract_end: dt.date,
) -> dict[str, Any]:
    """The ``source.json`` content for an intake of ``sources`` found in ``raw_dir``.

    ``kind`` is ``"synthetic"`` when the raw folder holds the generator's truth file and no
    mapping was used (a synthetic county written by ``evalkit synth``), else ``"extract"``.
    Raw files are listed by name with their SHA-256 (the same hashes as the intake report).
    """
    synthetic = None if mapping is not None else _synthetic(raw_dir)
    if synthetic is not None:
        kind, source = "synthetic", _synthetic_source(synthetic)
    else:
        kind = "extract"
        source = mapping_source if mapping is not None else "extract in the data contract's layout"
    return {
        "kind": kind,
        "source": source,
        "raw_dir": str(Path(raw_dir).resolve()),
        "raw_files": [
            {"table": s.table, "name": s.path.name, "sha256": file_sha256(s.path)} for s in sources
        ],
        "mapping": str(mapping) if mapping is not None else None,
        "mapping_label": mapping_label(mapping),
        "mapping_sha256": file_sha256(Path(mapping)) if mapping is not None else None,
        "synthetic": synthetic,
        "extract_end": extract_end.isoformat() if extract_end else None,
        "extract_end_rule": EXTRACT_END_RULE,
        "stated_extract_end": stated_extract_end.isoformat(),
        "engine": ENGINE,
    }


def read_source(processed: str | Path) -> dict[str, Any] | None:
    """The source record of a processed folder, or None if there is none (or it is unreadable)."""
    path = Path(processed) / SOURCE_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "kind" in record else None


def data_source(processed: str | Path) -> dict[str, Any]:
    """``results.json`` -> ``data_source`` for the processed folder (the data contract's fields).

    A folder without a source record (processed by evalkit before 0.4) gives ``kind``
    ``"unknown"``: the report then says it cannot tell what it was built from, rather than
    guessing.

    Examples
    --------
    >>> import tempfile
    >>> data_source(tempfile.mkdtemp())["kind"]
    'unknown'
    """
    record = read_source(processed)
    if record is None:
        return {
            "kind": "unknown",
            "source": "no source record (processed before evalkit 0.4); re-run intake",
            "mapping": None,
            "mapping_sha256": None,
            "extract_end": None,
            "engine": ENGINE,
        }
    return {
        "kind": record["kind"],
        "source": record.get("source"),
        "mapping": record.get("mapping_label"),
        "mapping_sha256": record.get("mapping_sha256"),
        "extract_end": record.get("extract_end"),
        "engine": record.get("engine", ENGINE),
    }

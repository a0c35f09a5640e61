"""``run_intake``: read raw tables, check them, write typed Parquet, quarantine and a report.

Every table's file is found and its header checked first (:mod:`evalkit.intake.sources`); then
each table, parents first, is staged, checked and written (:mod:`evalkit.intake.process`); the
counts go into the report (:mod:`evalkit.intake.report`). See ``docs/decisions/intake.md``.

All outputs are written to a work directory inside ``out_dir`` and moved into place, file by
file with :func:`evalkit.files.move_into`, only after every table has succeeded
(:func:`_publish`), so an interrupted or failed run never leaves a half-written table or a mix
of old and new tables: the moves keep the previous files in the work directory until the last
one is in place, and a run killed half-way is undone by the next (:func:`_clean_work`). Two
intakes into the same ``out_dir`` run one at a time (:func:`evalkit.files.build_lock`,
``out_dir/.intake.lock``); see ``docs/decisions/crash-safety.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

from evalkit import contract as C
from evalkit import engine
from evalkit.files import (
    LockTimeout,
    build_lock,
    clean_leftovers,
    move_into,
    undo_moves,
    write_text,
)
from evalkit.intake.checks import CheckContext, InstrumentRule, instrument_rules
from evalkit.intake.episodes import EPISODES_FILE
from evalkit.intake.errors import IntakeError
from evalkit.intake.mapping import IntakeMapping, load_mapping
from evalkit.intake.process import (
    SCHEMA_FULL_ROWS,
    SCHEMA_SAMPLE_ROWS,
    ProcessedTable,
    process_table,
)
from evalkit.intake.report import IntakeReport, TableReport
from evalkit.intake.source_record import SOURCE_FILE, activity_end, source_record
from evalkit.intake.sources import Source, file_sha256, find_sources
from evalkit.intake.staleness import REPORT_FILE, WORK_PREFIX

__all__ = ["empty_table_notes", "run_intake"]

#: How long an intake waits for another intake into the same folder before it gives up (s).
LOCK_TIMEOUT = 2 * 3600.0


def run_intake(
    raw_dir: Path,
    out_dir: Path,
    *,
    mapping: Path | None = None,
    programmes: dict | None = None,
    instrument_defs: dict | None = None,
    progress: bool = True,
    extract_end: dt.date | None = None,
    threads: int = engine.DEFAULT_THREADS,
    memory_limit: str = engine.DEFAULT_MEMORY_LIMIT,
    validate: bool = True,
) -> IntakeReport:
    """Validate the raw contract tables and write typed Parquet, quarantine and a report.

    Parameters
    ----------
    raw_dir : Path
        Directory holding ``population``, ``activity``, ``referrals`` and ``measures`` as CSV or
        Parquet (or the files a mapping names). Other files (``synthetic_truth.json``,
        ``synthetic_faults.json``) are never read.
    out_dir : Path
        Where ``<table>.parquet``, ``quarantine/<table>.parquet``, ``intake_report.json`` and
        ``source.json`` (what the tables were made from: :mod:`evalkit.intake.source_record`) go.
    mapping : Path, optional
        Intake mapping YAML for a data source whose names and codes differ from the contract.
    programmes : dict, optional
        Known programmes by slug (default :func:`evalkit.config.load_programmes`).
    instrument_defs : dict, optional
        Instrument definitions by name, each with ``items``, ``item_min`` and ``item_max``
        (default :func:`evalkit.config.instruments`).
    progress : bool
        Show a progress bar.
    extract_end : datetime.date, optional
        Last date the extract covers (dates after it are impossible); default the mapping's
        ``extract_end``, else today.
    threads : int
        DuckDB threads.
    memory_limit : str
        DuckDB memory limit (it spills to a work directory inside ``out_dir`` beyond it).
    validate : bool
        Check each accepted table against its pandera schema before it is written (default).
        The schemas restate what the row checks already enforce, so turning this off never
        changes the output; it only skips the second look (used to keep unit tests fast).

    Returns
    -------
    IntakeReport
        Counts per table and reason; ``rows_read == rows_accepted + rows_quarantined`` per table.

    Raises
    ------
    IntakeError
        A table's file is missing (or both CSV and Parquet exist), a required column is missing, a
        file cannot be parsed, or the mapping file is invalid. The message names the file and, where
        one applies, the column or line. Nothing in ``out_dir`` is changed.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if not raw_dir.is_dir():
        raise IntakeError(f"{raw_dir}: raw data directory not found")
    m = load_mapping(mapping)
    programmes, instrument_defs = _definitions(programmes, instrument_defs)
    rules = instrument_rules(instrument_defs)
    end = extract_end or m.extract_end or dt.date.today()
    notes: list[str] = []
    if extract_end is None and m.extract_end is None:
        notes.append(f"Extract end not given: assumed today ({end}); later dates are impossible.")
    # Find every file and check every header before doing any work.
    sources, source_notes = find_sources(raw_dir, m, mapping)
    notes += source_notes

    try:
        with build_lock(out_dir, "intake", timeout=LOCK_TIMEOUT):
            _clean_work(out_dir)
            return _run_locked(
                raw_dir,
                out_dir,
                mapping,
                m,
                sources,
                end,
                programmes,
                rules,
                notes,
                progress,
                threads,
                memory_limit,
                validate,
            )
    except LockTimeout as exc:
        raise IntakeError(f"{out_dir}: {exc}") from None


def _clean_work(out_dir: Path) -> None:
    """Undo and remove the work directories of intakes into ``out_dir`` that were killed.

    Called holding the lock. A run killed while moving its files in is undone first
    (:func:`evalkit.files.undo_moves`), so ``out_dir`` holds the previous run's files again.
    """
    for work in sorted(out_dir.glob(f"{WORK_PREFIX}*")):
        undo_moves(work / "undo", out_dir)
    clean_leftovers(out_dir, [f"{WORK_PREFIX}*"])


def _run_locked(
    raw_dir: Path,
    out_dir: Path,
    mapping: Path | None,
    m: IntakeMapping,
    sources: list[Source],
    end: dt.date,
    programmes: dict,
    rules: dict[str, InstrumentRule],
    notes: list[str],
    progress: bool,
    threads: int,
    memory_limit: str,
    validate: bool,
) -> IntakeReport:
    """The intake itself, once the lock is held: work directory, tables, report, publish."""
    work = out_dir / f"{WORK_PREFIX}{uuid.uuid4().hex[:12]}"
    out_tmp = work / "out"
    (out_tmp / "quarantine").mkdir(parents=True)
    con = engine.connect(
        ":memory:",
        threads=threads,
        memory_limit=memory_limit,
        temp_directory=work / "spill",
    )
    spec: dict[str, Any] = {
        "mapping": str(mapping) if mapping else None,
        "mapping_sha256": file_sha256(Path(mapping)) if mapping else None,
        "mapping_source": m.source,
        "extract_end": end.isoformat(),
        "date_format": m.date_format,
        "person_id_pattern": m.person_id_pattern,
        "programmes": sorted(programmes),
        "instruments": sorted(rules),
        "threads": threads,
        "memory_limit": memory_limit,
        "schema_validation": validate,
        "schema_full_rows": SCHEMA_FULL_ROWS,
        "schema_sample_rows": SCHEMA_SAMPLE_ROWS,
    }
    try:
        tables = _process_tables(
            con, sources, m, end, tuple(programmes), rules, out_tmp, validate, progress
        )
        notes += empty_table_notes(tables)
        report = IntakeReport(tables=tables, out_dir=out_dir, spec=spec, notes=tuple(notes))
        record = source_record(
            raw_dir,
            sources,
            mapping=mapping,
            mapping_source=m.source,
            extract_end=activity_end(out_tmp / "activity.parquet"),
            stated_extract_end=end,
        )
        _write_report(out_tmp / SOURCE_FILE, record)
        _write_report(out_tmp / REPORT_FILE, report.to_dict())
        con.disconnect()
        # Everything succeeded: move into place (each move atomic).
        _publish(out_tmp, out_dir, work / "undo")
    finally:
        try:
            con.disconnect()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)
    return report


def _definitions(programmes: dict | None, instrument_defs: dict | None) -> tuple[dict, dict]:
    """The programmes and instrument definitions given, else the configured ones."""
    if programmes is None:
        from evalkit.config import load_programmes

        programmes = load_programmes()
    if instrument_defs is None:
        from evalkit.config import instruments

        instrument_defs = instruments()
    return programmes, instrument_defs


def _process_tables(
    con: Any,
    sources: list[Source],
    m: IntakeMapping,
    end: dt.date,
    programmes: tuple[str, ...],
    rules: dict[str, InstrumentRule],
    out_tmp: Path,
    validate: bool,
    progress: bool,
) -> dict[str, TableReport]:
    """Take every table through intake, parents first, into the work directory ``out_tmp``."""
    from tqdm.auto import tqdm

    tables: dict[str, TableReport] = {}
    done: dict[str, ProcessedTable] = {}
    by_table = {t: [st for st in sources if st.table == t] for t in C.TABLES}
    bar = tqdm(list(by_table.items()), desc="intake", unit="table", disable=not progress)
    for table, files in bar:
        bar.set_postfix_str(f"{table} ({', '.join(st.path.name for st in files)})")
        ctx = CheckContext(
            person_id_pattern=m.person_id_pattern,
            extract_end=end,
            programmes=programmes,
            instruments=rules,
            null_values=tuple(m.null_values),
        )
        tables[table] = process_table(
            con,
            files,
            ctx,
            done,
            out_tmp,
            m,
            {
                "person_id_pattern": m.person_id_pattern,
                "extract_end": end,
                "programmes": programmes,
                "instruments": rules,
            },
            validate,
        )
    return tables


def empty_table_notes(tables: dict[str, TableReport]) -> list[str]:
    """A note for each table with no accepted row: header only, or the reasons every row failed.

    Examples
    --------
    >>> t = TableReport("measures", "measures.csv", "csv", 2, 0, 2, {"missing_required": 2}, "")
    >>> empty_table_notes({"measures": t})
    ['measures.csv: no row accepted: all 2 quarantined (missing_required 2).']
    """
    out = []
    for t in tables.values():
        if t.rows_accepted:
            continue
        if not t.rows_read:
            out.append(f"{t.source_file}: no row accepted: the file has a header and no rows.")
            continue
        why = ", ".join(f"{r} {n:,}" for r, n in t.quarantined_by_reason.items())
        out.append(f"{t.source_file}: no row accepted: all {t.rows_read:,} quarantined ({why}).")
    return out


def _write_report(path: Path, obj: Any) -> None:
    """A JSON file of intake's (report, source record), keys in their own order, atomically."""
    write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", path)


def _publish(work_out: Path, out_dir: Path, undo: Path) -> None:
    """Move a finished intake from its work directory into ``out_dir``.

    Each file is moved atomically (:func:`evalkit.files.move_into`; the work directory is inside
    ``out_dir``): every table and its quarantine first, then the source record, the report last,
    so a report never describes tables that are not there. The previous files wait in ``undo``
    until the last move, so a run killed half-way can be undone (:func:`_clean_work`).
    """
    tables = [name for t in C.TABLES for name in (f"quarantine/{t}.parquet", f"{t}.parquet")]
    episodes = [EPISODES_FILE] if (work_out / EPISODES_FILE).exists() else []  # the episode rule's
    try:
        move_into(work_out, out_dir, [*tables, *episodes, SOURCE_FILE, REPORT_FILE], undo=undo)
    except BaseException:
        undo_moves(undo, out_dir)  # before the work directory (and the previous files) go
        raise

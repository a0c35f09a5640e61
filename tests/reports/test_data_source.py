"""Every report says what it was built from, and a real extract is never replaced by the demo.

The issue's test (#16): a mapped extract in ``data/raw/`` of a fresh project, ``make report
PROGRAMME=mindsong MAPPING=...``; nothing is written into ``data/raw/``, the report is built from
the extract (``data_source.kind == "extract"``, the extract's hashes, the same figures as the
demo county it was made from) and its first screen says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
#: The warehouse's file name of each contract table (the extract is Parquet).
FILES = {
    "population": "GP_REGISTER_EXTRACT.parquet",
    "activity": "SUS_ACTIVITY.parquet",
    "referrals": "CH_MDS_REFERRALS.parquet",
    "measures": "CH_MDS_OUTCOMES.parquet",
}
#: Contract code -> the warehouse's code, per column (the mapping recodes them back).
CODES = {
    "sex": {"M": "1", "F": "2", "X": "9"},
    "setting": {
        "gp_appointment": "GP",
        "ae_attendance": "AE",
        "emergency_admission": "NEL",
        "elective_admission": "EL",
        "outpatient_attendance": "OPATT",
        "ooh_contact": "OOH",
    },
}
SOURCE = "Test ICB warehouse (the demo county, renamed and recoded)"


def _warehouse_name(column: str) -> str:
    return "PSEUDO_NHS_NUMBER" if column == "person_id" else column.upper()


def write_mapped_extract(county: Path, raw: Path, mapping: Path) -> None:
    """The demo county as a warehouse would export it, and the mapping that reads it back."""
    tables = {}
    for table, name in FILES.items():
        t = pq.read_table(county / f"{table}.parquet")
        for column, codes in CODES.items():
            if column in t.column_names:
                values = [codes.get(v, v) for v in t.column(column).to_pylist()]
                t = t.set_column(t.schema.get_field_index(column), column, pa.array(values))
        tables[table] = {
            "file": name,
            "columns": {_warehouse_name(c): c for c in t.column_names},
        }
        pq.write_table(t.rename_columns([_warehouse_name(c) for c in t.column_names]), raw / name)
        inverse = {c: {w: v for v, w in codes.items()} for c, codes in CODES.items()}
        recode = {c: inverse[c] for c in CODES if c in t.column_names}
        if recode:
            tables[table]["recode"] = recode
    mapping.write_text(yaml.safe_dump({"source": SOURCE, "tables": tables}, sort_keys=False))


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (hidden ones included), by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def project_copy(where: Path) -> Path:
    """A fresh project: Makefile, config, notebooks, scripts and this .venv (linked)."""
    proj = where / "proj"
    proj.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements.lock", "programmes", "notebooks"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, proj / name)
    shutil.copytree(ROOT / "scripts", proj / "scripts")
    if (ROOT / "plans").is_dir():
        shutil.copytree(ROOT / "plans", proj / "plans")
    (proj / ".venv").symlink_to(ROOT / ".venv")
    for sub in ("data/raw", "data/processed", "reports", "intake_mappings"):
        (proj / sub).mkdir(parents=True)
    for keep in ("data/raw", "data/processed", "reports"):
        (proj / keep / ".gitkeep").touch()
    # Older than the venv's stamp, so make does not rebuild the venv.
    stamp = ROOT / ".venv" / ".stamp"
    t = (stamp.stat().st_mtime if stamp.exists() else 0) - 60
    for name in ("pyproject.toml", "requirements.lock", "scripts/venv.sh", "scripts/lockdiff.py"):
        if (proj / name).exists():
            os.utime(proj / name, (t, t))
    return proj


def _make(proj: Path, *args: str) -> subprocess.CompletedProcess[str]:
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "VENV", "PYTEST_ARGS"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(EVALKIT_ROOT=str(proj), MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1")
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )


def _first_screen(page: str) -> str:
    """The report page up to its first section heading after the title."""
    return page[: page.index("Summary for commissioners")]


def _without(results: dict, *keys: str) -> dict:
    return {k: v for k, v in results.items() if k not in keys}


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_report_mapped_extract_in_data_raw_builds_from_it_and_never_writes_raw(
    tmp_path: Path, demo_county: Path, built_reports: Path
) -> None:
    proj = project_copy(tmp_path)
    raw = proj / "data" / "raw"
    mapping = proj / "intake_mappings" / "warehouse.yaml"
    write_mapped_extract(demo_county, raw, mapping)
    before = folder_digest(raw)

    run = _make(proj, "report", "PROGRAMME=mindsong", "MAPPING=intake_mappings/warehouse.yaml")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    assert folder_digest(raw) == before, "evalkit wrote into data/raw"
    assert not (proj / "data" / "demo").exists(), "the demo county was built beside real data"
    results = json.loads((proj / "reports" / "mindsong" / "results.json").read_text())
    ds = results["data_source"]
    assert ds == {
        "kind": "extract",
        "source": SOURCE,
        "mapping": "intake_mappings/warehouse.yaml",
        "mapping_sha256": hashlib.sha256(mapping.read_bytes()).hexdigest(),
        "extract_end": ds["extract_end"],
        "engine": "duckdb",
    }
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", ds["extract_end"])
    # Built from the extract's files: their hashes, and the figures of the county they hold.
    assert results["data_sha256"] == {t: before[name] for t, name in FILES.items()}
    demo = json.loads((built_reports / "mindsong" / "results.json").read_text())
    assert demo["data_source"]["kind"] == "synthetic"
    volatile = ("data_sha256", "data_source", "evalkit_version", "package_versions")
    assert _without(results, *volatile) == _without(demo, *volatile)
    page = _first_screen((proj / "reports" / "mindsong" / "index.html").read_text())
    assert "Built from: extract" in page and "mapping intake_mappings/warehouse.yaml" in page
    assert "not real data" not in page
    # Real processed data are recorded as such, with their mapping.
    record = json.loads((proj / "data" / "processed" / "source.json").read_text())
    assert record["kind"] == "extract" and record["mapping"] == "intake_mappings/warehouse.yaml"


def test_demo_report_says_synthetic_on_first_screen(built_reports: Path) -> None:
    """A report built from the synthetic county says so prominently, before anything else."""
    for folder in sorted(p for p in built_reports.iterdir() if (p / "results.json").exists()):
        results = json.loads((folder / "results.json").read_text())
        assert results["data_source"]["kind"] == "synthetic"
        assert results["data_source"]["mapping"] is None
        page = _first_screen((folder / "index.html").read_text())
        assert "ek-source-synthetic" in page
        assert "Built from: synthetic demo county, seed 42" in page
        assert "not real data" in page

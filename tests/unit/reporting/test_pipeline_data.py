"""What a report is built from: real data first, the demo county only when there is none.

Each test lays out a project's ``data/`` folder in a temporary directory and runs
:func:`evalkit.reporting.pipeline.ensure_data` (or the CLI) on it. ``data/raw`` is hashed
before and after wherever it holds files: evalkit never writes there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.intake.example import example_tables, write_tables
from evalkit.intake.source_record import SOURCE_FILE, data_source, read_source
from evalkit.reporting.pipeline import DataError, ensure_data, raw_files, resolve_data
from evalkit.reporting.provenance import built_from

ROOT = Path(__file__).resolve().parents[3]
MAPPING = "source: Test warehouse\nextract_end: 2024-03-31\n"


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` by relative path (hidden ones included)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project's empty data folders, as a fresh clone has them."""
    for sub in ("data/raw", "data/processed"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / ".gitkeep").touch()
    return tmp_path


@pytest.fixture
def fake_demo(monkeypatch: pytest.MonkeyPatch, demo_county: Path) -> list[dict[str, Any]]:
    """``generate_county`` replaced by a copy of the session's demo county (seed 42).

    The generator itself is tested in tests/unit/synth; here only where it writes matters.
    Returns the calls made (output folder and seed).
    """
    calls: list[dict[str, Any]] = []

    def generate(out: Path, **kw: Any) -> None:
        calls.append({"out": Path(out), "seed": kw.get("seed")})
        Path(out).mkdir(parents=True, exist_ok=True)
        for p in demo_county.iterdir():
            shutil.copy2(p, Path(out) / p.name)

    monkeypatch.setattr("evalkit.synth.generate_county", generate)
    return calls


def _paths(project: Path) -> tuple[Path, Path]:
    return project / "data" / "raw", project / "data" / "processed"


def test_ensure_data_empty_raw_builds_demo_in_data_demo(
    project: Path, fake_demo: list[dict[str, Any]]
) -> None:
    raw, processed = _paths(project)
    choice = ensure_data(raw, processed)
    demo = project / "data" / "demo"
    assert choice.kind == "synthetic" and choice.demo
    assert choice.raw == demo and choice.processed == demo / "processed"
    assert [c["out"] for c in fake_demo] == [demo]
    # Nothing written into data/raw or data/processed: the demo lives in data/demo.
    assert folder_digest(raw) == {".gitkeep": hashlib.sha256(b"").hexdigest()}
    assert sorted(p.name for p in processed.iterdir()) == [".gitkeep"]
    ds = data_source(choice.processed)
    assert ds["kind"] == "synthetic"
    assert ds["source"] == "synthetic demo county, seed 42, regime realistic, world hard"
    assert built_from(ds).endswith("– not real data.")
    # Again: the demo is there and up to date, nothing is regenerated.
    ensure_data(raw, processed)
    assert len(fake_demo) == 1
    # Another seed asked for: regenerated.
    ensure_data(raw, processed, seed=7)
    assert [c["seed"] for c in fake_demo] == [42, 7]


def test_cli_report_non_contract_raw_files_without_mapping_fails_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, _ = _paths(project)
    (raw / "GP_REGISTER_EXTRACT.csv").write_text("PSEUDO_NHS_NUMBER,GENDER_CODE\nabc,1\n")
    (raw / "SUS_APC.csv").write_text("PSEUDO_NHS_NUMBER,ADMIMETH\nabc,21\n")
    before = folder_digest(raw)
    monkeypatch.setenv("EVALKIT_ROOT", str(ROOT))
    monkeypatch.chdir(project)
    result = CliRunner().invoke(app, ["report", "--programme", "mindsong", "--no-progress"])
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert "no mapping was given" in errors[0] and "--mapping" in errors[0]
    assert "GP_REGISTER_EXTRACT.csv" in errors[0]
    assert folder_digest(raw) == before
    assert not (project / "reports").exists()
    assert not (project / "data" / "demo").exists()


def test_resolve_data_mapping_without_raw_files_is_an_error(project: Path) -> None:
    raw, processed = _paths(project)
    with pytest.raises(DataError, match="holds no files"):
        resolve_data(raw, processed, mapping=project / "m.yaml")


def test_resolve_data_processed_without_source_record_and_empty_raw_is_an_error(
    project: Path,
) -> None:
    """Processed tables from before 0.4 may be real: never replaced by the demo silently."""
    raw, processed = _paths(project)
    (processed / "intake_report.json").write_text("{}")
    with pytest.raises(DataError, match="no source record"):
        resolve_data(raw, processed)


def _mapped_extract(project: Path) -> tuple[Path, Path, Path]:
    """The example extract in data/raw and its mapping in intake_mappings/."""
    raw, processed = _paths(project)
    write_tables(example_tables(), raw, "csv")
    mapping = project / "intake_mappings" / "warehouse.yaml"
    mapping.parent.mkdir()
    mapping.write_text(MAPPING)
    return raw, processed, mapping


def test_ensure_data_raw_changed_reruns_intake_with_recorded_mapping(project: Path) -> None:
    raw, processed, mapping = _mapped_extract(project)
    said: list[str] = []
    first = ensure_data(raw, processed, mapping=mapping, say=said.append)
    assert first.kind == "extract" and first.processed == processed
    assert read_source(processed)["mapping"] == str(mapping)
    # Unchanged: nothing to do, and the recorded mapping is used without being given.
    said.clear()
    again = ensure_data(raw, processed, say=said.append)
    assert again.mapping == mapping
    assert not any(s.startswith("intake:") for s in said), said
    # A raw file changes: intake runs again, with the recorded mapping.
    acts = raw / "activity.csv"
    acts.write_text(acts.read_text().replace("2023-08-01", "2023-08-02"))
    before = folder_digest(raw)
    said.clear()
    ensure_data(raw, processed, say=said.append)
    assert [s for s in said if s.startswith("intake:")] == [
        f"intake: {raw} -> {processed} (mapping {mapping})"
    ]
    report = json.loads((processed / "intake_report.json").read_text())
    assert report["spec"]["mapping"] == str(mapping)
    record = read_source(processed)
    new_hash = hashlib.sha256(acts.read_bytes()).hexdigest()
    assert {f["name"]: f["sha256"] for f in record["raw_files"]}["activity.csv"] == new_hash
    assert record["extract_end"] == "2023-08-02"
    assert folder_digest(raw) == before  # intake read data/raw and wrote nothing there
    assert not (project / "data" / "demo").exists()


def test_resolve_data_real_processed_data_kept_when_raw_is_emptied(project: Path) -> None:
    """Real processed data whose raw files were moved away are used as they are, not the demo."""
    raw, processed, mapping = _mapped_extract(project)
    ensure_data(raw, processed, mapping=mapping)
    elsewhere = project / "secure"
    shutil.move(raw, elsewhere)
    raw.mkdir()
    choice = resolve_data(raw, processed)
    assert choice.kind == "extract" and choice.raw is None and not choice.demo
    assert choice.processed == processed
    assert (processed / SOURCE_FILE).is_file()


def test_raw_files_ignores_placeholders_and_hidden_files(tmp_path: Path) -> None:
    for name in (".gitkeep", "README.md", ".DS_Store", "sub/.hidden/x.csv", "sub/APC.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    assert [p.relative_to(tmp_path).as_posix() for p in raw_files(tmp_path)] == ["sub/APC.csv"]

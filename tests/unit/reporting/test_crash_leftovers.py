"""A killed report build's leftovers (issue #20 items 1 and 4): the checker names each as a finding
(never published), the next build removes them under the programme's lock
(``docs/decisions/crash-safety.md``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.files import build_lock
from evalkit.reporting import declared, pipeline
from evalkit.reporting.checker import LEFTOVER_KIND
from evalkit.reporting.pipeline import ReportError, render_report

CLEAN_RESULTS = {"matching": {"n_participants": 120}}
#: What a build killed half-way leaves: a results.json with an unchecked small count, a CSV.
UNCHECKED = {"results.json": json.dumps({"n_participants": 3}), "reach.csv": "n_people\n3\n"}


def _report(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(CLEAN_RESULTS))
    (folder / "reach.csv").write_text("group,participants\nall,120\n")
    manifest = declared.manifest(CLEAN_RESULTS, {"reach.csv": ["group", "participants"]})
    (folder / declared.MANIFEST).write_text(json.dumps(manifest))
    (folder / "index.html").write_text("<html><body><p>A report.</p></body></html>")
    return folder


def _leftovers(reports: Path, slug: str) -> None:
    for name in (f".{slug}-staging-ab12cd", f".{slug}-old"):
        (reports / name).mkdir(parents=True)
        for file, text in UNCHECKED.items():
            (reports / name / file).write_text(text)


def test_evalkit_check_names_a_killed_builds_leftovers_and_passes_the_report(
    tmp_path: Path,
) -> None:
    """A leftover in a published folder is itself a finding (its files are scanned too); the
    report beside it is clean, and once the leftovers are gone (the next build removes them)
    ``evalkit check`` passes."""
    from evalkit.cli import app

    reports = tmp_path / "reports"
    _report(reports / "mindsong")
    _leftovers(reports, "mindsong")
    args = ["check", "--reports", str(reports), "--processed", str(tmp_path)]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 1, run.output
    leftovers = {".mindsong-staging-ab12cd", ".mindsong-old"}
    result = pipeline.check_reports(reports, ["mindsong"], tmp_path)
    named = {Path(f.path).name for f in result.findings if f.kind == LEFTOVER_KIND}
    assert named == leftovers
    assert all(Path(f.path).relative_to(reports).parts[0] in leftovers for f in result.findings)
    assert "leftover of an interrupted build" in run.output
    for name in leftovers:
        shutil.rmtree(reports / name)
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "4 file(s) scanned, 0 image(s) skipped, 0 finding(s)" in run.output


def test_check_reports_of_only_hidden_folders_fails(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    _leftovers(reports, "mindsong")
    result = pipeline.check_reports(reports, [".mindsong-staging-ab12cd"], tmp_path)
    assert not result.ok
    assert [f.kind for f in result.findings].count(LEFTOVER_KIND) == 2


@pytest.fixture
def processed(tmp_path: Path) -> Path:
    """A processed folder as far as render_report checks before the notebook runs."""
    out = tmp_path / "processed"
    out.mkdir()
    (out / "intake_report.json").write_text("{}")
    return out


def _failing_notebook(path: Path) -> Path:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "execution_count": None,
                "source": "raise RuntimeError('stopped on purpose')",
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def test_render_report_removes_leftovers_of_killed_builds_first(
    tmp_path: Path, processed: Path
) -> None:
    """Killed between the swap's renames: the previous report is put back, staging removed."""
    reports = tmp_path / "reports"
    _leftovers(reports, "mindsong")  # another programme's: left to its own next build
    (reports / ".cyp-staging-ab12cd").mkdir()
    (reports / ".cyp-staging-ab12cd" / "reach.csv").write_text(UNCHECKED["reach.csv"])
    previous = _report(reports / ".cyp-old")
    before = {p.name: p.read_bytes() for p in previous.iterdir()}
    notebook = _failing_notebook(tmp_path / "broken.ipynb")
    with pytest.raises(Exception, match="stopped on purpose"):
        render_report("cyp", processed, reports, notebook=notebook)
    assert sorted(p.name for p in reports.iterdir()) == [
        ".mindsong-old",
        ".mindsong-staging-ab12cd",
        "cyp",
    ]
    assert {p.name: p.read_bytes() for p in (reports / "cyp").iterdir()} == before


def test_render_report_waits_then_fails_with_one_message_while_another_build_runs(
    tmp_path: Path, processed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    monkeypatch.setattr(pipeline, "LOCK_TIMEOUT", 0.3)
    with build_lock(reports, "cyp"), pytest.raises(ReportError, match="another build of cyp"):
        render_report("cyp", processed, reports, notebook=_failing_notebook(tmp_path / "b.ipynb"))

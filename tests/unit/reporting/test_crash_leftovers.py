"""A killed report build's leftovers (issue #20 item 4): the checker ignores them, the next build
removes them under the programme's lock (``docs/decisions/crash-safety.md``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.files import build_lock
from evalkit.reporting import pipeline
from evalkit.reporting.pipeline import ReportError, render_report

CLEAN_RESULTS = {"matching": {"n_participants": 120}}
#: What a build killed half-way leaves: a results.json with an unchecked small count, a CSV.
UNCHECKED = {"results.json": json.dumps({"n_participants": 3}), "reach.csv": "n_people\n3\n"}


def _report(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(CLEAN_RESULTS))
    (folder / "reach.csv").write_text("group,n_people\nall,120\n")
    (folder / "index.html").write_text("<html><body><p>A report.</p></body></html>")
    return folder


def _leftovers(reports: Path, slug: str) -> None:
    for name in (f".{slug}-staging-ab12cd", f".{slug}-old"):
        (reports / name).mkdir(parents=True)
        for file, text in UNCHECKED.items():
            (reports / name / file).write_text(text)


def test_evalkit_check_ignores_a_killed_builds_staging_folder(tmp_path: Path) -> None:
    from evalkit.cli import app

    reports = tmp_path / "reports"
    _report(reports / "mindsong")
    _leftovers(reports, "mindsong")
    run = CliRunner().invoke(app, ["check", "--out", str(reports), "--processed", str(tmp_path)])
    assert run.exit_code == 0, run.output
    assert "3 file(s) scanned, 0 finding(s)" in run.output
    assert "staging" not in run.output


def test_check_reports_of_only_hidden_folders_still_finds_nothing_scanned(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    _leftovers(reports, "mindsong")
    result = pipeline.check_reports(reports, [".mindsong-staging-ab12cd"], tmp_path)
    assert not result.ok and [f.kind for f in result.findings] == ["nothing scanned"]


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

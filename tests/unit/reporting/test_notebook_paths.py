"""The published notebook carries no machine paths (evalkit.reporting.notebook_paths)."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.reporting.notebook_paths import OUTSIDE, scrub_paths


def _notebook(path: Path, params: str, meta: dict) -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'data_dir = ""'},
            {
                "cell_type": "code",
                "id": "3f9a1c27-random",
                "metadata": {"tags": ["injected-parameters"]},
                "source": params,
            },
            {"cell_type": "markdown", "metadata": {}, "source": "text naming /elsewhere/x stays"},
        ],
        "metadata": {"papermill": meta},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


def test_paths_become_project_relative_and_staging_the_report_folder(tmp_path: Path) -> None:
    project = tmp_path / "home" / "analyst" / "evalkit"
    staging = project / "reports" / ".mindsong-staging-abc123"
    target = project / "reports" / "mindsong"
    processed = project / "data" / "processed"
    outside = tmp_path / "secure" / "processed"
    staging.mkdir(parents=True)
    nb_file = staging / "notebook.ipynb"
    params = (
        f'programme = "mindsong"\ndata_dir = "{processed}"\n'
        f'output_dir = "{staging}"\nraw_dir = "{outside}"\n'
    )
    meta = {
        "input_path": str(project / "notebooks" / "report.ipynb"),
        "output_path": str(nb_file),
        "parameters": {"data_dir": str(processed), "output_dir": str(staging)},
    }
    _notebook(nb_file, params, meta)
    scrub_paths(
        nb_file,
        project=project,
        staging=staging,
        target=target,
        paths=[str(processed), str(outside), str(project / "notebooks" / "report.ipynb")],
    )
    text = nb_file.read_text(encoding="utf-8")
    assert str(tmp_path) not in text
    assert "staging" not in text
    nb = json.loads(text)
    injected = nb["cells"][1]["source"]
    assert 'data_dir = "data/processed"' in injected
    assert 'output_dir = "reports/mindsong"' in injected
    assert f'raw_dir = "{OUTSIDE}"' in injected
    pm = nb["metadata"]["papermill"]
    assert pm["input_path"] == "notebooks/report.ipynb"
    assert pm["output_path"] == "reports/mindsong/notebook.ipynb"
    assert pm["parameters"] == {"data_dir": "data/processed", "output_dir": "reports/mindsong"}
    assert nb["cells"][2]["source"] == "text naming /elsewhere/x stays"


def test_injected_cell_gets_a_fixed_id(tmp_path: Path) -> None:
    """papermill draws the inserted cell's id at random; the published notebook and HTML must
    be the same for the same inputs."""
    nb_file = tmp_path / "notebook.ipynb"
    _notebook(nb_file, 'programme = "mindsong"\n', {})
    scrub_paths(nb_file, project=tmp_path, staging=tmp_path, target=tmp_path, paths=[])
    assert json.loads(nb_file.read_text())["cells"][1]["id"] == "injected-parameters"

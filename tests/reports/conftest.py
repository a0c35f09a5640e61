"""Every programme's report built once per session on the demo county (about 30 s each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.config import load_programmes
from evalkit.reporting import build_index, render_report
from helpers.shared import shared_parts

PROGRAMMES = sorted(load_programmes())


@pytest.fixture(scope="session")
def built_reports(demo_processed: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """reports/<slug>/ for every programme plus reports/index.html, on the demo county.

    Built once per session; under pytest-xdist the workers share the programmes' builds out
    and all read the one folder.
    """
    return shared_parts(
        tmp_path_factory,
        "reports",
        PROGRAMMES,
        lambda out, slug: render_report(slug, demo_processed, out),
        build_index,
    )

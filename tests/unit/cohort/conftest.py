"""Fixtures shared by the cohort tests: a small generated county (20,000 people, seed 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import config
from helpers.shared import shared_dir


def _generate(root: Path) -> None:
    from evalkit.synth import generate_county

    generate_county(
        root / "raw",
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=20_000,
        seed=7,
        fmt="parquet",
        progress=False,
    )


@pytest.fixture(scope="session")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 20,000-person county, raw tables, once per session (once for all xdist workers)."""
    return shared_dir(tmp_path_factory, "county20k", _generate) / "raw"

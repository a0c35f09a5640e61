"""Fixtures shared by the cohort tests: a small generated county (20,000 people, seed 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import config


@pytest.fixture(scope="session")
def county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from evalkit.synth import generate_county

    out = tmp_path_factory.mktemp("county20k") / "raw"
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=20_000,
        seed=7,
        fmt="parquet",
        progress=False,
    )
    return out

"""Shared fixtures: a synthetic county generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit import config
from evalkit.synth import generate_county


@pytest.fixture(scope="session")
def demo_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county (60,000 people, seed 42, Parquet), generated once per session."""
    out = tmp_path_factory.mktemp("demo_county") / "raw"
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        fmt="parquet",
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def demo_processed(demo_county: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo county after intake (``data/processed`` layout), once per session."""
    from evalkit.intake import run_intake

    out = tmp_path_factory.mktemp("demo_processed") / "processed"
    run_intake(demo_county, out, progress=False)
    return out


@pytest.fixture(scope="session")
def demo_observables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hard demo county in the observables regime (seed 42), raw tables, once per session.

    Referral depends only on what the analysis can match on, so the matched DiD's assumptions
    hold and its truth checks are exact up to sampling error (the realistic default adds latent
    episodes, whose residual bias is reported, not tested against 3 SE).
    """
    out = tmp_path_factory.mktemp("demo_observables") / "raw"
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        regime="observables",
        world="hard",
        fmt="parquet",
        progress=False,
    )
    return out


@pytest.fixture(scope="session")
def demo_observables_processed(
    demo_observables: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The observables demo county after intake."""
    from evalkit.intake import run_intake

    out = tmp_path_factory.mktemp("demo_observables_processed") / "processed"
    run_intake(demo_observables, out, progress=False)
    return out

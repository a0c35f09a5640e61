"""A small county for tests of small programmes: 12,000 people, seed 7, about 40 mindsong people.

Generated once per test session (:func:`small_county`); :func:`processed_with` and
:func:`raw_with` keep the first ``n`` referred people of mindsong (a random subset, fixed seed)
and drop the others' referrals.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from evalkit import config
from helpers.shared import shared_dir

PROGRAMME = "mindsong"


def generate(root: Path) -> None:
    from evalkit.intake import run_intake
    from evalkit.synth import generate_county

    generate_county(
        root / "raw",
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=12_000,
        seed=7,
        fmt="parquet",
        progress=False,
    )
    run_intake(root / "raw", root / "processed", progress=False)


def small_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12,000-person county: ``raw/`` and ``processed/``, once per session."""
    return shared_dir(tmp_path_factory, "small_county12k", generate)


def keep_referrals(referrals: pd.DataFrame, n: int) -> pd.DataFrame:
    """Every referral except mindsong's, whose people are cut to ``n`` (fixed random subset)."""
    people = referrals.loc[referrals["programme"] == PROGRAMME, "person_id"]
    people = people.drop_duplicates().sort_values()
    assert len(people) >= 30, "the small county must have 30 mindsong participants to cut"
    kept = set(people.sample(n=n, random_state=0))
    return referrals[(referrals["programme"] != PROGRAMME) | referrals["person_id"].isin(kept)]


def processed_with(county: Path, n: int, out: Path) -> Path:
    """A copy of the processed county with ``n`` mindsong people (no intake)."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(county / "processed", out, ignore=shutil.ignore_patterns("referrals.parquet"))
    ref = pd.read_parquet(county / "processed" / "referrals.parquet")
    keep_referrals(ref, n).to_parquet(out / "referrals.parquet", index=False)
    return out


def raw_with(county: Path, n: int, out: Path) -> Path:
    """A raw folder with ``n`` mindsong people (other tables linked to the county's)."""
    out.mkdir(parents=True)
    for f in (county / "raw").iterdir():
        if f.name != "referrals.parquet":
            (out / f.name).symlink_to(f.resolve())
    ref = pd.read_parquet(county / "raw" / "referrals.parquet")
    keep_referrals(ref, n).to_parquet(out / "referrals.parquet", index=False)
    return out

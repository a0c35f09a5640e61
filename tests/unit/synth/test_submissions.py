"""referrals.submitted_on in the synthetic county: its own stream, no other draw moves."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import config
from evalkit.synth import generate_county
from evalkit.synth.tables import LATE_EXTRA_DAYS, LATE_SHARE, submission_days


def _generate(out: Path, **kw) -> Path:
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=3_000,
        seed=5,
        fmt="parquet",
        progress=False,
        **kw,
    )
    return out


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("submissions")
    return _generate(root / "without", submitted_on=False), _generate(
        root / "with", submitted_on=True
    )


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_submitted_on_changes_no_other_table_or_truth(pair) -> None:
    without, with_ = pair
    for name in (
        "population.parquet",
        "activity.parquet",
        "measures.parquet",
        "synthetic_truth.json",
    ):
        assert _sha(without / name) == _sha(with_ / name), name
    a = pd.read_parquet(without / "referrals.parquet")
    b = pd.read_parquet(with_ / "referrals.parquet")
    assert "submitted_on" not in a.columns and list(b.columns)[-1] == "submitted_on"
    pd.testing.assert_frame_equal(a, b.drop(columns="submitted_on"))


def test_submitted_on_follows_the_referral_within_the_extract(pair) -> None:
    _, with_ = pair
    b = pd.read_parquet(with_ / "referrals.parquet")
    lag = (pd.to_datetime(b["submitted_on"]) - pd.to_datetime(b["referral_date"])).dt.days
    assert b["submitted_on"].notna().all()
    assert (lag > 0).all()
    assert pd.to_datetime(b["submitted_on"]).max() <= pd.Timestamp("2025-03-31")


def test_submission_days_is_after_the_month_and_capped() -> None:
    rng = np.random.default_rng(0)
    ref = np.full(2_000, 19_000)  # 2022-01-08
    days = submission_days(rng, ref, last_day=19_500)
    assert (days >= 19_024).all()  # 2022-02-01: the return after the referral's month
    # About LATE_SHARE wait for a later return (3 binomial SEs; the gamma delay passes 60 days
    # with probability about 5e-4).
    late = ((days - 19_024) >= LATE_EXTRA_DAYS[0]).mean()
    se = (LATE_SHARE * (1 - LATE_SHARE) / days.size) ** 0.5
    assert abs(late - LATE_SHARE) < 3 * se
    capped = submission_days(np.random.default_rng(0), ref, last_day=19_030)
    assert capped.max() == 19_030

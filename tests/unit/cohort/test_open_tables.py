"""open_tables: optional contract columns may be absent, required ones may not."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evalkit import contract as C
from evalkit.cohort.tables import CohortError, open_tables


def _write(folder: Path, drop: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("population", "activity", "referrals"):
        cols = [c for c in C.COLUMNS[name] if c != drop and c != "submitted_on"]
        pd.DataFrame({c: pd.Series([], dtype="string") for c in cols}).to_parquet(
            folder / f"{name}.parquet"
        )


def test_open_tables_referrals_without_submitted_on_opens(tmp_path) -> None:
    # Bug: once submitted_on joined the contract, every processed folder without it was refused.
    _write(tmp_path)
    tables = open_tables(tmp_path)
    assert "submitted_on" not in tables.referrals.columns


def test_open_tables_missing_required_referral_column_names_it(tmp_path) -> None:
    _write(tmp_path, drop="discharge_reason")
    with pytest.raises(CohortError, match="discharge_reason"):
        open_tables(tmp_path)

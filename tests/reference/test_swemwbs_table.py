"""SWEMWBS raw-to-metric conversion against the published table, every raw score 7-35.

Reference: tests/reference/swemwbs_conversion.csv (typed from the published table; its header
names the source). Tolerance 0.005: the table is published to 2 decimal places.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.config import instruments
from evalkit.stats.scoring import score_measures

REF = Path(__file__).with_name("swemwbs_conversion.csv")
TOL = 0.005  # half a unit in the published table's last (2nd) decimal place


def _ref() -> pd.DataFrame:
    return pd.read_csv(REF, comment="#")


def _items_for(raw: int, *, front_loaded: bool) -> list[int]:
    """Seven responses 1-5 summing to raw: filled from the front or from the back."""
    resp = [1] * 7
    extra = raw - 7
    order = range(7) if front_loaded else range(6, -1, -1)
    for i in order:
        add = min(4, extra)
        resp[i] += add
        extra -= add
    assert sum(resp) == raw
    return resp


def _measures() -> pd.DataFrame:
    rows = []
    for raw in range(7, 36):
        for pattern, front in (("f", True), ("b", False)):
            for item, r in enumerate(_items_for(raw, front_loaded=front), start=1):
                rows.append(
                    (f"raw{raw:02d}{pattern}", "swemwbs", "baseline", "2024-01-01", str(item), r)
                )
    return pd.DataFrame(
        rows, columns=["episode_id", "instrument", "timepoint", "assessed_on", "item", "response"]
    )


def test_reference_table_has_every_raw_score_once():
    ref = _ref()
    assert ref["raw"].tolist() == list(range(7, 36))
    assert ref["metric"].is_monotonic_increasing


def test_score_measures_every_raw_score_matches_published_metric():
    ref = _ref().set_index("raw")["metric"]
    res = score_measures(_measures(), instruments())
    assert res["scorable"].all()
    raw = res["raw_score"].astype(int)
    expected = raw.map(ref)
    np.testing.assert_allclose(res["score"], expected, atol=TOL, rtol=0)
    # both item patterns of each raw total get the same metric score
    assert res.groupby(raw)["score"].nunique().eq(1).all()
    assert sorted(raw.unique()) == list(range(7, 36))


@pytest.mark.parametrize("raw", range(7, 36))
def test_swemwbs_definition_conversion_row_matches_reference(raw):
    ref = _ref().set_index("raw")["metric"]
    conv = instruments()["swemwbs"].conversion
    assert conv is not None
    assert conv[raw] == pytest.approx(ref[raw], abs=TOL)

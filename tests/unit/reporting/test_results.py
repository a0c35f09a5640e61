"""results.json: rounding, data hashes, disclosure control, atomic writing."""

from __future__ import annotations

import json
from pathlib import Path

from evalkit.files import write_json
from evalkit.jsonsafe import round_floats
from evalkit.reporting.results import build_results, write_table


def _processed(tmp_path: Path) -> Path:
    report = {
        "tables": {
            t: {"sha256": t[0] * 64} for t in ("population", "activity", "referrals", "measures")
        }
    }
    (tmp_path / "intake_report.json").write_text(json.dumps(report))
    return tmp_path


def test_round_floats_six_significant_digits() -> None:
    assert round_floats(123456.789) == 123457.0
    assert round_floats(0.000123456789) == 0.000123457
    assert round_floats(float("inf")) is None


def test_build_results_applies_disclosure_and_records_hashes(tmp_path: Path) -> None:
    res = build_results(
        "mindsong",
        processed_dir=_processed(tmp_path),
        parameters={"ratio": 3},
        utilisation=[
            {
                "setting": "gp_appointment",
                "n_participants": 6,
                "estimate": 0.912345678,
                "ci_low": 0.8,
                "ci_high": 1.1,
            }
        ],
        wellbeing=[{"instrument": "wemwbs", "n_paired": 33, "mean_change": 2.123456789}],
    )
    assert res["data_sha256"]["activity"] == "a" * 64
    assert set(res["data_sha256"]) == {"population", "activity", "referrals", "measures"}
    util = res["utilisation"][0]
    assert util["n_participants"] is None and util["estimate"] is None
    assert res["wellbeing"][0]["n_paired"] == 35
    assert res["wellbeing"][0]["mean_change"] == 2.12346


def test_write_json_is_byte_identical_and_csv_marks_suppressed(tmp_path: Path) -> None:
    obj = {"b": 1, "a": [1.5, None]}
    a = write_json(obj, tmp_path / "a.json").read_bytes()
    b = write_json(dict(reversed(list(obj.items()))), tmp_path / "b.json").read_bytes()
    assert a == b
    csv = write_table(
        [
            {"n_paired": None, "mean_change": None, "suppressed": ["n_paired", "mean_change"]},
            {"n_paired": 40, "mean_change": 1.0},
        ],
        tmp_path / "t.csv",
    ).read_text()
    assert csv.splitlines()[1].startswith("*,*")

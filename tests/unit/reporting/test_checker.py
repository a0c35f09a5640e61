"""The disclosure checker: case tables of what it must catch and what it must let through."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit.nhs_number import is_valid_nhs_number
from evalkit.reporting.checker import check_file, check_outputs


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    ("payload", "caught"),
    [
        ({"n_participants": 3}, True),  # small
        ({"n_paired": 7}, True),  # at the threshold
        ({"participants": 12}, True),  # not rounded to 5
        ({"shares": {"n_deteriorated": 1}}, True),  # nested
        ({"n_participants": 0}, False),  # zero is not disclosive
        ({"n_participants": 10, "n_controls": 35}, False),
        ({"n_participants": None, "suppressed": ["n_participants"]}, False),
        ({"estimate": 3}, False),  # not a count
    ],
)
def test_check_file_json_counts_case_table(tmp_path: Path, payload: dict, caught: bool) -> None:
    findings = check_file(_write(tmp_path, "r.json", json.dumps(payload)))
    assert bool(findings) is caught, findings


@pytest.mark.parametrize(
    ("csv", "caught"),
    [
        ("setting,n_participants\ngp,5\n", True),
        ("setting,n_participants\ngp,*\n", False),
        ("setting,n_participants\ngp,15\n", False),
        ("setting,estimate\ngp,5\n", False),
    ],
)
def test_check_file_csv_counts_case_table(tmp_path: Path, csv: str, caught: bool) -> None:
    assert bool(check_file(_write(tmp_path, "t.csv", csv))) is caught


@pytest.mark.parametrize(
    ("html", "caught"),
    [
        ('<td class="ek-count num">4</td>', True),
        ('<td class="ek-count num">*</td>', False),
        ('<td class="ek-count num">1,205</td>', False),
        ("<p>We saw 3 participants.</p>", True),
        ("<p>Counts of 1 to 7 are suppressed.</p>", False),
        ("<p>person 0123456789abcdef</p>", True),  # pseudonym-shaped
        ("<p>NHS 943 476 5919</p>", True),  # valid check digit
        ("<p>value 943 476 5918</p>", False),  # invalid check digit
        ("<p>NHS number 9434765919.</p>", True),  # sentence full stop: still caught
        ("<p>CI upper 9434765919.25</p>", False),  # a decimal number is not an NHS number
        ("<p>lives at SW1A 1AA</p>", True),
        ("<p>Date of birth: 01/02/1950</p>", True),
        ('<img src="data:image/png;base64,0123456789abcdef0123" alt="x">', False),
    ],
)
def test_check_file_html_case_table(tmp_path: Path, html: str, caught: bool) -> None:
    page = f"<html><body><main>{html}</main></body></html>"
    assert bool(check_file(_write(tmp_path, "index.html", page))) is caught


def test_check_file_person_id_from_data_caught(tmp_path: Path) -> None:
    p = _write(tmp_path, "r.json", json.dumps({"note": "see ABCDEFGH12345678"}))
    assert check_file(p, person_ids={"ABCDEFGH12345678"})
    assert not check_file(p, person_ids={"ZZZZZZZZ12345678"})


def test_check_outputs_requires_each_kind_per_programme(tmp_path: Path) -> None:
    _write(tmp_path, "x", "")
    (tmp_path / "mindsong").mkdir()
    _write(tmp_path / "mindsong", "results.json", "{}")
    result = check_outputs(tmp_path, require=["mindsong"])
    missing = {f.value for f in result.findings if f.kind == "nothing scanned"}
    assert missing == {"no .html file", "no .csv file"}


def test_check_outputs_empty_folder_fails(tmp_path: Path) -> None:
    assert not check_outputs(tmp_path).ok


@pytest.mark.parametrize(
    ("digits", "valid"),
    [("9434765919", True), ("9434765918", False), ("123", False), ("4010232137", True)],
)
def test_nhs_check_digit_case_table(digits: str, valid: bool) -> None:
    assert is_valid_nhs_number(digits) is valid

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


# --- every file type, count names and counts in words (issue #20 item 1) ---------------------


@pytest.mark.parametrize(
    ("csv", "caught"),
    [
        ("group,people\nall,3\n", True),  # a column not in COUNT_KEYS, named as a count
        ("group,N\nall,12\n", True),  # unrounded
        ("group,total\nall,4\n", True),
        ("group,Number referred\nall,6\n", True),
        ("group,women\nall,2\n", True),
        ("group,note\nall,n = 3\n", True),  # a count in words in a text cell
        ("group,people\nall,15\n", False),
        ("group,share_people\nall,0.3\n", False),  # a share, not a count
        ("group,eligible_person_years\nall,224.42\n", False),
        ("group,events_per_participant\nall,1.3\n", False),
        ("group,mean_age\nall,3\n", False),
        ("period,year,n\n2023-Q1,2023,10\n", False),  # a year is not a count
        ("setting,cost,price_year\ngp,42,2024\n", False),  # money and years
    ],
)
def test_check_file_csv_count_names_case_table(tmp_path: Path, csv: str, caught: bool) -> None:
    assert bool(check_file(_write(tmp_path, "t.csv", csv))) is caught


@pytest.mark.parametrize(
    ("text", "caught"),
    [
        ("the group had n = 3 at follow-up", True),
        ("(n=3)", True),
        ("N: 3", True),
        ("3 women took part", True),
        ("3 matched controls", True),
        ("3 of 45 completed", True),
        ("12 people", True),  # unrounded
        ("Figure 3 of 5", False),
        ("3 of 5 sensitivity analyses agree", False),
        ("n = 0 and n = 45", False),
        ("aged 65 and over, for 12 months, 3 days", False),
        ("in 2023 and 2024, 45% of people", False),
        ("£3 of every £10; 2.5 of 7.5 points", False),
        ("rate ratio 0.84 (95% CI 0.74 to 0.96); scored 23 of 35", False),  # a score
        ("per 1,000 people; 1,205 people", False),
    ],
)
def test_check_file_text_count_phrases_case_table(tmp_path: Path, text: str, caught: bool) -> None:
    assert bool(check_file(_write(tmp_path, "notes.txt", text))) is caught


@pytest.mark.parametrize(
    ("html", "caught"),
    [
        (
            "<table><tr><th>group</th><th>people</th></tr><tr><td>all</td><td>3</td></tr></table>",
            True,
        ),
        (
            "<table><tr><th>group</th><th>N</th></tr><tr><td>all</td><td>3 (12%)</td></tr></table>",
            True,
        ),
        ("<table><tr><td>Participants</td><td>4</td></tr></table>", True),  # row label, no header
        (
            "<table><tr><th>group</th><th>people</th></tr><tr><td>all</td><td>15</td></tr></table>",
            False,
        ),
        (
            "<table><tr><th>group</th><th>share</th></tr><tr><td>Women</td><td>3</td></tr></table>",
            False,
        ),
        (
            "<table><tr><th>quintile</th><th>rate ratio</th></tr><tr><td>1</td><td>3</td></tr>"
            "</table>",
            False,
        ),
        (
            "<table><tr><td>seed</td><td>42</td></tr><tr><td>year</td><td>2024</td></tr></table>",
            False,
        ),
        ("<table><tr><th>Women</th></tr><tr><td>1.00</td></tr></table>", False),  # decimals
        ('<script type="application/json">{"rows": [{"group": "a", "people": 3}]}</script>', True),
        ('<script>vegaEmbed("#v", {"data": {"values": [{"g": "a", "n": 4}]}});</script>', True),
        ('<script>vegaEmbed("#v", {"data": {"values": [{"g": "a", "n": 40}]}});</script>', False),
        ("<p>We saw n&nbsp;=&nbsp;3 women.</p>", True),
    ],
)
def test_check_file_html_tables_and_embedded_data_case_table(
    tmp_path: Path, html: str, caught: bool
) -> None:
    page = f"<html><body><main>{html}</main></body></html>"
    assert bool(check_file(_write(tmp_path, "index.html", page))) is caught


def test_check_outputs_skips_images_by_their_bytes_not_their_names(tmp_path: Path) -> None:
    (tmp_path / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    _write(tmp_path, "not-a-figure.png", "3 women\n")  # text named .png: scanned as text
    (tmp_path / "table.parquet").write_bytes(b"PAR1\x00\x01\x02\xff\xfe")  # unreadable: a finding
    result = check_outputs(tmp_path)
    assert result.skipped == (str(tmp_path / "figure.png"),)
    kinds = {(Path(f.path).name, f.kind) for f in result.findings}
    assert kinds == {
        ("not-a-figure.png", "small or unrounded count"),
        ("table.parquet", "file the checker cannot read"),
    }


def test_check_outputs_a_lock_file_is_not_a_finding(tmp_path: Path) -> None:
    (tmp_path / "mindsong").mkdir()
    _write(tmp_path, ".mindsong.lock", "12345\n")
    _write(tmp_path / "mindsong", "results.json", '{"n_participants": 20}')
    assert check_outputs(tmp_path).ok


def test_findings_never_copy_an_identifier(tmp_path: Path) -> None:
    """Findings go to the console and the log: identifiers are masked, the offset finds them."""
    text = "NHS 943 476 5919, SW1A 1AA, 0123456789abcdef, ABCDEFGH12345678"
    findings = check_file(_write(tmp_path, "notes.txt", text), person_ids={"ABCDEFGH12345678"})
    assert len(findings) == 4
    for f in findings:
        assert f.value not in text and f.value[:3] in text, f
        assert text[int(f.location.split()[-1]) :].startswith(f.value[:3]), f


def test_findings_of_one_kind_are_listed_up_to_a_cap_then_counted(tmp_path: Path) -> None:
    """A data table left in a report folder: 20 findings of a kind, then one count of the rest."""
    rows = "".join(f"{i:016x},{i % 7 + 1}\n" for i in range(1000, 1100))
    findings = check_file(_write(tmp_path, "t.csv", "person,people\n" + rows))
    by_kind: dict[str, int] = {}
    for f in findings:
        by_kind[f.kind] = by_kind.get(f.kind, 0) + 1
    assert by_kind == {"person-id-shaped string": 21, "small or unrounded count": 21}
    assert {f.value for f in findings if f.location.startswith("file")} == {"80 more not listed"}


def test_check_outputs_a_dangling_link_is_a_finding_not_a_traceback(tmp_path: Path) -> None:
    _write(tmp_path, "results.json", '{"n_participants": 20}')
    (tmp_path / "table.csv").symlink_to(tmp_path / "gone.csv")
    kinds = {(Path(f.path).name, f.kind) for f in check_outputs(tmp_path).findings}
    assert kinds == {("table.csv", "file the checker cannot read")}


@pytest.mark.parametrize(
    ("md", "caught"),
    [
        ("| group | people |\n|---|---|\n| all | 3 |\n", True),
        ("| group | people |\n|---|---|\n| all | 15 |\n", False),
        ("| quintile | rate ratio |\n|:--|--:|\n| 1 | 3 |\n", False),
        ("| step | N |\n|---|---|\n| Figure 3 | 40 |\n", False),
    ],
)
def test_check_file_markdown_tables_case_table(tmp_path: Path, md: str, caught: bool) -> None:
    assert bool(check_file(_write(tmp_path, "notes.md", md))) is caught

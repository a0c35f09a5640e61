"""Intake refuses NHS numbers as person ids: the rule, its thresholds, and the two versions agree.

Reference: docs/reference/nhs-number.md, section 2 (published valid and invalid numbers, each
recomputed there). The engine's check digit is tested against those and against
:func:`evalkit.nhs_number.is_valid_nhs_number` on random strings.
"""

from __future__ import annotations

import functools
from pathlib import Path

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import engine
from evalkit.intake import IntakeError, run_intake
from evalkit.intake.example import (
    P,
    example_tables,
    write_tables,
)
from evalkit.intake.identifiers import (
    EMPTY,
    NOT_TEN_DIGITS,
    WRONG_CHECK_DIGIT,
    NhsNumberShares,
    count_nhs_numbers,
    nhs_number_problem,
    nhs_number_shares,
    normalise_nhs_number,
    refuse_nhs_number_ids,
)
from evalkit.nhs_number import is_valid_nhs_number
from helpers.intake_example import example_kw
from helpers.nhs_numbers import assert_no_number, invalid_ten_digit, valid_numbers

KW = example_kw(validate=False)

#: docs/reference/nhs-number.md, section 2: published numbers and whether each is valid.
PUBLISHED = [
    ("9434765919", True),
    ("4010232137", True),
    ("4857773457", True),
    ("9000000009", True),
    ("9876543210", True),
    ("3417284996", True),
    ("9990000018", True),
    ("9990000026", True),
    ("9990000050", True),
    ("4857773456", False),
    ("9434765918", False),
    ("9434765910", False),
    ("9876544321", False),
    ("9111111124", False),
    ("9222222228", False),
    *((f"999000000{x}", False) for x in range(10)),
    ("1122334455", False),
    ("6677889900", False),
]


@functools.cache
def _con() -> object:
    """One DuckDB connection for the module (opening one per hypothesis example is slow)."""
    return engine.connect(":memory:", threads=1)


def _engine_counts(values: list[str | None]) -> NhsNumberShares:
    con = _con()
    t = ibis.memtable(pd.DataFrame({"v": pd.Series(values, dtype="string")}))
    return count_nhs_numbers(con, t, "v")


@pytest.mark.parametrize(("number", "valid"), PUBLISHED)
def test_nhs_number_problem_published_examples(number: str, valid: bool) -> None:
    assert (nhs_number_problem(number) is None) is valid
    if not valid:
        assert nhs_number_problem(number) == WRONG_CHECK_DIGIT


def test_engine_check_digit_agrees_on_published_examples_in_three_formats() -> None:
    numbers = [n for n, _ in PUBLISHED]
    spaced = [f"{n[:3]} {n[3:6]} {n[6:]}" for n in numbers]
    dashed = [f"{n[:3]}-{n[3:6]}-{n[6:]}" for n in numbers]
    n_valid = sum(v for _, v in PUBLISHED)
    for values in (numbers, spaced, dashed):
        got = _engine_counts(values)
        assert got == NhsNumberShares(len(numbers), len(numbers), n_valid)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("9434765919", None),
        ("943 476 5919", None),
        ("943-476-5919", None),
        (" 943\t476 5919\n", None),
        ("", EMPTY),
        ("   ", EMPTY),
        ("--", EMPTY),
        ("943476591", NOT_TEN_DIGITS),
        ("94347659190", NOT_TEN_DIGITS),
        ("943476591X", NOT_TEN_DIGITS),
        ("٩٤٣٤٧٦٥٩١٩", NOT_TEN_DIGITS),  # Arabic-Indic digits: not ASCII
        ("943.476.5919", NOT_TEN_DIGITS),
        ("9434765918", WRONG_CHECK_DIGIT),
        ("9990000005", WRONG_CHECK_DIGIT),  # stem with no valid check digit
    ],
)
def test_nhs_number_problem_case_table(value: str, problem: str | None) -> None:
    assert nhs_number_problem(normalise_nhs_number(value)) == problem


_pieces = st.lists(
    st.one_of(st.sampled_from(list("0123456789 -\tx+")), st.characters()), max_size=14
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), _pieces.map("".join)), max_size=80))
def test_engine_and_python_counts_agree_on_any_text(values: list[str | None]) -> None:
    # Null bytes cannot be stored in DuckDB text; intake never sees them either.
    values = [None if v is None else v.replace("\x00", "") for v in values]
    assert _engine_counts(values) == nhs_number_shares(values)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.lists(st.sampled_from([" ", "-", "  ", "\t"]), min_size=11, max_size=11),
)
def test_normalisation_removes_any_spaces_and_dashes(digits: str, seps: list[str]) -> None:
    written = "".join(s + d for s, d in zip(seps, digits, strict=False)) + seps[-1]
    assert normalise_nhs_number(written) == digits
    assert (nhs_number_problem(normalise_nhs_number(written)) is None) is is_valid_nhs_number(
        digits
    )


@pytest.mark.parametrize(
    ("n_ten", "n_valid", "refused"),
    [
        (95, 86, True),  # both thresholds met exactly: 95 % ten digits, 90.5 % valid
        (95, 85, False),  # 89.5 % of the ten-digit values valid
        (94, 94, False),  # 94 % ten digits
        (100, 90, True),  # 90 % valid exactly
        (100, 89, False),
        (100, 9, False),  # phone-like: ten digits, about one in eleven passes by chance
    ],
)
def test_refusal_thresholds_on_exact_shares(n_ten: int, n_valid: int, refused: bool) -> None:
    values = valid_numbers(n_valid) + invalid_ten_digit(n_ten - n_valid)
    values += [f"abc{i}" for i in range(100 - n_ten)] + [None] * 7  # nulls do not count
    shares = _engine_counts(values)
    assert shares == NhsNumberShares(100, n_ten, n_valid)
    assert shares.looks_like_nhs_numbers is refused
    con = _con()
    t = ibis.memtable(pd.DataFrame({"person_id": pd.Series(values, dtype="string")}))
    if refused:
        with pytest.raises(IntakeError, match="pseudonymise"):
            refuse_nhs_number_ids(
                con, t, column="person_id", path=Path("x.csv"), source_column="person_id"
            )
    else:
        refuse_nhs_number_ids(
            con, t, column="person_id", path=Path("x.csv"), source_column="person_id"
        )


def test_empty_column_is_not_refused() -> None:
    assert not _engine_counts([None, None]).looks_like_nhs_numbers
    assert not NhsNumberShares(0, 0, 0).looks_like_nhs_numbers


def _with_ids(ids: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The example extract with each person id replaced (population, activity, referrals)."""
    tables = example_tables()
    for name in ("population", "activity", "referrals"):
        tables[name]["person_id"] = tables[name]["person_id"].map(ids)
    return tables


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_intake_refuses_nhs_numbers_as_person_id_and_never_shows_them(
    tmp_path: Path, fmt: str
) -> None:
    numbers = valid_numbers(len(P))
    spaced = {p: f"{n[:3]} {n[3:6]} {n[6:]}" for p, n in zip(P, numbers, strict=True)}
    write_tables(_with_ids(spaced), tmp_path / "raw", fmt=fmt)
    out = tmp_path / "processed"
    with pytest.raises(IntakeError) as info:
        run_intake(tmp_path / "raw", out, **KW)
    message = str(info.value)
    assert f"population.{fmt}" in message and "person_id" in message
    assert "evalkit pseudonymise" in message and "5 of 5" in message
    for n in numbers:
        assert n not in message.replace(" ", "").replace("-", "")
    assert not (out / "population.parquet").exists() and not (out / "intake_report.json").exists()


def test_intake_refusal_names_the_source_column_of_a_mapping(tmp_path: Path) -> None:
    numbers = valid_numbers(len(P))
    tables = _with_ids(dict(zip(P, numbers, strict=True)))
    tables["population"] = tables["population"].rename(columns={"person_id": "nhs_no"})
    write_tables(tables, tmp_path / "raw")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("tables:\n  population:\n    columns:\n      nhs_no: person_id\n")
    with pytest.raises(IntakeError, match=r"'nhs_no' \(mapped to person_id\).*--column nhs_no"):
        run_intake(tmp_path / "raw", tmp_path / "out", mapping=mapping, **KW)


def test_intake_does_not_refuse_phone_like_ten_digit_ids(tmp_path: Path) -> None:
    """Ten digits failing Mod-11 are not refused (rule 2); the id pattern quarantines them."""
    phones = invalid_ten_digit(len(P))
    write_tables(_with_ids(dict(zip(P, phones, strict=True))), tmp_path / "raw")
    report = run_intake(tmp_path / "raw", tmp_path / "out", **KW)
    pop = report.tables["population"]
    assert pop.rows_quarantined == pop.rows_read
    assert set(pop.quarantined_by_reason) == {"malformed_person_id"}


def test_intake_accepts_sixteen_and_thirty_two_hex_tokens(tmp_path: Path) -> None:
    tokens = {p: p * 2 for p in P}  # 32 lower-case hex characters
    write_tables(_with_ids(tokens), tmp_path / "raw")
    report = run_intake(tmp_path / "raw", tmp_path / "out", **KW)
    for name in ("population", "activity", "referrals"):
        t = report.tables[name]
        assert t.rows_accepted == t.rows_read, (name, t.quarantined_by_reason)


def test_cli_intake_refusal_is_one_message_without_traceback(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.config import programmes_dir

    numbers = valid_numbers(len(P))
    write_tables(_with_ids(dict(zip(P, numbers, strict=True))), tmp_path / "raw")
    env = {"EVALKIT_ROOT": str(tmp_path), "EVALKIT_PROGRAMMES": str(programmes_dir())}
    args = ["intake", "--raw", str(tmp_path / "raw"), "--processed", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*args, "--no-progress"], env=env)
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "pseudonymise" in lines[0]
    assert "Traceback" not in result.output
    log = next((tmp_path / "logs").glob("*intake*.log"))
    assert_no_number([log], numbers, (result.output,))

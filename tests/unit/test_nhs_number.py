"""The one Modulus 11 check, on the published examples (docs/reference/nhs-number.md)."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.nhs_number import (
    NO_CHECK_DIGIT,
    WEIGHTS,
    check_digits,
    is_valid_nhs_number,
    nhs_check_digit,
)

#: docs/reference/nhs-number.md, section 2: (stem, expected check digit or None).
PUBLISHED_STEMS = [
    ("943476591", 9),
    ("401023213", 7),
    ("485777345", 7),
    ("900000000", 9),
    ("987654321", 0),
    ("341728499", 6),
    ("999000001", 8),
    ("999000002", 6),
    ("999000005", 0),
    ("987654432", 2),
    ("911111112", 7),
    ("922222222", 9),
    ("999000000", None),
    ("112233445", 1),
    ("667788990", 4),
]

#: docs/reference/nhs-number.md, section 2: published numbers and whether each is valid.
PUBLISHED_NUMBERS = [
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


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("9434765919", True),
        ("943 476 5919", True),
        ("943-476-5919", True),
        ("9434765918", False),
        ("943476591", False),
        ("94347659190", False),
        ("943476591X", False),
        ("", False),
    ],
)
def test_is_valid_nhs_number_case_table(number: str, valid: bool) -> None:
    assert is_valid_nhs_number(number) is valid


def test_nhs_check_digit_eleven_becomes_zero_and_ten_is_invalid() -> None:
    assert nhs_check_digit("987654321") == 0
    assert nhs_check_digit("999000000") is None


def test_nhs_check_digit_bad_stem_raises() -> None:
    with pytest.raises(ValueError, match="nine digits"):
        nhs_check_digit("12345")


def test_nhs_number_weights_are_ten_down_to_two() -> None:
    assert WEIGHTS == tuple(range(10, 1, -1))


@pytest.mark.parametrize(("stem", "check"), PUBLISHED_STEMS)
def test_nhs_check_digit_published_examples(stem: str, check: int | None) -> None:
    assert nhs_check_digit(stem) == check


def test_check_digits_published_examples_match_scalar_form() -> None:
    stems = np.array([int(s) for s, _ in PUBLISHED_STEMS], dtype=np.int64)
    expected = [NO_CHECK_DIGIT if c is None else c for _, c in PUBLISHED_STEMS]
    got = check_digits(stems)
    assert got.dtype == np.int64
    assert got.tolist() == expected


@pytest.mark.parametrize(("number", "valid"), PUBLISHED_NUMBERS)
def test_published_numbers_valid_in_scalar_and_vectorised_forms(number: str, valid: bool) -> None:
    assert is_valid_nhs_number(number) is valid
    vectorised = check_digits(np.array([int(number[:9])]))[0]
    assert bool(vectorised == int(number[9])) is valid


def test_check_digits_every_stem_of_a_block_agrees_with_scalar_form() -> None:
    stems = np.arange(999_000_000, 999_002_000, dtype=np.int64)
    scalar = [nhs_check_digit(f"{s:09d}") for s in stems.tolist()]
    assert check_digits(stems).tolist() == [NO_CHECK_DIGIT if c is None else c for c in scalar]


def test_check_digits_leading_zero_stem_and_empty_input() -> None:
    assert nhs_check_digit("010100000") == 6  # 1 x 9 + 1 x 7 = 16, remainder 5
    assert check_digits(np.array([10_100_000])).tolist() == [6]
    assert check_digits(np.array([], dtype=np.int64)).tolist() == []


def test_check_digits_stem_out_of_range_raises() -> None:
    with pytest.raises(ValueError, match="nine digits"):
        check_digits(np.array([1_000_000_000]))
    with pytest.raises(ValueError, match="nine digits"):
        check_digits(np.array([-1]))

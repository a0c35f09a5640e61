"""The one Modulus 11 check, on the published examples (docs/reference/nhs-number.md)."""

from __future__ import annotations

import pytest

from evalkit.nhs_number import WEIGHTS, is_valid_nhs_number, nhs_check_digit


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

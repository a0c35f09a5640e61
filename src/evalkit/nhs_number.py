"""The NHS number: its Modulus 11 check digit, the one implementation evalkit uses.

An NHS number has ten digits; the tenth is a check digit over the first nine (NHS Data
Dictionary, "NHS Number"; recorded with worked examples in ``docs/reference/nhs-number.md``).
The synthetic county draws valid numbers with it and the disclosure checker uses it to tell an
NHS number from any other ten-digit string.
"""

from __future__ import annotations

__all__ = ["WEIGHTS", "is_valid_nhs_number", "nhs_check_digit"]

#: Weights of the first nine digits, most significant first.
WEIGHTS: tuple[int, ...] = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_check_digit(stem: str) -> int | None:
    """Modulus 11 check digit of a nine-digit NHS number stem, or None if the stem is unusable.

    Follows the NHS Data Dictionary: weights 10..2, remainder of the sum modulo 11, check digit
    11 - remainder, with 11 -> 0 and 10 -> invalid (no number is issued on that stem).

    Examples
    --------
    >>> nhs_check_digit("943476591")
    9
    >>> nhs_check_digit("987654321")
    0
    >>> nhs_check_digit("999000000") is None
    True
    """
    if len(stem) != 9 or not stem.isdigit():
        raise ValueError(f"an NHS number stem has nine digits, got {stem!r}")
    total = sum(int(d) * w for d, w in zip(stem, WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(number: str) -> bool:
    """Whether a ten-digit string (spaces and dashes allowed) is a valid NHS number.

    Examples
    --------
    >>> is_valid_nhs_number("943 476 5919")
    True
    >>> is_valid_nhs_number("943 476 5918")
    False
    """
    digits = number.replace(" ", "").replace("-", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = nhs_check_digit(digits[:9])
    return check is not None and check == int(digits[9])

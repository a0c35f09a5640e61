"""The NHS number: its Modulus 11 check digit, the one implementation evalkit uses.

An NHS number has ten digits; the tenth is a check digit over the first nine (NHS Data
Dictionary, "NHS Number"; recorded with worked examples in ``docs/reference/nhs-number.md``).
The synthetic county draws valid numbers with it (:func:`check_digits`, on many stems at once)
and the disclosure checker uses it to tell an NHS number from any other ten-digit string
(:func:`is_valid_nhs_number`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NO_CHECK_DIGIT", "WEIGHTS", "check_digits", "is_valid_nhs_number", "nhs_check_digit"]

#: Weights of the first nine digits, most significant first.
WEIGHTS: tuple[int, ...] = (10, 9, 8, 7, 6, 5, 4, 3, 2)

#: What :func:`check_digits` returns for a stem on which no number is issued (11 - remainder
#: is 10); not a digit, so it never equals a tenth digit.
NO_CHECK_DIGIT = 10


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


def check_digits(stems: np.ndarray) -> np.ndarray:
    """Modulus 11 check digits of many nine-digit stems at once.

    The vectorised :func:`nhs_check_digit`, with the same rule and weights: 11 - remainder,
    with 11 -> 0. Where the result is 10 no number is issued on the stem; the entry is then
    :data:`NO_CHECK_DIGIT` (10), where the scalar form gives None.

    Parameters
    ----------
    stems
        Integer stems, 0 to 999 999 999 (leading zeros implied).

    Returns
    -------
    numpy.ndarray
        int64 check digits, one per stem.

    Examples
    --------
    >>> check_digits(np.array([943_476_591, 987_654_321, 999_000_000])).tolist()
    [9, 0, 10]
    """
    stems = np.asarray(stems, dtype=np.int64)
    if stems.size and (stems.min() < 0 or stems.max() > 999_999_999):
        raise ValueError("an NHS number stem has nine digits (0 to 999 999 999)")
    digits = (stems[..., None] // 10 ** np.arange(8, -1, -1)) % 10
    check = 11 - (digits @ np.array(WEIGHTS, dtype=np.int64)) % 11
    return np.where(check == 11, 0, check)

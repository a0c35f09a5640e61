"""Synthetic NHS numbers and keyed pseudonymisation.

The synthetic county draws NHS numbers from the 999 test range (never issued to a real patient),
with a valid Modulus 11 check digit, and turns each into a ``person_id`` the way a DSCRO does: a
keyed hash (HMAC-SHA256) with a secret key, truncated to 16 hex characters. The key is derived
from the seed and never written out, so the tokens cannot be reversed from the files.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np

_WEIGHTS = np.array([10, 9, 8, 7, 6, 5, 4, 3, 2], dtype=np.int64)


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
    total = sum(int(d) * int(w) for d, w in zip(stem, _WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def is_valid_nhs_number(number: str) -> bool:
    """Whether a ten-digit string (spaces allowed) is a valid NHS number.

    Examples
    --------
    >>> is_valid_nhs_number("943 476 5919")
    True
    >>> is_valid_nhs_number("943 476 5918")
    False
    """
    digits = number.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = nhs_check_digit(digits[:9])
    return check is not None and check == int(digits[9])


def synthetic_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` distinct valid NHS numbers from the 999 test range, as int64.

    Stems 999 000 000 to 999 999 999 are drawn without replacement; stems whose check digit would
    be 10 are skipped (about 1 in 11).
    """
    if n > 9_000_000:
        raise ValueError("the 999 test range holds about nine million valid numbers")
    # Oversample stems, keep those with a valid check digit, in drawn order.
    k = int(n * 1.15) + 100
    stems = 999_000_000 + rng.choice(1_000_000, size=k, replace=False).astype(np.int64)
    digits = (stems[:, None] // 10 ** np.arange(8, -1, -1)) % 10
    check = 11 - (digits @ _WEIGHTS) % 11
    check = np.where(check == 11, 0, check)
    ok = check != 10
    numbers = stems[ok] * 10 + check[ok]
    if numbers.size < n:  # pragma: no cover - oversampling makes this practically impossible
        raise RuntimeError("not enough valid stems drawn")
    return numbers[:n]


def pseudonymise(numbers: np.ndarray, key: bytes) -> np.ndarray:
    """Keyed pseudonyms (HMAC-SHA256, first 16 hex characters) of NHS numbers.

    An unkeyed hash of an NHS number gives little protection (every stem can be hashed), so the
    key matters; here it is derived from the seed and never stored.
    """
    out = np.empty(numbers.size, dtype=object)
    for i, num in enumerate(numbers.tolist()):
        out[i] = hmac.new(key, str(num).encode(), hashlib.sha256).hexdigest()[:16]
    return out


def derive_key(seed: int) -> bytes:
    """Secret pseudonymisation key for a synthetic county (derived from the seed, never written)."""
    return hashlib.sha256(f"evalkit-synthetic-county-key:{seed}".encode()).digest()

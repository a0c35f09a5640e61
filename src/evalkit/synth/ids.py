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

from evalkit.nhs_number import NO_CHECK_DIGIT, check_digits


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
    check = check_digits(stems)
    ok = check != NO_CHECK_DIGIT
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

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

#: Stems of the 999 test range (999 000 000 to 999 999 999; docs/reference/nhs-number.md).
TEST_RANGE_STEMS = 1_000_000


def capacity_of_test_range() -> int:
    """Valid NHS numbers in the 999 test range: 909,091 (a stem with check digit 10 has none)."""
    stems = 999_000_000 + np.arange(TEST_RANGE_STEMS, dtype=np.int64)
    return int((check_digits(stems) != NO_CHECK_DIGIT).sum())


def synthetic_nhs_numbers(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` distinct person numbers, valid NHS numbers from the 999 test range, as int64.

    Stems 999 000 000 to 999 999 999 are drawn without replacement and stems whose check digit
    would be 10 are skipped (about 1 in 11), so the range holds :func:`capacity_of_test_range`
    (909,091) people. A larger county (the 2-million-person scaling benchmark) gets every valid
    number, in random order, and then *negative* numbers -1, -2, ...: they still give each person
    a distinct pseudonym, and can never be taken for an NHS number (``synth --nhs-numbers``
    refuses such a county). Up to 869,478 people the draw is the original one (oversampled
    stems), so every county of that size keeps its people and tokens.
    """
    k = int(n * 1.15) + 100
    if k <= TEST_RANGE_STEMS:
        # Oversample stems, keep those with a valid check digit, in drawn order.
        stems = 999_000_000 + rng.choice(TEST_RANGE_STEMS, size=k, replace=False).astype(np.int64)
    else:
        stems = 999_000_000 + rng.permutation(TEST_RANGE_STEMS).astype(np.int64)
    check = check_digits(stems)
    ok = check != NO_CHECK_DIGIT
    numbers = stems[ok] * 10 + check[ok]
    if numbers.size < n:
        if (
            k <= TEST_RANGE_STEMS
        ):  # pragma: no cover - oversampling makes this practically impossible
            raise RuntimeError("not enough valid stems drawn")
        overflow = -np.arange(1, n - numbers.size + 1, dtype=np.int64)
        numbers = np.concatenate([numbers, overflow])
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

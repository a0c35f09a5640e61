"""NHS numbers for tests, and a scan that none of them was written anywhere.

Numbers come from the 999 test range ("never issued to a real patient",
docs/reference/nhs-number.md), with the check digit computed by
:func:`evalkit.nhs_number.check_digits`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit.nhs_number import check_digits


def valid_numbers(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct valid NHS numbers from the 999 test range."""
    rng = np.random.default_rng(seed)
    stems = 999_000_000 + rng.choice(1_000_000, size=3 * n, replace=False)
    check = check_digits(stems)
    ok = check < 10
    return [f"{s}{c}" for s, c in zip(stems[ok][:n], check[ok][:n], strict=True)]


def invalid_ten_digit(n: int, seed: int = 2) -> list[str]:
    """``n`` ten-digit strings that fail the check digit (a valid number's last digit + 1..9)."""
    good = valid_numbers(n, seed)
    return [g[:9] + str((int(g[9]) + 1 + i % 9) % 10) for i, g in enumerate(good)]


def spaced(n: str) -> str:
    """``943 476 5919``."""
    return f"{n[:3]} {n[3:6]} {n[6:]}"


def dashed(n: str) -> str:
    """``943-476-5919``."""
    return f"{n[:3]}-{n[3:6]}-{n[6:]}"


def file_texts(path: Path) -> list[str]:
    """Everything a file holds as text: its bytes decoded and, for Parquet, every cell as text."""
    texts = [path.read_bytes().decode("utf-8", errors="replace")]
    if path.suffix == ".parquet":
        table = pq.read_table(path)
        for col in table.columns:
            texts += [str(v) for v in col.cast(pa.string()).to_pylist()]
        texts.append(str(table.schema.metadata))
    return texts


def assert_no_number(
    paths: Iterable[Path], numbers: Iterable[str], texts: Iterable[str] = ()
) -> None:
    """None of ``numbers`` is in any file or text: plain, spaced, dashed or squeezed together."""
    found = [t for p in paths for t in file_texts(p)] + list(texts)
    squeezed = [re.sub(r"[\s-]", "", t) for t in found]
    for n in numbers:
        for form in (n, spaced(n), dashed(n)):
            assert not any(form in t for t in found), "an NHS number was written"
        assert not any(n in t for t in squeezed), "an NHS number was written"

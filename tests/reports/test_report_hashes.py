"""The demo reports publish exactly the pinned numbers (``tests/reference/report_hashes.json``).

Restructuring code must not change a published figure: ``results.json`` (without its environment
keys) and every CSV of the three demo reports (seed 42) hash to the committed SHA-256. A change
that alters results updates the file deliberately, in the same commit, with
``tests/reference/report_digests.py --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "reference"))
from report_digests import HASHES, report_digests

PINNED = json.loads(HASHES.read_text(encoding="utf-8"))


@pytest.mark.parametrize("slug", sorted(PINNED))
def test_demo_report_digests_equal_pinned_hashes(built_reports: Path, slug: str) -> None:
    got = report_digests(built_reports / slug)
    changed = sorted(name for name in PINNED[slug] if got.get(name) != PINNED[slug][name])
    assert set(got) == set(PINNED[slug]), "files added or removed: update report_hashes.json"
    assert not changed, f"{slug}: published numbers changed in {changed}"

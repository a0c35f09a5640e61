"""The legacy world is byte-for-byte the generator of before issue #14.

The hashes below were taken with the generator at commit 64ed8ac (before the hard world existed)
for ``pool="eligible"``, 20,000 people, seed 3. The truth file gains only ``"world": "legacy"``:
with that key removed and the file rewritten the same way, it hashes as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from evalkit import config
from evalkit.files import write_json
from evalkit.synth import generate_county

LEGACY_SHA256 = {
    "parquet": {
        "activity.parquet": "032fd0d94148b31e156ff7dec65b61b7bb58330ea29c5ccfa6a4ec4916be559e",
        "measures.parquet": "21a0912931889bbab3e865c0548385b596b74ec8723522182314c32b5d62a50b",
        "population.parquet": "c7ec4ea60a1cbbf2f78b8b8073e7770aa4d07b31d5c4d275b02a0c3f5386086e",
        "referrals.parquet": "cfd5bb462f6948cb88914eeb2a9f66dfae94dcc8761d0ed1eef0a98152487a5c",
    },
    "csv": {
        "activity.csv": "5f353a217f613aab98caa4da4b2b759fc4ab2ebeb19e7f51bad5ede94a1b7712",
        "measures.csv": "7cab063f990690d8e9c6f6781fcdb95ba6a61961ad6a70468873b805370770b9",
        "population.csv": "f0de8bb89e082d148420d3092369b8898444addb1753925197526eb9a0ec29a5",
        "referrals.csv": "3d2e93af3135a0ef366c29962a8e664d1bfec4c982209de6405a49d68857844a",
    },
}
LEGACY_TRUTH_SHA256 = "9a630b75f7fde12ea7dc2eb43233074d57259f6bae247a0a291c218ce2a4f014"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_legacy_world_reproduces_the_old_generator_byte_for_byte(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / fmt
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        population=20_000,
        seed=3,
        fmt=fmt,
        pool="eligible",
        progress=False,
        world="legacy",
    )
    tables = {p.name: _sha(p) for p in sorted(out.iterdir()) if p.name != "synthetic_truth.json"}
    assert tables == LEGACY_SHA256[fmt]
    truth = json.loads((out / "synthetic_truth.json").read_text())
    assert truth.pop("world") == "legacy"
    assert _sha(write_json(truth, tmp_path / "rewritten.json")) == LEGACY_TRUTH_SHA256

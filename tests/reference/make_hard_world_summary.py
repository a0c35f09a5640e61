"""Write ``hard_world_summary.json``: the pinned summary of small hard-world counties.

``tests/unit/synth/test_hard_world.py`` regenerates the same counties and requires exactly these
values, so the hard world cannot drift unnoticed. Regenerate only when the world is changed on
purpose (a decision recorded in ``docs/decisions/synthetic-county.md``), never to make an
estimator pass::

    PYTHONHASHSEED=0 .venv/bin/python tests/reference/make_hard_world_summary.py

The counties: ``world="hard"``, ``pool="eligible"``, 30,000 people, seed 3, Parquet, all shipped
programmes, one per regime; the statistics are :func:`evalkit.synth.summary.world_summary`'s.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from evalkit import config
from evalkit.files import write_json
from evalkit.synth import generate_county
from evalkit.synth.summary import world_summary

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "hard_world_summary.json"
PARAMS: dict[str, Any] = {
    "world": "hard",
    "pool": "eligible",
    "population": 30_000,
    "seed": 3,
    "fmt": "parquet",
}
REGIMES = ("observables", "realistic")


def summarise(out: Path, regime: str, params: dict[str, Any] = PARAMS) -> dict[str, Any]:
    """Generate one county of ``params`` and ``regime`` into ``out``; return its summary."""
    generate_county(
        out,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        regime=regime,
        progress=False,
        **params,
    )
    return world_summary(out)


def main() -> None:
    """Write the reference file."""
    with tempfile.TemporaryDirectory() as tmp:
        summaries = {r: summarise(Path(tmp) / r, r) for r in REGIMES}
    write_json({"params": PARAMS, "summaries": summaries}, REFERENCE)
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()

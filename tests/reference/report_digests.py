"""SHA-256 digests of the demo reports' published numbers, and the script that regenerates them.

``report_hashes.json`` beside this file pins, for every programme's demo report (seed 42), the
SHA-256 of ``results.json`` with ``evalkit_version``, ``package_versions`` and ``engine`` removed
(they change with the environment, not with the analysis; the engine tests show every engine
gives the same report), and of every CSV table, byte for byte. A change that
alters any published number must update the file in the same commit, deliberately:

    PYTHONHASHSEED=0 .venv/bin/python tests/reference/report_digests.py --write

(builds the demo county and the three reports in a temporary folder, as the report tests do).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

HASHES = Path(__file__).with_name("report_hashes.json")
#: Keys of results.json that record the environment rather than the analysis.
VOLATILE_KEYS = ("evalkit_version", "package_versions", "engine")


def results_digest(path: Path) -> str:
    """SHA-256 of results.json without its environment keys, canonically serialised."""
    results = json.loads(path.read_text(encoding="utf-8"))
    for key in VOLATILE_KEYS:
        results.pop(key, None)
    text = json.dumps(results, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def report_digests(folder: Path) -> dict[str, str]:
    """Digests of one report folder: ``results.json`` and every ``*.csv``, by file name."""
    out = {"results.json": results_digest(folder / "results.json")}
    for csv in sorted(folder.glob("*.csv")):
        out[csv.name] = hashlib.sha256(csv.read_bytes()).hexdigest()
    return out


def _build_all(root: Path) -> dict[str, dict[str, str]]:
    from evalkit import config
    from evalkit.intake import run_intake
    from evalkit.reporting import render_report
    from evalkit.synth import generate_county

    raw, processed, reports = root / "raw", root / "processed", root / "reports"
    generate_county(
        raw,
        programmes=config.load_programmes(),
        instrument_defs=config.instruments(),
        unit_costs=config.load_unit_costs(),
        scale="demo",
        seed=42,
        fmt="parquet",
        progress=False,
    )
    run_intake(raw, processed, progress=False)
    digests = {}
    for slug in sorted(config.load_programmes()):
        render_report(slug, processed, reports)
        digests[slug] = report_digests(reports / slug)
    return digests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite report_hashes.json")
    parser.add_argument("--reports", type=Path, help="digest an existing reports/ folder")
    args = parser.parse_args(argv)
    if args.reports:
        digests = {
            p.name: report_digests(p)
            for p in sorted(args.reports.iterdir())
            if p.is_dir() and (p / "results.json").is_file()
        }
    else:
        with tempfile.TemporaryDirectory() as tmp:
            digests = _build_all(Path(tmp))
    text = json.dumps(digests, indent=2, sort_keys=True) + "\n"
    if args.write:
        HASHES.write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``results.json`` and the table CSVs of a programme report, after disclosure control.

The file records every headline figure with its confidence interval, the parameters used, the
SHA-256 of each contract table (from intake's report; never of ``synthetic_truth.json`` or the
fault sidecar), evalkit's version and the package versions. Floats are rounded to 6 significant
digits and keys sorted, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit import __version__, engines
from evalkit.contract import TABLES
from evalkit.files import atomic_path
from evalkit.jsonsafe import round_floats
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule, control_entries

#: Version of results.json's layout, described by the JSON Schema in docs/results.schema.json
#: (minor: fields added; major: a field removed, renamed or changed in meaning).
SCHEMA_VERSION = "2.3"

PACKAGES = (
    "numpy",
    "pandas",
    "scipy",
    "statsmodels",
    "linearmodels",
    "pyfixest",
    "duckdb",
    "ibis-framework",
    "pandera",
    "pydantic",
    "matplotlib",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the analysis depends on."""
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover
            out[name] = "not installed"
    return out


def data_hashes(processed_dir: Path) -> dict[str, str]:
    """SHA-256 of each raw contract table, as intake recorded them."""
    report = json.loads((Path(processed_dir) / "intake_report.json").read_text())
    return {t: report["tables"][t]["sha256"] for t in TABLES if t in report["tables"]}


def build_results(
    programme: str,
    *,
    processed_dir: Path,
    parameters: dict[str, Any],
    utilisation: list[dict[str, Any]] | None = None,
    wellbeing: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
    rule: DisclosureRule = DEFAULT_RULE,
) -> dict[str, Any]:
    """Assemble the results.json dict, with disclosure control applied to every entry."""
    results: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "programme": programme,
        "evalkit_version": __version__,
        "data_sha256": data_hashes(processed_dir),
        "parameters": parameters,
        "package_versions": package_versions(),
        "engine": engines.provenance(),
        "disclosure": {
            "threshold": rule.threshold,
            "rounding_base": rule.base,
            "rule": "counts 1-7 suppressed, others rounded to the nearest 5",
        },
        "utilisation": control_entries(utilisation or [], rule),
        "wellbeing": control_entries(
            [{k: v for k, v in e.items() if k not in ("by_group",)} for e in (wellbeing or [])],
            rule,
        ),
    }
    results.update(extra or {})
    return round_floats(results)


def write_table(entries: list[dict[str, Any]], path: Path) -> Path:
    """Write disclosure-controlled entries as CSV; a suppressed cell is ``*``."""
    rows = []
    for e in entries:
        row = {k: v for k, v in e.items() if not isinstance(v, dict | list)}
        suppressed = e.get("suppressed")
        for k in suppressed if isinstance(suppressed, list | tuple) else ():
            if k in row or k not in e:
                row[k] = "*"
        rows.append(row)
    with atomic_path(path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    return Path(path)

"""Every programme report's results.json follows the JSON Schema in docs/ (issue #15 item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from evalkit.config import load_programmes
from evalkit.reporting.results import SCHEMA_VERSION

PROGRAMMES = sorted(load_programmes())
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "results.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_names_the_version_the_code_writes() -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_every_report_validates_against_the_schema(
    built_reports: Path, validator: jsonschema.Draft202012Validator, slug: str
) -> None:
    doc = json.loads((built_reports / slug / "results.json").read_text())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, "\n".join(errors[:20])


def test_the_schema_rejects_what_it_should(
    built_reports: Path, validator: jsonschema.Draft202012Validator
) -> None:
    """The schema is not vacuous: a missing section, an unknown role, an undeclared key fail."""
    doc = json.loads((built_reports / PROGRAMMES[0] / "results.json").read_text())
    broken = [
        {k: v for k, v in doc.items() if k != "plan"},
        {**doc, "utilisation": [{**doc["utilisation"][0], "role": "headline"}]},
        {**doc, "an_undeclared_section": 1},
        {**doc, "schema_version": "0.9"},
    ]
    for b in broken:
        assert not validator.is_valid(b)

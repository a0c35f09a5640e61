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
    obd = doc["outcomes_by_deprivation"]
    first = next(iter(obd["heterogeneity"]))
    with_q = {**obd["heterogeneity"][first], "q": 1.0}
    econ = doc["economics"]
    broken = [
        {k: v for k, v in doc.items() if k != "plan"},
        {**doc, "utilisation": [{**doc["utilisation"][0], "role": "headline"}]},
        {**doc, "an_undeclared_section": 1},
        {**doc, "schema_version": "0.9"},
        {**doc, "schema_version": "1.2"},
        {**doc, "outcomes_by_deprivation": {**obd, "heterogeneity": {first: with_q}}},
        {**doc, "economics": {**econ, "wellby_social_value_per_pound": {"estimate": 1.0}}},
    ]
    for b in broken:
        assert not validator.is_valid(b)


# --- the sections schema 2.0 tightened, on small hand-made sections (no report needed) ----------
def _section_validator(definition: str) -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/$defs/{definition}", "$defs": schema["$defs"]}
    )


WALD = {
    "test": "wald",
    "distribution": "chi2",
    "statistic": 0.52,
    "df": 2,
    "denominator_df": None,
    "p_value": 0.77,
    "hypothesis": "every treated x post x imd_group interaction is zero",
    "covariance": "CR1 cluster-robust (two-way)",
}
DEPRIVATION = {
    "by": "imd_quintile",
    "window_months": 6,
    "instrument": "swemwbs",
    "entries": [
        {
            "outcome": "emergency_admission",
            "method": "matched_did",
            "scale": "rate_ratio",
            "level": "1-2",
            "estimate": 0.94,
            "ci_low": 0.5,
            "ci_high": 1.76,
            "n_participants": 50,
        }
    ],
    "heterogeneity": {"emergency_admission": WALD},
    "spec": {},
}
WELLBY = {
    "estimate": 4.1,
    "low": 3.1,
    "high": 5.0,
    "ci_low": -8.6,
    "ci_high": 16.7,
    "completers_upper": 10.3,
    "completers_ci_low": -22.3,
    "completers_ci_high": 42.9,
    "n_responders": 65,
    "basis": "intention_to_treat",
}


def test_heterogeneity_with_cochrans_q_fails_validation() -> None:
    """Schema 2.0 removed q, i2 and k: a results.json still carrying them is not valid."""
    v = _section_validator("outcomes_by_deprivation")
    assert v.is_valid(DEPRIVATION)
    for key, value in (("q", 0.003), ("i2", 0.0), ("k", 3)):
        het = {"emergency_admission": {**WALD, key: value}}
        assert not v.is_valid({**DEPRIVATION, "heterogeneity": het}), key
    old = {"q": 0.003, "df": 1, "p_value": 0.96, "i2": 0.0, "k": 2, "scale": "log_rate_ratio"}
    assert not v.is_valid({**DEPRIVATION, "heterogeneity": {"emergency_admission": old}})
    missing = {k: x for k, x in WALD.items() if k != "covariance"}
    assert not v.is_valid({**DEPRIVATION, "heterogeneity": {"emergency_admission": missing}})
    assert not v.is_valid({**DEPRIVATION, "pooled_q": 1.0})


def test_wellby_per_pound_needs_itt_central_completers_upper_and_intervals() -> None:
    v = _section_validator("wellby_per_pound")
    assert v.is_valid(WELLBY)
    no_data = dict.fromkeys(("estimate", "low", "high", "ci_low", "ci_high", "completers_upper"))
    assert v.is_valid(no_data)  # no wellbeing data: every number null, no basis
    for key in ("completers_upper", "ci_low", "ci_high", "estimate"):
        assert not v.is_valid({k: x for k, x in WELLBY.items() if k != key}), key
    assert not v.is_valid({k: x for k, x in WELLBY.items() if k != "basis"})  # a figure, no basis
    assert not v.is_valid({**WELLBY, "basis": "completers"})
    assert not v.is_valid({**WELLBY, "social_value_per_pound": 4.1})

"""Instrument definitions: the shipped files load; a bad file stops with its name and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.definitions.base import DEFINITIONS_DIR, ConfigError
from evalkit.definitions.instruments import (
    InstrumentDefinition,
    Threshold,
    instruments,
    instruments_dir,
    load_instrument,
)

SHIPPED = ("cat", "gbo", "ons4", "pseq", "rcads_anxiety", "swemwbs", "wemwbs")


def _shipped(name: str) -> dict:
    return yaml.safe_load((DEFINITIONS_DIR / "instruments" / f"{name}.yaml").read_text())


def _write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ----- the shipped files ----------------------------------------------------------------------
def test_shipped_instruments_load_by_file_name() -> None:
    defs = instruments()
    assert tuple(sorted(defs)) == SHIPPED
    files = sorted(p.stem for p in (DEFINITIONS_DIR / "instruments").glob("*.yaml"))
    assert files == sorted(SHIPPED)
    assert all(isinstance(d, InstrumentDefinition) for d in defs.values())


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_instrument_is_consistent(name: str) -> None:
    d = instruments()[name]
    assert d.name == name and d.title and d.sources
    assert d.item_min < d.item_max
    assert set(d.reverse_scored) <= set(d.items)
    assert set(d.item_directions) <= set(d.items)
    assert d.min_items is None or 1 <= d.min_items <= len(d.items)
    lo, hi = d.score_range
    assert lo < hi
    if d.scoring == "sum_then_convert":
        n = len(d.items)
        assert set(d.conversion) == set(range(n * d.item_min, n * d.item_max + 1))
    assert all(t.value > 0 for t in d.thresholds)


def test_shipped_scoring_rules_of_the_headline_instruments() -> None:
    defs = instruments()
    assert defs["wemwbs"].score_range == (14.0, 70.0)
    assert defs["wemwbs"].thresholds[0].value == 8.6
    assert defs["swemwbs"].scoring == "sum_then_convert"
    assert defs["swemwbs"].score_range == (7.0, 35.0)
    assert defs["ons4"].reported_separately and defs["ons4"].scoring == "per_item"
    assert defs["ons4"].item_direction("anxiety") == "lower"
    assert defs["ons4"].item_direction("happiness") == "higher"
    assert defs["cat"].direction == "lower"


def test_instruments_returns_a_copy_of_the_cached_mapping() -> None:
    first = instruments()
    first.pop("wemwbs")
    assert "wemwbs" in instruments()


def test_definitions_are_frozen() -> None:
    d = instruments()["wemwbs"]
    with pytest.raises(ValueError, match="frozen"):
        d.item_max = 6  # type: ignore[misc]


# ----- strict loading -------------------------------------------------------------------------
def test_unknown_field_is_rejected_naming_the_file_and_field(tmp_path: Path) -> None:
    data = _shipped("wemwbs")
    data["item_mx"] = 5
    path = _write(tmp_path, "wemwbs", data)
    with pytest.raises(ConfigError) as exc:
        load_instrument(path)
    assert str(exc.value) == f"{path}: item_mx: Extra inputs are not permitted"


def test_unknown_field_of_a_threshold_is_named_by_its_path(tmp_path: Path) -> None:
    data = _shipped("wemwbs")
    data["thresholds"][0]["valu"] = 8.6
    path = _write(tmp_path, "wemwbs", data)
    with pytest.raises(ConfigError, match=r"wemwbs\.yaml: thresholds\.0\.valu: Extra inputs"):
        load_instrument(path)


def test_missing_required_field_is_named(tmp_path: Path) -> None:
    data = _shipped("cat")
    del data["missing_rule"]
    path = _write(tmp_path, "cat", data)
    with pytest.raises(ConfigError, match=r"cat\.yaml: missing_rule: Field required"):
        load_instrument(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"item_min": 5, "item_max": 5}, "item_min must be below item_max"),
        ({"reverse_scored": ["99"]}, "reverse_scored names unknown items"),
        ({"subscales": {"x": ["1", "99"]}}, "subscale x names unknown items"),
        ({"scoring": "sum_then_convert"}, "needs a conversion table"),
        ({"scoring": "average"}, "scoring: Input should be"),
    ],
)
def test_inconsistent_definition_is_rejected(tmp_path: Path, edit: dict, message: str) -> None:
    data = {**_shipped("wemwbs"), **edit}
    path = _write(tmp_path, "wemwbs", data)
    with pytest.raises(ConfigError, match=message) as exc:
        load_instrument(path)
    assert str(exc.value).startswith(str(path))


def test_missing_and_malformed_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_instrument(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML") as exc:
        load_instrument(bad)
    assert str(bad) in str(exc.value)


def test_threshold_value_must_be_positive() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        Threshold(kind="reliable_change", value=0, source="x")


def test_instruments_dir_override_and_name_must_match_the_file(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "instruments"
    folder.mkdir()
    _write(folder, "wemwbs", _shipped("wemwbs"))
    monkeypatch.setenv("EVALKIT_INSTRUMENTS", str(folder))
    assert instruments_dir() == folder.resolve()
    assert list(instruments()) == ["wemwbs"]
    other = tmp_path / "renamed"
    other.mkdir()
    path = _write(other, "wellbeing", _shipped("wemwbs"))
    monkeypatch.setenv("EVALKIT_INSTRUMENTS", str(other))
    with pytest.raises(ConfigError, match="name: 'wemwbs' does not match the file name") as exc:
        instruments()
    assert str(path.resolve()) in str(exc.value)

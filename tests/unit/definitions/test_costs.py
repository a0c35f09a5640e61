"""Unit costs: the shipped table loads, every cost is its original cost x its inflator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.contract import OPTIONAL_SETTINGS, SETTINGS
from evalkit.definitions.base import DEFINITIONS_DIR, ConfigError
from evalkit.definitions.costs import UnitCost, UnitCostTable, load_unit_costs

SHIPPED_FILE = DEFINITIONS_DIR / "unit_costs.yaml"

#: NHS Cost Inflation Index, pay and prices, 2015/16 = 100: 2023/24 = 126.23 (Unit Costs 2024,
#: Table 12.1.1; docs/reference/economics.md section 2.1).
NHSCII_2023_24 = 126.23


def _shipped() -> dict:
    return yaml.safe_load(SHIPPED_FILE.read_text())


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "unit_costs.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ----- the shipped table ----------------------------------------------------------------------
def test_shipped_unit_costs_load_for_every_contract_setting() -> None:
    table = load_unit_costs()
    assert isinstance(table, UnitCostTable)
    assert table.price_year == "2023/24"
    assert set(SETTINGS) <= set(table.costs) <= set(SETTINGS) | set(OPTIONAL_SETTINGS)
    for key, uc in table.costs.items():
        assert uc.setting == key and uc.source and uc.unit and uc.original_price_year
        assert table.cost_of(key) == uc.cost


@pytest.mark.parametrize("setting", sorted(load_unit_costs().costs))
def test_shipped_unit_cost_is_original_cost_times_inflator(setting: str) -> None:
    uc = load_unit_costs().costs[setting]
    assert uc.cost == round(uc.original_cost * uc.inflator, 2)
    if uc.original_price_year == "2023/24":
        assert uc.inflator == 1.0 and uc.cost == uc.original_cost


def test_inflated_cost_uses_the_nhscii_ratio_and_is_flagged() -> None:
    uc = load_unit_costs().costs["ooh_contact"]
    assert uc.original_price_year != "2023/24"
    assert uc.inflator == round(NHSCII_2023_24 / 100, 4)
    assert uc.cost == round(68.30 * 1.2623, 2) == 86.22
    assert uc.flag  # an old, second-hand figure says so


def test_load_unit_costs_default_path_is_the_shipped_file() -> None:
    assert load_unit_costs() == load_unit_costs(SHIPPED_FILE)


# ----- strict loading -------------------------------------------------------------------------
def test_unknown_field_is_rejected_naming_the_file_and_field(tmp_path: Path) -> None:
    data = _shipped()
    data["costs"]["gp_appointment"]["cots"] = 45.0
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        load_unit_costs(path)
    assert str(exc.value) == (f"{path}: costs.gp_appointment.cots: Extra inputs are not permitted")


def test_cost_that_is_not_original_times_inflator_is_rejected(tmp_path: Path) -> None:
    data = _shipped()
    data["costs"]["ooh_contact"]["cost"] = 90.0  # 68.30 x 1.2623 = 86.22
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        load_unit_costs(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: (top level): ")
    assert "costs.ooh_contact: cost 90.0 is not original_cost x inflator (86.22)" in msg


def test_cost_less_than_a_penny_off_original_times_inflator_is_accepted(tmp_path: Path) -> None:
    data = _shipped()
    data["costs"]["ooh_contact"]["cost"] = 86.225  # half a penny from 86.22: within tolerance
    assert load_unit_costs(_write(tmp_path, data)).cost_of("ooh_contact") == 86.225


def test_setting_must_match_its_key_and_every_setting_needs_a_cost(tmp_path: Path) -> None:
    data = _shipped()
    data["costs"]["gp_appointment"]["setting"] = "gp"
    with pytest.raises(ConfigError, match="setting 'gp' does not match its key"):
        load_unit_costs(_write(tmp_path, data))
    data = _shipped()
    del data["costs"]["ae_attendance"]
    with pytest.raises(ConfigError, match=r"no unit cost for settings \['ae_attendance'\]"):
        load_unit_costs(_write(tmp_path, data))


@pytest.mark.parametrize("field", ["cost", "original_cost", "inflator"])
def test_costs_and_inflator_must_be_positive(field: str) -> None:
    base = {
        "setting": "gp_appointment",
        "cost": 1.0,
        "original_cost": 1.0,
        "original_price_year": "2023/24",
        "inflator": 1.0,
        "unit": "x",
        "source": "x",
    }
    with pytest.raises(ValueError, match="greater than 0"):
        UnitCost(**{**base, field: 0})

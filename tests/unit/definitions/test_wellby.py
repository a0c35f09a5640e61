"""WELLBY values: the shipped file loads; at_price_year uprates with the GDP deflator or flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evalkit.definitions.base import DEFINITIONS_DIR, ConfigError
from evalkit.definitions.wellby import WellbyRange, WellbyValues, load_wellby

SHIPPED_FILE = DEFINITIONS_DIR / "wellby.yaml"

#: HM Treasury GDP deflator (2024 = 100) as in the shipped file: 2019 and 2023, 2024.
D2019, D2023, D2024 = 81.1085, 96.2507, 100.0


def _shipped() -> dict:
    return yaml.safe_load(SHIPPED_FILE.read_text())


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "wellby.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ----- the shipped file -----------------------------------------------------------------------
def test_shipped_wellby_values_load() -> None:
    w = load_wellby()
    assert isinstance(w, WellbyValues)
    assert (w.values.low, w.values.central, w.values.high) == (10000.0, 13000.0, 16000.0)
    assert w.price_year == "2019"
    assert w.discount_rate == 0.015 and w.duration_years_default == 1.0
    assert w.source.startswith("HM Treasury, ") and w.url in w.source
    assert load_wellby(SHIPPED_FILE) == w == load_wellby(str(SHIPPED_FILE))


# ----- at_price_year --------------------------------------------------------------------------
@pytest.mark.parametrize("year", [None, "2019"])
def test_at_price_year_same_or_no_year_leaves_the_values(year: str | None) -> None:
    w = load_wellby()
    values, price_year, k, note = w.at_price_year(year)
    assert values == w.values and price_year == "2019" and k == 1.0
    assert note == "WELLBY values in 2019 prices."


def test_at_price_year_calendar_year_uprates_by_the_deflator_ratio() -> None:
    w = load_wellby()
    values, price_year, k, note = w.at_price_year("2023")
    assert price_year == "2023"
    assert k == D2023 / D2019
    assert values.central == 13000.0 * k
    assert (values.low, values.high) == (10000.0 * k, 16000.0 * k)
    # the file's own check: GBP 13,000 in 2019 prices is about GBP 15,427 in 2023 prices
    assert round(values.central) == 15427
    assert note.startswith("FLAG: WELLBY values uprated from 2019 to 2023 prices")
    assert f"x{k:.4f}" in note and "calendar year 2023" in note


def test_at_price_year_financial_year_weights_its_two_calendar_years() -> None:
    w = load_wellby()
    values, price_year, k, note = w.at_price_year("2023/24")
    assert price_year == "2023/24"
    assert k == (0.75 * D2023 + 0.25 * D2024) / D2019
    assert values.central == 13000.0 * k
    assert "0.75 x 2023 + 0.25 x 2024" in note
    assert "UNVERIFIED" in note  # the financial-year rule is flagged
    assert "  " not in note  # one line, single spaces


@pytest.mark.parametrize(
    ("year", "why"),
    [
        ("2030", "no HM Treasury GDP deflator at market prices, calendar years, 2024 = 100 value"),
        ("2024/25", "for 2024 and 2025"),
        ("23/24", "neither YYYY nor YYYY/YY"),
    ],
)
def test_at_price_year_without_an_index_value_keeps_the_values_and_flags(year, why) -> None:
    w = load_wellby()
    values, price_year, k, note = w.at_price_year(year)
    assert values == w.values and price_year == "2019" and k == 1.0
    assert note.startswith(f"FLAG: WELLBY values left in 2019 prices, not {year}: ")
    assert why in note
    assert "understated" in note


def test_deflator_level_of_calendar_and_financial_years() -> None:
    d = load_wellby().deflator
    assert d.level("2019") == (D2019, "calendar year 2019")
    lvl, how = d.level("2023-24")
    assert lvl == 0.75 * D2023 + 0.25 * D2024 and how.startswith("financial year 2023-24")
    assert d.level("2010")[0] is None


# ----- strict loading -------------------------------------------------------------------------
def test_unknown_field_is_rejected_naming_the_file_and_field(tmp_path: Path) -> None:
    data = _shipped()
    data["values"]["centre"] = 13000
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as exc:
        load_wellby(path)
    assert str(exc.value) == f"{path}: values.centre: Extra inputs are not permitted"


def test_values_out_of_order_are_rejected(tmp_path: Path) -> None:
    data = _shipped()
    data["values"]["low"] = 14000
    with pytest.raises(ConfigError, match=r"values: Value error, values must satisfy low <="):
        load_wellby(_write(tmp_path, data))
    with pytest.raises(ValueError, match="low <= central <= high"):
        WellbyRange(central=1.0, low=2.0, high=3.0)


@pytest.mark.parametrize("rate", [-0.01, 1.0])
def test_discount_rate_must_be_in_zero_one(tmp_path: Path, rate: float) -> None:
    data = {**_shipped(), "discount_rate": rate}
    with pytest.raises(ConfigError, match="discount_rate"):
        load_wellby(_write(tmp_path, data))

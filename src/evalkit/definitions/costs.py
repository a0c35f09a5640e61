"""NHS unit costs per setting, with source and price year (``definitions/unit_costs.yaml``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from evalkit.contract import SETTINGS
from evalkit.definitions.base import DEFINITIONS_DIR, StrictModel, load_model


class UnitCost(StrictModel):
    """The NHS cost of one event in a setting, with where the figure came from."""

    setting: str
    cost: float = Field(gt=0, description="cost at the table's price year")
    original_cost: float = Field(gt=0)
    original_price_year: str
    inflator: float = Field(gt=0, description="original_price_year to the table's price year")
    unit: str
    source: str
    flag: str = ""


class UnitCostTable(StrictModel):
    """Unit costs per setting at one price year."""

    name: str
    price_year: str
    inflation_index: str
    costs: dict[str, UnitCost]

    @model_validator(mode="after")
    def _check(self) -> UnitCostTable:
        for key, uc in self.costs.items():
            if key != uc.setting:
                raise ValueError(f"costs.{key}: setting '{uc.setting}' does not match its key")
            expected = round(uc.original_cost * uc.inflator, 2)
            if abs(expected - uc.cost) > 0.01:
                raise ValueError(
                    f"costs.{key}: cost {uc.cost} is not original_cost x inflator ({expected})"
                )
        missing = set(SETTINGS) - set(self.costs)
        if missing:
            raise ValueError(f"no unit cost for settings {sorted(missing)}")
        return self

    def cost_of(self, setting: str) -> float:
        """Unit cost of one event in ``setting`` at the table's price year."""
        return self.costs[setting].cost


def load_unit_costs(path: Path | None = None) -> UnitCostTable:
    """Load the unit-cost table (default: the one shipped with evalkit)."""
    path = path or DEFINITIONS_DIR / "unit_costs.yaml"
    return load_model(UnitCostTable, path)

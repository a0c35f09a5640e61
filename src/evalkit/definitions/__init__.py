"""Definitions: instruments, unit costs and WELLBY values, as validated data.

The facts evalkit relies on (an instrument's items and missing-item rule, a unit cost's source and
price year, the Green Book's WELLBY value) live in YAML files beside this module; the models here
validate them. This layer sits below ``config`` (programmes refer to instruments by name); the
statistics layer takes these objects as arguments.
"""

from evalkit.definitions.base import (
    DEFINITIONS_DIR,
    ConfigError,
    StrictModel,
    load_model,
    load_yaml,
    validation_message,
)
from evalkit.definitions.costs import UnitCost, UnitCostTable, load_unit_costs
from evalkit.definitions.instruments import (
    InstrumentDefinition,
    Threshold,
    instruments,
    instruments_dir,
    load_instrument,
)
from evalkit.definitions.labels import Labels, event_noun, labels, setting_label
from evalkit.definitions.wellby import Deflator, WellbyRange, WellbyValues, load_wellby

__all__ = [
    "DEFINITIONS_DIR",
    "ConfigError",
    "Deflator",
    "InstrumentDefinition",
    "Labels",
    "StrictModel",
    "Threshold",
    "UnitCost",
    "UnitCostTable",
    "WellbyRange",
    "WellbyValues",
    "event_noun",
    "instruments",
    "instruments_dir",
    "labels",
    "load_instrument",
    "load_model",
    "load_unit_costs",
    "load_wellby",
    "load_yaml",
    "setting_label",
    "validation_message",
]

"""Definitions: instruments, unit costs, WELLBY values and labels, as validated data.

The facts evalkit relies on (an instrument's items and missing-item rule, a unit cost's source and
price year, the Green Book's WELLBY value, the reader's name of each code) live in YAML files
beside this module; the models here validate them. This layer sits below ``config`` (programmes
refer to instruments by name); the statistics layer takes these objects as arguments.

The unit-cost names are loaded from ``definitions.costs`` on first use: that module checks unit
costs against the data contract's settings, and the statistics layer, which imports
``definitions.instruments`` and ``definitions.wellby``, must not load the contract. Every other
module here imports only ``definitions.base`` and is imported at once (``instruments`` and
``labels`` are both a module and a function of that module; importing them eagerly binds the
package attribute to the function).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from evalkit.definitions.base import (
    DEFINITIONS_DIR,
    ConfigError,
    StrictModel,
    load_model,
    load_yaml,
    validation_message,
)
from evalkit.definitions.instruments import (
    InstrumentDefinition,
    Threshold,
    instruments,
    instruments_dir,
    load_instrument,
)
from evalkit.definitions.labels import Labels, event_noun, labels, setting_label
from evalkit.definitions.wellby import Deflator, WellbyRange, WellbyValues, load_wellby

#: Names loaded from ``definitions.costs`` on first use (it imports the data contract).
_LAZY = ("UnitCost", "UnitCostTable", "load_unit_costs")

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("evalkit.definitions.costs"), name)
    raise AttributeError(f"module 'evalkit.definitions' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])

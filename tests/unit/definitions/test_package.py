"""The definitions package: its names, and what importing it loads."""

from __future__ import annotations

import subprocess
import sys


def test_definitions_instruments_and_labels_stay_functions_after_submodule_import() -> None:
    # A lazily loaded package bound `definitions.instruments` to the submodule once the statistics
    # layer had imported it, so `instruments()` raised "'module' object is not callable".
    program = (
        "import evalkit.stats, evalkit.definitions.instruments, evalkit.definitions.labels\n"
        "from evalkit.definitions import instruments, labels\n"
        "from evalkit.config import instruments as from_config\n"
        "assert callable(instruments) and callable(labels) and from_config is instruments\n"
        "assert 'wemwbs' in instruments() and labels().settings\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True)


def test_definitions_unit_costs_load_on_first_use() -> None:
    program = (
        "import sys, evalkit.definitions as d\n"
        "assert 'evalkit.definitions.costs' not in sys.modules\n"
        "assert d.load_unit_costs().costs\n"
        "assert 'evalkit.contract' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", program], check=True)

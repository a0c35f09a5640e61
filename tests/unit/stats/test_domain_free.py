"""The statistics layer loads no domain module, at run time as well as in its import graph.

import-linter checks the static import graph; a package ``__init__`` that imports a sibling has a
side effect it cannot see, so this test imports every ``evalkit.stats`` module in a fresh
interpreter and looks at what was loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys

DOMAIN = (
    "evalkit.config",
    "evalkit.contract",
    "evalkit.synth",
    "evalkit.intake",
    "evalkit.cohort",
    "evalkit.analysis",
    "evalkit.reporting",
    "evalkit.engine",
    "evalkit.cli",
)

_PROGRAM = """
import json, pkgutil, sys, importlib
import evalkit.stats
for m in pkgutil.walk_packages(evalkit.stats.__path__, "evalkit.stats."):
    importlib.import_module(m.name)
print(json.dumps(sorted(n for n in sys.modules if n.startswith("evalkit"))))
"""


def test_stats_import_loads_no_domain_module() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROGRAM], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out.splitlines()[-1])
    assert "evalkit.stats.did" in loaded  # the walk did import the layer
    leaked = [m for m in loaded if m.startswith(DOMAIN)]
    assert not leaked, f"importing evalkit.stats loaded domain modules: {leaked}"

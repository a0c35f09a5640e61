"""Compare the running environment with requirements.lock (used by scripts/venv.sh).

Prints one line per difference and nothing when the environment matches the lock exactly:
``stale NAME`` for a pinned package missing or at another version, ``extra NAME`` for an installed
package the lock does not name (pip, setuptools, wheel and evalkit are always allowed). Standard
library only, and fast (no pip), so an up-to-date venv is checked in well under a second.

Examples
--------
``python scripts/lockdiff.py requirements.lock``
"""

from __future__ import annotations

import importlib.metadata
import re
import sys

ALWAYS_ALLOWED = {"pip", "setuptools", "wheel", "evalkit"}


def normalise(name: str) -> str:
    """PEP 503 name normalisation.

    Examples
    --------
    >>> normalise("Jinja2"), normalise("typing_extensions")
    ('jinja2', 'typing-extensions')
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(path: str) -> dict[str, str]:
    """Normalised name -> pinned version, from a ``name==version`` lock file."""
    pins: dict[str, str] = {}
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            line = raw.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                name, _, version = line.partition("==")
                pins[normalise(name.strip())] = version.strip()
    return pins


def differences(pins: dict[str, str]) -> list[str]:
    """Lines ``stale NAME`` and ``extra NAME`` describing how the environment differs."""
    installed: dict[str, tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            installed[normalise(name)] = (name, dist.version)
    out = [
        f"stale {key}"
        for key, version in sorted(pins.items())
        if key not in installed or installed[key][1] != version
    ]
    out += [
        f"extra {name}"
        for key, (name, _) in sorted(installed.items())
        if key not in pins and key not in ALWAYS_ALLOWED
    ]
    return out


if __name__ == "__main__":
    print("\n".join(differences(lock_pins(sys.argv[1]))))

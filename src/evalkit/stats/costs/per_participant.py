"""Programme cost per participant: a cost quoted per starter or per participant, per participant.

"Participant" is every referred person, counted once (docs/design/methods.md section 4).
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["cost_per_participant"]


def cost_per_participant(
    amount: float,
    basis: Literal["participant", "starter"],
    *,
    start_rate: float | None = None,
) -> float:
    """Programme cost per participant (every referred person, counted once).

    A cost quoted per starter is spent only on people who start, so per participant it is
    ``amount x start_rate`` (docs/design/methods.md section 4), with ``start_rate`` the share of
    participants who started.

    Parameters
    ----------
    amount : float
        Cost as quoted (positive).
    basis : {"participant", "starter"}
        Whom ``amount`` is per.
    start_rate : float, optional
        Starters ÷ participants, in (0, 1]; required for ``basis="starter"``.

    Returns
    -------
    float
        Cost per participant.

    Examples
    --------
    >>> cost_per_participant(410.0, "starter", start_rate=0.8)
    328.0
    >>> cost_per_participant(320.0, "participant")
    320.0
    """
    if not (math.isfinite(amount) and amount > 0):
        raise ValueError(f"amount must be a positive number, not {amount!r}")
    if basis == "participant":
        return float(amount)
    if basis != "starter":
        raise ValueError(f"basis must be 'participant' or 'starter', not {basis!r}")
    if start_rate is None or not (0 < start_rate <= 1):
        raise ValueError(f"a per-starter cost needs a start_rate in (0, 1], not {start_rate!r}")
    return float(amount) * float(start_rate)

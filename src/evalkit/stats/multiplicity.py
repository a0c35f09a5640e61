"""Multiplicity: Holm's step-down adjustment of a family of p-values.

A thin wrapper around statsmodels' ``multipletests(method="holm")`` that leaves missing
p-values (None or NaN: an estimate that could not be made or was not published) out of the
family instead of failing, and says how many were adjusted. Holm controls the family-wise
error rate under any dependence between the tests, which matters here: outcomes measured on the
same people are correlated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from statsmodels.stats.multitest import multipletests

__all__ = ["holm"]


def _present(p: float | None) -> bool:
    return p is not None and not (isinstance(p, float) and math.isnan(p))


def holm(p_values: Sequence[float | None], *, alpha: float = 0.05) -> list[float | None]:
    """Holm-adjusted p-values, in the input's order; a missing p-value stays None.

    Parameters
    ----------
    p_values : sequence of float or None
        Unadjusted p-values of one family of tests. None or NaN marks a test that was not
        made: it is left out of the family (the others are adjusted as a smaller family).
    alpha : float
        Family-wise error rate passed to statsmodels (it does not change the adjusted values).

    Returns
    -------
    list of float or None
        ``multipletests(present, alpha, method="holm")[1]`` at the present positions, None at
        the missing ones.

    Examples
    --------
    >>> holm([0.01, 0.04, None, 0.03])
    [0.03, 0.06, None, 0.06]
    >>> holm([])
    []
    """
    present = [i for i, p in enumerate(p_values) if _present(p)]
    out: list[float | None] = [None] * len(p_values)
    if not present:
        return out
    ps = [float(p_values[i]) for i in present]  # type: ignore[arg-type]
    adjusted = multipletests(ps, alpha=alpha, method="holm")[1]
    for i, q in zip(present, adjusted, strict=True):
        out[i] = float(q)
    return out

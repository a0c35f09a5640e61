"""Regressors of the difference-in-differences model, beside the absorbed fixed effects.

The unit and period fixed effects are not built here: both engines of
:mod:`evalkit.stats.did_fit` absorb them from the integer codes ``_unit`` and ``_time``. This
module builds the frame the engines read (:class:`Design`) and the non-absorbed regressors: the
treated x post term, ``post`` itself when the period effects do not absorb it, and every
``covariate x post`` term. The event-study indicators are added by
:mod:`evalkit.stats.did_event_study`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from evalkit.stats.did_inputs import DidColumns, DidInputs
from evalkit.stats.did_result import DID_TERM

__all__ = ["Design", "build_design", "covariate_terms"]


@dataclass(eq=False)
class Design:
    """The frame the fitting engines read, and the reported name of each regressor column.

    Attributes
    ----------
    work : pd.DataFrame
        ``_y``, ``_unit``, ``_time``, ``_cl``, ``_w``, ``_lexpo`` (with an exposure) and the
        regressor columns ``x0``, ``x1``, ... in the order they were added.
    labels : dict of str to str
        Reported term name of each regressor column.
    did_name : str
        Column of the treated x post term.
    extra : list of str
        Columns of the other terms of the DiD model (``post``, covariates x post).
    """

    work: pd.DataFrame
    labels: dict[str, str] = field(default_factory=dict)
    did_name: str = ""
    extra: list[str] = field(default_factory=list)

    def add(self, label: str, values: np.ndarray) -> str:
        """Add a regressor column reported as ``label``; return its column name."""
        name = f"x{len(self.labels)}"
        self.labels[name] = label
        self.work[name] = values
        return name


def covariate_terms(
    data: pd.DataFrame, covariates: list[str], post: np.ndarray, notes: list[str]
) -> list[tuple[str, np.ndarray]]:
    """Build ``covariate x post`` columns; categorical ones as level indicators (first omitted)."""
    terms: list[tuple[str, np.ndarray]] = []
    for cov in covariates:
        s = data[cov]
        if s.nunique(dropna=True) < 2:
            notes.append(f"Covariate {cov!r} is constant in the analysed rows and was dropped.")
            continue
        if is_bool_dtype(s) or is_numeric_dtype(s):
            terms.append((f"{cov}_x_post", s.to_numpy(dtype=float) * post))
            continue
        levels = sorted(s.astype(str).unique())
        notes.append(
            f"Covariate {cov!r} is categorical: entered as {len(levels) - 1} indicator(s) x post, "
            f"reference level {levels[0]!r}."
        )
        as_str = s.astype(str).to_numpy()
        for level in levels[1:]:
            terms.append((f"{cov}[{level}]_x_post", (as_str == level).astype(float) * post))
    return terms


def build_design(inputs: DidInputs, cols: DidColumns, notes: list[str]) -> Design:
    """The engines' frame with the treated x post term, any ``post`` term and covariate terms.

    ``post`` is entered on its own, with a note, when it varies within a period (the period
    effects then do not absorb it).
    """
    work = pd.DataFrame(
        {
            "_y": inputs.y,
            "_unit": inputs.unit_codes,
            "_time": inputs.time_codes,
            "_cl": inputs.cluster_codes[0],
            "_w": inputs.weights,
        }
    )
    if len(inputs.cluster_codes) > 1:  # two-way clustering
        work["_cl2"] = inputs.cluster_codes[1]
    if cols.exposure is not None:
        work["_lexpo"] = np.log(inputs.exposure)
    design = Design(work)
    tr, po = inputs.treated, inputs.post
    design.did_name = design.add(DID_TERM, (tr * po).astype(float))
    post_by_time = pd.Series(po).groupby(inputs.time_codes).agg(["min", "max"])
    if (post_by_time["min"] != post_by_time["max"]).any():
        design.extra.append(design.add("post", po.astype(float)))
        notes.append(
            f"{cols.post!r} varies within periods of {cols.time!r}, so it is not absorbed by the "
            "period effects: it was entered as a regressor too."
        )
    for label, values in covariate_terms(
        inputs.data, list(cols.covariates), po.astype(float), notes
    ):
        design.extra.append(design.add(label, values))
    return design

"""The stacked data of :func:`evalkit.stats.stacked.stacked_did`: sub-experiments and Q-weights.

Wing, Freedman & Hollingsworth (2024, "Stacked Difference-in-Differences", NBER Working Paper
32054) build one sub-experiment per adoption time ``a``: the units adopting at ``a`` (treated)
and the clean controls (never treated, or adopting after ``a + post``), observed in the event
window ``a - pre, ..., a + post``. A sub-experiment whose window does not fit inside the panel's
periods (``a - pre`` before the first period or ``a + post`` after the last: their inclusion
criterion IC1), or that has no clean control (IC2), is trimmed, so every event time is estimated
from the same sub-experiments. The sub-experiments are stacked, a unit appearing once in each
sub-experiment it belongs to.

The corrective Q-weights make the stack's control trends weigh each sub-experiment as its
treated units do: a treated unit weighs 1; a control unit of sub-experiment ``a`` weighs
``(N^D_a / N^D) / (N^C_a / N^C)``, ``N^D_a`` and ``N^C_a`` the treated and control units of
``a`` and ``N^D``, ``N^C`` their sums over the stack (the paper's "aggregate" weights, which
target the trimmed aggregate ATT). The authors' R and Stata code and diff-diff's ``StackedDiD``
count rows per sub-experiment and event time instead of units; on a panel with every unit in
every period of its window the two counts give the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from evalkit.stats.did_inputs import check_columns

__all__ = ["STACK_COLUMNS", "SUB_EXPERIMENT_COLUMNS", "Stack", "StackColumns", "build_stack"]

#: Columns :func:`build_stack` adds to the panel's rows in the stacked data.
STACK_COLUMNS: tuple[str, ...] = ("sub_experiment", "event_time", "treated", "weight")

#: Columns of :attr:`Stack.sub_experiments`, one row per adoption time of the panel.
SUB_EXPERIMENT_COLUMNS: tuple[str, ...] = (
    "adoption",
    "status",
    "n_treated",
    "n_control",
    "control_weight",
    "rows",
)

_KEPT = "kept"
_NO_WINDOW = "trimmed: window does not fit the data"
_NO_CONTROLS = "trimmed: no clean controls"


@dataclass(frozen=True)
class StackColumns:
    """The column of every role in a :func:`~evalkit.stats.stacked.stacked_did` call."""

    outcome: str
    unit: str
    time: str
    adoption: str
    cluster: str | None
    exposure: str | None

    @property
    def cluster_col(self) -> str:
        """The cluster column used: ``cluster``, or ``unit`` when none was given."""
        return self.unit if self.cluster is None else self.cluster

    def named(self) -> dict[str, str | None]:
        """Role to column, in argument order."""
        return {
            "outcome": self.outcome,
            "unit": self.unit,
            "time": self.time,
            "adoption": self.adoption,
            "cluster": self.cluster,
            "exposure": self.exposure,
        }


@dataclass(frozen=True, eq=False)
class Stack:
    """The stacked data and the table of sub-experiments.

    Attributes
    ----------
    data : pd.DataFrame
        The panel's used columns for every stacked row plus :data:`STACK_COLUMNS`
        (``treated`` 0/1, ``weight`` the Q-weight, or 1 without weights), sorted by
        sub-experiment, unit and period.
    sub_experiments : pd.DataFrame
        :data:`SUB_EXPERIMENT_COLUMNS`: every adoption time of the panel, kept or trimmed (and
        why), its treated and clean-control units and the control weight (NaN when trimmed).
    """

    data: pd.DataFrame
    sub_experiments: pd.DataFrame


# ---------------------------------------------------------------------- checking the panel
def _integer_values(values: pd.Series, name: str, role: str, allow_never: bool) -> np.ndarray:
    """Float array of a numeric column whose values are whole numbers (NaN/inf: never)."""
    if is_bool_dtype(values) or not is_numeric_dtype(values):
        raise ValueError(
            f"{role} column {name!r} must hold numbered periods (integers); it has dtype "
            f"{values.dtype}: convert dates to period numbers first"
        )
    arr = values.to_numpy(dtype=float)
    finite = np.isfinite(arr)
    bad = finite & (arr != np.round(arr))
    if not allow_never:
        bad |= ~finite
    else:
        bad |= np.isneginf(arr)
    if bad.any():
        found = sorted(set(arr[bad].tolist()))[:5]
        raise ValueError(f"{role} column {name!r} must hold whole period numbers; found {found}")
    return arr


def _analysed_rows(panel: pd.DataFrame, cols: StackColumns, notes: list[str]) -> pd.DataFrame:
    """The used columns of the rows without a missing value (``adoption`` may be missing)."""
    used = list(dict.fromkeys(c for c in cols.named().values() if c is not None))
    data = panel.loc[:, used]
    required = [c for c in used if c != cols.adoption]
    na = data[required].isna().any(axis=1)
    if na.any():
        notes.append(
            f"{int(na.sum()):,} row(s) with a missing value in "
            f"{', '.join(repr(c) for c in required if data[c].isna().any())} were left out."
        )
        data = data.loc[~na.to_numpy()]
    if data.empty:
        raise ValueError("no rows left to analyse (every row has a missing value)")
    return data


def _check_values(data: pd.DataFrame, cols: StackColumns, model: str) -> None:
    """Outcome numeric and finite (non-negative for Poisson); exposure positive."""
    y = data[cols.outcome]
    if not (is_numeric_dtype(y) or is_bool_dtype(y)):
        raise ValueError(f"outcome column {cols.outcome!r} must be numeric; it is {y.dtype}")
    yv = y.to_numpy(dtype=float)
    if not np.isfinite(yv).all():
        raise ValueError(f"outcome column {cols.outcome!r} has infinite values")
    if model == "poisson" and (yv < 0).any():
        raise ValueError(
            f"outcome column {cols.outcome!r} has negative values: the Poisson model needs y >= 0"
        )
    if cols.exposure is not None:
        ex = data[cols.exposure]
        exv = ex.to_numpy(dtype=float) if is_numeric_dtype(ex) else np.array([np.nan])
        if not (np.isfinite(exv) & (exv > 0)).all():
            raise ValueError(
                f"exposure column {cols.exposure!r} must be positive, finite person-time at risk"
            )


def _adoption_by_unit(data: pd.DataFrame, cols: StackColumns) -> pd.Series:
    """Each unit's adoption period (inf: never treated), checked constant within unit."""
    adoption = _integer_values(data[cols.adoption], cols.adoption, "adoption", allow_never=True)
    adoption = np.where(np.isnan(adoption), np.inf, adoption)
    by_unit = pd.Series(adoption, index=data.index).groupby(data[cols.unit].to_numpy())
    mixed = by_unit.nunique() > 1
    if mixed.any():
        examples = mixed.index[mixed.to_numpy()][:3].tolist()
        raise ValueError(
            f"adoption column {cols.adoption!r} is not constant within unit {cols.unit!r}: "
            f"{int(mixed.sum()):,} unit(s) have more than one value (e.g. {examples})"
        )
    per_unit = by_unit.first()
    if not np.isfinite(per_unit.to_numpy()).any():
        raise ValueError(
            f"no treated units: {cols.adoption!r} is missing (never treated) for every unit"
        )
    return per_unit


def _check_one_row_per_period(data: pd.DataFrame, cols: StackColumns) -> None:
    """No repeated (unit, time) rows."""
    if data.duplicated(subset=[cols.unit, cols.time]).any():
        raise ValueError(
            f"repeated ({cols.unit!r}, {cols.time!r}) rows: a panel has one row per unit and period"
        )


# ---------------------------------------------------------------------- sub-experiments
@dataclass(frozen=True, eq=False)
class _Rows:
    """Row-level arrays the sub-experiments are cut from."""

    unit: np.ndarray
    time: np.ndarray
    adoption: np.ndarray

    def members(self, a: float, window: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Rows in sub-experiment ``a``'s window of its treated and clean-control units."""
        pre, post = window
        treated = self.adoption == a
        in_window = (self.time >= a - pre) & (self.time <= a + post)
        return (treated | (self.adoption > a + post)) & in_window, treated


def _sub_experiment_table(rows: _Rows, window: tuple[int, int]) -> pd.DataFrame:
    """Every adoption time with its status and its treated and clean-control units in window."""
    pre, post = window
    first, last = rows.time.min(), rows.time.max()
    out = []
    for a in np.unique(rows.adoption[np.isfinite(rows.adoption)]):
        member, treated = rows.members(a, window)
        n_treated = len(np.unique(rows.unit[member & treated]))
        n_control = len(np.unique(rows.unit[member & ~treated]))
        status = _KEPT
        if a - pre < first or a + post > last:
            status = _NO_WINDOW
        elif n_control == 0:
            status = _NO_CONTROLS
        out.append((int(a), status, n_treated, n_control))
    return pd.DataFrame(out, columns=["adoption", "status", "n_treated", "n_control"])


def _check_kept(table: pd.DataFrame, window: tuple[int, int], times: np.ndarray) -> None:
    """At least one sub-experiment is kept, or a ValueError saying why none is."""
    if (table["status"] == _KEPT).any():
        return
    if (table["status"] == _NO_WINDOW).all():
        pre, post = window
        raise ValueError(
            f"the window of {pre} period(s) before and {post} after adoption fits no "
            f"sub-experiment: the panel's periods run from {times.min():g} to "
            f"{times.max():g} and the adoption times are {table['adoption'].tolist()}; "
            "shorten the window"
        )
    fitting = table.loc[table["status"] == _NO_CONTROLS, "adoption"].tolist()
    raise ValueError(
        "no clean controls: no unit is never treated or adopts after the window of the "
        f"sub-experiment(s) {fitting} whose window fits the data"
    )


def _stack_rows(
    data: pd.DataFrame, rows: _Rows, table: pd.DataFrame, window: tuple[int, int]
) -> pd.DataFrame:
    """The rows of every kept sub-experiment, stacked, with sub-experiment, event time, treated."""
    parts = []
    for a in table.loc[table["status"] == _KEPT, "adoption"]:
        member, treated = rows.members(a, window)
        part = data.loc[member].copy()
        part["sub_experiment"] = a
        part["event_time"] = (rows.time[member] - a).astype(np.int64)
        part["treated"] = treated[member].astype(np.int8)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _q_weights(stacked: pd.DataFrame, unit: str, table: pd.DataFrame, wing: bool) -> None:
    """Add the ``weight`` column and fill the table's counts and control weights in place."""
    units = stacked.groupby(["sub_experiment", "treated"])[unit].nunique().unstack(fill_value=0)
    n_d = units.get(1, pd.Series(0, index=units.index)).astype(float)
    n_c = units.get(0, pd.Series(0, index=units.index)).astype(float)
    q = (n_d / n_d.sum()) / (n_c / n_c.sum()) if wing else pd.Series(1.0, index=units.index)
    control_w = q.reindex(stacked["sub_experiment"].to_numpy()).to_numpy()
    stacked["weight"] = np.where(stacked["treated"].to_numpy() == 1, 1.0, control_w)
    kept = table["status"] == _KEPT
    at = table.loc[kept, "adoption"].to_numpy()
    table.loc[kept, "n_treated"] = n_d.reindex(at).to_numpy().astype(int)
    table.loc[kept, "n_control"] = n_c.reindex(at).to_numpy().astype(int)
    table["control_weight"] = np.nan
    table.loc[kept, "control_weight"] = q.reindex(at).to_numpy()
    rows = stacked.groupby("sub_experiment").size()
    table["rows"] = rows.reindex(table["adoption"].to_numpy()).fillna(0).astype(int).to_numpy()


def _trim_note(table: pd.DataFrame) -> str | None:
    """One note naming the trimmed sub-experiments and why, or None."""
    parts = []
    for status in (_NO_WINDOW, _NO_CONTROLS):
        trimmed = table.loc[table["status"] == status, "adoption"].tolist()
        if trimmed:
            parts.append(f"{trimmed} ({status.removeprefix('trimmed: ')})")
    if not parts:
        return None
    return "Sub-experiment(s) trimmed: " + "; ".join(parts) + "."


# ---------------------------------------------------------------------- public entry
def build_stack(
    panel: pd.DataFrame,
    cols: StackColumns,
    window: tuple[int, int],
    *,
    wing: bool,
    model: str,
    notes: list[str],
) -> Stack:
    """Check ``panel`` and build its stacked data with the Q-weights (or weight 1).

    Parameters
    ----------
    panel : pd.DataFrame
        One row per unit and period.
    cols : StackColumns
        The column of every role.
    window : tuple of (int, int)
        Periods before and after adoption in every sub-experiment's event window.
    wing : bool
        Q-weights (Wing, Freedman & Hollingsworth 2024) when true; weight 1 otherwise.
    model : {"linear", "poisson"}
        The model to be fitted (the Poisson model needs a non-negative outcome).
    notes : list of str
        Notes are appended to it: rows left out, sub-experiments trimmed.

    Returns
    -------
    Stack

    Raises
    ------
    ValueError
        Unknown column; periods or adoption times not whole numbers; adoption not constant
        within unit; no treated unit; repeated (unit, time) rows; a window that fits no
        sub-experiment; no clean controls; a bad outcome or exposure.
    """
    check_columns(panel, cols.named())
    data = _analysed_rows(panel, cols, notes)
    periods = _integer_values(data[cols.time], cols.time, "time", allow_never=False)
    _check_values(data, cols, model)
    _check_one_row_per_period(data, cols)
    adoption = _adoption_by_unit(data, cols)
    units = data[cols.unit].to_numpy()
    rows = _Rows(unit=units, time=periods, adoption=adoption.reindex(units).to_numpy())
    table = _sub_experiment_table(rows, window)
    _check_kept(table, window, periods)
    stacked = _stack_rows(data, rows, table, window)
    stacked = stacked.sort_values(["sub_experiment", cols.unit, cols.time], kind="stable")
    _q_weights(stacked, cols.unit, table, wing)
    note = _trim_note(table)
    if note:
        notes.append(note)
    return Stack(
        data=stacked.reset_index(drop=True),
        sub_experiments=table.loc[:, list(SUB_EXPERIMENT_COLUMNS)],
    )

"""Score validated wellbeing instruments from the long-format ``measures`` table.

Each instrument is scored exactly as its definition (``src/evalkit/definitions/instruments/``)
says: items summed, reverse-scored items reversed, SWEMWBS raw totals converted with the
published table, ONS4 items kept apart, GBO goals averaged. The missing-item rule lives in the
definition (``min_items``; when it is not set every item must be answered), and a questionnaire
that fails it is *not scorable* (``score`` NaN with a reason), never a low score.

Out-of-range responses, unknown instruments or items and duplicated item rows should have been
quarantined by intake; if any reach scoring it raises :class:`ScoringError` rather than score
them.

The column names are arguments of :func:`score_measures` (defaults: the data contract's names);
inside, the table is read under the contract's names and the scores table is given back under
the caller's.

The scoring is vectorised with pandas group-bys (no per-questionnaire Python loop), so a county
scale table of a few hundred thousand item rows scores in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from evalkit.definitions.instruments import InstrumentDefinition

__all__ = [
    "MEASURE_COLUMNS",
    "REASON_NOT_IN_TABLE",
    "REASON_NO_ITEMS",
    "REASON_TOO_MANY_MISSING",
    "SCORE_COLUMNS",
    "ScoringError",
    "as_definitions",
    "goal_columns",
    "score_measures",
]

#: Columns the ``measures`` table must have: the data contract's names, which are the defaults of
#: :func:`score_measures`' column arguments (episode, instrument, timepoint, date, item, response).
MEASURE_COLUMNS: tuple[str, ...] = (
    "episode_id",
    "instrument",
    "timepoint",
    "assessed_on",
    "item",
    "response",
)

#: Columns of the scores table, in order, with the default column names (goal columns of
#: goal-based instruments follow).
SCORE_COLUMNS: tuple[str, ...] = (
    "episode_id",
    "instrument",
    "timepoint",
    "assessed_on",
    "n_items_answered",
    "n_items",
    "score",
    "scorable",
    "raw_score",
    "reason_not_scored",
)

#: ``reason_not_scored`` values.
REASON_NO_ITEMS = "no_items_answered"
REASON_TOO_MANY_MISSING = "too_many_missing_items"
REASON_NOT_IN_TABLE = "prorated_total_not_in_conversion_table"

_KEYS = ["episode_id", "timepoint"]


class ScoringError(ValueError):
    """The measures table holds something intake should have quarantined (or is malformed)."""


def goal_columns(definition: InstrumentDefinition) -> list[str]:
    """Names of the per-goal score columns of a goal-based instrument (``goal_1`` ...).

    Examples
    --------
    >>> from evalkit.definitions import instruments
    >>> goal_columns(instruments()["gbo"])
    ['goal_1', 'goal_2', 'goal_3']
    """
    return [f"goal_{item}" for item in definition.items]


def as_definitions(
    definitions: Mapping[str, InstrumentDefinition] | Iterable[InstrumentDefinition],
) -> dict[str, InstrumentDefinition]:
    """Instrument definitions by name, from a mapping or an iterable of definitions.

    The statistics layer takes the definitions as an argument (it ships none of its own):
    pass ``evalkit.definitions.instruments()`` or a programme's own.

    Raises
    ------
    TypeError
        If ``definitions`` is None.

    Examples
    --------
    >>> from evalkit.definitions import instruments
    >>> sorted(as_definitions(instruments().values())) == sorted(instruments())
    True
    """
    if definitions is None:
        raise TypeError(
            "definitions is required: pass the instrument definitions, e.g. "
            "evalkit.definitions.instruments()"
        )
    if isinstance(definitions, Mapping):
        return dict(definitions)
    return {d.name: d for d in definitions}


def _required_items(defn: InstrumentDefinition) -> int:
    """Answered items needed for a score: ``min_items``, else every item (conservative rule)."""
    return len(defn.items) if defn.min_items is None else int(defn.min_items)


def _column_names(names: tuple[str, ...]) -> dict[str, str]:
    """The caller's column of each ``MEASURE_COLUMNS`` role, checked against the output's own."""
    named = dict(zip(MEASURE_COLUMNS, names, strict=True))
    own = set(SCORE_COLUMNS) - {"episode_id", "instrument", "timepoint", "assessed_on"}
    clash = sorted({v for k, v in named.items() if k != v and v in own})
    if clash:
        raise ValueError(f"column argument(s) {clash} clash with columns of the scores table")
    return named


def _validate(
    measures: pd.DataFrame, defs: dict[str, InstrumentDefinition], names: dict[str, str]
) -> pd.DataFrame:
    """The measures table under the contract's column names, checked (:class:`ScoringError`)."""
    missing = [c for c in names.values() if c not in measures.columns]
    if missing:
        raise ScoringError(f"measures table lacks column(s) {missing}")
    df = measures.loc[:, list(names.values())].copy()
    df.columns = list(MEASURE_COLUMNS)
    for col in ("episode_id", "instrument", "timepoint", "item"):
        if df[col].isna().any():
            raise ScoringError(
                f"measures.{names[col]} has {int(df[col].isna().sum())} empty value(s)"
            )
        df[col] = df[col].astype(str)

    unknown = sorted(set(df["instrument"].unique()) - set(defs))
    if unknown:
        raise ScoringError(
            f"unknown instrument(s) {unknown}; defined: {', '.join(sorted(defs))} "
            "(intake quarantines these as unknown_instrument)"
        )

    try:
        resp = pd.to_numeric(df["response"], errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise ScoringError(
            f"measures.{names['response']} holds a non-numeric value: {exc}"
        ) from None
    if (resp.notna() & (resp % 1 != 0)).any():
        bad = df.loc[resp.notna() & (resp % 1 != 0)].head(3)
        raise ScoringError(f"measures.{names['response']} holds non-integer responses, e.g.\n{bad}")
    df["response"] = resp

    lo = df["instrument"].map({n: d.item_min for n, d in defs.items()}).astype("float64")
    hi = df["instrument"].map({n: d.item_max for n, d in defs.items()}).astype("float64")
    out = resp.notna() & ((resp < lo) | (resp > hi))
    if out.any():
        bad = df.loc[out].head(5)
        raise ScoringError(
            f"{int(out.sum())} response(s) outside the instrument's item range; intake should "
            f"have quarantined them (response_out_of_range). First rows:\n{bad}"
        )

    known_items = {(n, i) for n, d in defs.items() for i in d.items}
    pairs = pd.MultiIndex.from_frame(df[["instrument", "item"]])
    bad_item = ~pairs.isin(list(known_items)) if len(df) else np.zeros(0, dtype=bool)
    if bad_item.any():
        bad = df.loc[bad_item, ["instrument", "item"]].drop_duplicates().head(5)
        raise ScoringError(
            f"{int(bad_item.sum())} row(s) name an item the instrument does not have "
            f"(unknown_item), e.g.\n{bad}"
        )

    dup = df.duplicated(["episode_id", "instrument", "timepoint", "item"], keep=False)
    if dup.any():
        bad = df.loc[dup].head(5)
        raise ScoringError(
            f"{int(dup.sum())} rows repeat an ({names['episode_id']}, {names['instrument']}, "
            f"{names['timepoint']}, {names['item']}); intake keeps the first "
            f"(duplicate_response). First rows:\n{bad}"
        )
    return df


def _reverse(sub: pd.DataFrame, defn: InstrumentDefinition) -> pd.Series:
    resp = sub["response"]
    if not defn.reverse_scored:
        return resp
    rev = sub["item"].isin(defn.reverse_scored)
    return resp.where(~rev, defn.item_min + defn.item_max - resp)


def _empty_frame(goal_cols: list[str]) -> pd.DataFrame:
    out = pd.DataFrame({c: pd.Series(dtype="float64") for c in (*SCORE_COLUMNS, *goal_cols)})
    out["episode_id"] = out["episode_id"].astype(str)
    out["instrument"] = out["instrument"].astype(str)
    out["timepoint"] = out["timepoint"].astype(str)
    out["assessed_on"] = out["assessed_on"].astype(object)
    out["n_items_answered"] = out["n_items_answered"].astype("int64")
    out["n_items"] = out["n_items"].astype("int64")
    out["scorable"] = out["scorable"].astype(bool)
    out["reason_not_scored"] = out["reason_not_scored"].astype(object)
    return out


def _finish(
    frame: pd.DataFrame,
    *,
    instrument: str,
    n_items: int,
    required: int,
) -> pd.DataFrame:
    """Set ``scorable`` and ``reason_not_scored`` from the answered count; NaN unscorable scores."""
    n_ans = frame["n_items_answered"]
    reason = pd.Series(None, index=frame.index, dtype=object)
    reason[n_ans < required] = REASON_TOO_MANY_MISSING
    reason[n_ans == 0] = REASON_NO_ITEMS
    reason[reason.isna() & frame["score"].isna()] = REASON_NOT_IN_TABLE
    frame["reason_not_scored"] = reason
    frame["scorable"] = reason.isna()
    frame.loc[~frame["scorable"], "score"] = np.nan
    frame["instrument"] = instrument
    frame["n_items"] = n_items
    return frame


def _score_total(sub: pd.DataFrame, defn: InstrumentDefinition) -> pd.DataFrame:
    """``sum`` and ``sum_then_convert``: one row per (episode, timepoint)."""
    sub = sub.assign(value=_reverse(sub, defn))
    g = sub.groupby(_KEYS, sort=True)
    frame = pd.DataFrame(
        {
            "assessed_on": g["assessed_on"].min(),
            "n_items_answered": g["value"].count().astype("int64"),
            "answered_sum": g["value"].sum(min_count=1),
        }
    ).reset_index()
    n_items = len(defn.items)
    required = _required_items(defn)
    n_ans = frame["n_items_answered"]
    # Prorating (person-mean imputation) only ever applies when a definition's min_items allows
    # missing items; with the default rule every scorable questionnaire is complete.
    # Complete questionnaires keep the exact integer sum (29 / 7 * 7 is not 29 in floating
    # point); only prorated totals are computed, rounded to 10 decimals for the table lookup.
    prorated = (frame["answered_sum"] * n_items / n_ans.where(n_ans > 0)).round(10)
    raw = frame["answered_sum"].where(n_ans == n_items, prorated)
    raw = raw.where(n_ans >= required)
    frame["raw_score"] = raw
    if defn.scoring == "sum_then_convert":
        table = pd.Series(defn.conversion, dtype="float64")
        table.index = table.index.astype("float64")
        # A prorated total that is not a whole number has no row in the published table.
        frame["score"] = raw.map(table)
    else:
        frame["score"] = raw
    frame = frame.drop(columns="answered_sum")
    return _finish(frame, instrument=defn.name, n_items=n_items, required=required)


def _score_per_item(sub: pd.DataFrame, defn: InstrumentDefinition) -> pd.DataFrame:
    """``per_item`` (ONS4): one row per (episode, timepoint, item), named ``<name>_<item>``."""
    sub = sub.assign(value=_reverse(sub, defn))
    keys = sub.groupby(_KEYS, sort=True)["assessed_on"].min().reset_index()
    grid = keys.merge(pd.DataFrame({"item": list(defn.items)}), how="cross")
    grid = grid.merge(sub[[*_KEYS, "item", "value"]], on=[*_KEYS, "item"], how="left")
    frame = pd.DataFrame(
        {
            "episode_id": grid["episode_id"],
            "timepoint": grid["timepoint"],
            "assessed_on": grid["assessed_on"],
            "n_items_answered": grid["value"].notna().astype("int64"),
            "raw_score": grid["value"],
            "score": grid["value"],
        }
    )
    frame = _finish(frame, instrument="", n_items=1, required=1)
    frame["instrument"] = defn.name + "_" + grid["item"].astype(str)
    return frame


def _score_goals(sub: pd.DataFrame, defn: InstrumentDefinition) -> pd.DataFrame:
    """``mean_of_goals`` (GBO): mean over answered goals, per-goal scores kept as columns."""
    sub = sub.assign(value=_reverse(sub, defn))
    wide = sub.pivot(index=_KEYS, columns="item", values="value")
    wide = wide.reindex(columns=list(defn.items)).astype("float64")
    wide.columns = goal_columns(defn)
    assessed = sub.groupby(_KEYS, sort=True)["assessed_on"].min()
    frame = pd.DataFrame(
        {
            "assessed_on": assessed,
            "n_items_answered": wide.notna().sum(axis=1).astype("int64"),
            "score": wide.mean(axis=1, skipna=True),
            "raw_score": np.nan,
        }
    )
    frame = frame.join(wide).reset_index()
    return _finish(
        frame, instrument=defn.name, n_items=len(defn.items), required=_required_items(defn)
    )


_SCORERS = {
    "sum": _score_total,
    "sum_then_convert": _score_total,
    "per_item": _score_per_item,
    "mean_of_goals": _score_goals,
}


def score_measures(
    measures: pd.DataFrame,
    definitions: Mapping[str, InstrumentDefinition] | Iterable[InstrumentDefinition],
    *,
    episode_col: str = "episode_id",
    instrument_col: str = "instrument",
    timepoint_col: str = "timepoint",
    date_col: str = "assessed_on",
    item_col: str = "item",
    response_col: str = "response",
) -> pd.DataFrame:
    """Score the long-format ``measures`` table into one row per questionnaire.

    Parameters
    ----------
    measures : pd.DataFrame
        One row per item response, with an episode, instrument, timepoint, date, item and
        response column (the data contract's ``measures`` table by default). A missing item is
        an absent row or an empty response.
    definitions : mapping or iterable of InstrumentDefinition
        Instrument definitions (by name, or as an iterable), e.g.
        ``evalkit.definitions.instruments()`` for those shipped with evalkit.
    episode_col, instrument_col, timepoint_col, date_col, item_col, response_col : str
        The columns of ``measures`` in each role (defaults: the data contract's names,
        :data:`MEASURE_COLUMNS`). The scores table keeps the caller's episode, instrument,
        timepoint and date column names.

    Returns
    -------
    pd.DataFrame
        One row per (``episode_id``, ``instrument``, ``timepoint``), sorted by those keys, with
        ``assessed_on`` (the earliest date of the questionnaire's rows), ``n_items_answered``,
        ``n_items``, ``score`` (float; NaN when not scorable), ``scorable`` (bool),
        ``raw_score`` (the item sum before any conversion; the prorated sum where a definition
        allows missing items; NaN for goal-based instruments) and ``reason_not_scored``
        (``no_items_answered``, ``too_many_missing_items``,
        ``prorated_total_not_in_conversion_table``; empty when scored).

        Instruments ``reported_separately`` (ONS4) give one row per item, named
        ``<instrument>_<item>`` (``ons4_anxiety``), each with ``n_items`` 1; an item not
        answered is a not-scorable row. Goal-based instruments (GBO) score the mean over the
        answered goals and keep each goal's rating in the columns ``goal_1`` ... ``goal_3``
        (NaN for other instruments), which :func:`~evalkit.stats.prepost.prepost` uses to
        compute each episode's mean over its goals of the change.

    Raises
    ------
    ScoringError
        If a column is missing, or the table holds what intake quarantines: an unknown
        instrument or item, a response outside the item range or not a whole number, or a
        repeated item row. Such a table is never scored.
    ValueError
        If a column argument names a column the scores table makes itself (``score`` ...).

    Notes
    -----
    Reverse-scored items are recoded ``item_min + item_max - response`` before summing.
    SWEMWBS raw totals 7-35 are converted with the published Rasch table held in its
    definition. The missing-item rule: ``min_items`` answered items are needed when the
    definition sets it (a total is then prorated as the mean of the answered items times the
    number of items, i.e. person-mean imputation); otherwise every item must be answered.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.definitions import instruments
    >>> m = pd.DataFrame({"episode_id": "e1", "instrument": "cat", "timepoint": "baseline",
    ...                   "assessed_on": "2024-01-05", "item": [str(i) for i in range(1, 9)],
    ...                   "response": [3, 2, 2, 4, 3, 1, 2, 3]})
    >>> score_measures(m, instruments())[["instrument", "n_items_answered", "score", "scorable"]]
      instrument  n_items_answered  score  scorable
    0        cat                 8   20.0      True
    """
    defs = as_definitions(definitions)
    names = _column_names(
        (episode_col, instrument_col, timepoint_col, date_col, item_col, response_col)
    )
    goal_cols = [c for d in defs.values() if d.scoring == "mean_of_goals" for c in goal_columns(d)]
    goal_cols = list(dict.fromkeys(goal_cols))
    df = _validate(measures, defs, names)
    parts = [
        _SCORERS[defs[name].scoring](sub, defs[name])
        for name, sub in df.groupby("instrument", sort=True)
    ]
    if not parts:
        return _caller_names(_empty_frame(goal_cols), names)
    out = pd.concat(parts, ignore_index=True)
    for col in goal_cols:
        if col not in out.columns:
            out[col] = np.nan
    out = out[[*SCORE_COLUMNS, *goal_cols]]
    out = out.sort_values(["episode_id", "instrument", "timepoint"], kind="stable")
    out = out.reset_index(drop=True)
    out["score"] = out["score"].astype("float64")
    out["raw_score"] = out["raw_score"].astype("float64")
    out["scorable"] = out["scorable"].astype(bool)
    return _caller_names(out, names)


def _caller_names(scores: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """The scores table with the caller's episode, instrument, timepoint and date columns."""
    renamed = {k: v for k, v in names.items() if k != v and k in scores.columns}
    return scores.rename(columns=renamed) if renamed else scores

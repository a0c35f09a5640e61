"""Provider submissions: one episode, however many times and by whomever it was submitted.

An **episode** is one person's referral to one programme on one day: the key
``(person_id, programme, referral_date)`` (:data:`EPISODE_KEY`). Several providers' minimum
datasets are taken in together, and a provider may resubmit a period, so one episode can arrive
as several ``referrals`` rows. Rows are grouped into episodes by that key and, because an
``episode_id`` names one episode, by a shared ``episode_id`` too (the groups are the connected
components of both relations). Within a group:

- **exact duplicates**, every contract column equal apart from ``episode_id`` and
  ``submitted_on`` (:data:`NOT_COMPARED`): the earliest submission is kept (earliest
  ``submitted_on``, an empty one last, then the smallest ``episode_id``); the others are left out
  by the named filter rule :data:`evalkit.contract.DUPLICATE_SUBMISSION`, counted, not
  quarantined (the kept row carries everything they hold);
- **conflicting duplicates**, any other column differing (within or across providers; a second
  provider submitting the same episode differs at least in ``provider``): every row of the
  episode is quarantined as :data:`evalkit.contract.CONFLICTING_SUBMISSIONS`, naming the providers
  and the fields that differ. Neither version is chosen, and never by file order.

The decision (:func:`settle`) is a pure function of the rows as a set, so shuffling the files
changes nothing. :func:`apply_episode_rule` applies it inside intake, after the referrals table's
row checks and before ``measures``: only rows that passed their row checks take part (accepted
rows, and rows held only as ``duplicate_episode``, a repeat of an accepted ``episode_id``,
which the primary-key step would otherwise settle by file order). The measures rows of a
quarantined episode are then ``parent_quarantined``; those of a filtered duplicate under an
``episode_id`` of its own are ``unknown_episode``. See ``docs/decisions/provider-submissions.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from evalkit import contract as C
from evalkit import engine
from evalkit.files import atomic_path
from evalkit.intake.checks import (
    COLUMN,
    REASON,
    ROW,
    CheckContext,
    normalise,
    source_text,
    typed_rows,
)

__all__ = [
    "EPISODES_FILE",
    "EPISODE_KEY",
    "NOT_COMPARED",
    "EpisodeOutcome",
    "EpisodeRule",
    "apply_episode_rule",
    "conflict_detail",
    "settle",
]

#: The columns that identify one episode.
EPISODE_KEY: tuple[str, ...] = ("person_id", "programme", "referral_date")
#: Columns that may differ between two submissions of one episode without a conflict.
NOT_COMPARED: tuple[str, ...] = ("episode_id", "submitted_on")
#: What intake writes of each row the episode rule touched (for the provider's feedback):
#: ``row_number``, ``episode_id``, ``provider``, ``outcome``, ``kept_episode_id``, ``fields``.
EPISODES_FILE = "episodes.parquet"

_OUTCOME_COLUMNS = ("row_number", "episode_id", "provider", "outcome", "kept_episode_id", "fields")


@dataclass(frozen=True)
class EpisodeOutcome:
    """What the episode rule decided for a set of referral rows.

    Attributes
    ----------
    kept : frozenset of int
        Row numbers kept (every row of a group of one, the earliest submission of a group of
        exact duplicates).
    outcomes : pandas.DataFrame
        One row per row filtered or quarantined: ``row_number``, ``episode_id``, ``provider``,
        ``outcome`` (:data:`~evalkit.contract.DUPLICATE_SUBMISSION` or
        :data:`~evalkit.contract.CONFLICTING_SUBMISSIONS`), ``kept_episode_id`` (duplicates: the
        row kept in their place), ``fields`` (conflicts: the differing columns, comma-separated)
        and ``providers`` (conflicts: every provider of the episode, comma-separated).
    """

    kept: frozenset[int]
    outcomes: pd.DataFrame

    @property
    def n_filtered(self) -> int:
        """Rows left out as duplicate submissions."""
        return int((self.outcomes["outcome"] == C.DUPLICATE_SUBMISSION).sum())

    @property
    def n_conflicting(self) -> int:
        """Rows quarantined as conflicting submissions."""
        return int((self.outcomes["outcome"] == C.CONFLICTING_SUBMISSIONS).sum())


def conflict_detail(providers: Sequence[str], fields: Sequence[str]) -> str:
    """The plain-English reason of a conflicting episode's rows.

    Examples
    --------
    >>> conflict_detail(["Arts Co", "Music Works"], ["provider", "sessions_attended"])
    'conflicting submissions of one episode (providers: Arts Co, Music Works; fields: provider, sessions_attended)'
    """  # noqa: E501
    return (
        f"conflicting submissions of one episode (providers: {', '.join(providers)}; "
        f"fields: {', '.join(fields)})"
    )


def _groups(rows: pd.DataFrame) -> np.ndarray:
    """Group number of each row: connected components of 'same key' and 'same episode_id'."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(rows)
    by_key = rows.groupby(list(EPISODE_KEY), dropna=False, sort=False).ngroup().to_numpy()
    by_id = rows.groupby("episode_id", dropna=False, sort=False).ngroup().to_numpy()
    # A bipartite graph: row i is joined to its key node and to its episode_id node.
    k = int(by_key.max()) + 1 if n else 0
    nodes = n + k + (int(by_id.max()) + 1 if n else 0)
    i = np.concatenate([np.arange(n), np.arange(n)])
    j = np.concatenate([n + by_key, n + k + by_id])
    graph = coo_matrix((np.ones(2 * n), (i, j)), shape=(nodes, nodes))
    _, label = connected_components(graph, directed=False)
    return label[:n]


def _text(v: Any) -> str | None:
    """A value as comparable text (``None`` for empty), so 3 and 3.0 or two NaNs agree."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v.date()) if isinstance(v, pd.Timestamp) else str(v)


def settle(rows: pd.DataFrame) -> EpisodeOutcome:
    """Decide every referral row: kept, a duplicate submission, or part of a conflict.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``row_number`` and the typed contract columns of ``referrals`` present (at least
        ``episode_id`` and :data:`EPISODE_KEY`; ``provider`` and ``submitted_on`` if there).
        Rows that failed a row check must not be among them.

    Returns
    -------
    EpisodeOutcome
        The same for any order of ``rows``: nothing depends on file order (``row_number``
        breaks a tie only between rows equal in every column, which are interchangeable).
    """
    rows = rows.reset_index(drop=True)
    compared = [c for c in C.COLUMNS["referrals"] if c in rows.columns and c not in NOT_COMPARED]
    text = pd.DataFrame({c: [_text(v) for v in rows[c]] for c in rows.columns if c != ROW})
    label = _groups(text) if len(rows) else np.array([], dtype=int)
    submitted = (
        pd.to_datetime(rows["submitted_on"]) if "submitted_on" in rows else pd.Series(pd.NaT)
    )
    order = pd.DataFrame(
        {
            "g": label,
            "no_date": submitted.isna().to_numpy() if "submitted_on" in rows else True,
            "date": submitted.to_numpy() if "submitted_on" in rows else pd.NaT,
            "episode_id": text["episode_id"],
            ROW: rows[ROW].to_numpy(),
        }
    )
    sizes = np.bincount(label) if len(rows) else np.array([], dtype=int)
    kept = set(rows.loc[sizes[label] == 1, ROW].tolist()) if len(rows) else set()
    outcomes: list[dict[str, Any]] = []
    provider = text["provider"] if "provider" in text else pd.Series([None] * len(rows))
    for g in np.flatnonzero(sizes > 1):
        idx = np.flatnonzero(label == g)
        differ = [c for c in compared if text.loc[idx, c].nunique(dropna=False) > 1]
        if differ:
            providers = sorted({p for p in provider.iloc[idx] if p is not None})
            for i in idx:
                outcomes.append(
                    {
                        ROW: int(rows.at[i, ROW]),
                        "episode_id": text.at[i, "episode_id"],
                        "provider": provider.iat[i],
                        "outcome": C.CONFLICTING_SUBMISSIONS,
                        "kept_episode_id": None,
                        "fields": ",".join(differ),
                        "providers": ",".join(providers),
                    }
                )
            continue
        first = order.iloc[idx].sort_values(["no_date", "date", "episode_id", ROW]).index[0]
        kept.add(int(rows.at[first, ROW]))
        for i in idx:
            if i != first:
                outcomes.append(
                    {
                        ROW: int(rows.at[i, ROW]),
                        "episode_id": text.at[i, "episode_id"],
                        "provider": provider.iat[i],
                        "outcome": C.DUPLICATE_SUBMISSION,
                        "kept_episode_id": text.at[first, "episode_id"],
                        "fields": None,
                        "providers": None,
                    }
                )
    columns = [*_OUTCOME_COLUMNS, "providers"]
    out = pd.DataFrame(outcomes, columns=columns).sort_values(ROW, ignore_index=True)
    return EpisodeOutcome(kept=frozenset(kept), outcomes=out)


# ---- inside intake ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EpisodeRule:
    """What intake does with the referrals after the episode rule.

    Attributes
    ----------
    rejected : ibis.Table
        The rejected rows to quarantine (same columns as the row checks' ``rejected``): those
        rows less any the rule settled (a ``duplicate_episode`` row kept or filtered), plus
        every row of a conflicting episode as ``conflicting_submissions``, its ``column`` naming
        the fields that differ.
    skip : ibis.Table
        Row numbers (``row_number``) the accepted file leaves out: the rejected and the
        filtered rows.
    late : ibis.Table or None
        The filtered rows as ``row_number`` and ``rule`` (``duplicate submission``), for
        intake's per-file counts of rules applied after the checks; ``None`` when none.
    filtered_by_rule : dict
        ``{"duplicate submission": n}``, or empty.
    outcome : EpisodeOutcome
        The decision itself (written as :data:`EPISODES_FILE`).
    """

    rejected: Any
    skip: Any
    filtered_by_rule: dict[str, int]
    outcome: EpisodeOutcome
    late: Any = None

    @property
    def filtered_rows(self) -> tuple[int, ...]:
        """Row numbers left out as duplicate submissions (to count them per source file)."""
        o = self.outcome.outcomes
        return tuple(int(r) for r in o.loc[o["outcome"] == C.DUPLICATE_SUBMISSION, ROW])


def apply_episode_rule(
    con: Any,
    named: Any,
    present: Sequence[str],
    ctx: CheckContext,
    rejected: Any,
    out_tmp: Path,
) -> EpisodeRule:
    """Apply :func:`settle` to the referrals the row checks have just judged, before any write.

    Parameters
    ----------
    con
        The intake's DuckDB connection.
    named : ibis.Table
        ``row_number`` and the present contract columns of the raw referrals (source values),
        as the row checks read them.
    present : sequence of str
        Contract columns present.
    ctx : CheckContext
        The checks' context (date format, recodes, native columns).
    rejected : ibis.Table
        The row checks' rejected rows (``row_number``, ``_k_*``, the present columns,
        ``reason``, ``column``).
    out_tmp : Path
        The work directory: :data:`EPISODES_FILE` is written there.

    Returns
    -------
    EpisodeRule
        When no episode is submitted twice, ``rejected`` is returned as it was (and the accepted
        and quarantine files come out byte for byte as without the rule).
    """
    present = list(present)
    held = engine.to_pandas(con, rejected.select(ROW, REASON), limit=_MAX_ROWS)
    candidates = _candidates(con, named, present, ctx, held)
    outcome = settle(candidates)
    _write_outcomes(outcome, out_tmp / EPISODES_FILE)
    repeats = set(held.loc[held[REASON] == C.DUPLICATE_EPISODE, ROW].tolist())
    touched = set(outcome.outcomes[ROW].tolist()) | (repeats & set(candidates[ROW].tolist()))
    if not touched:
        return EpisodeRule(rejected, rejected.select(ROW), {}, outcome)
    gone = _table_of(con, pd.DataFrame({ROW: sorted(touched)}, dtype="int64"), "episodes_touched")
    kept_held = rejected.anti_join(gone, rejected[ROW] == gone[ROW]).select(rejected.columns)
    parts = [kept_held]
    conflicts = outcome.outcomes[outcome.outcomes["outcome"] == C.CONFLICTING_SUBMISSIONS]
    if len(conflicts):
        parts.append(_conflict_rows(con, named, present, ctx, conflicts, rejected.schema()))
    new = parts[0] if len(parts) == 1 else parts[0].union(parts[1])
    new = engine.materialize(con, new, "rejected_referrals_episodes")
    filtered = outcome.outcomes.loc[outcome.outcomes["outcome"] == C.DUPLICATE_SUBMISSION, [ROW]]
    dropped = _table_of(con, filtered.astype("int64"), "episodes_filtered")
    skip = new.select(ROW).union(dropped.select(ROW))
    n = outcome.n_filtered
    late = dropped.select(ROW, rule=ibis.literal(C.DUPLICATE_SUBMISSION)) if n else None
    return EpisodeRule(new, skip, {C.DUPLICATE_SUBMISSION: n} if n else {}, outcome, late)


#: Referral rows brought into pandas at most (a county has tens of thousands).
_MAX_ROWS = 10_000_000


def _candidates(
    con: Any, named: Any, present: list[str], ctx: CheckContext, held: pd.DataFrame
) -> pd.DataFrame:
    """Typed rows taking part: accepted ones, and repeats of an accepted ``episode_id``.

    A ``duplicate_episode`` row passed every row check; it takes part only when the row it
    repeats was accepted (a repeat of a row held for its person or dates stays held).
    """
    typed = typed_rows(named, "referrals", present, ctx)
    rows = engine.to_pandas(con, typed, limit=_MAX_ROWS)
    accepted = rows[~rows[ROW].isin(set(held[ROW].tolist()))]
    repeats = set(held.loc[held[REASON] == C.DUPLICATE_EPISODE, ROW].tolist())
    rep = rows[rows[ROW].isin(repeats)]
    rep = rep[rep["episode_id"].isin(set(accepted["episode_id"].tolist()))]
    return pd.concat([accepted, rep]).sort_values(ROW, ignore_index=True)


def _write_outcomes(outcome: EpisodeOutcome, path: Path) -> None:
    """The rows the rule touched, for the provider report (no person id: episode ids only)."""
    columns = [*_OUTCOME_COLUMNS, "providers"]
    schema = pa.schema([(ROW, pa.int64()), *[(c, pa.string()) for c in columns if c != ROW]])
    tab = pa.Table.from_pandas(outcome.outcomes[columns], schema=schema, preserve_index=False)
    with atomic_path(path) as tmp:
        pq.write_table(tab, tmp, compression="zstd")


def _conflict_rows(
    con: Any,
    named: Any,
    present: list[str],
    ctx: CheckContext,
    conflicts: pd.DataFrame,
    schema: Any,
) -> Any:
    """The conflicting rows as rejected rows: source text, keys, reason, differing fields.

    Columns of the rejected table the rule knows nothing of are left empty.
    """
    columns = list(schema.names)
    fields = _table_of(
        con,
        pd.DataFrame(
            {ROW: conflicts[ROW].astype("int64"), "_fields": conflicts["fields"].astype(str)}
        ),
        "episodes_conflicts",
    )
    norm = normalise(named, "referrals", present, ctx)
    j = norm.inner_join(fields, norm[ROW] == fields[ROW])
    text = source_text(j, present, ctx)
    out = {
        ROW: j[ROW],
        **{c: j[c.removeprefix("_k_")] for c in columns if c.startswith("_k_")},
        **text,
        REASON: ibis.literal(C.CONFLICTING_SUBMISSIONS),
        COLUMN: j["_fields"],
    }
    return j.select(
        **{c: out[c].cast(schema[c]) if c in out else ibis.null(schema[c]) for c in columns}
    )


def _table_of(con: Any, df: pd.DataFrame, name: str) -> Any:
    """A small pandas frame as a table of the connection (unbound, like every intake table)."""
    con.create_table(name, obj=df, overwrite=True)
    return engine.table(con, name)

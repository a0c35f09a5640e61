"""The pre/post analysis of one instrument: :func:`prepost`.

The steps, each in its own module: resolve what the definition says (direction, threshold,
norm), build the episode table and pair the scores (:mod:`.episodes`), estimate the mean change
with its t interval and d_z (:mod:`.paired`, :mod:`.effect_size`), count improved, unchanged
and deteriorated episodes (:mod:`.shares`), compare completers with non-completers
(:mod:`.completeness`), and repeat per level of ``by``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import pandas as pd

from evalkit.definitions.instruments import InstrumentDefinition
from evalkit.stats.prepost.completeness import baseline_comparison, covariate_comparison
from evalkit.stats.prepost.definition import ResolvedInstrument, resolve_instrument
from evalkit.stats.prepost.effect_size import EFFECT_SIZE_METHOD, EFFECT_SIZE_NAME
from evalkit.stats.prepost.episodes import (
    ScoreColumns,
    by_group_table,
    paired_episodes,
    summarise_episodes,
)
from evalkit.stats.prepost.paired import minimum_detectable_change
from evalkit.stats.prepost.result import PrePostResult
from evalkit.stats.prepost.shares import (
    ChangeThreshold,
    Direction,
    choose_threshold,
    threshold_note,
)
from evalkit.stats.scoring import as_definitions, goal_columns

__all__ = ["prepost"]


def _instrument_rows(
    scores: pd.DataFrame, instrument: str, before: str, after: str, cols: ScoreColumns
) -> pd.DataFrame:
    """The rows of ``instrument`` with a boolean ``_scorable``, after checking the table."""
    missing = [c for c in cols.required() if c not in scores.columns]
    if missing:
        raise KeyError(f"scores lacks column(s) {missing}")
    if before == after:
        raise ValueError("before and after must be different timepoints")
    sub = scores[scores[cols.instrument] == instrument].copy()
    if sub.empty:
        known = ", ".join(sorted(map(str, scores[cols.instrument].unique())))
        raise ValueError(f"no scores for instrument '{instrument}'; scores hold: {known}")
    if sub.duplicated([cols.episode, cols.timepoint]).any():
        raise ValueError(
            f"scores hold more than one row per episode and timepoint for '{instrument}'"
        )
    score = sub[cols.score]
    scorable = sub[cols.scorable] if cols.scorable in sub.columns else score.notna()
    sub["_scorable"] = scorable.astype(bool) & score.notna()
    return sub


def _definition_notes(
    instrument: str, resolved: ResolvedInstrument, direction: Direction | None
) -> list[str]:
    """A note when the instrument has no definition."""
    if resolved.definition is not None:
        return []
    return [
        f"No definition for '{instrument}': direction '{resolved.direction}' "
        f"({'given' if direction else 'assumed'}), no change threshold, no norm."
    ]


def _episode_columns(
    sub: pd.DataFrame, by: str | Literal[False] | None, covariates: Sequence[str] | None
) -> tuple[str | None, list[str]]:
    """The ``by`` column (None or False: no grouping) and the covariates, checked."""
    by = by or None
    if by is not None and by not in sub.columns:
        raise KeyError(f"by column '{by}' is not in scores")
    covariates = list(covariates or [])
    absent = [c for c in covariates if c not in sub.columns]
    if absent:
        raise KeyError(f"covariate column(s) {absent} not in scores")
    return by, covariates


def _goal_columns(sub: pd.DataFrame, resolved: ResolvedInstrument) -> tuple[list[str], list[str]]:
    """Per-goal columns of a goal-based instrument present in ``sub`` (else none), with notes."""
    defn = resolved.definition
    if defn is None or defn.scoring != "mean_of_goals":
        return [], []
    gcols = goal_columns(defn)
    if not all(c in sub.columns for c in gcols):
        return [], [
            "Goal columns are missing from scores: change is after − before of the mean "
            "goal score, not the mean over goals of the change."
        ]
    return gcols, []


def _pairing_notes(
    ep: pd.DataFrame, overall: dict[str, float], before: str, after: str
) -> list[str]:
    """Notes on episodes with only an ``after`` score and on too few or identical changes."""
    notes = []
    n_after_only = int((ep["before"].isna() & ep["after"].notna()).sum())
    if n_after_only:
        notes.append(
            f"{n_after_only} episode(s) have a scorable {after} score but no scorable "
            f"{before} score; they are not in the paired analysis."
        )
    if overall["n_paired"] < 2:
        notes.append("Fewer than 2 paired episodes: no CI, p-value or effect size.")
    elif not overall["sd_change"] > 0:
        notes.append("Every change is identical (SD 0): no t-test or effect size.")
    return notes


def _closing_notes(defn: InstrumentDefinition | None) -> list[str]:
    """The complete-case caveat and, if unverified, the definition's missing-item rule."""
    notes = [
        "Complete-case analysis: the change is estimated among episodes with both scores; if "
        "those lost to follow-up differ, it may not describe everyone who started."
    ]
    if defn is not None and not defn.missing_rule_verified:
        notes.append(
            f"Missing-item rule for {defn.name} is not verified against the developer's "
            f"publication; the conservative rule was applied: {defn.missing_rule}"
        )
    return notes


def _spec(
    instrument: str,
    before: str,
    after: str,
    by: str | None,
    covariates: list[str],
    resolved: ResolvedInstrument,
    thr: ChangeThreshold,
) -> dict[str, Any]:
    """The analysis specification recorded in the result."""
    defn = resolved.definition
    return {
        "instrument": instrument,
        "before": before,
        "after": after,
        "by": by,
        "covariates": covariates,
        "direction": resolved.direction,
        "threshold": thr.value,
        "threshold_kind": thr.kind,
        "threshold_source": thr.source,
        "confidence_level": 0.95,
        "effect_size": EFFECT_SIZE_NAME,
        "mde_power": 0.8,
        "mde_alpha": 0.05,
        "definition": defn.name if defn else None,
    }


def prepost(
    scores: pd.DataFrame,
    instrument: str,
    before: str = "baseline",
    after: str = "end",
    *,
    definitions: Mapping[str, InstrumentDefinition] | Iterable[InstrumentDefinition],
    by: str | Literal[False] | None = None,
    covariates: Sequence[str] | None = None,
    direction: Direction | None = None,
    threshold: float | Literal["definition", "none"] = "definition",
    episode_col: str = "episode_id",
    instrument_col: str = "instrument",
    timepoint_col: str = "timepoint",
    score_col: str = "score",
    scorable_col: str = "scorable",
) -> PrePostResult:
    """Paired pre/post change of one instrument, with effect size, shares and attrition.

    Parameters
    ----------
    scores : pd.DataFrame
        One row per episode, instrument and timepoint with a score and optionally a
        scorable flag (default: score not NaN), as :func:`~evalkit.stats.scoring.score_measures`
        returns; the ``*_col`` arguments name the columns. Episode-level columns (a grouping
        column, covariates) may be merged on; they are read from the ``before`` row.
    instrument : str
        Instrument name as in the instrument column (``wemwbs``, ``ons4_anxiety``, ``gbo``).
    before, after : str
        Timepoints compared.
    definitions : mapping or iterable of InstrumentDefinition
        Instrument definitions (e.g. ``evalkit.definitions.instruments()``). They give the
        direction (which way is better), the change threshold and the population norm; an
        instrument not among them needs ``direction`` (else higher is assumed better).
    by : str, optional
        Column whose levels get their own results (e.g. ``"imd_quintile"``), read from each
        episode's ``before`` row. Default None (``False`` too): no grouping.
    covariates : sequence of str, optional
        Numeric episode-level columns compared between completers and non-completers (means,
        difference, Welch p), alongside the baseline score. The change estimate itself is not
        adjusted.
    direction : {"higher", "lower"}, optional
        Override (or supply, for an instrument without a definition) which way is better.
    threshold : float, "definition" or "none"
        Individual change threshold for the improved/deteriorated shares: the definition's
        first threshold (default), a value on the instrument's scale, or ``"none"`` for any
        change.
    episode_col, instrument_col, timepoint_col, score_col : str
        The columns of ``scores`` holding the episode identifier, the instrument name, the
        timepoint and the score (defaults: the names ``score_measures`` gives). The result's
        ``data`` is keyed by ``episode_col``.
    scorable_col : str
        The column of ``scores`` saying whether a score is scorable (optional; when absent,
        a score is scorable when not NaN).

    Returns
    -------
    PrePostResult
        Frozen result; see its attributes, ``summary()``, ``tidy()`` and ``to_dict()``.

    Notes
    -----
    Episodes count as paired when both scores are scorable. The mean change, its SE, 95% CI
    and p come from the one-sample t-test of the changes (``scipy.stats.ttest_1samp``,
    identical to the paired ``ttest_rel``). The effect size is d_z, the standardised response
    mean (mean change / SD of change), with a noncentral-t CI
    (:func:`~evalkit.stats.prepost.dz_confidence_interval`). A change counts as an
    improvement when it moves in the better direction by at least the threshold (``>=``), a
    deterioration likewise in the other direction; without a threshold any non-zero change
    counts. For a goal-based instrument (``scoring: mean_of_goals``) an episode's change is
    the mean over its goals rated at both timepoints of (after − before), read from the
    ``goal_*`` columns; its before and after are the means over those same goals, so mean
    change = mean after − mean before exactly.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.definitions import instruments
    >>> s = pd.DataFrame({"episode_id": ["a", "a", "b", "b", "c", "c", "d"],
    ...                   "instrument": "wemwbs",
    ...                   "timepoint": ["baseline", "end"] * 3 + ["baseline"],
    ...                   "score": [40., 46., 50., 52., 45., 44., 38.]})
    >>> r = prepost(s, "wemwbs", definitions=instruments())
    >>> r.n_paired, r.n_baseline, r.mean_change
    (3, 4, 2.3333333333333335)
    """
    defs = as_definitions(definitions)
    cols = ScoreColumns(episode_col, instrument_col, timepoint_col, score_col, scorable_col)
    sub = _instrument_rows(scores, instrument, before, after, cols)
    resolved = resolve_instrument(instrument, defs, direction)
    notes = _definition_notes(instrument, resolved, direction)
    thr = choose_threshold(resolved.threshold, threshold)
    notes.append(threshold_note(thr))
    by_col, covariates = _episode_columns(sub, by, covariates)
    extra = list(dict.fromkeys([*([by_col] if by_col else []), *covariates]))
    gcols, goal_notes = _goal_columns(sub, resolved)
    ep, pair_notes = paired_episodes(
        sub,
        before,
        after,
        extra=extra,
        goal_cols=gcols,
        direction=resolved.direction,
        threshold=thr.value,
        columns=cols,
    )
    overall = summarise_episodes(ep)
    base = ep[ep["before"].notna()]
    w, base_notes = baseline_comparison(base)
    cov_table, cov_notes = covariate_comparison(base, covariates)
    by_table, group_notes = by_group_table(ep, by_col)
    data = ep.rename_axis(episode_col).reset_index()
    if by_col is not None:
        data["group"] = data[by_col]
    notes += [
        *goal_notes,
        *pair_notes,
        *_pairing_notes(ep, overall, before, after),
        *base_notes,
        *cov_notes,
        *group_notes,
        *_closing_notes(resolved.definition),
    ]
    return PrePostResult(
        instrument=instrument,
        title=resolved.title,
        before=before,
        after=after,
        direction=resolved.direction,
        n_baseline=overall["n_baseline"],
        n_after=int(ep["after"].notna().sum()),
        n_paired=overall["n_paired"],
        follow_up_completeness=overall["follow_up_completeness"],
        mean_before=overall["mean_before"],
        mean_after=overall["mean_after"],
        mean_change=overall["mean_change"],
        sd_change=overall["sd_change"],
        std_error=overall["std_error"],
        ci_low=overall["ci_low"],
        ci_high=overall["ci_high"],
        p_value=overall["p_value"],
        t_statistic=overall["t_statistic"],
        df=overall["df"],
        mde=minimum_detectable_change(overall["sd_change"], overall["n_paired"]),
        effect_size=overall["effect_size"],
        effect_size_ci_low=overall["effect_size_ci_low"],
        effect_size_ci_high=overall["effect_size_ci_high"],
        effect_size_name=EFFECT_SIZE_NAME,
        effect_size_method=EFFECT_SIZE_METHOD,
        threshold=thr.value,
        threshold_kind=thr.kind,
        threshold_source=thr.source,
        n_improved=overall["n_improved"],
        n_unchanged=overall["n_unchanged"],
        n_deteriorated=overall["n_deteriorated"],
        share_improved=overall["share_improved"],
        share_unchanged=overall["share_unchanged"],
        share_deteriorated=overall["share_deteriorated"],
        n_completers=w["n_a"],
        n_noncompleters=w["n_b"],
        baseline_mean_completers=w["mean_a"],
        baseline_mean_noncompleters=w["mean_b"],
        baseline_difference=w["difference"],
        baseline_difference_ci_low=w["ci_low"],
        baseline_difference_ci_high=w["ci_high"],
        baseline_difference_p_value=w["p_value"],
        norm=resolved.norm,
        norm_label=resolved.norm_label,
        by=by_col,
        by_group=by_table,
        covariate_comparison=cov_table,
        data=data,
        episode_col=episode_col,
        spec=_spec(instrument, before, after, by_col, covariates, resolved, thr),
        notes=tuple(notes),
    )

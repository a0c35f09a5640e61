"""Provider submissions: duplicates filtered, conflicts quarantined, file order irrelevant.

The pure rule (:func:`evalkit.intake.episodes.settle`) on hand-made rows, a hypothesis test that
shuffling and renumbering the rows changes nothing, and one intake run (plus one shuffled) over
the example extract with resubmissions and a second provider added.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import contract as C
from evalkit.intake import run_intake
from evalkit.intake.episodes import EPISODES_FILE, conflict_detail, settle
from evalkit.intake.example import (
    P,
    example_tables,
    write_tables,
)
from helpers.intake_example import example_kw

KW = example_kw(validate=False)


def _row(n: int, episode_id: str, **edits: object) -> dict[str, object]:
    row: dict[str, object] = {
        "row_number": n,
        "episode_id": episode_id,
        "person_id": P[0],
        "programme": "mindsong",
        "provider": "Art Shape",
        "referral_date": dt.date(2022, 4, 1),
        "referral_source": "gp",
        "start_date": dt.date(2022, 4, 20),
        "end_date": None,
        "sessions_offered": 12,
        "sessions_attended": 11,
        "discharge_reason": "completed",
        "submitted_on": dt.date(2022, 8, 1),
    }
    row.update(edits)
    return row


def _frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


# ---- the rule on its own ---------------------------------------------------------------------
def test_settle_single_rows_are_all_kept() -> None:
    out = settle(_frame(_row(1, "a"), _row(2, "b", person_id=P[1]), _row(3, "c", programme="cyp")))
    assert out.kept == {1, 2, 3}
    assert out.outcomes.empty


def test_settle_exact_duplicate_keeps_the_earliest_submission_whatever_the_file_order() -> None:
    late = _row(1, "a", submitted_on=dt.date(2022, 9, 1))
    early = _row(2, "b", submitted_on=dt.date(2022, 8, 1))
    out = settle(_frame(late, early))
    assert out.kept == {2}
    (dup,) = out.outcomes.to_dict("records")
    assert dup["row_number"] == 1 and dup["outcome"] == C.DUPLICATE_SUBMISSION
    assert dup["kept_episode_id"] == "b"
    assert out.n_filtered == 1 and out.n_conflicting == 0


def test_settle_duplicate_without_submission_date_loses_to_one_with_it() -> None:
    out = settle(_frame(_row(1, "a", submitted_on=None), _row(2, "b")))
    assert out.kept == {2}


def test_settle_same_submission_date_keeps_the_smallest_episode_id() -> None:
    out = settle(_frame(_row(1, "z"), _row(2, "m")))
    assert out.kept == {2}


def test_settle_conflict_within_a_provider_quarantines_every_row() -> None:
    out = settle(_frame(_row(1, "a"), _row(2, "b", sessions_attended=3), _row(3, "c")))
    assert out.kept == frozenset()
    assert set(out.outcomes["outcome"]) == {C.CONFLICTING_SUBMISSIONS}
    assert list(out.outcomes["row_number"]) == [1, 2, 3]
    assert set(out.outcomes["fields"]) == {"sessions_attended"}
    assert set(out.outcomes["providers"]) == {"Art Shape"}


def test_settle_same_episode_from_two_providers_is_a_conflict_naming_both() -> None:
    out = settle(_frame(_row(1, "a"), _row(2, "MW-1", provider="Music Works")))
    assert out.kept == frozenset()
    assert set(out.outcomes["fields"]) == {"provider"}
    assert set(out.outcomes["providers"]) == {"Art Shape,Music Works"}


def test_settle_one_episode_id_with_two_referral_dates_is_a_conflict() -> None:
    # Different episode keys, but one episode_id: one episode submitted two ways.
    out = settle(_frame(_row(1, "a"), _row(2, "a", referral_date=dt.date(2022, 4, 2))))
    assert out.kept == frozenset()
    assert set(out.outcomes["fields"]) == {"referral_date"}


def test_settle_links_rows_through_keys_and_ids_transitively() -> None:
    # 1 and 2 share a key; 2 and 3 share an episode_id: one episode of three rows.
    rows = _frame(
        _row(1, "a"),
        _row(2, "b"),
        _row(3, "b", referral_date=dt.date(2022, 5, 1)),
        _row(4, "d", person_id=P[2]),
    )
    out = settle(rows)
    assert out.kept == {4}
    assert list(out.outcomes["row_number"]) == [1, 2, 3]


def test_conflict_detail_names_providers_and_fields() -> None:
    text = conflict_detail(["A", "B"], ["provider", "end_date"])
    assert (
        text
        == "conflicting submissions of one episode (providers: A, B; fields: provider, end_date)"
    )


# ---- file order never matters ----------------------------------------------------------------
_rows = st.lists(
    st.tuples(
        st.sampled_from(["e1", "e2", "e3", "e4", "e5"]),  # episode_id
        st.sampled_from([P[0], P[1]]),  # person
        st.sampled_from([dt.date(2022, 4, 1), dt.date(2022, 4, 2)]),  # referral date
        st.sampled_from(["Art Shape", "Music Works"]),  # provider
        st.sampled_from([3, 11]),  # sessions attended
        st.sampled_from([dt.date(2022, 8, 1), dt.date(2022, 9, 1), None]),  # submitted_on
    ),
    min_size=1,
    max_size=9,
)


def _content(rows: pd.DataFrame, numbers: set[int]) -> list[tuple]:
    kept = rows[rows["row_number"].isin(numbers)].drop(columns="row_number")
    return sorted(kept.astype(str).itertuples(index=False, name=None))


@settings(max_examples=30, deadline=None)
@given(rows=_rows, seed=st.randoms(use_true_random=False))
def test_settle_shuffling_and_renumbering_rows_changes_nothing(rows, seed) -> None:
    frame = _frame(
        *[
            _row(i + 1, e, person_id=p, referral_date=d, provider=pr, sessions_attended=s,
                 submitted_on=sub)
            for i, (e, p, d, pr, s, sub) in enumerate(rows)
        ]
    )  # fmt: skip
    order = list(range(len(frame)))
    seed.shuffle(order)
    shuffled = frame.iloc[order].reset_index(drop=True)
    shuffled["row_number"] = range(1, len(shuffled) + 1)  # a new file: new row numbers
    a, b = settle(frame), settle(shuffled)
    assert _content(frame, set(a.kept)) == _content(shuffled, set(b.kept))

    def outcomes(o) -> list[tuple]:
        cols = ["episode_id", "provider", "outcome", "kept_episode_id", "fields", "providers"]
        return sorted(o.outcomes[cols].astype(str).itertuples(index=False, name=None))

    assert outcomes(a) == outcomes(b)
    # Every row is decided exactly once.
    assert len(a.kept) + len(a.outcomes) == len(frame)


# ---- inside intake ---------------------------------------------------------------------------
def _submissions() -> dict[str, pd.DataFrame]:
    """The example extract with submission dates, resubmissions and a second provider.

    - r01 (measures: swemwbs) resubmitted unchanged as r01x a month later: r01x filtered;
    - r03 (measures: ons4) twice with one episode_id, the LATER submission first in the file:
      the earlier (second) row kept, the first filtered; before the rule the primary-key step
      kept the first row by file order;
    - r02 also submitted by Music Works as MW-7: a conflict (field provider), both quarantined,
      and r02's measures row parent_quarantined;
    - r04: submitted before its referral date (a timeliness problem, accepted); r05: submitted
      in 1999 (impossible_date);
    - a measures row filed under r01x (the filtered repeat's own id): unknown_episode.
    """
    t = example_tables()
    ref = t["referrals"].copy()
    ref["submitted_on"] = ["2022-08-01", "2022-06-01", "2023-02-20"]
    r01x = ref.iloc[0].copy()
    r01x["episode_id"], r01x["submitted_on"] = "r01x", "2022-09-01"
    r03_late = ref.iloc[2].copy()
    r03_late["submitted_on"] = "2023-03-20"
    mw = ref.iloc[1].copy()
    mw["episode_id"], mw["provider"], mw["submitted_on"] = "MW-7", "Music Works", "2022-06-02"
    r04 = ref.iloc[1].copy()
    r04["episode_id"], r04["person_id"], r04["referral_date"] = "r04", P[2], "2022-05-03"
    r04["submitted_on"] = "2022-05-01"
    r05 = r04.copy()
    r05["episode_id"], r05["person_id"], r05["submitted_on"] = "r05", P[0], "1999-12-31"
    rows = [ref.iloc[0], ref.iloc[1], r03_late, ref.iloc[2], r01x, mw, r04, r05]
    t["referrals"] = pd.DataFrame(rows).reset_index(drop=True)
    meas = t["measures"]
    extra = meas.iloc[[0]].copy()
    extra["episode_id"], extra["assessed_on"] = "r02", "2022-05-10"
    dup_id = meas.iloc[[1]].copy()  # filed under the filtered repeat's own id
    dup_id["episode_id"] = "r01x"
    t["measures"] = pd.concat([meas, extra, dup_id], ignore_index=True)
    return t


@pytest.fixture(scope="module")
def submitted(tmp_path_factory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("submissions")
    write_tables(_submissions(), root / "raw")
    return root / "out", run_intake(root / "raw", root / "out", **KW)


def test_intake_filters_duplicate_submissions_and_reconciles(submitted) -> None:
    _, report = submitted
    ref = report.tables["referrals"]
    assert ref.rows_read == 8
    assert ref.filtered_by_rule == {C.DUPLICATE_SUBMISSION: 2} and ref.rows_filtered == 2
    assert ref.quarantined_by_reason == {C.IMPOSSIBLE_DATE: 1, C.CONFLICTING_SUBMISSIONS: 2}
    assert ref.rows_accepted == 3  # r01, r03 (its earlier submission), r04
    assert ref.rows_read == ref.rows_accepted + ref.rows_quarantined + ref.rows_filtered
    assert report.to_dict()["reconciled"] is True


def test_intake_keeps_the_earliest_submission_not_the_first_row(submitted) -> None:
    out, _ = submitted
    acc = pd.read_parquet(out / "referrals.parquet")
    assert sorted(acc["episode_id"]) == ["r01", "r03", "r04"]
    r03 = acc.set_index("episode_id").loc["r03", "submitted_on"]
    assert pd.Timestamp(r03).date() == dt.date(2023, 2, 20)
    # Submitted before the referral: accepted, a timeliness problem for the provider report.
    r04 = acc.set_index("episode_id").loc["r04"]
    assert pd.Timestamp(r04["submitted_on"]) < pd.Timestamp(r04["referral_date"])


def test_intake_quarantines_both_rows_of_a_conflict_naming_the_fields(submitted) -> None:
    out, _ = submitted
    q = pd.read_parquet(out / "quarantine" / "referrals.parquet")
    conflict = q[q["reason"] == C.CONFLICTING_SUBMISSIONS]
    assert sorted(conflict["episode_id"]) == ["MW-7", "r02"]
    assert set(conflict["provider"]) == {"Art Shape", "Music Works"}
    assert set(conflict["column"]) == {"provider"}
    assert sorted(conflict["row_number"]) == [2, 6]
    assert all("conflicting_submissions" in m for m in conflict["message"])
    assert q.loc[q["reason"] == C.IMPOSSIBLE_DATE, "column"].tolist() == ["submitted_on"]
    ep = pd.read_parquet(out / EPISODES_FILE)
    assert sorted(ep["outcome"]) == [C.CONFLICTING_SUBMISSIONS] * 2 + [C.DUPLICATE_SUBMISSION] * 2
    assert set(ep.loc[ep["outcome"] == C.CONFLICTING_SUBMISSIONS, "providers"]) == {
        "Art Shape,Music Works"
    }
    assert "person_id" not in ep.columns


def test_intake_measures_conflict_parent_quarantined_repeat_id_unknown(submitted) -> None:
    out, report = submitted
    q = pd.read_parquet(out / "quarantine" / "measures.parquet").set_index("episode_id")
    assert sorted(q.index) == ["r01x", "r02"]
    assert q.loc["r02", "reason"] == C.PARENT_QUARANTINED
    assert "its person or episode was quarantined" in q.loc["r02", "message"]
    # Under a filtered repeat's own id: not in the accepted referrals.
    assert q.loc["r01x", "reason"] == C.UNKNOWN_EPISODE
    # The filtered duplicates' episodes keep their measures (r01 and r03 were kept).
    assert report.tables["measures"].rows_accepted == report.tables["measures"].rows_read - 2


def test_intake_result_does_not_depend_on_file_order(submitted, tmp_path) -> None:
    out, _ = submitted
    t = _submissions()
    t["referrals"] = t["referrals"].iloc[::-1].reset_index(drop=True)
    write_tables(t, tmp_path / "raw")
    report = run_intake(tmp_path / "raw", tmp_path / "out", **KW)

    def accepted(folder: Path) -> pd.DataFrame:
        df = pd.read_parquet(folder / "referrals.parquet")
        return df.sort_values("episode_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(accepted(out), accepted(tmp_path / "out"))
    assert report.tables["referrals"].filtered_by_rule == {C.DUPLICATE_SUBMISSION: 2}


def test_intake_without_repeats_leaves_referrals_unchanged(tmp_path) -> None:
    # No episode submitted twice: the rule writes an empty episodes file and changes nothing.
    write_tables(example_tables(), tmp_path / "raw")
    report = run_intake(tmp_path / "raw", tmp_path / "out", **KW)
    ref = report.tables["referrals"]
    assert (ref.rows_accepted, ref.rows_quarantined, ref.rows_filtered) == (3, 0, 0)
    assert pd.read_parquet(tmp_path / "out" / EPISODES_FILE).empty

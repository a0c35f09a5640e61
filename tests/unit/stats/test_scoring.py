"""Scoring of the measures table: worked examples per instrument, missing items, refusals.

Every expected value below is worked by hand in the comment next to it (item sums, the SWEMWBS
table row from the published table), not taken from running the code.
"""

import numpy as np
import pandas as pd
import pytest

from evalkit.config import InstrumentDefinition, instruments
from evalkit.stats.scoring import (
    REASON_NO_ITEMS,
    REASON_NOT_IN_TABLE,
    REASON_TOO_MANY_MISSING,
    SCORE_COLUMNS,
    ScoringError,
    score_measures,
)

COLS = ["episode_id", "instrument", "timepoint", "assessed_on", "item", "response"]
DEFS = instruments()


def _q(instrument, responses, *, episode="e1", timepoint="baseline", items=None, on="2024-02-01"):
    """Rows of one questionnaire; ``None`` is an empty response, items default to 1..k."""
    items = items or [str(i) for i in range(1, len(responses) + 1)]
    pairs = zip(items, responses, strict=True)
    return pd.DataFrame(
        [(episode, instrument, timepoint, on, it, r) for it, r in pairs], columns=COLS
    )


def _one(res: pd.DataFrame, instrument: str) -> pd.Series:
    row = res[res["instrument"] == instrument]
    assert len(row) == 1
    return row.iloc[0]


RCADS_ITEMS = ["2", "3", "5", "6", "7", "9", "11", "12", "14", "17", "18", "20", "22", "23", "25"]

# (case, instrument, responses, items, expected score, expected raw)
WORKED = [
    # 4+3+3+4+2+3+4+4+5+3+4+5+4+3 = 51
    ("wemwbs_sum", "wemwbs", [4, 3, 3, 4, 2, 3, 4, 4, 5, 3, 4, 5, 4, 3], None, 51.0, 51.0),
    # WEMWBS extremes: 14 x 1 = 14, 14 x 5 = 70
    ("wemwbs_min", "wemwbs", [1] * 14, None, 14.0, 14.0),
    ("wemwbs_max", "wemwbs", [5] * 14, None, 70.0, 70.0),
    # SWEMWBS 3+4+3+4+4+3+4 = raw 25 -> metric 22.35 (published table, row 25)
    ("swemwbs_raw25", "swemwbs", [3, 4, 3, 4, 4, 3, 4], None, 22.35, 25.0),
    # SWEMWBS 7 x 2 = raw 14 -> metric 15.32 (published table, row 14)
    ("swemwbs_raw14", "swemwbs", [2] * 7, None, 15.32, 14.0),
    # CAT 3+2+2+4+3+1+2+3 = 20 (0 best .. 5 worst per item)
    ("cat_sum", "cat", [3, 2, 2, 4, 3, 1, 2, 3], None, 20.0, 20.0),
    # RCADS-25 anxiety, 15 items keyed 2,3,5,...,25:
    # 1+0+2+1+3+0+1+2+1+0+1+2+0+1+1 = 16
    (
        "rcads_anxiety_sum",
        "rcads_anxiety",
        [1, 0, 2, 1, 3, 0, 1, 2, 1, 0, 1, 2, 0, 1, 1],
        RCADS_ITEMS,
        16.0,
        16.0,
    ),
    # RCADS anxiety maximum 15 x 3 = 45
    ("rcads_anxiety_max", "rcads_anxiety", [3] * 15, RCADS_ITEMS, 45.0, 45.0),
    # PSEQ 4+5+3+6+2+4+3+5+4+4 = 40
    ("pseq_sum", "pseq", [4, 5, 3, 6, 2, 4, 3, 5, 4, 4], None, 40.0, 40.0),
]


@pytest.mark.parametrize(
    ("case", "instrument", "responses", "items", "score", "raw"),
    WORKED,
    ids=[w[0] for w in WORKED],
)
def test_score_measures_worked_example_gives_hand_score(
    case, instrument, responses, items, score, raw
):
    res = score_measures(_q(instrument, responses, items=items), DEFS)
    row = _one(res, instrument)
    assert row["scorable"]
    assert row["score"] == pytest.approx(score, abs=1e-9)
    assert row["raw_score"] == pytest.approx(raw, abs=1e-9)
    assert row["n_items_answered"] == len(responses)
    assert row["n_items"] == len(responses)
    assert pd.isna(row["reason_not_scored"])


def test_score_measures_output_has_contract_columns_and_one_row_per_questionnaire():
    m = pd.concat(
        [
            _q("wemwbs", [3] * 14),
            _q("wemwbs", [4] * 14, timepoint="end"),
            _q("wemwbs", [2] * 14, episode="e2"),
            _q("cat", [1] * 8),
        ]
    )
    res = score_measures(m, DEFS)
    assert list(res.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)
    assert not res.duplicated(["episode_id", "instrument", "timepoint"]).any()
    assert len(res) == 4
    assert res["score"].dtype == "float64"
    assert res["scorable"].dtype == bool
    assert res["assessed_on"].eq("2024-02-01").all()


# ----- missing items: each definition's rule --------------------------------------------------
# (instrument, number of items, item range low, item keys) - all use the conservative rule,
# so one missing item makes the questionnaire not scorable.
CONSERVATIVE = [
    ("wemwbs", [str(i) for i in range(1, 15)], 3),
    ("swemwbs", [str(i) for i in range(1, 8)], 3),
    ("cat", [str(i) for i in range(1, 9)], 2),
    ("rcads_anxiety", RCADS_ITEMS, 1),
    ("pseq", [str(i) for i in range(1, 11)], 4),
]


@pytest.mark.parametrize(("instrument", "items", "value"), CONSERVATIVE)
@pytest.mark.parametrize("how", ["null_response", "absent_row"])
def test_score_measures_one_missing_item_is_not_scorable_not_a_low_score(
    instrument, items, value, how
):
    q = _q(instrument, [value] * len(items), items=items)
    if how == "null_response":
        q.loc[0, "response"] = None
    else:
        q = q.iloc[1:]
    row = _one(score_measures(q, DEFS), instrument)
    assert not row["scorable"]
    assert np.isnan(row["score"])
    assert np.isnan(row["raw_score"])
    assert row["reason_not_scored"] == REASON_TOO_MANY_MISSING
    assert row["n_items_answered"] == len(items) - 1
    assert row["n_items"] == len(items)


def test_score_measures_all_items_empty_is_not_scorable_no_items_answered():
    q = _q("wemwbs", [None] * 14)
    row = _one(score_measures(q, DEFS), "wemwbs")
    assert not row["scorable"]
    assert np.isnan(row["score"])
    assert row["reason_not_scored"] == REASON_NO_ITEMS
    assert row["n_items_answered"] == 0


def test_score_measures_definitions_state_conservative_rule_unverified():
    defs = instruments()
    for name, _, _ in CONSERVATIVE:
        assert defs[name].min_items is None
        assert defs[name].missing_rule_verified is False


# ----- ONS4: items reported separately, anxiety reversed in direction only ---------------------
ONS_ITEMS = ["life_satisfaction", "worthwhile", "happiness", "anxiety"]


def test_score_measures_ons4_scores_each_item_separately():
    res = score_measures(_q("ons4", [7, 8, 6, 3], items=ONS_ITEMS), DEFS)
    assert sorted(res["instrument"]) == sorted(f"ons4_{i}" for i in ONS_ITEMS)
    # each item is its own 0-10 score, never summed, anxiety NOT recoded (3 stays 3)
    expected = {"life_satisfaction": 7.0, "worthwhile": 8.0, "happiness": 6.0, "anxiety": 3.0}
    for item, score in expected.items():
        row = _one(res, f"ons4_{item}")
        assert row["score"] == score
        assert row["n_items"] == 1
        assert row["scorable"]


def test_score_measures_ons4_missing_item_affects_only_that_item():
    q = _q("ons4", [7, 8, 6, None], items=ONS_ITEMS)
    res = score_measures(q, DEFS)
    assert not _one(res, "ons4_anxiety")["scorable"]
    assert np.isnan(_one(res, "ons4_anxiety")["score"])
    assert _one(res, "ons4_life_satisfaction")["score"] == 7.0
    # an absent row gives the same not-scorable row
    res2 = score_measures(q.iloc[:3], DEFS)
    assert _one(res2, "ons4_anxiety")["reason_not_scored"] == REASON_NO_ITEMS


def test_ons4_definition_anxiety_lower_is_better():
    ons4 = instruments()["ons4"]
    assert ons4.item_direction("anxiety") == "lower"
    assert ons4.item_direction("happiness") == "higher"


# ----- GBO ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ratings", "goals", "expected"),
    [
        ([6], ["1"], 6.0),  # one goal: 6
        ([2, 4], ["1", "3"], 3.0),  # two goals (1 and 3): (2 + 4) / 2 = 3
        ([2, 5, 8], ["1", "2", "3"], 5.0),  # three goals: (2 + 5 + 8) / 3 = 5
    ],
)
def test_score_measures_gbo_score_is_mean_of_rated_goals(ratings, goals, expected):
    row = _one(score_measures(_q("gbo", ratings, items=goals), DEFS), "gbo")
    assert row["scorable"]
    assert row["score"] == pytest.approx(expected)
    assert row["n_items_answered"] == len(ratings)
    for g in ("1", "2", "3"):
        want = ratings[goals.index(g)] if g in goals else np.nan
        np.testing.assert_equal(row[f"goal_{g}"], want)


def test_score_measures_gbo_no_goal_rated_is_not_scorable():
    row = _one(score_measures(_q("gbo", [None, None], items=["1", "2"]), DEFS), "gbo")
    assert not row["scorable"]
    assert row["reason_not_scored"] == REASON_NO_ITEMS


def test_score_measures_goal_columns_are_nan_for_other_instruments():
    res = score_measures(_q("cat", [1] * 8), DEFS)
    assert res[["goal_1", "goal_2", "goal_3"]].isna().all().all()


# ----- refusals: what intake quarantines never gets scored ------------------------------------
@pytest.mark.parametrize(
    ("instrument", "responses", "items"),
    [
        ("wemwbs", [6] + [3] * 13, None),  # above item_max 5
        ("wemwbs", [0] + [3] * 13, None),  # below item_min 1
        ("cat", [-1] + [3] * 7, None),
        ("ons4", [11, 5, 5, 5], ONS_ITEMS),
        ("gbo", [12], ["1"]),
        ("pseq", [7] + [3] * 9, None),
        ("rcads_anxiety", [4] + [1] * 14, RCADS_ITEMS),
    ],
)
def test_score_measures_out_of_range_response_raises(instrument, responses, items):
    with pytest.raises(ScoringError, match="outside the instrument's item range"):
        score_measures(_q(instrument, responses, items=items), DEFS)


def test_score_measures_non_integer_response_raises():
    with pytest.raises(ScoringError, match="non-integer"):
        score_measures(_q("cat", [2.5] + [1] * 7), DEFS)


def test_score_measures_text_response_raises():
    q = _q("cat", [1] * 8).astype({"response": object})
    q.loc[0, "response"] = "often"
    with pytest.raises(ScoringError, match="non-numeric"):
        score_measures(q, DEFS)


def test_score_measures_unknown_instrument_raises():
    with pytest.raises(ScoringError, match="unknown instrument"):
        score_measures(_q("mica", [1, 2]), DEFS)


def test_score_measures_unknown_item_raises():
    # item 1 is an RCADS-25 depression item, not in the anxiety subscale
    with pytest.raises(ScoringError, match="item the instrument does not have"):
        score_measures(_q("rcads_anxiety", [1] * 15, items=["1", *RCADS_ITEMS[1:]]), DEFS)


def test_score_measures_duplicate_item_row_raises():
    q = _q("cat", [1] * 8)
    with pytest.raises(ScoringError, match="repeat"):
        score_measures(pd.concat([q, q.iloc[:1]]), DEFS)


def test_score_measures_missing_column_raises():
    with pytest.raises(ScoringError, match="lacks column"):
        score_measures(_q("cat", [1] * 8).drop(columns="assessed_on"), DEFS)


def test_score_measures_empty_table_returns_empty_scores():
    res = score_measures(pd.DataFrame(columns=COLS), DEFS)
    assert res.empty
    assert list(res.columns[: len(SCORE_COLUMNS)]) == list(SCORE_COLUMNS)


# ----- definition features not used by the shipped instruments --------------------------------
def _custom(**kw) -> InstrumentDefinition:
    base = {
        "name": "toy",
        "title": "Toy scale",
        "items": ["1", "2", "3", "4"],
        "item_min": 1,
        "item_max": 5,
        "scoring": "sum",
        "missing_rule": "test",
        "missing_rule_verified": True,
        "sources": ["test"],
    }
    base.update(kw)
    return InstrumentDefinition.model_validate(base)


def test_score_measures_reverse_scored_item_is_recoded():
    toy = _custom(reverse_scored=["2"])
    # 5 + (1 + 5 - 1 = 5) + 5 + 1 = 16
    row = _one(score_measures(_q("toy", [5, 1, 5, 1]), [toy]), "toy")
    assert row["score"] == 16.0


def test_score_measures_min_items_prorates_by_person_mean():
    toy = _custom(min_items=3)
    # 3 of 4 answered (2, 3, 4): mean 3 x 4 items = 12
    row = _one(score_measures(_q("toy", [2, 3, 4, None]), [toy]), "toy")
    assert row["scorable"]
    assert row["score"] == 12.0
    # 2 of 4 answered: below min_items -> not scorable, never 5
    row = _one(score_measures(_q("toy", [2, 3, None, None]), [toy]), "toy")
    assert not row["scorable"]
    assert np.isnan(row["score"])
    assert row["reason_not_scored"] == REASON_TOO_MANY_MISSING


def test_score_measures_prorated_total_off_table_is_not_scorable():
    conv = {k: float(k) * 10 for k in range(4, 21)}
    toy = _custom(min_items=3, scoring="sum_then_convert", conversion=conv)
    # answered 2, 3, 3: mean 8/3 x 4 = 10.67, no row in the table
    row = _one(score_measures(_q("toy", [2, 3, 3, None]), [toy]), "toy")
    assert not row["scorable"]
    assert row["reason_not_scored"] == REASON_NOT_IN_TABLE
    # answered 2, 3, 4: mean 3 x 4 = 12, converts to 120
    row = _one(score_measures(_q("toy", [2, 3, 4, None]), [toy]), "toy")
    assert row["score"] == 120.0


# ----- column names are arguments -------------------------------------------------------------
RENAMED = {
    "episode_id": "person",
    "instrument": "scale",
    "timepoint": "wave",
    "assessed_on": "completed",
    "item": "question",
    "response": "answer",
}
RENAME_ARGS = {
    "episode_col": "person",
    "instrument_col": "scale",
    "timepoint_col": "wave",
    "date_col": "completed",
    "item_col": "question",
    "response_col": "answer",
}


def _mixed_measures() -> pd.DataFrame:
    parts = [
        _q("wemwbs", [4, 3, 3, 4, 2, 3, 4, 4, 5, 3, 4, 5, 4, 3]),
        _q("swemwbs", [3, 4, 3, 4, 4, 3, 4], episode="e2", timepoint="end"),
        _q("ons4", [7, 8, 6, 3], items=["life_satisfaction", "worthwhile", "happiness", "anxiety"]),
        _q("gbo", [4, None, 7], items=["1", "2", "3"], episode="e3"),
    ]
    return pd.concat(parts, ignore_index=True)


def test_score_measures_column_names_are_arguments_and_kept_in_the_scores():
    m = _mixed_measures()
    want = score_measures(m, DEFS)
    got = score_measures(m.rename(columns=RENAMED), DEFS, **RENAME_ARGS)
    back = {v: k for k, v in RENAMED.items() if k in want.columns}
    assert {"person", "scale", "wave", "completed"} <= set(got.columns)
    pd.testing.assert_frame_equal(got.rename(columns=back), want)


def test_score_measures_renamed_missing_column_and_empty_value_name_the_callers_column():
    m = _q("cat", [1] * 8).rename(columns=RENAMED)
    with pytest.raises(ScoringError, match=r"lacks column\(s\) \['when'\]"):
        score_measures(m, DEFS, **{**RENAME_ARGS, "date_col": "when"})
    m.loc[0, "wave"] = None
    with pytest.raises(ScoringError, match=r"measures\.wave has 1 empty value"):
        score_measures(m, DEFS, **RENAME_ARGS)


def test_score_measures_column_argument_clashing_with_an_output_column_raises():
    m = _q("cat", [1] * 8).rename(columns={"episode_id": "score"})
    with pytest.raises(ValueError, match="clash"):
        score_measures(m, DEFS, episode_col="score")


def test_score_measures_renamed_empty_table_has_the_callers_key_columns():
    res = score_measures(pd.DataFrame(columns=list(RENAMED.values())), DEFS, **RENAME_ARGS)
    assert res.empty
    assert list(res.columns[:4]) == ["person", "scale", "wave", "completed"]

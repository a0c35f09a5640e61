"""analysis.wellbeing on the demo county: truth recovered, data-contract shape, missing items.

The demo county (``demo_county`` fixture: 60,000 people, seed 42, realistic regime, Parquet) is
read directly: its raw tables have the processed tables' columns and types. Its
``synthetic_truth.json`` gives each programme's true complete-case mean change per instrument
(and per ONS4 item); the analysis itself must never read that file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.analysis import (
    load_study,
    wellbeing,
    wellbeing_all,
    wellbeing_entries,
    wellbeing_instruments,
    wellbeing_scores,
)
from evalkit.config import instruments, load_programme
from evalkit.stats.prepost import PrePostResult
from evalkit.stats.scoring import REASON_TOO_MANY_MISSING

PROGRAMMES = ("mindsong", "cyp", "chronic_pain")
TRUTH_FILE = "synthetic_truth.json"
#: Data-contract keys of a ``wellbeing`` entry of results.json (docs/design/data-contract.md,
#: plus ``mde``).
CONTRACT_KEYS = ("instrument", "timepoints", "n_paired", "mean_change", "ci_low", "ci_high", "mde")


@pytest.fixture(scope="module")
def truth(demo_county: Path) -> dict:
    """The generator's truth file of the demo county (tests may read it; the analysis may not)."""
    return json.loads((demo_county / TRUTH_FILE).read_text())


@pytest.fixture(scope="module", params=PROGRAMMES)
def programme_results(
    request: pytest.FixtureRequest, demo_county: Path
) -> tuple[str, dict[str, PrePostResult]]:
    """``wellbeing_all`` of one programme on the demo county (computed once per programme)."""
    slug = request.param
    return slug, wellbeing_all(load_study(slug, demo_county))


def _expected_names(slug: str) -> list[str]:
    """The programme's instruments as reported, worked out from its config by hand."""
    defs = instruments()
    names = []
    for name in load_programme(slug).instruments:
        if name == "ons4":
            names += [f"ons4_{item}" for item in defs["ons4"].items]
        else:
            names.append(name)
    return names


def _required(name: str) -> int:
    """Answered items a questionnaire needs under its definition (every item when unset)."""
    d = instruments()[name]
    return len(d.items) if d.min_items is None else int(d.min_items)


# ----- truth -----------------------------------------------------------------------------------
def test_wellbeing_all_demo_county_reports_every_instrument_and_ons4_item(
    programme_results: tuple[str, dict[str, PrePostResult]], truth: dict
) -> None:
    slug, results = programme_results
    assert list(results) == _expected_names(slug)
    assert set(results) == set(truth["programmes"][slug]["wellbeing"])


def test_wellbeing_all_demo_county_true_mean_change_within_3_standard_errors(
    programme_results: tuple[str, dict[str, PrePostResult]], truth: dict
) -> None:
    """|estimate − truth| <= 3 SE for every instrument and item.

    The truth is the generator's expected change among the complete cases, the estimand
    ``prepost`` estimates (complete-case change), so the bound holds in the realistic (not at
    random) regime too. Given the latent scores only item noise separates estimate and truth,
    so the paired-t SE is if anything larger than the error's SD
    (bench/bench_wellbeing_coverage.py): each check fails by chance with probability < 0.3%.
    """
    slug, results = programme_results
    want = truth["programmes"][slug]["wellbeing"]
    far = {}
    for name, res in results.items():
        assert res.n_paired >= 2 and math.isfinite(res.std_error), name
        z = (res.mean_change - want[name]["mean_change"]) / res.std_error
        if not abs(z) <= 3:
            far[name] = (res.mean_change, want[name]["mean_change"], res.std_error)
    assert far == {}


def test_wellbeing_all_demo_county_pairs_exactly_the_generators_complete_cases(
    programme_results: tuple[str, dict[str, PrePostResult]], truth: dict
) -> None:
    slug, results = programme_results
    want = truth["programmes"][slug]["wellbeing"]
    got = {name: res.n_paired for name, res in results.items()}
    assert got == {name: want[name]["n_complete_cases"] for name in results}
    assert all(n >= 2 for n in got.values())


# ----- results.json shape ----------------------------------------------------------------------
def test_wellbeing_entries_demo_county_have_data_contract_shape(
    programme_results: tuple[str, dict[str, PrePostResult]], demo_county: Path
) -> None:
    slug, results = programme_results
    entries = wellbeing_entries(results)
    assert json.loads(json.dumps(entries, allow_nan=False)) == entries  # JSON-safe, no NaN
    assert [e["instrument"] for e in entries] == _expected_names(slug)
    assert [e["instrument"] for e in entries] == wellbeing_instruments(
        load_study(slug, demo_county)
    )
    for e in entries:
        assert set(CONTRACT_KEYS) <= set(e), e["instrument"]
        assert e["timepoints"] == ["baseline", "end"]
        assert isinstance(e["n_paired"], int) and not isinstance(e["n_paired"], bool)
        for key in ("mean_change", "ci_low", "ci_high", "mde"):
            assert isinstance(e[key], float) and math.isfinite(e[key]), (e["instrument"], key)
        assert e["ci_low"] < e["mean_change"] < e["ci_high"]
        assert e["mde"] > 0
    ons4 = [e["instrument"] for e in entries if e["instrument"].startswith("ons4")]
    if "ons4" in load_programme(slug).instruments:
        assert ons4 == [
            "ons4_life_satisfaction",
            "ons4_worthwhile",
            "ons4_happiness",
            "ons4_anxiety",
        ]


# ----- missing items ---------------------------------------------------------------------------
def test_wellbeing_scores_demo_county_incomplete_questionnaires_not_scorable_never_low(
    demo_county: Path,
) -> None:
    """Questionnaires short of the definition's items have no score and are never paired."""
    study = load_study("chronic_pain", demo_county)  # WEMWBS: 14 items, all needed
    scores = wellbeing_scores(study)
    wem = scores[scores["instrument"] == "wemwbs"]
    short = wem[wem["n_items_answered"] < _required("wemwbs")]
    assert len(short) > 0  # the generator leaves ~1% of items empty: some exist
    assert not short["scorable"].any()
    assert short["score"].isna().all()
    assert (short["reason_not_scored"] == REASON_TOO_MANY_MISSING).all()
    full = wem[wem["n_items_answered"] == 14]
    assert full["scorable"].all() and full["score"].between(14, 70).all()
    res = wellbeing(study, "wemwbs", scores=scores)
    paired = set(res.data.loc[res.data["completer"], "episode_id"])
    assert paired.isdisjoint(short["episode_id"][short["timepoint"].isin(["baseline", "end"])])


def test_wellbeing_questionnaire_losing_an_item_drops_its_pair_not_scored_low(
    demo_county: Path,
) -> None:
    """End to end: blank one item of one paired baseline and drop one of another.

    Both baselines become not scorable (SWEMWBS needs all 7 items), so both episodes leave
    the paired analysis: n_baseline and n_paired fall by 2 and the mean change is that of the
    remaining pairs. Were the 6 answered items summed, each baseline would be lower and the
    change larger instead.
    """
    study = load_study("mindsong", demo_county)
    before = wellbeing(study, "swemwbs")
    comp = before.data[before.data["completer"]].sort_values("episode_id")
    blank, drop = comp["episode_id"].iloc[:2]

    m = study.measures.copy()
    base = (m["instrument"] == "swemwbs") & (m["timepoint"] == "baseline")
    blank_row = m.index[base & (m["episode_id"] == blank) & (m["item"] == "3")]
    drop_row = m.index[base & (m["episode_id"] == drop) & (m["item"] == "5")]
    assert len(blank_row) == 1 and len(drop_row) == 1
    m.loc[blank_row, "response"] = np.nan
    study.measures = m.drop(index=drop_row)

    scores = wellbeing_scores(study)
    rows = scores[
        (scores["instrument"] == "swemwbs")
        & (scores["timepoint"] == "baseline")
        & scores["episode_id"].isin([blank, drop])
    ]
    assert list(rows["n_items_answered"]) == [6, 6]
    assert not rows["scorable"].any() and rows["score"].isna().all()
    assert (rows["reason_not_scored"] == REASON_TOO_MANY_MISSING).all()

    after = wellbeing(study, "swemwbs", scores=scores)
    assert after.n_baseline == before.n_baseline - 2
    assert after.n_paired == before.n_paired - 2
    kept = comp.loc[~comp["episode_id"].isin([blank, drop]), "change"]
    assert after.mean_change == pytest.approx(kept.mean(), rel=1e-12)


# ----- the analysis never reads the truth ------------------------------------------------------
def test_wellbeing_all_without_truth_file_gives_identical_estimates(
    programme_results: tuple[str, dict[str, PrePostResult]],
    demo_county: Path,
    tmp_path: Path,
) -> None:
    slug, results = programme_results
    copy = tmp_path / "raw"
    copy.mkdir()
    for f in demo_county.iterdir():
        if f.name != TRUTH_FILE:
            (copy / f.name).symlink_to(f)
    assert not (copy / TRUTH_FILE).exists() and any(copy.glob("*.parquet"))
    again = wellbeing_all(load_study(slug, copy))
    assert wellbeing_entries(again) == wellbeing_entries(results)
    pd.testing.assert_frame_equal(
        again[_expected_names(slug)[0]].tidy(), results[_expected_names(slug)[0]].tidy()
    )

"""A 12-participant programme: no published figure recovers a suppressed or unrounded count.

Issue #20 lists the back-calculations a hostile reader tried on a 12-participant report: a share
with six significant digits beside its rounded denominator (start rate x referred, share matched
x participants, share deteriorated x paired), a valuation or a cost figure published while the
count under it was suppressed. Each is tried here on the report built from the small county
(:mod:`helpers.small_county`), against the raw counts the builder kept, and the folder's
declarations are checked against the files (:func:`evalkit.reporting.declared.folder_findings`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evalkit.reporting import ReportBuilder, declared
from evalkit.reporting.declarations import RESULTS
from evalkit.reporting.disclosure import DEFAULT_RULE
from helpers.small_county import PROGRAMME, processed_with
from helpers.small_county import small_county as small_county_dir

N = 12


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportBuilder, Path]:
    """The 12-participant builder (its raw counts) and the folder its report was written to."""
    county = small_county_dir(tmp_path_factory)
    data = processed_with(county, N, tmp_path_factory.mktemp("processed12"))
    out = tmp_path_factory.mktemp("report12")
    builder = ReportBuilder(PROGRAMME, data).run_all()
    builder.content().write(out)
    return builder, out


def _shares(results: dict[str, Any]) -> list[tuple[str, float, float, Any]]:
    """Every published share: ``(path, share, published denominator, published numerator)``."""
    out = []
    for section, value in results.items():
        decls = RESULTS.get(section, {})
        for path, v, parents in declared.fields(value):
            d = declared.lookup(decls, path, v)
            if d is None or d.kind != "share" or not isinstance(v, int | float):
                continue
            num = declared._resolve(d.of[0], parents, value)[1]
            den = sum(float(declared._resolve(x, parents, value)[1]) for x in d.of[1])
            out.append((f"{section}.{path}", float(v), den, num))
    return out


def test_the_report_is_full_and_has_shares_to_attack(built: tuple[ReportBuilder, Path]) -> None:
    _, out = built
    results = json.loads((out / "results.json").read_text())
    assert results["matching"]["n_participants"] in (10, 15)  # 12 rounded
    assert "small_programme" not in results["methods"]
    assert len(_shares(results)) >= 3, "too few shares published to test the back-calculation"


def test_share_times_denominator_gives_only_the_published_count(
    built: tuple[ReportBuilder, Path],
) -> None:
    """share x published denominator = the published numerator, never another count."""
    _, out = built
    results = json.loads((out / "results.json").read_text())
    for path, share, den, num in _shares(results):
        recovered = share * den
        assert num not in (None, "*"), f"{path}: share published beside a suppressed count"
        assert abs(recovered - float(num)) < 0.5, f"{path}: {share} x {den} = {recovered}"
        assert float(num) == DEFAULT_RULE.count(num), f"{path}: numerator {num} not rounded"


def test_shares_are_functions_of_the_published_counts(built: tuple[ReportBuilder, Path]) -> None:
    """The matching share and the start rate: the ratio of the published counts, not the raw."""
    builder, out = built
    results = json.loads((out / "results.json").read_text())
    m, pub = builder._mc.match, results["matching"]
    raw = (int(m.n_matched_treated), int(m.n_treated))
    assert (pub["n_matched"], pub["n_participants"]) == tuple(DEFAULT_RULE.count(x) for x in raw)
    if pub["share_matched"] is not None:
        assert pub["share_matched"] == round(pub["n_matched"] / pub["n_participants"], 3)
    cost = (results["economics"] or {}).get("programme_cost") or {}
    if cost.get("start_rate") is not None:
        assert cost["start_rate"] == round(cost["n_starters"] / cost["n_referred"], 3)


def test_nothing_published_rests_on_a_suppressed_count(built: tuple[ReportBuilder, Path]) -> None:
    """Derived values and valuations are None wherever their base count is suppressed."""
    _, out = built
    results = json.loads((out / "results.json").read_text())
    econ = results["economics"] or {}
    wellby = econ.get("wellby") or {}
    if wellby and wellby.get("n_responders") is None:
        for key in ("life_satisfaction_change", "social_value_per_participant"):
            assert wellby.get(key) is None, key
        assert (econ.get("wellby_social_value_per_pound") or {}).get("estimate") is None
    cost = econ.get("nhs_cost_difference") or {}
    if cost and cost.get("estimate") is None:
        assert (econ.get("roi") or {}).get("estimate") is None
        assert (econ.get("nhs_cost_saving_per_participant") or {}).get("estimate") is None
        assert cost.get("participants_change") is None
    for e in results["wellbeing"]:
        shares = e.get("shares") or {}
        for k in ("improved", "unchanged", "deteriorated"):
            if shares.get(f"n_{k}") is None:
                assert shares.get(k) is None, (e["instrument"], k)


def test_model_estimates_need_ten_people_and_eleven_clusters(
    built: tuple[ReportBuilder, Path],
) -> None:
    """A DiD or naive estimate on fewer than 10 people or 11 clusters is not published."""
    _, out = built
    results = json.loads((out / "results.json").read_text())
    published = results["utilisation"]
    assert published, "the 12-participant report has a utilisation section"
    for e in published:
        if e.get("n_clusters") is not None and e["estimate"] is not None:
            assert e["n_clusters"] >= 10 and e["n_participants"] >= 10, e


def test_every_field_is_declared_and_every_file_keeps_its_rule(
    built: tuple[ReportBuilder, Path],
) -> None:
    _, out = built
    results = json.loads((out / "results.json").read_text())
    assert {s: declared.undeclared(s, v) for s, v in results.items()} == {s: [] for s in results}
    assert declared.folder_findings(out) == []

"""The report's economics words: WELLBY by intention to treat, its caveat, cluster disclosure."""

from __future__ import annotations

import re

from evalkit.reporting.disclosure import control_entry
from evalkit.reporting.findings import WELLBY_CAVEAT, economics_sentences, wellby_sentence
from evalkit.reporting.html import render
from evalkit.reporting.pipeline import WELLBY_ROW, comparison_rows, comparison_table

WELLBY = {
    "estimate": 4.1,
    "low": 3.2,
    "high": 5.0,
    "ci_low": 1.5,
    "ci_high": 6.7,
    "completers_upper": 10.3,
    "completers_ci_low": 4.0,
    "completers_ci_high": 16.6,
    "n_responders": 40,
    "basis": "intention_to_treat",
}
ECONOMICS = {
    "nhs_cost_saving_per_participant": {
        "estimate": 512.0,
        "ci_low": -480.0,
        "ci_high": 1403.0,
        "window_months": 12,
    },
    "roi": {"estimate": 1.6, "ci_low": -1.5, "ci_high": 4.39},
    "programme_cost_per_participant": 320.0,
    "wellby_social_value_per_pound": WELLBY,
}


def test_wellby_sentence_gives_itt_central_completers_upper_and_caveat() -> None:
    s = wellby_sentence(WELLBY)
    assert s is not None
    assert "intention to treat" in s
    assert "£4.10 of social value per £1" in s and "95% CI £1.50 to £6.70" in s
    assert "£10.30 per £1 (95% CI £4.00 to £16.60), an upper bound" in s
    assert s.endswith(WELLBY_CAVEAT)
    assert wellby_sentence({"estimate": None}) is None


def test_wellby_sentence_from_an_older_results_json_calls_it_an_upper_bound() -> None:
    # written before the intention-to-treat figure (estimate, low, high: the completers'
    # change applied to everyone): not called intention to treat, still caveated
    s = wellby_sentence({"estimate": 10.3, "low": 7.9, "high": 12.7})
    assert s is not None and "intention to treat" not in s
    assert "upper bound" in s and "not comparable with the NHS return per £1" in s
    rows = comparison_rows({"economics": {"wellby_social_value_per_pound": {"estimate": 10.3}}})
    assert dict((label, v) for label, v, _ in rows)[WELLBY_ROW].endswith("(completers only)")


def test_economics_sentences_never_put_wellby_beside_roi_without_caveat() -> None:
    out = economics_sentences({"economics": ECONOMICS})
    assert len(out) == 2
    assert "per £1 spent" in out[0]  # the NHS return
    assert WELLBY_CAVEAT in out[1]


def test_comparison_page_wellby_row_and_caveat() -> None:
    rows = {label: value for label, value, _ in comparison_rows({"economics": ECONOMICS})}
    label = WELLBY_ROW
    assert "not NHS cash" in label and "intention to treat" in label
    assert rows[label] == "4.10 (1.50 to 6.70); completers 10.30"
    assert any(k.startswith("Return per £1") for k in rows)
    table = comparison_table({"a": {"economics": ECONOMICS}, "b": {}})
    both = [{"slug": "a", "title": "A"}, {"slug": "b", "title": "B"}]
    page = render("comparison.html.j2", programmes=both, rows=table, version="x").body
    # the caveat is the row right under the WELLBY row, spanning every programme's column
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.DOTALL)
    at = next(i for i, r in enumerate(rows) if WELLBY_ROW.replace("'", "&#39;") in r)
    assert rows[at + 1].startswith('<tr class="ek-row-note"><td colspan="3">')
    assert WELLBY_CAVEAT.replace("'", "&#39;") in rows[at + 1]
    assert rows[at - 1].count("Return per £1") == 1  # the NHS return sits just above


def test_control_entry_suppresses_wellby_resting_on_few_responders() -> None:
    small = control_entry({"wellby_social_value_per_pound": {**WELLBY, "n_responders": 5}})
    w = small["wellby_social_value_per_pound"]
    assert w["n_responders"] is None
    for key in ("estimate", "ci_low", "ci_high", "completers_upper", "completers_ci_high"):
        assert w[key] is None, key
    big = control_entry({"wellby_social_value_per_pound": WELLBY})["wellby_social_value_per_pound"]
    assert big["estimate"] == 4.1 and big["n_responders"] == 40


def test_control_entry_rounds_cluster_counts_and_suppresses_a_share_of_few_sets() -> None:
    clusters = {
        "n_sets": 154,
        "n_clusters": 86,
        "n_sets_largest_cluster": 12,
        "n_sets_in_shared_clusters": 95,
        "share_sets_in_shared_clusters": 95 / 154,
    }
    out = control_entry({"clusters": clusters})["clusters"]
    assert (out["n_sets"], out["n_clusters"], out["n_sets_largest_cluster"]) == (155, 85, 10)
    assert out["share_sets_in_shared_clusters"] == 95 / 154
    few = control_entry({"clusters": {**clusters, "n_sets_in_shared_clusters": 3}})["clusters"]
    assert few["n_sets_in_shared_clusters"] is None
    assert few["share_sets_in_shared_clusters"] is None

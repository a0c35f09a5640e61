"""Declared outputs (issue #20 item 1): the rule applied by disclosure class, and checked."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.reporting import declared
from evalkit.reporting.declarations import KINDS, RESULTS, TABLES
from evalkit.reporting.disclosure import DisclosureRule, control_entry

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text())


def _matching(n_participants: int, n_matched: int) -> dict:
    raw = {
        "n_participants": n_participants,
        "n_matched": n_matched,
        "n_unmatched": n_participants - n_matched,
        "n_controls": 300,
        "share_matched": n_matched / n_participants,
        "max_abs_smd_after": 0.05,
        "caliper_width": 0.2,
    }
    return control_entry(raw)


def test_share_becomes_the_ratio_of_the_published_counts() -> None:
    """104 of 118 matched: the raw share 0.881356 would give 104 away beside 120 participants."""
    part = declared.apply_declared("matching", _matching(118, 104))
    assert (part["n_participants"], part["n_matched"]) == (120, 105)
    assert part["share_matched"] == round(105 / 120, 3)
    assert round(part["share_matched"] * 120) == 105


def test_a_suppressed_share_stays_suppressed() -> None:
    part = declared.apply_declared("matching", _matching(118, 114))  # 4 unmatched: suppressed
    assert part["n_unmatched"] is None and part["share_matched"] is None


def test_derived_values_go_with_their_base_count() -> None:
    entry = control_entry({"n_started": 5, "median_days": 12.0, "period": "2021"})
    part = declared.apply_declared("waiting_times", [entry])
    assert part[0]["median_days"] is None and "median_days" in part[0]["suppressed"]


def test_a_model_estimate_needs_ten_published_people() -> None:
    entry = {"setting": "gp_appointment", "n_participants": 5, "n_controls": 40}
    entry |= {"estimate": 0.8, "ci_low": 0.6, "ci_high": 1.1, "suppressed": []}
    part = declared.apply_declared("negative_controls", [dict(entry)])
    assert part[0]["estimate"] is None and "estimate" in part[0]["suppressed"]
    ok = declared.apply_declared("negative_controls", [dict(entry, n_participants=15)])
    assert ok[0]["estimate"] == 0.8


def test_an_uncontrolled_count_of_events_is_rounded() -> None:
    part = {"entries": [{"events_baseline": 76, "events_followup": 3, "n_participants": 40}]}
    out = declared.apply_declared("outcomes_by_deprivation", part)["entries"][0]
    assert out["events_baseline"] == 75 and out["events_followup"] is None


@pytest.mark.parametrize(
    ("clusters", "shown"), [(10, False), (11, True), (None, True)], ids=["10", "11", "none"]
)
def test_model_estimates_need_eleven_clusters(clusters: int | None, shown: bool) -> None:
    """10 clusters and 10 residual degrees of freedom (clusters - 1): 11 clusters at least."""
    raw = [{"n_participants": 40, "n_controls": 120, "n_clusters": clusters, "estimate": 0.9}]
    out = declared.small_models(raw, copy.deepcopy(raw), ("estimate",))
    assert (out[0]["estimate"] is not None) == shown


def test_a_naive_estimate_on_nine_people_is_not_published() -> None:
    raw = [{"n_participants": 9, "n_controls": 0, "n_clusters": 9, "estimate": 1.2}]
    assert declared.small_models(raw, copy.deepcopy(raw), ("estimate",))[0]["estimate"] is None


def test_checker_finds_an_undeclared_field_and_a_share_off_the_counts() -> None:
    results = {"matching": _matching(118, 104)}
    manifest = declared.manifest(results, {})
    results["matching"]["share_matched"] = 0.881356
    results["matching"]["n_people"] = 3
    found = declared.declaration_findings({"results.json": results}, manifest)
    kinds = {(loc, kind) for _, loc, kind, _ in found}
    assert ("matching.n_people", "undeclared field (no disclosure class)") in kinds
    assert ("matching.share_matched", "share not computed from the published counts") in kinds


def test_checker_reads_csv_rows_and_an_unknown_class() -> None:
    rows = [{"period": "2021", "n": "3", "suppressed": ""}, {"period": "2022", "n": "*"}]
    found = declared.declaration_findings(
        {"referrals_by_quarter.csv": rows},
        {"referrals_by_quarter.csv": {"period": {"kind": "secret"}, "n": {"kind": "count"}}},
    )
    kinds = sorted({kind for _, _, kind, _ in found})
    assert "unknown disclosure class" in kinds and any("count not controlled" in k for k in kinds)
    assert any(kind.startswith("undeclared") for kind in kinds)  # "suppressed" not declared


def test_a_report_folder_without_declarations_is_a_finding(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text("{}")
    assert declared.folder_findings(tmp_path)[0][2].startswith("missing")
    assert declared.folder_findings(tmp_path / "nowhere") == []


def test_apply_table_matches_apply_declared() -> None:
    table = pd.DataFrame(
        [{"group": "all", "window": "both", "n_complete": 113, "n_incomplete": 27}]
    )
    table["share_incomplete"] = 27 / 140
    table = pd.DataFrame([control_entry(r) for r in table.to_dict(orient="records")])
    out = declared.apply_table("window_coverage", table)
    assert out.loc[0, "share_incomplete"] == round(25 / 140, 3)


def test_declarations_cover_the_schema_and_use_known_classes() -> None:
    """Each results.json section of the schema is declared; every class is one of KINDS."""
    assert set(SCHEMA["properties"]) <= set(RESULTS)
    for section in [*RESULTS.values(), *(t[2] for t in TABLES.values())]:
        assert {d.kind for d in section.values()} <= set(KINDS)


def test_without_rounding_a_table_that_sums_to_a_total_gets_secondary_suppression() -> None:
    """With rounding off, one suppressed part beside its total gives it away: hide another."""
    rule = DisclosureRule(rounding=False)
    rows = [
        {"group": "all", "level": "all", "step": "referred", "n": 40},
        {"group": "sex", "level": "female", "step": "referred", "n": 36},
        {"group": "sex", "level": "male", "step": "referred", "n": 4},
    ]
    out = declared.secondary_suppression([control_entry(r, rule) for r in rows], rule)
    published = {r["level"]: r["n"] for r in out}
    assert published["male"] is None and published["female"] is None
    assert published["all"] == 40


def test_a_binary_balance_row_is_published_as_shares_of_rounded_counts() -> None:
    """71 of 113 women (raw mean 0.628319) would let a reader solve for 113 beside 115."""
    from evalkit.reporting.tables import control_balance

    raw = pd.DataFrame(
        {
            "mean_treated": [71 / 113, 3 / 113, 62.5],
            "mean_control_before": [0.5, 0.02, 60.0],
            "smd_before": [0.26, 0.05, 0.2],
            "var_ratio_before": [float("nan"), float("nan"), 1.1],
            "ecdf_max_before": [0.13, 0.006, 0.1],
            "mean_control_after": [0.6, 0.03, 62.0],
            "smd_after": [0.06, 0.0, 0.05],
            "var_ratio_after": [float("nan"), float("nan"), 1.0],
            "ecdf_max_after": [0.03, 0.0, 0.02],
            "mean_treated_after": [70 / 110, 3 / 110, 62.4],
        },
        index=["sex_female", "cond_rare", "age"],
    )
    out = control_balance(raw, 113, 4000.0, 330.0, n_treated_after=110)
    female = out.loc["sex_female"]
    assert female["mean_treated"] == round(70 / 115, 3)  # 71 -> 70, 113 -> 115
    assert female["mean_treated_after"] == round(70 / 110, 3)
    p = female["mean_treated"]
    assert female["smd_before"] == pytest.approx((p - 0.5) / (p * (1 - p)) ** 0.5)
    assert female["mean_control_after"] == round(200 / 330, 3)  # 198 -> 200 of 330
    gap = female["mean_treated_after"] - female["mean_control_after"]
    assert female["ecdf_max_after"] == pytest.approx(abs(gap))
    assert out.loc["cond_rare"].isna().all()  # 3 participants: every statistic suppressed
    assert out.loc["age", "mean_treated"] == 62.5  # not a 0/1 row: a mean, unchanged


def test_html_tables_declare_every_column_and_keep_the_count_rule() -> None:
    from evalkit.reporting.tables import html_table

    df = pd.DataFrame({"step": ["referred", "started"], "n": [40, 35], "people": [12, 30]})
    page = html_table(
        df, caption="c", counts=("n",), name="t", kinds={"step": "label", "n": "count"}
    )
    found = declared.html_findings(page._repr_html_())
    assert found == [
        ("table t, column 'people'", "undeclared column (no disclosure class)", "people")
    ]
    page = html_table(
        df, caption="c", name="t", kinds=dict.fromkeys(df.columns, "count") | {"step": "label"}
    )
    found = declared.html_findings(page._repr_html_())
    assert found == [("table t, column 'people'", "count not controlled", "12")]


def test_check_outputs_reads_the_declarations(tmp_path: Path) -> None:
    """With declarations required, an undeclared column or a missing manifest is a finding."""
    from evalkit.reporting import check_outputs

    folder = tmp_path / "mindsong"
    folder.mkdir()
    results = {"matching": declared.apply_declared("matching", _matching(118, 104))}
    (folder / "results.json").write_text(json.dumps(results))
    (folder / "matching.csv").write_text("n_participants,people\n120,40\n")
    (folder / "index.html").write_text("<p>a report</p>")
    assert not check_outputs(tmp_path, declarations=True).ok  # no disclosure.json
    manifest = declared.manifest(results, {"matching.csv": ["n_participants", "people"]})
    (folder / declared.MANIFEST).write_text(json.dumps(manifest))
    found = check_outputs(tmp_path, declarations=True).findings
    assert [(Path(f.path).name, f.location) for f in found if "undeclared" in f.kind] == [
        ("matching.csv", "people")
    ]

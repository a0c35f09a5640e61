"""Reports for programmes of every size (issue #20 item 2): exit 0, valid, checked, in words.

One small county (12,000 people, seed 7, about 40 mindsong participants) is generated once per
session; each test keeps the first ``n`` referred people of mindsong (a random subset, fixed
seed) and drops the others' referrals. The property test builds the report content in process
(:func:`evalkit.reporting.build_report`) for sizes drawn from 0 to 30 and calls every view the
report notebook calls; three full builds (``evalkit report``: notebook, HTML, checker) cover
0, 1 and 8 participants.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from evalkit.reporting import build_report, check_outputs, declared
from evalkit.reporting.small import MIN_FOR_ESTIMATES, scope_for
from helpers.small_county import PROGRAMME, processed_with, raw_with
from helpers.small_county import small_county as small_county_dir

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "results.schema.json").read_text())
NOTEBOOK = json.loads((ROOT / "notebooks" / "report.ipynb").read_text())
#: Every report.table(...) / report.figure(...) the notebook shows, so the test follows it.
_CODE = "\n".join("".join(c["source"]) for c in NOTEBOOK["cells"] if c["cell_type"] == "code")
TABLES = re.findall(r'report\.table\("(\w+)"\)', _CODE)
FIGURES = re.findall(r'report\.figure\("(\w+)"\)', _CODE)
VIEWS = ("estimand", "reach_summary", "deprivation_summary", "economics_summary")


@pytest.fixture(scope="session")
def small_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 12,000-person county: ``raw/`` and ``processed/``, once per session."""
    return small_county_dir(tmp_path_factory)


def _schema_errors(results: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(results)]


def test_small_county_has_participants_to_cut(small_county: Path) -> None:
    ref = pd.read_parquet(small_county / "processed" / "referrals.parquet")
    assert ref.loc[ref["programme"] == PROGRAMME, "person_id"].nunique() >= 30


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(min_value=0, max_value=30))
@example(n=0)
@example(n=6)
@example(n=MIN_FOR_ESTIMATES)
@example(n=30)
def test_report_content_for_any_size_is_valid_and_says_why(
    small_county: Path, tmp_path_factory: pytest.TempPathFactory, n: int
) -> None:
    """Any number of participants: content built, every notebook view renders, valid, clean."""
    data = processed_with(small_county, n, tmp_path_factory.mktemp(f"processed{n}"))
    out = tmp_path_factory.mktemp(f"content{n}")
    report = build_report(PROGRAMME, data, out)
    results = report.results
    assert not _schema_errors(results)
    check = check_outputs(out)
    assert check.ok, check.summary()
    assert declared.folder_findings(out) == []  # every field declared, every class's rule kept
    small = results["methods"].get("small_programme")
    scope = small["scope"] if small else "full"
    if n < MIN_FOR_ESTIMATES:  # participants (eligible at referral) are at most the referred
        assert scope in {scope_for(n), "none"}
    if scope != "full":
        assert results["utilisation"] == [] and results["economics"] is None
        assert results["wellbeing"] == [] and small["reason"] in report.summary().body
    elif small:  # enough participants, too few of them matched to controls
        assert results["utilisation"] == [] and results["economics"] is None
    else:
        assert (results["matching"]["n_matched"] or 0) >= MIN_FOR_ESTIMATES
        assert results["utilisation"]
    m = results["matching"]
    if m.get("n_matched") is None or m.get("n_unmatched") is None:  # the share would tell
        assert m.get("share_matched") is None
    for e in results["wellbeing"]:
        if (e.get("n_paired") or 0) < MIN_FOR_ESTIMATES:
            assert e["mean_change"] is None
    for view in (report.summary, report.appendix_design, report.appendix_data):
        assert view()._repr_html_()


@pytest.fixture(scope="module")
def builder_views(small_county: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The notebook's views of a 6-participant builder: every table, figure and sentence."""
    from evalkit.reporting import ReportBuilder

    data = processed_with(small_county, 6, tmp_path_factory.mktemp("views6"))
    b = ReportBuilder(PROGRAMME, data).run_all()
    shown = {f"table:{t}": b.table(t)._repr_html_() for t in TABLES}
    shown |= {f"figure:{f}": b.figure(f)._repr_html_() for f in FIGURES}
    shown |= {v: getattr(b, v)()._repr_html_() for v in VIEWS}
    shown["negative_control"] = b.negative_control()._repr_html_()
    return shown


def test_small_report_views_say_why_instead_of_raising(builder_views: dict) -> None:
    assert "table:balance" in builder_views and "figure:event_study_gp_appointment" in builder_views
    not_shown = {k for k, v in builder_views.items() if "ek-not-shown" in v}
    assert "table:utilisation_rate_ratios" in not_shown and "table:wellbeing" in not_shown
    assert "table:reach" not in not_shown and "table:pathway" not in not_shown


@pytest.mark.parametrize("n", [0, 1, 8])
def test_evalkit_report_for_a_small_programme_exits_0_and_checks(
    small_county: Path, tmp_path: Path, n: int
) -> None:
    """``evalkit report`` (notebook, HTML, checker) and ``evalkit check`` both exit 0."""
    from evalkit.cli import app

    raw = raw_with(small_county, n, tmp_path / "raw")
    processed, reports = tmp_path / "processed", tmp_path / "reports"
    args = ["--raw", str(raw), "--processed", str(processed), "--reports", str(reports)]
    run = CliRunner().invoke(app, ["report", "--programme", PROGRAMME, "--no-progress", *args])
    assert run.exit_code == 0, run.output
    check = CliRunner().invoke(
        app, ["check", "--reports", str(reports), "--processed", str(processed)]
    )
    assert check.exit_code == 0, check.output
    results = json.loads((reports / PROGRAMME / "results.json").read_text())
    assert not _schema_errors(results)
    page = (reports / PROGRAMME / "index.html").read_text(encoding="utf-8")
    assert "Too few to say." in page
    assert results["methods"]["small_programme"]["reason"].split(",")[0] in page
    assert 'id="Healthcare-use"' not in page and 'id="Wellbeing"' not in page
    assert ('id="Reach-and-pathway"' in page) == (n > 0)

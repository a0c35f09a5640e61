"""Every programme's report built on the demo county: files, disclosure, reproducibility, browser.

The reports are built once per session (about 30 s each) into a temporary ``reports/`` with the
same pipeline ``make report`` runs: papermill executes ``notebooks/report.ipynb``, nbconvert
renders the HTML, the disclosure checker scans the folder.
"""

from __future__ import annotations

import html
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Chromium, find_chromedriver, find_chromium, start_chromium

from evalkit.config import load_programmes
from evalkit.definitions.labels import setting_label
from evalkit.intake import run_intake
from evalkit.reporting import build_report, check_outputs, render_report
from evalkit.reporting.pipeline import check_reports, person_ids
from evalkit.reporting.plan import lock_plan

PROGRAMMES = sorted(load_programmes())
SCREENSHOTS = Path(os.environ.get("EVALKIT_SCREENSHOTS", "reports/.screenshots"))


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_every_programme_writes_contract_files(built_reports: Path, slug: str) -> None:
    folder = built_reports / slug
    for name in (
        "index.html",
        "notebook.ipynb",
        "results.json",
        "utilisation.csv",
        "wellbeing.csv",
    ):
        assert (folder / name).is_file(), name
    assert list((folder / "figures").glob("*.png"))
    results = json.loads((folder / "results.json").read_text())
    assert results["programme"] == slug
    assert {"utilisation", "wellbeing", "data_sha256", "parameters", "package_versions"} <= set(
        results
    )
    page = (folder / "index.html").read_text()
    # Inputs removed, summary first, no script fetched from the network.
    assert "ek.reporting" not in page and "import evalkit" not in page
    assert page.index("Summary for commissioners") < page.index("Healthcare use")
    assert "<script src=" not in page
    assert 'lang="en"' in page


def test_report_staging_folders_do_not_remain(built_reports: Path) -> None:
    assert not [p for p in built_reports.iterdir() if p.name.startswith(".")]


def test_disclosure_checker_passes_every_report(built_reports: Path, demo_processed: Path) -> None:
    result = check_reports(built_reports, PROGRAMMES, demo_processed)
    assert result.ok, result.summary()
    # It scanned at least one HTML, CSV and JSON file per programme.
    for slug in PROGRAMMES:
        kinds = {Path(p).suffix for p in result.scanned if f"/{slug}/" in p}
        assert {".html", ".csv", ".json"} <= kinds, slug


def test_disclosure_checker_catches_planted_count_and_person_id(
    built_reports: Path, demo_processed: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "reports"
    shutil.copytree(built_reports / "mindsong", copy / "mindsong")
    pid = sorted(person_ids(demo_processed))[0]
    table = copy / "mindsong" / "utilisation.csv"
    lines = table.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("n_participants")] = "3"
    table.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n")
    page = copy / "mindsong" / "index.html"
    page.write_text(page.read_text().replace("</main>", f"<p>{pid}</p></main>"))
    result = check_outputs(copy, person_ids=person_ids(demo_processed), require=["mindsong"])
    kinds = {(Path(f.path).name, f.kind) for f in result.findings}
    assert ("utilisation.csv", "small or unrounded count") in kinds
    assert ("index.html", "person id from the data") in kinds
    assert not result.ok


def test_disclosure_checker_empty_reports_fails(tmp_path: Path) -> None:
    result = check_outputs(tmp_path, require=["mindsong"])
    assert not result.ok


def test_report_never_reads_synthetic_truth(
    built_reports: Path, demo_county: Path, tmp_path: Path
) -> None:
    """Without synthetic_truth.json the same inputs give the same results.json.

    Only ``data_source`` differs: without the truth file the tables are not known to be
    synthetic, so the report calls them an extract.
    """
    raw = tmp_path / "raw"
    shutil.copytree(demo_county, raw)
    (raw / "synthetic_truth.json").unlink()
    processed = tmp_path / "processed"
    run_intake(raw, processed, progress=False)
    out = render_report("mindsong", processed, tmp_path / "reports")
    res = json.loads((out / "results.json").read_text())
    ref = json.loads((built_reports / "mindsong" / "results.json").read_text())
    assert (res.pop("data_source")["kind"], ref.pop("data_source")["kind"]) == (
        "extract",
        "synthetic",
    )
    assert res == ref


def test_report_failed_run_keeps_previous_report(
    built_reports: Path, demo_processed: Path, tmp_path: Path
) -> None:
    """A run that fails part-way leaves the previous report untouched."""
    reports = tmp_path / "reports"
    shutil.copytree(built_reports / "cyp", reports / "cyp")
    before = (reports / "cyp" / "results.json").read_bytes()
    broken = tmp_path / "broken.ipynb"
    nb = json.loads(Path("notebooks/report.ipynb").read_text())
    nb["cells"].append(
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "raise RuntimeError('interrupted')",
        }
    )
    broken.write_text(json.dumps(nb))
    with pytest.raises(Exception, match="interrupted"):
        render_report("cyp", demo_processed, reports, notebook=broken)
    assert (reports / "cyp" / "results.json").read_bytes() == before
    assert [p.name for p in reports.iterdir()] == ["cyp"]


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_results_json_carries_mde_and_plan(built_reports: Path, slug: str) -> None:
    results = json.loads((built_reports / slug / "results.json").read_text())
    did = [e for e in results["utilisation"] if e["method"] == "matched_did"]
    assert did and all("mde" in e for e in did)
    rr = [e for e in did if e["scale"] == "rate_ratio" and e.get("mde") is not None]
    assert rr and all(0 < e["mde"] < 1 for e in rr)
    assert all("mde" in e for e in results["wellbeing"])
    assert set(results["plan"]) >= {"locked", "sha256", "deviations"}
    for key in ("reach", "pathway", "economics"):
        assert results[key], key


def test_unlocked_programme_says_so_on_first_screen(built_reports: Path) -> None:
    page = (built_reports / "mindsong" / "index.html").read_text()
    assert page.index("Analysis plan not locked") < page.index("Headline findings")


def test_report_lists_deviation_from_locked_plan(demo_processed: Path, tmp_path: Path) -> None:
    """Lock the plan, then change one analysis option: the report lists the deviation."""
    lock_plan("mindsong", tmp_path / "plans")
    report = build_report("mindsong", demo_processed, plans_dir=tmp_path / "plans", caliper=0.1)
    plan = report.results["plan"]
    assert plan["locked"] is True
    assert plan["deviations"] == [{"option": "matching.caliper", "locked": 0.2, "used": 0.1}]
    summary = report.summary().body
    assert "Deviations from the locked analysis plan" in summary
    assert "matching.caliper" in summary


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_results_json_plan_names_outcomes_and_holm_matches_statsmodels(
    built_reports: Path, slug: str
) -> None:
    from statsmodels.stats.multitest import multipletests

    results = json.loads((built_reports / slug / "results.json").read_text())
    plan = results["plan"]
    prog = load_programmes()[slug]
    setting, window = prog.outcomes.primary_outcome()
    assert plan["primary"] == {"setting": setting, "window_months": window}
    assert plan["secondary"] == prog.outcomes.secondary_settings()
    assert isinstance(plan["locked"], bool) and isinstance(plan["deviations"], list)
    did = [e for e in results["utilisation"] if e["method"] == "matched_did"]
    assert {e["role"] for e in did} <= {"primary", "secondary", "exploratory"}
    assert {(e["setting"], e["window_months"]) for e in did if e["role"] == "primary"} == {
        (setting, window)
    }
    sec = [
        e
        for e in did
        if e["role"] == "secondary" and e["scale"] == "rate_ratio" and e["p_value"] is not None
    ]
    assert [e["setting"] for e in sec] and all("p_holm" in e for e in sec)
    ref = multipletests([e["p_value"] for e in sec], method="holm")[1]
    assert [e["p_holm"] for e in sec] == pytest.approx(list(ref), rel=1e-5)
    assert sorted(plan["multiplicity"]["family"]) == sorted(e["setting"] for e in sec)


def test_locked_primary_kept_when_config_changes_and_deviation_on_first_screen(
    demo_processed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lock the plan, change the primary outcome in the config: the lock's primary is kept."""
    import yaml

    from evalkit.config import programmes_dir

    lock_plan("mindsong", tmp_path / "plans")
    locked = load_programmes()["mindsong"].outcomes
    setting, window = locked.primary_outcome()
    new = locked.secondary_settings()[0]
    progs = tmp_path / "programmes"
    shutil.copytree(programmes_dir(), progs)
    path = progs / "mindsong.yaml"
    data = yaml.safe_load(path.read_text())
    data["outcomes"]["primary"] = {"setting": new, "window_months": window}
    data["outcomes"].pop("secondary")
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("EVALKIT_PROGRAMMES", str(progs))
    report = build_report("mindsong", demo_processed, plans_dir=tmp_path / "plans")
    plan = report.results["plan"]
    assert plan["locked"] is True and plan["outcomes_chosen_by"] == "lock"
    assert plan["primary"] == {"setting": setting, "window_months": window}
    assert plan["secondary"] == locked.secondary_settings()
    dev = {d["option"]: d for d in plan["deviations"]}
    assert dev["outcomes.primary.setting"] == {
        "option": "outcomes.primary.setting",
        "locked": setting,
        "used": setting,
        "requested": new,
    }
    primary = [e for e in report.results["utilisation"] if e.get("role") == "primary"]
    assert {(e["setting"], e["window_months"]) for e in primary} == {(setting, window)}
    summary = report.summary().body
    first_screen = summary[: summary.index("Headline findings")]
    assert "Deviations from the locked analysis plan" in first_screen
    assert (
        "outcomes.primary.setting" in first_screen and "the locked choice was kept" in first_screen
    )
    head = summary[summary.index("<strong>Primary outcome.</strong>") :]
    assert head.startswith(
        f"<strong>Primary outcome.</strong> {setting_label(setting, capital=True)}"
    )


def test_comparison_page_lists_every_programme(built_reports: Path) -> None:
    page = (built_reports / "index.html").read_text()
    for slug, prog in load_programmes().items():
        assert f'href="{slug}/index.html"' in page
        assert html.escape(prog.title) in page


# --- browser ----------------------------------------------------------------------------------
CHROMIUM = find_chromium()
CHROMEDRIVER = find_chromedriver()
_NO_BROWSER = (
    "headless Chromium or chromedriver not found: browser tests skipped. Install Debian's "
    "packages (apt-get install chromium chromium-driver) to run them; CI requires them."
)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI"):
            pytest.fail("CI requires the browser tests, but Chromium or chromedriver is missing")
        pytest.skip(_NO_BROWSER)
    with start_chromium(CHROMIUM, CHROMEDRIVER) as browser:
        yield browser


@pytest.mark.browser
@pytest.mark.parametrize("page", [*PROGRAMMES, "index"])
def test_report_loads_in_chromium_without_errors(
    built_reports: Path, chromium: Chromium, page: str
) -> None:
    path = built_reports / "index.html" if page == "index" else built_reports / page / "index.html"
    check = chromium.check(path, screenshot=SCREENSHOTS / f"{page}.png")
    assert check.console_errors == []
    assert check.lang == "en"
    assert check.headings and check.headings[0].startswith("H1")
    if page != "index":
        assert len(check.images) >= 5
        assert check.broken_images == []
        assert all(i["alt"] for i in check.images), "every figure has alt text"
    assert check.screenshot is not None and check.screenshot.stat().st_size > 10_000

"""Provider data-quality reports from a small intake: counts by hand, disclosure, no identifiers.

One intake of the example extract with its referrals grown to 20 rows from Art Shape and 2 from
Music Works (a missing code on 3 rows, an unknown person, a conflict across the two providers,
an exact repeat), then one set of provider reports.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from evalkit import contract as C
from evalkit.intake import run_intake
from evalkit.intake.example import (
    EXAMPLE_EXTRACT_END,
    EXAMPLE_INSTRUMENTS,
    EXAMPLE_PROGRAMMES,
    P,
    example_tables,
    write_tables,
)
from evalkit.reporting.checker import check_outputs
from evalkit.reporting.disclosure import DisclosureRule
from evalkit.reporting.pipeline import person_ids
from evalkit.reporting.providers import (
    PROBLEM_COLUMNS,
    provider_quality,
    provider_slug,
    write_provider_reports,
)

UNKNOWN = "00000000000000ff"  # well formed, not in the population


def _tables() -> dict[str, pd.DataFrame]:
    t = example_tables()
    ref = t["referrals"]
    base = ref.iloc[1].to_dict()  # r02: Art Shape, mindsong, did not start
    rows = [ref.iloc[0].to_dict(), base, ref.iloc[2].to_dict()]  # r01, r02 Art Shape; r03 MW
    for k in range(3, 21):  # a03 ... a20: Art Shape, one a day from 2022-06-01
        day = dt.date(2022, 6, 1) + dt.timedelta(days=k)
        rows.append({**base, "episode_id": f"a{k:02d}", "person_id": P[k % 2],
                     "referral_date": day.isoformat()})  # fmt: skip
    for r in rows:
        d = dt.date.fromisoformat(r["referral_date"])
        r["submitted_on"] = (d + dt.timedelta(days=40)).isoformat()
    for k in (5, 6, 7):
        rows[k]["referral_source"] = ""  # missing_required, 3 rows
    rows[8]["person_id"] = UNKNOWN  # unknown_person
    conflict = {**rows[9], "episode_id": "MW-9", "provider": "Music Works"}
    repeat = {**rows[10], "episode_id": "a99"}
    repeat["submitted_on"] = "2023-01-05"  # later: left out, the earlier row kept
    t["referrals"] = pd.DataFrame([*rows, conflict, repeat])
    return t


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("providers")
    write_tables(_tables(), root / "raw")
    run_intake(
        root / "raw",
        root / "processed",
        programmes=EXAMPLE_PROGRAMMES,
        instrument_defs=EXAMPLE_INSTRUMENTS,
        extract_end=EXAMPLE_EXTRACT_END,
        progress=False,
        validate=False,
    )
    quality = provider_quality(root / "processed")
    reports, returns = root / "reports" / "providers", root / "data" / "returns"
    write_provider_reports(quality, reports, returns, person_ids=person_ids(root / "processed"))
    return {"root": root, "processed": root / "processed", "reports": reports, "returns": returns}


def _metric(df: pd.DataFrame, provider: str, measure: str, field: str = "") -> pd.Series:
    d = df[(df["provider"] == provider) & (df["measure"] == measure) & (df["field"] == field)]
    assert len(d) == 1, (provider, measure, field, d)
    return d.iloc[0]


def test_provider_quality_counts_match_the_hand_counts(built) -> None:
    q = provider_quality(built["processed"]).tidy()
    art = "Art Shape"
    assert _metric(q, art, "referral rows received").n == 21  # 20 rows and 1 exact repeat
    assert _metric(q, art, "accepted").n == 15  # less 3 missing, 1 unknown person, 1 conflict
    assert _metric(q, art, "quarantined").n == 5
    assert _metric(q, art, "left out as exact repeats (duplicate submissions)").n == 1
    source = _metric(q, art, "rows with a value", "referral_source")
    assert (source.n, source.n_base) == (17, 20)
    missing = _metric(q, art, f"{C.MISSING_REQUIRED}: a required value is empty", "referral_source")
    assert missing.n == 3
    linked = _metric(q, art, "person found in the GP register", "person_id")
    assert (linked.n, linked.n_base) == (19, 20)
    conflict = _metric(
        q, "Music Works", "rows of an episode submitted with different data (quarantined)"
    )
    assert conflict.n == 1
    # r01's baseline SWEMWBS misses an item (not scorable); its end questionnaire is complete.
    unscorable = _metric(q, art, "questionnaires not scorable (too many items missing)")
    assert (unscorable.n, unscorable.n_base) == (1, 2)
    # Every accepted row was submitted 40 days after its referral.
    late = _metric(q, art, "submitted more than 30 days after the referral", "referral_date")
    assert (late.n, late.n_base, late.median_days) == (15, 15, 40.0)
    assert _metric(q, art, "submitted more than 90 days after the referral", "referral_date").n == 0


def test_quality_csv_suppresses_a_count_of_3_and_rounds_its_complement(built) -> None:
    csv = pd.read_csv(built["reports"] / "art-shape" / "quality.csv", dtype=str)
    missing = _metric(csv, "Art Shape", f"{C.MISSING_REQUIRED}: a required value is empty",
                      "referral_source")  # fmt: skip
    assert missing.n == "*"  # 3: suppressed
    filled = _metric(csv, "Art Shape", "rows with a value", "referral_source")
    # The complement (17 of 20) is rounded to 15 out of 20: the total less it gives 5, not 3.
    assert (filled.n, filled.n_base, filled.share) == ("15", "20", "0.75")
    assert "17" not in set(csv["n"]) | set(csv["n_base"])


def test_provider_reports_hold_no_person_id_nhs_number_or_token(built) -> None:
    ids = person_ids(built["processed"]) | {UNKNOWN, *P}
    files = sorted(p for p in built["reports"].rglob("*") if p.is_file())
    assert {p.name for p in files} == {"index.html", "quality.csv"}
    for p in files:
        text = p.read_text()
        assert not any(i in text for i in ids), p
        assert not re.search(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])", text), p
    assert check_outputs(built["reports"], person_ids=ids).ok


def test_problems_list_is_outside_reports_by_episode_id_only(built) -> None:
    path = built["returns"] / "art-shape" / "problems.csv"
    assert built["reports"].parent not in path.parents
    probs = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(probs.columns) == PROBLEM_COLUMNS
    text = path.read_text()
    assert not any(i in text for i in (UNKNOWN, *P))
    assert set(probs.loc[probs["reason"] == C.MISSING_REQUIRED, "episode_id"]) == {
        "a05",
        "a06",
        "a07",
    }
    assert probs.loc[probs["reason"] == C.UNKNOWN_PERSON, "episode_id"].tolist() == ["a08"]
    conflict = probs[probs["reason"] == C.CONFLICTING_SUBMISSIONS]
    assert conflict["episode_id"].tolist() == ["a09"]
    assert conflict["detail"].iloc[0] == "providers: Art Shape, Music Works; fields: provider"
    dup = probs[probs["reason"] == C.DUPLICATE_SUBMISSION]
    assert dup["episode_id"].tolist() == ["a99"] and "a10" in dup["detail"].iloc[0]


def test_write_provider_reports_refuses_a_problems_folder_inside_reports(built, tmp_path) -> None:
    quality = provider_quality(built["processed"])
    reports = tmp_path / "reports" / "providers"
    with pytest.raises(ValueError, match="outside"):
        write_provider_reports(quality, reports, tmp_path / "reports" / "returns")


def test_controlled_refuses_a_rule_without_rounding(built) -> None:
    with pytest.raises(ValueError, match="rounding"):
        provider_quality(built["processed"]).controlled(DisclosureRule(rounding=False))


def test_provider_slug_is_a_safe_folder_name() -> None:
    assert provider_slug("Music Works") == "music-works"
    assert provider_slug("../..") == "provider"


def test_cli_providers_writes_reports_and_refuses_returns_inside_reports(
    built, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from evalkit.cli import app

    monkeypatch.chdir(tmp_path)  # the command's log goes to ./logs
    args = ["providers", "--processed", str(built["processed"]), "--reports", "reports"]
    ok = CliRunner().invoke(app, [*args, "--returns", "data/returns"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "reports/providers/music-works/index.html").is_file()
    assert (tmp_path / "data/returns/music-works/problems.csv").is_file()
    bad = CliRunner().invoke(app, [*args, "--returns", "reports/returns"])
    assert bad.exit_code == 2  # the CLI's one-line error (evalkit.cli._fail)
    text = bad.output + (getattr(bad, "stderr", "") or "")
    assert "outside" in text and "Traceback" not in text

"""The built demo reports carry the plan's roles into their tables and the comparison page (#15).

These read the session's built reports (tests/reports/conftest.py); they build nothing more.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from evalkit.config import load_programmes
from evalkit.reporting.findings import WELLBY_CAVEAT
from evalkit.reporting.pipeline import WELLBY_ROW
from evalkit.reporting.tables import NESTED_ROLE, ROLE_NOTE

PROGRAMMES = sorted(load_programmes())


def _table(page: str, name: str) -> str:
    start = page.index(f'data-table="{name}"')
    return html.unescape(page[start : page.index("</table>", start)])


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)
    ]


@pytest.mark.parametrize("slug", PROGRAMMES)
def test_report_utilisation_table_shows_roles_holm_p_and_the_note(
    built_reports: Path, slug: str
) -> None:
    page = (built_reports / slug / "index.html").read_text()
    results = json.loads((built_reports / slug / "results.json").read_text())
    primary = results["plan"]["primary"]
    table = _table(page, "utilisation_rate_ratios")
    header = _cells(table[table.index("<thead>") : table.index("</thead>")])
    tbody = table[table.index("<tbody>") : table.index("</tbody>")]
    body = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", tbody, flags=re.DOTALL)]
    role, holm = header.index("role"), header.index("Holm-adjusted p")
    assert ROLE_NOTE in table
    did = [r for r in body if r[header.index("method")] == "matched_did"]
    assert [(r[0], int(r[1])) for r in did if r[role] == "primary"] == [
        (primary["setting"], primary["window_months"])
    ]
    # a Holm p in the table for every secondary rate ratio results.json adjusted, and only there
    adjusted = {
        e["setting"]
        for e in results["utilisation"]
        if e.get("role") == "secondary"
        and e["scale"] == "rate_ratio"
        and e.get("p_holm") is not None
    }
    assert {r[0] for r in body if r[holm] != "–"} == adjusted
    assert all(r[role] == NESTED_ROLE for r in body if int(r[1]) != primary["window_months"])


def test_comparison_page_names_each_programmes_window_and_keeps_the_wellby_caveat_beside(
    built_reports: Path,
) -> None:
    page = html.unescape((built_reports / "index.html").read_text())
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.DOTALL)
    labels = [(_cells(r) or [""])[0] for r in rows]
    at = labels.index(WELLBY_ROW)
    assert labels[at - 1].startswith("Return per £1") and WELLBY_CAVEAT in rows[at + 1]
    assert not any("6 months" in label for label in labels)
    slugs = re.findall(r'<a href="([^"/]+)/index.html">', page)
    primary = _cells(rows[labels.index(next(x for x in labels if x.startswith("Primary outcome")))])
    for slug, cell in zip(slugs, primary[1:], strict=True):
        plan = json.loads((built_reports / slug / "results.json").read_text())["plan"]
        assert f"{plan['primary']['window_months']} months" in cell

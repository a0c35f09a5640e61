"""The utilisation tables show each figure's role and the secondary outcomes' Holm p (#15)."""

from __future__ import annotations

import html
import re

import pandas as pd

from evalkit.reporting.tables import NESTED_ROLE, ROLE_NOTE, view_table


def _entry(setting: str, window: int, role: str, **extra: object) -> dict[str, object]:
    return {
        "setting": setting,
        "window_months": window,
        "method": "matched_did",
        "population": "matched",
        "scale": "rate_ratio",
        "estimate": 0.9,
        "ci_low": 0.8,
        "ci_high": 1.01,
        "n_participants": 150,
        "n_controls": 440,
        "role": role,
        **extra,
    }


def _utilisation() -> pd.DataFrame:
    """A primary at 12 months, two secondaries (one on each scale), other windows, a naive row."""
    rows = [
        _entry("emergency_admission", 12, "primary", p_value=0.03),
        _entry("gp_appointment", 12, "secondary", p_value=0.02, p_holm=0.04),
        _entry("ae_attendance", 12, "secondary", p_value=0.0001, p_holm=0.0002),
        _entry("gp_appointment", 12, "secondary", scale="difference_per_person", p_holm=None),
        _entry("emergency_admission", 6, "exploratory", p_value=0.2),
        _entry("total_cost", 12, "exploratory", p_value=0.5),
        _entry("gp_appointment", 3, "exploratory", method="naive_prepost", population="all"),
    ]
    return pd.DataFrame(rows)


def _rows(body: str) -> list[list[str]]:
    tbody = body[body.index("<tbody>") : body.index("</tbody>")]
    rows = re.findall(r"<tr>(.*?)</tr>", tbody)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", tr)] for tr in rows]


def _header(body: str) -> list[str]:
    return re.findall(r'<th scope="col"[^>]*>(.*?)</th>', body)


def test_rate_ratio_table_shows_role_and_holm_p_for_secondary_only() -> None:
    body = view_table("utilisation_rate_ratios", {"utilisation": _utilisation()}).body
    header = _header(body)
    role, holm = header.index("role"), header.index("Holm-adjusted p")
    rows = {(r[0], r[1], r[role]): r[holm] for r in _rows(body)}
    assert rows == {
        ("emergency_admission", "12", "primary"): "–",
        ("gp_appointment", "12", "secondary"): "0.040",
        ("ae_attendance", "12", "secondary"): "<0.001",
        ("emergency_admission", "6", NESTED_ROLE): "–",
        ("total_cost", "12", "exploratory"): "–",
        ("gp_appointment", "3", NESTED_ROLE): "–",
    }


def test_utilisation_tables_carry_the_role_note_under_the_table() -> None:
    for name in ("utilisation_rate_ratios", "utilisation_differences"):
        body = view_table(name, {"utilisation": _utilisation()}).body
        foot = html.unescape(body[body.index("<tfoot>") : body.index("</tfoot>")])
        assert ROLE_NOTE in foot
        assert f'colspan="{len(_header(body))}"' in foot
    assert "not corrected for multiple comparisons" in ROLE_NOTE and "Holm" in ROLE_NOTE


def test_difference_table_has_roles_but_no_holm_column() -> None:
    body = view_table("utilisation_differences", {"utilisation": _utilisation()}).body
    header = _header(body)
    assert "role" in header and "Holm-adjusted p" not in header
    assert [r[header.index("role")] for r in _rows(body)] == ["secondary"]


def test_table_without_roles_is_shown_as_before() -> None:
    """An old results.json (no role, no p_holm): the columns it has, no nested labels."""
    old = _utilisation().drop(columns=["role", "p_holm"])
    body = view_table("utilisation_rate_ratios", {"utilisation": old}).body
    assert "role" not in _header(body) and NESTED_ROLE not in body


def test_other_tables_have_no_note() -> None:
    wb = pd.DataFrame({"label": ["SWEMWBS"], "n_paired": [40], "mean_change": [1.2]})
    assert "<tfoot>" not in view_table("wellbeing", {"wellbeing": wb}).body

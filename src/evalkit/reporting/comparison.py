"""The comparison page ``reports/index.html``: each programme's headline figures side by side.

Moved out of :mod:`evalkit.reporting.pipeline` (which re-exports it) to keep files within the
house style's length.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from markupsafe import Markup

from evalkit import __version__
from evalkit.config import load_programme
from evalkit.definitions.labels import setting_label
from evalkit.files import write_text
from evalkit.reporting.findings import WELLBY_CAVEAT, primary_outcome
from evalkit.reporting.html import render
from evalkit.reporting.target_trial import censored_share


# --- the comparison page -------------------------------------------------------------------
def _find(entries: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    for e in entries:
        if all(e.get(k) == v for k, v in match.items()):
            return e
    return None


def _ci(e: dict[str, Any] | None, fmt: str = "{:.2f}") -> str:
    if not e or e.get("estimate") is None:
        return "–"
    if e.get("ci_low") is None or e.get("ci_high") is None:
        return fmt.format(e["estimate"])
    return f"{fmt.format(e['estimate'])} ({fmt.format(e['ci_low'])} to {fmt.format(e['ci_high'])})"


def _count(n: Any) -> int | None:
    """A count from results.json as the page shows it: an int, or None where suppressed."""
    return None if n is None else int(n)


#: The settings the comparison page compares, in its order (their names from the label table).
COMPARED_SETTINGS: tuple[str, ...] = ("emergency_admission", "gp_appointment", "ae_attendance")
#: The comparison page's WELLBY row; its caveat (:data:`ROW_NOTES`) is the row right under it.
WELLBY_ROW = (
    "WELLBY social value per £1, intention to treat (95% CI; completers' upper bound): "
    "a wellbeing valuation, not NHS cash (caveat in the next row)"
)
#: Rows the comparison page follows with a full-width note, whatever the programmes show.
ROW_NOTES: dict[str, str] = {WELLBY_ROW: WELLBY_CAVEAT}


def _at_window(e: dict[str, Any] | None, window: int) -> str:
    """A rate ratio with its CI, the window it is at and its role in the plan, for one cell."""
    role = f", {e['role']}" if e and e.get("role") else ""
    return f"{_ci(e)} ({window} months{role})"


def comparison_rows(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The comparison page's metrics for one programme: (label, value, is_count).

    Healthcare use is shown at the programme's own primary window (the plan's; 12 months for a
    results.json from before plans named one), and every cell names the window and the
    figure's role, since programmes' windows may differ.
    """
    util = results.get("utilisation", [])
    m = results.get("matching", {})
    setting, window = primary_outcome(results)
    locked = (results.get("plan") or {}).get("locked")
    rows: list[tuple[str, str, bool]] = [
        ("Participants (referred)", m.get("n_participants"), True),
        ("Participants matched", m.get("n_matched"), True),
        ("Matched controls", m.get("n_controls"), True),
        ("Matched controls referred later (followed until then)", censored_share(results), False),
        (
            "Primary outcome in the analysis plan (window the rows below use)",
            f"{setting_label(setting, capital=True)}, {window} months"
            + (" (locked)" if locked else " (plan not locked)"),
            False,
        ),
    ]
    for s in COMPARED_SETTINGS:
        label = f"{setting_label(s, capital=True)}, primary window"
        e = _find(util, setting=s, window_months=window, method="matched_did", scale="rate_ratio")
        rows.append((f"{label}: rate ratio (95% CI)", _at_window(e, window), False))
        n = _find(
            util,
            setting=s,
            window_months=window,
            method="naive_prepost",
            scale="rate_ratio",
            population="matched",  # the same people as the matched DiD
        )
        rows.append(
            (
                f"{label}: naive before/after, matched participants (95% CI)",
                _at_window(n, window),
                False,
            )
        )
    wb = results.get("wellbeing", [])
    primary = (results.get("parameters", {}).get("instruments") or [None])[0]
    e = _find(wb, instrument=primary) if primary else None
    change = (
        {"estimate": e.get("mean_change"), "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high")}
        if e
        else None
    )
    rows.append(
        ("Main wellbeing measure: mean change (95% CI)", f"{primary}: {_ci(change)}", False)
    )
    reach = _find(results.get("reach", []), group="imd_quintile", level="1")
    reach_ci = (
        {
            "estimate": reach.get("ratio_vs_reference"),
            "ci_low": reach.get("ci_low"),
            "ci_high": reach.get("ci_high"),
        }
        if reach
        else None
    )
    rows.append(("Reach, most vs least deprived fifth: rate ratio (95% CI)", _ci(reach_ci), False))
    path = results.get("pathway", [])
    ref = _find(path, step="referred", group="all")
    done = _find(path, step="completed", group="all")
    ok = ref and done and ref.get("n") and done.get("n") is not None
    share = f"{done['n'] / ref['n']:.0%}" if ok else "–"
    rows.append(("Share of referred people who completed", share, False))
    econ = results.get("economics") or {}
    sav = econ.get("nhs_cost_saving_per_participant")
    rows.append(
        ("NHS cost saving per participant, 12 months, £ (95% CI)", _ci(sav, "{:,.0f}"), False)
    )
    rows.append(("Return per £1 of programme cost, gross (95% CI)", _ci(econ.get("roi")), False))
    w = econ.get("wellby_social_value_per_pound") or {}
    wtext = _ci(w)
    if w.get("completers_upper") is not None:
        wtext += f"; completers {w['completers_upper']:.2f}"
    elif w.get("estimate") is not None and "completers_upper" not in w:
        wtext += " (completers only)"  # a results.json from before the ITT figure
    rows.append((WELLBY_ROW, wtext, False))
    return rows


def comparison_table(data: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The comparison page's rows: each metric's label and its value in every programme.

    ``data`` maps a programme's slug to its results.json, in column order. Count values are
    ints (None where suppressed), the template shows them as controlled counts. A row in
    :data:`ROW_NOTES` carries its ``note`` (the template puts it in a full-width row under it).
    """
    per = [comparison_rows(r) for r in data.values()]
    if not per:
        return []
    return [
        {
            "label": label,
            "is_count": is_count,
            "note": ROW_NOTES.get(label, ""),
            "values": [_count(p[i][1]) if is_count else str(p[i][1]) for p in per],
        }
        for i, (label, _, is_count) in enumerate(per[0])
    ]


def build_index(reports: str | Path = "reports") -> Path:
    """Write ``reports/index.html``: every built programme side by side in the same metrics."""
    reports = Path(reports)
    found = sorted(
        p.parent for p in reports.glob("*/results.json") if not p.parent.name.startswith(".")
    )
    data = {p.name: json.loads((p / "results.json").read_text()) for p in found}
    # Titles escaped as html.escape does (an apostrophe as &#x27;), as the page always has.
    programmes = [
        {"slug": slug, "title": Markup(html.escape(load_programme(slug).title))} for slug in data
    ]
    page = render(
        "comparison.html.j2",
        programmes=programmes,
        rows=comparison_table(data),
        version=__version__,
    )
    return write_text(page.body + "\n", reports / "index.html")

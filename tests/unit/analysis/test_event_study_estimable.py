"""Months whose Poisson rate ratio is not estimable are blanked in the published event study."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from evalkit.analysis.event_study import REFERENCE_MONTH, estimable_event_study


def _mc(events: dict[tuple[int, int], int]) -> SimpleNamespace:
    rows = [
        {"event_month": m, "referred": g, "exposure": 1.0, "ea": n} for (m, g), n in events.items()
    ]
    rows.append({"event_month": -2, "referred": 1, "exposure": 0.0, "ea": 5})  # no exposure
    return SimpleNamespace(panel=pd.DataFrame(rows))


def _table(periods: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": periods,
            "estimate": [1.0 if p == REFERENCE_MONTH else 1e107 for p in periods],
            "std_error": [0.0 if p == REFERENCE_MONTH else 4e5 for p in periods],
            "ci_low": 0.5,
            "ci_high": 2.0,
            "p_value": 0.9,
        }
    )


def test_a_month_without_participant_or_control_events_is_blanked() -> None:
    events = {(-3, 0): 4, (-3, 1): 2, (-2, 0): 3, (-2, 1): 0, (-1, 0): 5, (-1, 1): 1,
              (0, 0): 0, (0, 1): 2, (1, 0): 6, (1, 1): 3}  # fmt: skip
    out = estimable_event_study(_table([-3, -2, -1, 0, 1]), _mc(events), "ea")
    blank = out.set_index("period")
    for m in (-2, 0):  # -2: participants' only events are on a row without exposure
        assert blank.loc[m, ["estimate", "std_error", "ci_low", "ci_high", "p_value"]].isna().all()
        assert "no participant or no control events" in blank.loc[m, "note"]
    for m in (-3, -1, 1):
        assert blank.loc[m, "estimate"] == (1.0 if m == -1 else 1e107)
        assert blank.loc[m, "note"] is None


def test_no_month_is_estimable_when_the_reference_month_has_no_participant_events() -> None:
    events = {(-2, 0): 3, (-2, 1): 1, (-1, 0): 5, (-1, 1): 0, (0, 0): 2, (0, 1): 2}
    out = estimable_event_study(_table([-2, -1, 0]), _mc(events), "ea").set_index("period")
    assert out.loc[[-2, 0], "estimate"].isna().all()
    assert out.loc[[-2, 0], "note"].str.contains("reference month -1").all()
    assert out.loc[-1, "estimate"] == 1.0

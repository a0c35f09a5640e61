"""The event-study figure's caption: the pre-trend test in words, and why months matched on
cannot test the design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.reporting.figures import (
    PRETREND_ALPHA,
    event_study_figure,
    matched_months_caveat,
    pretrend_sentence,
)
from evalkit.stats.did import did


def _entry(poisson_p: float | None, linear_p: float | None, last: int = -13) -> dict:
    return {"first_month": -24, "last_month": last, "poisson_p": poisson_p, "linear_p": linear_p}


above, below = PRETREND_ALPHA * 4, PRETREND_ALPHA / 5

#: (entry, expected start of the sentence, text it must contain)
CASES = {
    "both_above": (_entry(above, above), "No evidence of differing trends", "months −24 to −13"),
    "both_below": (_entry(below, below), "Evidence of differing trends", "may be biased"),
    "mixed": (_entry(below, above), "Mixed evidence of differing trends", "Poisson; "),
    "tiny_p": (_entry(1e-5, 1e-4), "Evidence", "(p < 0.001, Poisson; < 0.001, linear)"),
    "costs_linear_only": (
        _entry(None, above),
        "No evidence",
        f"(p = {above:.2f}, linear; no Poisson test)",
    ),
    "no_test": (_entry(None, None), "The pre-trend test", "could not be computed"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_pretrend_sentence_case_table(case: str) -> None:
    entry, start, contains = CASES[case]
    text = pretrend_sentence(entry)
    assert text.startswith(start) and contains in text


def test_matched_months_caveat_names_the_months_matched_on() -> None:
    text = matched_months_caveat(_entry(above, above))
    assert "Months −12 to −1 cannot test the design" in text and "matched on" in text
    assert "no proof" in text
    assert "no month was matched" in matched_months_caveat(_entry(above, above, last=-2))
    # When the test did find differing trends, the caveat does not say "finds nothing".
    assert "no proof" not in matched_months_caveat(_entry(below, above))


def test_event_study_figure_caption_states_the_test_beside_the_figure() -> None:
    rng = np.random.default_rng(7)
    rows = [
        {"unit": u, "t": t, "treat": int(u < 30), "post": int(t >= 0)}
        for u in range(90)
        for t in range(-24, 12)
    ]
    panel = pd.DataFrame(rows)
    panel["y"] = rng.poisson(1.5, len(panel))
    fit = did(
        panel, outcome="y", unit="unit", time="t", treated="treat", post="post",
        cluster="unit", model="poisson", event_study=True, pretrend_periods=range(-24, -12),
    )  # fmt: skip
    entry = _entry(fit.pretrend_p_value, above)
    fig = event_study_figure(
        fit.event_study, "event_study_y", "Y", analysis=did, plot=fit.plot_event_study,
        pretrend=entry,
    )  # fmt: skip
    assert pretrend_sentence(entry) in fig.caption
    assert "cannot test the design" in fig.caption
    assert "support the comparison" not in fig.caption
    assert "months −24 to −13 (not matched on)" in fig.alt

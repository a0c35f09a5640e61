"""Stacked bars draw a suppressed count as suppressed, never as an empty (0) period."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from evalkit.stats.plots import stacked_bars


def test_a_suppressed_period_is_marked_and_a_zero_period_is_not() -> None:
    table = pd.DataFrame(
        {
            "period": ["2021Q1", "2021Q1", "2021Q2", "2021Q3"],
            "source": ["GP", "self", "GP", "GP"],
            "n": [10, None, None, 0],
        }
    )
    ax = stacked_bars(table, x="period", stack="source", value="n")
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 2  # Q1 (one source suppressed) and Q2, not Q3 (a true 0)
    labels = ax.get_legend_handles_labels()[1]
    assert labels.count("suppressed (too few to show)") == 1
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2021Q1 *", "2021Q2 *", "2021Q3"]
    plt.close(ax.figure)


def test_nothing_suppressed_draws_no_marker() -> None:
    table = pd.DataFrame({"period": ["a", "b"], "source": ["GP", "GP"], "n": [10, 0]})
    ax = stacked_bars(table, x="period", stack="source", value="n")
    assert not [p for p in ax.patches if p.get_hatch()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    plt.close(ax.figure)

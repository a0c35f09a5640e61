"""Negative controls and the naive figure on the same people, on the hard demo county.

The observables regime (referral depends only on what the analysis matches on), where the
matched DiD's assumptions hold: the negative control (planned admissions, true rate ratio 1,
true difference 0 in ``synthetic_truth.json``) must come out within 3 of its own standard errors
of no change. At demo scale its stacked Poisson rate ratio is mostly not estimable (too few
planned admissions per sub-experiment month), so the check is mostly on the linear DiD (events
per participant); the Poisson check runs at county scale (tests/slow/test_county_utilisation.py).
Both are checked only where the participants have at least ``MIN_EVENTS`` (5) planned
admissions in the baseline and in the follow-up, the analysis's own rule for a rate ratio: with
fewer, the cluster-robust SE of the linear DiD is not reliable (found: cyp at 3 months, 9
baseline and 0 follow-up admissions among 127 children, difference -0.028 with SE 0.009, z
-3.08; at 6 and 12 months, 2 and 3 follow-up admissions, z -1.85 and -2.38). Checked at this seed:
mindsong at 6 and 12 months, chronic_pain at 3, 6 and 12 (its 12-month rate ratio too).

The naive pre/post is given for the matched participants and for all: the matched one must equal
:func:`evalkit.stats.naive.naive_prepost` on the matched participants' rows alone.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from evalkit.analysis.negative_control import (
    NEGATIVE_CONTROL_ROLE,
    NOT_IN_DATA,
    negative_controls,
)
from evalkit.analysis.utilisation import MIN_EVENTS, utilisation, window_rows
from evalkit.stats.naive import naive_prepost

PROGRAMMES = ("mindsong", "cyp", "chronic_pain")
NC = "elective_admission"
WINDOWS = (3, 6, 12)


@pytest.fixture(scope="module")
def matched(observables_matched):
    return {p: observables_matched[p] for p in PROGRAMMES}


@pytest.fixture(scope="module")
def nc_results(matched):
    return {p: negative_controls(mc) for p, mc in matched.items()}


@pytest.fixture(scope="module")
def truth(demo_observables: Path) -> dict:
    return json.loads((demo_observables / "synthetic_truth.json").read_text())


def test_negative_control_entries_every_window_with_role_and_expected(matched, nc_results):
    for p, res in nc_results.items():
        entries = res.entries()
        assert res.settings == [NC] and res.absent == ()
        keys = {(e["setting"], e["window_months"], e["scale"]) for e in entries}
        assert keys == {
            (NC, w, s) for w in WINDOWS for s in ("rate_ratio", "difference_per_person")
        }
        for e in entries:
            assert e["role"] == NEGATIVE_CONTROL_ROLE and e["method"] == "matched_did"
            assert e["expected"] == (1.0 if e["scale"] == "rate_ratio" else 0.0)
            assert e["in_data"] is True
            assert e["n_participants"] == matched[p].n_participants
            assert e["n_controls"] == matched[p].n_controls
            assert e["estimand"] == matched[p].estimand
            for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value"):
                assert k in e


def test_negative_control_entries_are_the_matched_did_of_the_setting(matched, nc_results):
    # The same fit as any outcome: utilisation() on the negative-control column.
    mc, res = matched["mindsong"], nc_results["mindsong"]
    for w in WINDOWS:
        ref = utilisation(mc, NC, w)
        got = next(
            e
            for e in res.entries()
            if e["window_months"] == w and e["scale"] == "difference_per_person"
        )
        assert got["estimate"] == pytest.approx(ref.linear.estimate * w, rel=1e-12)
        assert got["std_error"] == pytest.approx(ref.linear.std_error * w, rel=1e-12)
        rr = next(
            e for e in res.entries() if e["window_months"] == w and e["scale"] == "rate_ratio"
        )
        if ref.poisson is None:
            assert rr["estimate"] is None and "not estimable" in rr["note"]
            assert not any(ch.isdigit() for ch in rr["note"])  # published: no counts in it
        else:
            assert rr["estimate"] == pytest.approx(ref.poisson.estimate, rel=1e-12)


def _enough_events(mc, months: int) -> bool:
    """Participants have MIN_EVENTS planned admissions in the baseline and in the follow-up."""
    rows = window_rows(mc.panel, months)
    part = rows[rows["referred"] == 1]
    return bool(part.groupby("post")[NC].sum().reindex([0, 1], fill_value=0).min() >= MIN_EVENTS)


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_negative_control_within_3_se_of_no_change_observables(
    matched, nc_results, truth, programme
):
    util = truth["programmes"][programme]["utilisation"][NC]
    checked = 0
    for e in nc_results[programme].entries():
        w = str(e["window_months"])
        if e["estimate"] is None or not _enough_events(matched[programme], int(w)):
            continue  # too few events at demo scale (module docstring)
        checked += 1
        if e["scale"] == "rate_ratio":
            assert util["rate_ratio"][w] == 1.0
            z = np.log(e["estimate"]) / e["std_error"]
        else:
            assert util["difference_per_person"][w] == 0.0
            z = e["estimate"] / e["std_error"]
        assert abs(z) < 3, (programme, e)
    if not checked:
        pytest.skip(f"{programme}: too few planned admissions at demo scale for any check")


def test_negative_control_not_in_data_is_a_note_not_a_crash(matched) -> None:
    # The same matched cohort as if the extract had no planned admissions at all.
    mc = matched["mindsong"]
    spec = {**mc.cohort.spec, "negative_controls": [], "negative_controls_absent": [NC]}
    no_nc = replace(mc, cohort=replace(mc.cohort, spec=spec), panel=mc.panel.drop(columns=NC))
    res = negative_controls(no_nc)
    assert res.fits == () and res.absent == (NC,)
    assert any("not in the data" in n for n in res.notes)
    entries = res.entries()
    assert {e["window_months"] for e in entries} == set(WINDOWS)
    assert all(e["estimate"] is None and e["note"] == NOT_IN_DATA for e in entries)
    assert all(e["in_data"] is False and e["role"] == NEGATIVE_CONTROL_ROLE for e in entries)


def test_naive_entries_for_matched_and_all_participants(matched) -> None:
    mc = matched["chronic_pain"]
    res = utilisation(mc, "emergency_admission", 12)
    naive = [e for e in res.entries() if e["method"] == "naive_prepost"]
    pops = {(e["population"], e["scale"]) for e in naive}
    assert pops == {
        (p, s) for p in ("matched", "all") for s in ("rate_ratio", "difference_per_person")
    }
    n = {e["population"]: e["n_participants"] for e in naive}
    assert n["matched"] == mc.n_participants
    assert n["all"] == mc.cohort.n_participants


@pytest.mark.parametrize("programme", PROGRAMMES)
def test_naive_matched_equals_naive_prepost_on_matched_participants(matched, programme) -> None:
    mc = matched[programme]
    units = set(mc.panel.loc[mc.panel["referred"] == 1, "unit"])
    assert len(units) == mc.n_participants <= mc.cohort.n_participants
    for setting, w in (("emergency_admission", 12), ("gp_appointment", 6)):
        res = utilisation(mc, setting, w)
        for population, rows in (
            ("matched", mc.naive[mc.naive["unit"].isin(units)]),
            ("all", mc.naive),
        ):
            ref = naive_prepost(
                window_rows(rows, w), setting, "unit", "post", exposure="exposure", window_months=w
            )
            got = {
                e["scale"]: e
                for e in res.entries()
                if e["method"] == "naive_prepost" and e["population"] == population
            }
            assert got["difference_per_person"]["estimate"] == pytest.approx(
                ref.difference_per_person, rel=1e-12
            )
            assert got["difference_per_person"]["n_participants"] == ref.n_units
            if "rate_ratio" in got:
                assert got["rate_ratio"]["estimate"] == pytest.approx(ref.rate_ratio, rel=1e-12)
                assert got["rate_ratio"]["ci_low"] == pytest.approx(ref.rr_ci_low, rel=1e-12)
                assert got["rate_ratio"]["std_error"] == pytest.approx(
                    ref.log_rr_std_error, rel=1e-12
                )

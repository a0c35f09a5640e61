"""The report's findings in words, from the controlled ``results.json`` content only.

Each function reads the controlled results (never a result object with unrounded counts) and
returns plain sentences; the section templates put them on the page. The sentence builders for
single estimates are in :mod:`evalkit.reporting.narrative`.
"""

from __future__ import annotations

from typing import Any

from evalkit.config import Programme, instruments
from evalkit.reporting import narrative as nar
from evalkit.reporting.html import gbp

#: Settings whose event studies and naive-vs-matched comparisons the report shows.
FOCUS_SETTINGS = ("emergency_admission", "gp_appointment")
#: Window of the headline sentences (months after referral).
HEADLINE_WINDOW = 6
#: A fall the summary calls plausible for a community programme: an outcome whose MDE is this
#: fall or smaller is reported as one the evaluation was powered for (assumptions log REP-5).
PLAUSIBLE_FALL = 0.20


def find_entry(
    results: dict[str, Any], setting: str, window: int, method: str, scale: str
) -> dict[str, Any] | None:
    """The ``utilisation`` entry of results.json for one setting, window, method and scale."""
    for e in results["utilisation"]:
        if (e["setting"], e["window_months"], e["method"], e["scale"]) == (
            setting,
            window,
            method,
            scale,
        ):
            return e
    return None


def headline(results: dict[str, Any], setting: str, window: int = HEADLINE_WINDOW) -> str:
    """The quotable sentence for one setting and window (matched DiD), with its MDE."""
    diff = find_entry(results, setting, window, "matched_did", "difference_per_person")
    rr = find_entry(results, setting, window, "matched_did", "rate_ratio")
    if diff is None:
        return f"{nar.setting_label(setting, capital=True)}: not analysed."
    sentence = nar.utilisation_headline(rr, diff)
    if rr is not None:
        sentence += " " + nar.mde_sentence(rr.get("n_participants"), rr.get("mde"), setting)
    return sentence


def powered_for(
    results: dict[str, Any], programme: Programme, window: int = HEADLINE_WINDOW
) -> str:
    """Which outcomes the evaluation could detect a plausible fall in (80% power, 5%)."""
    powered, not_powered = [], []
    for setting in programme.outcomes.settings:
        e = find_entry(results, setting, window, "matched_did", "rate_ratio")
        mde = e.get("mde") if e else None
        label = nar.setting_label(setting)
        if mde is not None and mde >= 1 - PLAUSIBLE_FALL:
            powered.append(label)
        elif mde is not None:
            not_powered.append(f"{label} (smallest detectable fall {round(100 * (1 - mde))}%)")
        else:
            not_powered.append(f"{label} (too few events to estimate a rate ratio)")
    head = (
        f"Power: at {window} months this evaluation had 80% power to detect a "
        f"{round(100 * PLAUSIBLE_FALL)}% fall in "
        + (", ".join(powered) if powered else "none of its outcomes")
        + "."
    )
    if not_powered:
        head += " It could detect only larger falls in " + "; ".join(not_powered) + "."
    return head


def wellbeing_headline(wellbeing: Any, programme: Programme) -> str | None:
    """The primary instrument's paired change in words, or None when it was not measured."""
    main = programme.primary_instrument
    rows = wellbeing[wellbeing["instrument"] == main]
    if not len(rows):
        return None
    e = rows.iloc[0].to_dict()
    mde = e.get("mde")
    mde_text = (
        f" With this many people it could reliably detect only changes of about "
        f"{mde:.1f} points or more."
        if mde is not None and mde == mde
        else ""
    )
    return (
        nar.wellbeing_sentence(e, instruments()[main].title)
        + " This is a change among people who answered both times, not an effect: there "
        f"is no comparison group for questionnaires.{mde_text}"
    )


def regression_to_mean(results: dict[str, Any]) -> str | None:
    """Naive before/after against the matched comparison for emergency admissions, in words."""
    naive = find_entry(
        results, "emergency_admission", HEADLINE_WINDOW, "naive_prepost", "rate_ratio"
    )
    did_rr = find_entry(
        results, "emergency_admission", HEADLINE_WINDOW, "matched_did", "rate_ratio"
    )
    if not (naive and did_rr and naive.get("estimate") and did_rr.get("estimate")):
        return None
    return (
        f"Looking at participants alone, emergency admissions in the "
        f"{HEADLINE_WINDOW} months after referral were "
        + nar.rate_ratio_phrase(
            naive["estimate"],
            naive["ci_low"],
            naive["ci_high"],
            reference="than in the year before",
        )
        + (
            ". Part of that fall would have happened anyway: people are referred when "
            "they are unwell, and their use tends to fall back afterwards (regression to "
            "the mean). The matched comparison above allows for that."
            if naive["estimate"] < did_rr["estimate"]
            else ". The matched comparison above also allows for the changes that "
            "similar patients went through over the same months."
        )
    )


def reach_sentence(results: dict[str, Any]) -> str:
    """Reach of the most against the least deprived fifth, in words."""
    e = next(
        (
            x
            for x in results.get("reach", [])
            if x["group"] == "imd_quintile" and str(x["level"]) == "1"
        ),
        None,
    )
    if not e or e.get("ratio_vs_reference") is None:
        return "Reach by deprivation: not reported (too few people to show safely)."
    r, lo, hi = e["ratio_vs_reference"], e["ci_low"], e["ci_high"]
    return (
        "People living in the most deprived fifth of areas (IMD quintile 1) were referred "
        f"{r:.1f} times as often per eligible person-year as people in the least deprived "
        f"fifth (95% CI {lo:.1f} to {hi:.1f})."
    )


def _saved(x: float) -> str:
    """A saving per participant in words: "£3,856 saved" or "£423 extra cost"."""
    return f"£{abs(x):,.0f} {'saved' if x >= 0 else 'extra cost'}"


def economics_sentences(results: dict[str, Any]) -> list[str]:
    """NHS cash (cost saving, ROI) and, separately, the wellbeing valuation, in words."""
    e = results.get("economics") or {}
    out: list[str] = []
    sav, roi = e.get("nhs_cost_saving_per_participant"), e.get("roi")
    cost = e.get("programme_cost_per_participant")
    if sav and roi and sav.get("estimate") is not None:
        word = "lower" if sav["estimate"] >= 0 else "higher"
        s = (
            f"NHS costs in the {sav['window_months']} months after referral were "
            f"£{abs(sav['estimate']):,.0f} per participant {word} than expected (95% CI "
            f"from {_saved(sav['ci_low'])} to {_saved(sav['ci_high'])}), against a "
            f"programme cost of £{cost:,.0f} per participant: a gross return of "
            f"{gbp(roi['estimate'])} per £1 spent (95% CI {gbp(roi['ci_low'])} to "
            f"{gbp(roi['ci_high'])}); net of the programme's own cost, "
            f"{gbp(roi['estimate'] - 1)} per £1."
        )
        if sav["ci_low"] <= 0 <= sav["ci_high"]:
            s += " The interval includes no saving."
        out.append(s)
    w = e.get("wellby_social_value_per_pound") or {}
    if w.get("estimate") is not None:
        out.append(
            "Separately, and not NHS cash: the average change in life satisfaction, valued "
            "in WELLBYs with the HM Treasury Green Book value, is worth about "
            f"{gbp(w['estimate'])} of social value per £1 of programme cost "
            f"({gbp(w['low'])} to {gbp(w['high'])} with the Green Book's low and high "
            "values), assuming the "
            "change lasts one year and is due to the programme. Without a comparison group "
            "that cannot be tested, so this is an illustration, not an effect estimate."
        )
    return out


def cost_per_admission_sentence(results: dict[str, Any]) -> str | None:
    """Programme cost per emergency admission avoided, with its interval, or None."""
    cpa = (results.get("economics") or {}).get("cost_per_emergency_admission_avoided") or {}
    if cpa.get("estimate") is None:
        return None
    hi = (
        "unbounded (the interval of admissions avoided includes none)"
        if cpa.get("ci_high") is None
        else f"£{cpa['ci_high']:,.0f}"
    )
    return (
        f"Programme cost per emergency admission avoided: £{cpa['estimate']:,.0f} "
        f"(95% CI £{cpa['ci_low']:,.0f} to {hi})."
    )


def deprivation_findings(results: dict[str, Any]) -> list[str]:
    """Heterogeneity tests of the outcomes across deprivation groups, one sentence each."""
    het = (results.get("outcomes_by_deprivation") or {}).get("heterogeneity") or {}
    items = []
    for outcome, h in het.items():
        if h.get("p_value") is None:
            continue
        items.append(
            f"{nar.setting_label(outcome, capital=True)}: test of "
            f"difference between deprivation groups p = {h['p_value']:.2f} "
            f"(I² = {100 * (h.get('i2') or 0):.0f}%)"
            + (
                "; the groups' estimates are compatible with one common effect."
                if h["p_value"] >= 0.05
                else "; the effect appears to differ between groups."
            )
        )
    return items

"""The report's findings in words, from the controlled ``results.json`` content only.

Each function reads the controlled results (never a result object with unrounded counts) and
returns plain sentences; the section templates put them on the page. The headlines follow the
plan (results.json ``plan``: the primary outcome, the secondary settings at its window, the
rest exploratory; :mod:`evalkit.reporting.claims`). The sentence builders for single estimates
are in :mod:`evalkit.reporting.narrative`.
"""

from __future__ import annotations

from typing import Any

from evalkit.config import DEFAULT_PRIMARY, Programme, instruments
from evalkit.reporting import narrative as nar
from evalkit.reporting.html import gbp

#: Said wherever a WELLBY value per £1 sits beside the NHS return per £1 (the report's
#: summary and economics section, the comparison page): they are different things.
WELLBY_CAVEAT = (
    "The WELLBY figure is a wellbeing valuation, not NHS cash, and is not comparable with the "
    "NHS return per £1: its central figure counts everyone referred (intention to treat; "
    "people without a follow-up questionnaire count as no change), the figure for people who "
    "answered both questionnaires is an upper bound, and both value an uncontrolled "
    "before/after change in life satisfaction, not an effect of the programme."
)

#: Settings whose event studies and naive-vs-matched comparisons the report shows.
FOCUS_SETTINGS = ("emergency_admission", "gp_appointment")
#: A fall the summary calls plausible for a community programme: an outcome whose MDE is this
#: fall or smaller is reported as one the evaluation was powered for (assumptions log REP-5).
PLAUSIBLE_FALL = 0.20


def find_entry(
    results: dict[str, Any],
    setting: str,
    window: int,
    method: str,
    scale: str,
    *,
    population: str | None = None,
) -> dict[str, Any] | None:
    """The ``utilisation`` entry of results.json for one setting, window, method and scale.

    ``population`` picks a naive entry's population (``"matched"`` or ``"all"``); None takes
    the first entry that matches the rest (for a naive entry, the matched participants').
    """
    for e in results["utilisation"]:
        if (e["setting"], e["window_months"], e["method"], e["scale"]) == (
            setting,
            window,
            method,
            scale,
        ) and (population is None or e.get("population") == population):
            return e
    return None


def primary_outcome(results: dict[str, Any]) -> tuple[str, int]:
    """The plan's primary (setting, window in months); the default for an older results.json."""
    p = (results.get("plan") or {}).get("primary") or {}
    if not p:
        return DEFAULT_PRIMARY
    return p["setting"], int(p["window_months"])


#: How the plan's outcomes were chosen, in words (results.json ``plan.outcomes_chosen_by``).
CHOSEN_BY: dict[str, str] = {
    "lock": "locked with the analysis plan before the outcomes were analysed",
    "config": "named in the programme's configuration, but not locked before the outcomes "
    "were analysed",
    "default": "chosen by default (the programme's configuration names none) and not locked "
    "before the outcomes were analysed",
    "run time": "chosen when this report was run, not locked before the outcomes were analysed",
}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def plan_outcomes_sentence(results: dict[str, Any]) -> str:
    """The plan's primary and secondary outcomes and how they were chosen, for the first screen.

    Examples
    --------
    >>> plan = {"primary": {"setting": "emergency_admission", "window_months": 12},
    ...         "secondary": ["gp_appointment"], "outcomes_chosen_by": "default"}
    >>> plan_outcomes_sentence({"plan": plan})  # doctest: +NORMALIZE_WHITESPACE
    "Primary outcome: emergency admissions at 12 months. Secondary outcome (at 12 months, its
    p-value adjusted for multiple comparisons): GP appointments. Every other estimate is
    exploratory. These were chosen by default (the programme's configuration names none) and
    not locked before the outcomes were analysed."
    """
    plan = results.get("plan") or {}
    setting, window = primary_outcome(results)
    secondary = [nar.setting_label(s) for s in plan.get("secondary") or []]
    text = f"Primary outcome: {nar.setting_label(setting)} at {window} months."
    if secondary:
        many = len(secondary) > 1
        text += (
            f" Secondary outcome{'s' if many else ''} (at {window} months, "
            f"{'in order, their p-values' if many else 'its p-value'} adjusted for multiple "
            f"comparisons): {_and(secondary)}."
        )
    text += " Every other estimate is exploratory."
    chosen = CHOSEN_BY.get(plan.get("outcomes_chosen_by", ""))
    if chosen:
        text += f" These were {chosen}."
    return text


def headline(results: dict[str, Any], setting: str, window: int) -> str:
    """The quotable sentence for one setting and window (matched DiD), with its MDE.

    A secondary outcome's sentence adds its Holm-adjusted p-value (:func:`holm_sentence`).
    """
    diff = find_entry(results, setting, window, "matched_did", "difference_per_person")
    rr = find_entry(results, setting, window, "matched_did", "rate_ratio")
    if diff is None:
        return f"{nar.setting_label(setting, capital=True)} at {window} months: not analysed."
    sentence = nar.utilisation_headline(rr, diff)
    if rr is not None and rr.get("role") == "secondary":
        family = ((results.get("plan") or {}).get("multiplicity") or {}).get("family") or []
        sentence += " " + nar.holm_sentence(rr.get("p_value"), rr.get("p_holm"), len(family))
    if rr is not None:
        sentence += " " + nar.mde_sentence(rr.get("n_participants"), rr.get("mde"), setting)
    return sentence


def claims(results: dict[str, Any]) -> list[dict[str, str]]:
    """The headline findings in the plan's order, each ``{"label", "text"}``.

    The primary outcome first, then each secondary setting at the primary window, then one
    exploratory line: the primary setting at the other windows, nested in the primary one.
    """
    plan = results.get("plan") or {}
    setting, window = primary_outcome(results)
    out = [{"label": "Primary outcome", "text": headline(results, setting, window)}]
    for s in plan.get("secondary") or []:
        out.append({"label": "Secondary outcome", "text": headline(results, s, window)})
    exploratory = exploratory_sentence(results, setting, window)
    if exploratory:
        out.append({"label": "Exploratory", "text": exploratory})
    return out


def exploratory_sentence(results: dict[str, Any], setting: str, window: int) -> str | None:
    """The primary setting at the other windows, labelled exploratory, or None if there are none."""
    others = sorted(
        {
            e["window_months"]
            for e in results.get("utilisation", [])
            if e["setting"] == setting and e["method"] == "matched_did"
        }
        - {window}
    )
    parts = []
    for w in others:
        rr = find_entry(results, setting, w, "matched_did", "rate_ratio")
        if rr and not nar.missing(rr.get("estimate"), rr.get("ci_low"), rr.get("ci_high")):
            phrase = nar.rate_ratio_phrase(rr["estimate"], rr["ci_low"], rr["ci_high"])
            parts.append(f"at {w} months {phrase}")
    if not parts:
        return None
    return (
        f"{nar.setting_label(setting, capital=True)} at the other windows: "
        + "; ".join(parts)
        + f". These windows overlap the {window}-month one (each starts the day after "
        "referral), so they are not separate tests; like every other estimate in the "
        "healthcare use section, they are exploratory and not adjusted for multiple comparisons."
    )


def powered_for(results: dict[str, Any], programme: Programme, window: int | None = None) -> str:
    """Which outcomes the evaluation could detect a plausible fall in (80% power, 5%).

    ``window`` defaults to the plan's primary window.
    """
    window = primary_outcome(results)[1] if window is None else window
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
    """Naive before/after against the matched comparison for the primary outcome, in words.

    The naive figure compared with the matched DiD is the matched participants' (the same
    people), so the gap between them measures regression to the mean (and the changes similar
    patients went through); the all-participants figure is shown beside it, with the number
    not matched, because the difference between the two naive figures is due to who was
    matched, not to regression to the mean.
    """
    setting, window = primary_outcome(results)
    naive = find_entry(
        results, setting, window, "naive_prepost", "rate_ratio", population="matched"
    ) or find_entry(results, setting, window, "naive_prepost", "rate_ratio")
    did_rr = find_entry(results, setting, window, "matched_did", "rate_ratio")
    if not (naive and did_rr and naive.get("estimate") and did_rr.get("estimate")):
        return None
    who = "the matched participants" if naive.get("population") == "matched" else "participants"
    sentence = (
        f"Looking at {who} alone, {nar.setting_label(setting)} in the "
        f"{window} months after referral were "
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
    everyone = find_entry(results, setting, window, "naive_prepost", "rate_ratio", population="all")
    if naive.get("population") == "matched" and everyone:
        sentence += " " + naive_all_sentence(results, everyone)
    return sentence


def _about(n: int | None) -> str:
    """A controlled count in words: "about 205", or "a few" where it is suppressed."""
    return "a few" if n is None else f"about {n:,}"


def naive_all_sentence(results: dict[str, Any], everyone: dict[str, Any]) -> str:
    """The all-participants naive figure, and why it differs from the matched participants'."""
    m = results.get("matching") or {}
    n_all, n_unmatched = m.get("n_participants"), m.get("n_unmatched")
    if nar.missing(everyone.get("estimate"), everyone.get("ci_low"), everyone.get("ci_high")):
        figure = "not reported (too few participants to show safely)"
    else:
        figure = nar.rate_ratio_phrase(
            everyone["estimate"],
            everyone["ci_low"],
            everyone["ci_high"],
            reference="than in the year before",
        )
    if n_unmatched == 0:
        return (
            f"Every participant was matched, so the figure for all participants is the same "
            f"({figure})."
        )
    return (
        f"Over all participants ({_about(n_all)}, {_about(n_unmatched)} of whom could not be "
        f"matched), the same naive figure was {figure}. The difference between the two naive "
        "figures is due to who was matched (those not matched are typically the heaviest "
        "users, whose use falls most), not to regression to the mean."
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
    wellby = wellby_sentence(e.get("wellby_social_value_per_pound") or {})
    if wellby:
        out.append(wellby)
    return out


def wellby_sentence(w: dict[str, Any]) -> str | None:
    """The WELLBY valuation in words: intention to treat, the completers' upper bound, caveat.

    ``w`` is results.json's ``economics.wellby_social_value_per_pound``; None without a
    valuation.
    """
    if w.get("estimate") is None:
        return None
    if "completers_upper" not in w:  # a results.json from before the intention-to-treat figure
        return (
            "Separately, and not NHS cash: the average change in life satisfaction among people "
            "who answered both questionnaires, valued in WELLBYs with the HM Treasury Green "
            f"Book value, is worth about {gbp(w['estimate'])} of social value per £1 of "
            "programme cost if everyone referred changed as much, which makes it an upper "
            "bound. It values an uncontrolled before/after change, is not NHS cash and is not "
            "comparable with the NHS return per £1."
        )
    ci = (
        f"95% CI {gbp(w['ci_low'])} to {gbp(w['ci_high'])}; "
        if w.get("ci_low") is not None and w.get("ci_high") is not None
        else ""
    )
    s = (
        "Separately, and not NHS cash: counting everyone referred, with people who did not "
        "answer the follow-up questionnaire as no change (intention to treat), the average "
        "change in life satisfaction, valued in WELLBYs with the HM Treasury Green Book value, "
        f"is worth about {gbp(w['estimate'])} of social value per £1 of programme cost ({ci}"
        f"{gbp(w['low'])} to {gbp(w['high'])} with the Green Book's low and high values)."
    )
    if w.get("completers_upper") is not None:
        cci = (
            f" (95% CI {gbp(w['completers_ci_low'])} to {gbp(w['completers_ci_high'])})"
            if w.get("completers_ci_low") is not None and w.get("completers_ci_high") is not None
            else ""
        )
        s += (
            " Among people who answered both questionnaires it would be "
            f"{gbp(w['completers_upper'])} per £1{cci}, an upper bound: it assumes the people "
            "not followed up changed as much."
        )
    return f"{s} Both assume the change lasts one year. {WELLBY_CAVEAT}"


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
    """Heterogeneity tests of the outcomes across deprivation groups, one sentence each.

    Each is the joint Wald test of ``outcomes_by_deprivation.heterogeneity``: for a rate
    ratio, on the one interaction model's cluster-robust covariance (groups share controls).
    """
    het = (results.get("outcomes_by_deprivation") or {}).get("heterogeneity") or {}
    items = []
    for outcome, h in het.items():
        if h.get("p_value") is None:
            continue
        items.append(
            f"{nar.setting_label(outcome, capital=True)}: joint test of a difference between "
            f"the {h['df'] + 1} deprivation groups (Wald, chi-square with {h['df']} df) "
            f"p = {h['p_value']:.2f}"
            + (
                "; the test does not distinguish the groups' estimates from one common value "
                "(which is not evidence that they are equal)."
                if h["p_value"] >= 0.05
                else "; the estimates appear to differ between groups."
            )
        )
    return items


def negative_control_findings(results: dict[str, Any]) -> dict[str, Any]:
    """The negative-control section in words: what it is, one line per window, what it cannot test.

    ``results["negative_controls"]`` holds the controlled entries; each line is the rate
    ratio's sentence (:func:`~evalkit.reporting.narrative.negative_control_sentence`) where it
    was estimated, else the per-participant difference's; a setting not in the data gets one
    line. Returns ``{"settings", "explained", "lines", "limits"}`` (no settings: none named).
    """
    entries = results.get("negative_controls") or []
    settings = list(dict.fromkeys(e["setting"] for e in entries))
    lines: list[str] = []
    for s in settings:
        mine = [e for e in entries if e["setting"] == s]
        if all(e.get("in_data") is False for e in mine):
            lines.append(mine[0].get("sentence") or nar.negative_control_sentence(mine[0]))
            continue
        for w in sorted({e["window_months"] for e in mine}):
            by_scale = {e["scale"]: e for e in mine if e["window_months"] == w}
            rr, diff = by_scale.get("rate_ratio"), by_scale.get("difference_per_person")
            rr_ok = rr is not None and not nar.missing(rr.get("estimate"))
            pick = rr if rr_ok or diff is None else diff
            if pick is not None:
                lines.append(pick.get("sentence") or nar.negative_control_sentence(pick))
    names = _and([nar.setting_label(s) for s in settings]) if settings else ""
    explained = (
        "A negative control is an outcome the programme has no plausible way to change within "
        "a year but which is driven by the same things that lead to referral (age, long-term "
        f"conditions, spells of ill health): here {names}, which follow a specialist's decision "
        "made months before. Its true change is none (a rate ratio of 1), so the matched "
        "comparison should find none. An estimate away from 1 signals residual confounding: "
        "participants and their controls differ in ways matching did not remove, and the "
        "estimates above may be biased in the same direction. It is not an outcome of the "
        "programme: it is never a headline, not adjusted for multiple comparisons and never "
        "costed."
    )
    limits = (
        "It tests only the confounding it shares with the outcomes. Spells of ill health move "
        "planned admissions much less than emergency admissions, so a negative control "
        "compatible with no change does not show that the emergency-admission estimate is free "
        "of bias. It does not test the handling of calendar shocks (planned operations are "
        "cancelled under winter pressures, unlike urgent care). And in life better-managed pain "
        "or mood could, over years, change a decision to operate, so an estimate away from 1 is "
        "a warning, not proof of bias."
    )
    return {"settings": settings, "explained": explained, "lines": lines, "limits": limits}

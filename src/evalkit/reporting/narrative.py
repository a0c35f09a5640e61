"""Plain-English sentences a commissioner can quote, built from disclosure-controlled entries.

Every headline states the relative and the absolute change together, with the 95% confidence
interval in words. An estimate whose interval includes no change is said to be *not
distinguishable from no change*, never "no effect": a small evaluation that cannot see an effect
has not shown that there is none.
"""

from __future__ import annotations

import math
from typing import Any

from evalkit.definitions.labels import event_noun, setting_label

__all__ = ["holm_sentence", "missing", "negative_control_sentence", "setting_label"]


def _pct(x: float) -> int:
    return round(abs(x) * 100)


def _direction(rr: float) -> str:
    return "lower" if rr < 1 else "higher"


def missing(*xs: Any) -> bool:
    """Whether any value is absent (None or NaN: suppressed or not estimable)."""
    return any(x is None or (isinstance(x, float) and math.isnan(x)) for x in xs)


def rate_ratio_phrase(
    estimate: float, ci_low: float, ci_high: float, *, reference: str = "than expected"
) -> str:
    """Relative change with its interval in words.

    Examples
    --------
    >>> rate_ratio_phrase(0.69, 0.54, 0.88)
    '31% lower than expected (95% CI 12% to 46% lower)'
    >>> rate_ratio_phrase(0.92, 0.80, 1.06)
    '8% lower than expected (95% CI from 20% lower to 6% higher)'
    """
    est = f"{_pct(1 - estimate)}% {_direction(estimate)} {reference}"
    if ci_high < 1 or ci_low > 1:
        near, far = (ci_high, ci_low) if estimate < 1 else (ci_low, ci_high)
        return f"{est} (95% CI {_pct(1 - near)}% to {_pct(1 - far)}% {_direction(estimate)})"
    return (
        f"{est} (95% CI from {_pct(1 - ci_low)}% {_direction(ci_low)} to "
        f"{_pct(1 - ci_high)}% {_direction(ci_high)})"
    )


def per_100_phrase(difference_per_person: float, setting: str) -> str:
    """Absolute change per 100 participants ("about 4 fewer admissions per 100 participants").

    Examples
    --------
    >>> per_100_phrase(-0.041, "emergency_admission")
    'about 4 fewer admissions per 100 participants'
    >>> per_100_phrase(0.002, "emergency_admission")
    'fewer than 1 more admissions per 100 participants'
    """
    if setting == "total_cost":
        word = "less" if difference_per_person < 0 else "more"
        return f"about £{abs(difference_per_person):,.0f} {word} per participant"
    per100 = abs(difference_per_person) * 100
    word = "fewer" if difference_per_person < 0 else "more"
    noun = event_noun(setting)
    if per100 < 1:
        return f"fewer than 1 {word} {noun} per 100 participants"
    return f"about {per100:.0f} {word} {noun} per 100 participants"


def _amount(x: float, setting: str) -> str:
    if setting == "total_cost":
        return f"£{abs(x):,.0f} {'less' if x < 0 else 'more'}"
    return f"{abs(x) * 100:.0f} {'fewer' if x < 0 else 'more'}"


def _diff_ci(lo: float, hi: float, setting: str) -> str:
    """The 95% CI of a per-participant difference in words.

    Examples
    --------
    >>> _diff_ci(-5275.3, -341.7, "total_cost")
    '95% CI £342 to £5,275 less per participant'
    >>> _diff_ci(-120.0, 40.0, "total_cost")  # doctest: +NORMALIZE_WHITESPACE
    '95% CI from £120 less to £40 more per participant; the interval includes no change, so this
    is not distinguishable from no change'
    """
    per = "per participant" if setting == "total_cost" else "per 100 participants"
    if hi < 0 or lo > 0:
        near, far = (hi, lo) if hi < 0 else (lo, hi)
        a, b = _amount(near, setting), _amount(far, setting)
        word = b.split()[-1]
        return f"95% CI {a.rsplit(' ', 1)[0]} to {b.rsplit(' ', 1)[0]} {word} {per}"
    return (
        f"95% CI from {_amount(lo, setting)} to {_amount(hi, setting)} {per}; the interval "
        "includes no change, so this is not distinguishable from no change"
    )


def includes_no_change(ci_low: float, ci_high: float, *, null: float = 1.0) -> bool:
    """Whether a 95% interval includes the no-change value (1 for ratios, 0 for differences)."""
    return ci_low <= null <= ci_high


def utilisation_headline(
    rate_ratio: dict[str, Any] | None,
    difference: dict[str, Any],
) -> str:
    """One quotable sentence for a setting and window, from matched-DiD entries.

    ``rate_ratio`` and ``difference`` are results.json ``utilisation`` entries (the same setting and
    window, ``matched_did``) on the ``rate_ratio`` and ``difference_per_person`` scales. A
    suppressed or not-estimable figure is said to be so.

    Examples
    --------
    >>> rr = {"setting": "emergency_admission", "window_months": 6, "estimate": 0.69,
    ...       "ci_low": 0.54, "ci_high": 0.88}
    >>> d = {"setting": "emergency_admission", "window_months": 6, "estimate": -0.041,
    ...      "ci_low": -0.07, "ci_high": -0.01}
    >>> utilisation_headline(rr, d)  # doctest: +NORMALIZE_WHITESPACE
    'Emergency admissions in the 6 months after referral were 31% lower than expected
    (95% CI 12% to 46% lower): about 4 fewer admissions per 100 participants.'
    """
    setting = difference["setting"]
    w = difference["window_months"]
    lead = f"{setting_label(setting, capital=True)} in the {w} months after referral"
    if (
        setting == "total_cost"
        or rate_ratio is None
        or missing(rate_ratio.get("estimate"), rate_ratio.get("ci_low"), rate_ratio.get("ci_high"))
    ):
        if missing(difference.get("estimate"), difference.get("ci_low"), difference.get("ci_high")):
            return f"{lead}: not reported (too few participants to show safely)."
        est, lo, hi = difference["estimate"], difference["ci_low"], difference["ci_high"]
        return (
            f"{lead}: {per_100_phrase(est, setting)} than expected ({_diff_ci(lo, hi, setting)})."
        )

    rr, lo, hi = rate_ratio["estimate"], rate_ratio["ci_low"], rate_ratio["ci_high"]
    sentence = f"{lead} were {rate_ratio_phrase(rr, lo, hi)}"
    if not missing(difference.get("estimate")):
        sentence += f": {per_100_phrase(difference['estimate'], setting)}"
    sentence += "."
    if includes_no_change(lo, hi):
        sentence += (
            " The interval includes no change, so this is not distinguishable from no change"
            " (which is not the same as showing the programme made no difference)."
        )
    return sentence


def _p(p: float) -> str:
    """A p-value as the report prints it: two significant figures, or "< 0.001"."""
    return "< 0.001" if p < 0.001 else f"= {p:.2g}"


def holm_sentence(p_value: float | None, p_holm: float | None, family_size: int) -> str:
    """A secondary outcome's p-value before and after Holm's adjustment, in words.

    Examples
    --------
    >>> holm_sentence(0.012, 0.048, 4)  # doctest: +NORMALIZE_WHITESPACE
    'p = 0.012, and p = 0.048 after adjusting for the 4 secondary outcomes tested together
    (Holm), so still below 5%.'
    >>> holm_sentence(0.03, 0.09, 3)  # doctest: +NORMALIZE_WHITESPACE
    'p = 0.03, and p = 0.09 after adjusting for the 3 secondary outcomes tested together (Holm),
    so no longer below 5%.'
    >>> holm_sentence(None, None, 3)
    'Not adjusted for multiple comparisons: no p-value is published for it.'
    """
    if p_value is None or p_holm is None or missing(p_value, p_holm):
        return "Not adjusted for multiple comparisons: no p-value is published for it."
    if p_holm < 0.05:
        verdict = "still below 5%"
    else:
        verdict = "no longer below 5%" if p_value < 0.05 else "not below 5%"
    return (
        f"p {_p(p_value)}, and p {_p(p_holm)} after adjusting for the {family_size} secondary "
        f"outcome{'s' if family_size != 1 else ''} tested together (Holm), so {verdict}."
    )


def mde_sentence(n_participants: int | None, mde_rate_ratio: float | None, setting: str) -> str:
    """What the evaluation could reliably detect (80% power, 5% two-sided).

    Examples
    --------
    >>> mde_sentence(140, 0.55, "emergency_admission")  # doctest: +NORMALIZE_WHITESPACE
    'With about 140 participants, this evaluation could reliably detect only falls in
    emergency admissions larger than 45%.'
    """
    if n_participants is None or mde_rate_ratio is None or missing(mde_rate_ratio):
        return f"The smallest detectable change in {setting_label(setting)} is not reported."
    return (
        f"With about {n_participants:,} participants, this evaluation could reliably detect only "
        f"falls in {setting_label(setting)} larger than {_pct(1 - mde_rate_ratio)}%."
    )


def wellbeing_sentence(entry: dict[str, Any], title: str) -> str:
    """Paired change of one instrument in words (a change, not an effect: no control group).

    Examples
    --------
    >>> e = {"n_paired": 120, "mean_change": 2.1, "ci_low": 1.4, "ci_high": 2.8}
    >>> wellbeing_sentence(e, "SWEMWBS")  # doctest: +NORMALIZE_WHITESPACE
    'SWEMWBS scores rose by 2.1 points on average between the start and the end of the
    programme (95% CI 1.4 to 2.8; about 120 people with both measures).'
    """
    if missing(entry.get("mean_change"), entry.get("ci_low"), entry.get("ci_high")):
        return f"{title}: not reported (too few people with both measures to show safely)."
    mc, lo, hi = entry["mean_change"], entry["ci_low"], entry["ci_high"]
    verb = "rose" if mc > 0 else "fell"
    s = (
        f"{title} scores {verb} by {abs(mc):.1f} points on average between the start and the end "
        f"of the programme (95% CI {lo:.1f} to {hi:.1f}; about {entry['n_paired']:,} people with "
        "both measures)."
    )
    if includes_no_change(lo, hi, null=0.0):
        s += " The interval includes no change."
    return s


def _ratio_ci(estimate: float, ci_low: float, ci_high: float) -> str:
    return f"{estimate:.2f} (95% CI {ci_low:.2f} to {ci_high:.2f})"


def negative_control_sentence(entry: dict[str, Any]) -> str:
    """One negative-control entry (results.json ``negative_controls``) in words.

    Built from the disclosure-controlled entry: a suppressed or not-estimable estimate is said
    to be so. An interval that excludes the expected value (1 for a rate ratio, 0 for a
    difference) is read as a sign of residual confounding, never as an effect.

    Examples
    --------
    >>> e = {"setting": "elective_admission", "window_months": 12, "scale": "rate_ratio",
    ...      "estimate": 1.04, "ci_low": 0.85, "ci_high": 1.27, "expected": 1.0,
    ...      "in_data": True}
    >>> negative_control_sentence(e)  # doctest: +NORMALIZE_WHITESPACE
    'Planned (elective) admissions at 12 months: rate ratio 1.04 (95% CI 0.85 to 1.27), compatible
    with no change, as expected if matching removed the confounding this setting shares with the
    outcomes.'
    >>> negative_control_sentence({**e, "estimate": 0.8, "ci_low": 0.7, "ci_high": 0.92})
    ... # doctest: +NORMALIZE_WHITESPACE
    'Planned (elective) admissions at 12 months: rate ratio 0.80 (95% CI 0.70 to 0.92), away from
    1: a sign of residual confounding (the programme has no plausible route to this setting), so
    the outcome estimates may be biased in the same direction.'
    """
    label = setting_label(entry["setting"], capital=True)
    if entry.get("in_data") is False:
        return (
            f"{label}: not in the data (the activity extract has no row of this setting), so "
            "this negative control could not be analysed."
        )
    lead = f"{label} at {entry['window_months']} months"
    ratio = entry.get("scale") == "rate_ratio"
    est, lo, hi = entry.get("estimate"), entry.get("ci_low"), entry.get("ci_high")
    if missing(est, lo, hi):
        if "estimate" in (entry.get("suppressed") or []) or entry.get("n_participants") is None:
            return f"{lead}: not reported (too few participants to show safely)."
        what = "a rate ratio" if ratio else "a difference"
        return f"{lead}: {what} could not be estimated (too few events at this size)."
    expected = float(entry.get("expected", 1.0 if ratio else 0.0))
    if ratio:
        figure = f"rate ratio {_ratio_ci(est, lo, hi)}"
    else:
        ci = _diff_ci(lo, hi, entry["setting"]).split("; the interval includes no change")[0]
        figure = f"{per_100_phrase(est, entry['setting'])} than expected ({ci})"
    if includes_no_change(lo, hi, null=expected):
        return (
            f"{lead}: {figure}, compatible with no change, as expected if matching removed "
            "the confounding this setting shares with the outcomes."
        )
    return (
        f"{lead}: {figure}, away from {'1' if ratio else 'no change'}: a sign of residual "
        "confounding (the programme has no plausible route to this setting), so the outcome "
        "estimates may be biased in the same direction."
    )

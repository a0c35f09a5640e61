"""Disclosure control for every count a report shows (docs/design/methods.md section 5).

The NHS England (ex-NHS Digital) rule for HES and ECDS since September 2018
(``docs/reference/disclosure.md``): a count of 0 stays 0, counts 1 to 7 are suppressed, every
other count is rounded to the nearest 5. Means and other simple statistics over 1 to 7 people are
suppressed with their count. Under this rule secondary suppression is not needed; threshold and
rounding base are config values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Keys of results.json entries that hold counts of people or events.
COUNT_KEYS: frozenset[str] = frozenset(
    {
        "n",
        "n_participants",
        "n_controls",
        "n_paired",
        "n_baseline",
        "n_units",
        "participants",
        "referrals",
        "count",
        "n_improved",
        "n_unchanged",
        "n_deteriorated",
        "n_completers",
        "n_noncompleters",
        "n_treated",
        "n_matched",
        "n_unmatched",
        "eligible",
        "events",
    }
)
#: Statistics over individuals that are suppressed when the count they rest on is.
DEPENDENTS: dict[str, tuple[str, ...]] = {
    "n_paired": (
        "mean_change",
        "ci_low",
        "ci_high",
        "std_error",
        "mean_before",
        "mean_after",
        "sd_change",
        "p_value",
        "mde",
        "effect_size",
        "shares",
        "by_group",
        "baseline_comparison",
        "follow_up_completeness",
    ),
    "n_participants": ("estimate", "ci_low", "ci_high", "std_error", "p_value", "mde"),
    # the matching summary: a share of 10 participants would give a suppressed count away
    "n_matched": ("share_matched",),
    "n_unmatched": ("share_matched",),
    "participants": ("ratio_vs_reference", "ci_low", "ci_high", "eligible_person_years"),
    "n_improved": ("improved", "share_improved"),
    "n_unchanged": ("unchanged", "share_unchanged"),
    "n_deteriorated": ("deteriorated", "share_deteriorated"),
    "n_completers": ("mean_completers", "difference", "ci_low", "ci_high", "p_value"),
    "n_noncompleters": ("mean_noncompleters", "difference", "ci_low", "ci_high", "p_value"),
    "n_started": ("median_days", "q1_days", "q3_days"),
    # economics: the bootstrap's cluster sizes (sets, one participant each) and the WELLBY
    # valuation (a mean over the people with both questionnaires)
    "n_sets_in_shared_clusters": ("share_sets_in_shared_clusters",),
    "n_responders": (
        "estimate",
        "low",
        "high",
        "ci_low",
        "ci_high",
        "completers_upper",
        "completers_ci_low",
        "completers_ci_high",
        "social_value_per_pound",
        "life_satisfaction_change",
        "social_value_per_participant",
    ),
}


@dataclass(frozen=True)
class DisclosureRule:
    """Small-number rule: suppress 1..``threshold``, round the rest to ``base`` (0 stays 0)."""

    threshold: int = 7
    base: int = 5
    rounding: bool = True

    def count(self, n: int | float | None) -> int | None:
        """Controlled count: ``None`` when suppressed.

        Examples
        --------
        >>> r = DisclosureRule()
        >>> [r.count(x) for x in (0, 1, 7, 8, 12, 13, 102)]
        [0, None, None, 10, 10, 15, 100]
        """
        if n is None or (isinstance(n, float) and math.isnan(n)):
            return None
        n = int(n)
        if n == 0:
            return 0
        if 1 <= n <= self.threshold:
            return None
        if not self.rounding:
            return n
        return int(self.base * math.floor(n / self.base + 0.5))

    def is_small(self, n: int | float | None) -> bool:
        """Whether a raw count would be suppressed."""
        return (
            n is not None
            and not (isinstance(n, float) and math.isnan(n))
            and 1 <= n <= self.threshold
        )


DEFAULT_RULE = DisclosureRule()


def control_entry(entry: dict[str, Any], rule: DisclosureRule = DEFAULT_RULE) -> dict[str, Any]:
    """Apply the rule to one results.json entry: counts controlled, dependents suppressed.

    A suppressed value becomes ``None`` and is listed in the entry's ``"suppressed"``. Nested
    dicts (an entry's ``shares`` or ``baseline_comparison``) and lists of dicts (``by_group``)
    are controlled the same way, each with its own ``"suppressed"`` list.
    """
    out = {
        k: control_entry(v, rule)
        if isinstance(v, dict)
        else [control_entry(x, rule) if isinstance(x, dict) else x for x in v]
        if isinstance(v, list)
        else v
        for k, v in entry.items()
    }
    suppressed: list[str] = list(out.get("suppressed", []))
    for key in list(out):
        if (
            (key in COUNT_KEYS or key.startswith("n_"))
            and isinstance(out[key], int | float)
            and not isinstance(out[key], bool)
        ):
            raw = out[key]
            if rule.is_small(raw):
                for dep in DEPENDENTS.get(key, ()):
                    if dep in out and out[dep] is not None:
                        out[dep] = None
                        suppressed.append(dep)
            out[key] = rule.count(raw)
            if out[key] is None:
                suppressed.append(key)
    if suppressed:
        out["suppressed"] = sorted(set(suppressed))
    return out


def control_entries(
    entries: list[dict[str, Any]], rule: DisclosureRule = DEFAULT_RULE
) -> list[dict[str, Any]]:
    """Apply :func:`control_entry` to every entry."""
    return [control_entry(e, rule) for e in entries]

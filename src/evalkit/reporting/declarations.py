"""The declarations: every published field's disclosure class and base (issue #20 item 1).

Data, not logic: :mod:`evalkit.reporting.declared` applies and checks them. A section of
results.json or a CSV table that gains a field must declare it here, or the checker fails the
report (docs/decisions/disclosure-classes.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["count", "share", "derived", "estimate", "parameter", "label", "metadata"]
KINDS: tuple[str, ...] = ("count", "share", "derived", "estimate", "parameter", "label", "metadata")


@dataclass(frozen=True)
class Field:
    """One published field's class, the counts it rests on, and (shares) its two counts."""

    kind: Kind
    base: tuple[str, ...] = ()
    of: tuple[str, tuple[str, ...]] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``disclosure.json``."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.base:
            out["base"] = list(self.base)
        if self.of:
            out["of"] = {"numerator": self.of[0], "denominator": list(self.of[1])}
        return out


COUNT = Field("count")
LABEL = Field("label")
PARAMETER = Field("parameter")
METADATA = Field("metadata")
#: An empty list or None where a declared subtree would be (no entries, an estimate not made).
EMPTY = Field("label")


def derived(*base: str) -> Field:
    """A mean, rate, ratio or valuation over the people counted by ``base``."""
    return Field("derived", tuple(base))


def estimate(*base: str) -> Field:
    """A model estimate over the people counted by ``base`` (each at least 10)."""
    return Field("estimate", tuple(base))


def share(numerator: str, *denominator: str) -> Field:
    """``numerator / sum(denominator)``, from the published counts."""
    return Field("share", (numerator, *denominator), (numerator, tuple(denominator)))


_DID = ("n_participants", "n_controls")
#: The headline DiD entries also carry their clusters (the smaller dimension when two-way).
_DID_CLUSTERED = ("n_participants", "n_controls", "n_clusters")
_DID_FIELDS: dict[str, Field] = {
    "setting": LABEL,
    "outcome": LABEL,
    "window_months": PARAMETER,
    "n_participants": COUNT,
    "n_controls": COUNT,
    "n_clusters": COUNT,
    "estimand": LABEL,
    "method": LABEL,
    "population": LABEL,
    "scale": LABEL,
    "role": LABEL,
    "expected": PARAMETER,
    "in_data": LABEL,
    "sentence": LABEL,
    "note": LABEL,
    "controls_censored_share": derived("n_controls"),
    **{k: estimate(*_DID) for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value")},
    "p_holm": estimate(*_DID),
    "mde": estimate(*_DID),
    "suppressed": LABEL,
}
_EVENT_STUDY: dict[str, Field] = {
    "period": LABEL,
    "note": LABEL,
    # the event study is fitted on the matched cohort, whose size the matching section
    # publishes; the build does not run it with fewer than 10 matched (small.py)
    **{k: estimate() for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value")},
}
_WELLBEING_MEAN = ("n_paired",)
_SHARES: dict[str, Field] = {
    "n_improved": COUNT,
    "n_unchanged": COUNT,
    "n_deteriorated": COUNT,
    "improved": share("n_improved", "n_paired"),
    "unchanged": share("n_unchanged", "n_paired"),
    "deteriorated": share("n_deteriorated", "n_paired"),
    "threshold": PARAMETER,
    "threshold_kind": LABEL,
    "threshold_source": LABEL,
    "suppressed": LABEL,
}

#: results.json: section -> field path (dotted, relative to an entry) -> declaration. A path
#: ending in ``*`` declares the whole subtree; ``*`` as a segment matches any key.
RESULTS: dict[str, dict[str, Field]] = {
    "schema_version": {"": METADATA},
    "programme": {"": LABEL},
    "evalkit_version": {"": METADATA},
    "data_sha256": {"*": METADATA},
    "data_source": {"*": METADATA},
    "engine": {"*": METADATA},
    "package_versions": {"*": METADATA},
    "parameters": {"*": PARAMETER},
    "disclosure": {"*": PARAMETER},
    "methods": {"*": METADATA},
    "plan": {"*": METADATA},
    "small_programme": {"*": LABEL},
    "matching": {
        "n_participants": COUNT,
        "n_matched": COUNT,
        "n_unmatched": COUNT,
        "n_controls": COUNT,
        "share_matched": share("n_matched", "n_participants"),
        "max_abs_smd_after": derived("n_matched", "n_controls"),
        "caliper_width": derived("n_participants", "n_controls"),
        "note": LABEL,
        "suppressed": LABEL,
    },
    "censoring": {
        "design": LABEL,
        "estimand": LABEL,
        "estimand_text": LABEL,
        "n_controls": COUNT,
        "n_at_risk": COUNT,
        "n_censored": COUNT,
        "share_censored": share("n_censored", "n_at_risk"),
        "truncated_above": derived("n_censored"),
        "truncated_below": derived("n_censored"),
        "model_spec*": METADATA,
        "model.model": LABEL,
        "model.term": LABEL,
        "model.note": LABEL,
        **{
            f"model.{k}": estimate("n_at_risk")
            for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value")
        },
        "weights.weights": LABEL,
        **{
            f"weights.{k}": derived("n_censored")
            for k in ("min", "p1", "p25", "median", "mean", "p75", "p99", "max")
        },
        "suppressed": LABEL,
    },
    "window_coverage": {
        "group": LABEL,
        "window": LABEL,
        "n_complete": COUNT,
        "n_incomplete": COUNT,
        "share_incomplete": share("n_incomplete", "n_complete", "n_incomplete"),
        "suppressed": LABEL,
    },
    "utilisation": {
        **_DID_FIELDS,
        "n_clusters": COUNT,
        **{
            k: estimate(*_DID_CLUSTERED)
            for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value", "p_holm", "mde")
        },
        "suppressed": LABEL,
    },
    "negative_controls": _DID_FIELDS,
    "event_study": {f"*.{k}": v for k, v in _EVENT_STUDY.items()},
    "pretrend": {
        "*.first_month": PARAMETER,
        "*.last_month": PARAMETER,
        "*.linear_p": estimate(),
        "*.poisson_p": estimate(),
    },
    "honest_did": {
        "estimable": LABEL,
        "reason": LABEL,
        "setting": LABEL,
        "window_months": PARAMETER,
        "alpha": PARAMETER,
        "inference": LABEL,
        "scale": LABEL,
        "sentence": LABEL,
        "reference_month": PARAMETER,
        "target_months": PARAMETER,
        "benchmark_months": PARAMETER,
        "benchmark_step": LABEL,
        "benchmark": estimate(),
        "breakdown_mbar": estimate(),
        "event_study_estimate": estimate(),
        "event_study_std_error": estimate(),
        "bounds.mbar": PARAMETER,
        **{f"bounds.{k}": estimate() for k in ("id_low", "id_high", "ci_low", "ci_high")},
    },
    "sensitivity": {
        "analysis": LABEL,
        "note": LABEL,
        "n": COUNT,
        **{k: estimate("n") for k in ("estimate", "ci_low", "ci_high")},
    },
    "wellbeing": {
        "instrument": LABEL,
        "by": LABEL,
        "direction": LABEL,
        "timepoints": LABEL,
        "note": LABEL,
        "notes": LABEL,
        "spec*": METADATA,
        "suppressed": LABEL,
        "covariate_comparison*": LABEL,
        "n_baseline": COUNT,
        "n_paired": COUNT,
        "follow_up_completeness": share("n_paired", "n_baseline"),
        **{
            k: derived(*_WELLBEING_MEAN)
            for k in ("mean_before", "mean_after", "mean_change", "sd_change", "mde")
        },
        **{k: derived(*_WELLBEING_MEAN) for k in ("ci_low", "ci_high", "std_error", "p_value")},
        "effect_size.name": LABEL,
        "effect_size.method": LABEL,
        **{
            f"effect_size.{k}": derived(*_WELLBEING_MEAN) for k in ("estimate", "ci_low", "ci_high")
        },
        **{f"shares.{k}": v for k, v in _SHARES.items()},
        "baseline_comparison.test": LABEL,
        "baseline_comparison.suppressed": LABEL,
        "baseline_comparison.n_completers": COUNT,
        "baseline_comparison.n_noncompleters": COUNT,
        "baseline_comparison.mean_completers": derived("n_completers"),
        "baseline_comparison.mean_noncompleters": derived("n_noncompleters"),
        **{
            f"baseline_comparison.{k}": derived("n_completers", "n_noncompleters")
            for k in ("difference", "ci_low", "ci_high", "p_value")
        },
    },
    "reach": {
        "group": LABEL,
        "level": LABEL,
        "reference_level": LABEL,
        "participants": COUNT,
        # person-time is a measure of a group's size: controlled like a count
        "eligible_person_years": COUNT,
        "ratio_vs_reference": derived("participants", "eligible_person_years"),
        "ci_low": derived("participants", "eligible_person_years"),
        "ci_high": derived("participants", "eligible_person_years"),
        "suppressed": LABEL,
    },
    "pathway": {"group": LABEL, "level": LABEL, "step": LABEL, "n": COUNT, "suppressed": LABEL},
    "waiting_times": {
        "period": LABEL,
        "n_started": COUNT,
        **{k: derived("n_started") for k in ("median_days", "q1_days", "q3_days")},
        "suppressed": LABEL,
    },
    "outcomes_by_deprivation": {
        "by": LABEL,
        "instrument": LABEL,
        "window_months": PARAMETER,
        "spec*": METADATA,
        "entries.outcome": LABEL,
        "entries.level": LABEL,
        "entries.grouping": LABEL,
        "entries.imd_quintiles": LABEL,
        "entries.method": LABEL,
        "entries.scale": LABEL,
        "entries.note": LABEL,
        "entries.suppressed": LABEL,
        "entries.n_participants": COUNT,
        "entries.n_controls": COUNT,
        "entries.events_baseline": COUNT,
        "entries.events_followup": COUNT,
        **{
            f"entries.{k}": estimate(*_DID)
            for k in ("estimate", "ci_low", "ci_high", "std_error", "p_value")
        },
        "heterogeneity.*.test": LABEL,
        "heterogeneity.*.hypothesis": LABEL,
        "heterogeneity.*.covariance": LABEL,
        "heterogeneity.*.distribution": LABEL,
        "heterogeneity.*.df": PARAMETER,
        "heterogeneity.*.denominator_df": PARAMETER,
        "heterogeneity.*.note": LABEL,
        "heterogeneity.*.statistic": estimate(),
        "heterogeneity.*.p_value": estimate(),
    },
    "economics": {
        "assumptions": LABEL,
        "price_year": PARAMETER,
        "spec*": METADATA,
        "unit_cost_table*": PARAMETER,
        "unit_costs*": PARAMETER,
        "cost_change_by_setting.setting": LABEL,
        "cost_change_by_setting.unit_cost": PARAMETER,
        **{
            f"cost_change_by_setting.{k}": estimate(
                "nhs_cost_difference.n_participants", "nhs_cost_difference.n_controls"
            )
            for k in (
                "events_difference_per_participant",
                "events_ci_low",
                "events_ci_high",
                "cost_difference_per_participant",
                "cost_ci_low",
                "cost_ci_high",
                "saving_per_participant",
            )
        },
        "nhs_cost_difference.method": LABEL,
        "nhs_cost_difference.suppressed": LABEL,
        "nhs_cost_difference.n_participants": COUNT,
        "nhs_cost_difference.n_controls": COUNT,
        "nhs_cost_difference.n_matched_sets": COUNT,
        **{
            f"nhs_cost_difference.{k}": estimate("n_participants", "n_controls")
            for k in (
                "estimate",
                "ci_low",
                "ci_high",
                "std_error",
                "participants_change",
                "controls_change",
            )
        },
        "nhs_cost_difference.bootstrap.interval": LABEL,
        "nhs_cost_difference.bootstrap.level": PARAMETER,
        "nhs_cost_difference.bootstrap.resamples": PARAMETER,
        "nhs_cost_difference.bootstrap.seed": PARAMETER,
        "nhs_cost_difference.bootstrap.unit": LABEL,
        "nhs_cost_difference.bootstrap.clusters.suppressed": LABEL,
        "nhs_cost_difference.bootstrap.clusters.n_clusters": COUNT,
        "nhs_cost_difference.bootstrap.clusters.n_sets": COUNT,
        "nhs_cost_difference.bootstrap.clusters.n_sets_in_shared_clusters": COUNT,
        "nhs_cost_difference.bootstrap.clusters.n_sets_largest_cluster": COUNT,
        "nhs_cost_difference.bootstrap.clusters.share_sets_in_shared_clusters": share(
            "n_sets_in_shared_clusters", "n_sets"
        ),
        **{
            f"{head}.{k}": estimate(
                "nhs_cost_difference.n_participants", "nhs_cost_difference.n_controls"
            )
            for head in (
                "nhs_cost_saving_per_participant",
                "emergency_admissions_avoided_per_participant",
                "cost_per_emergency_admission_avoided",
                "roi",
                "roi_net",
            )
            for k in ("estimate", "ci_low", "ci_high")
        },
        "nhs_cost_saving_per_participant.window_months": PARAMETER,
        "cost_per_emergency_admission_avoided.ci_high_unbounded": LABEL,
        "roi_share_break_even": estimate(
            "nhs_cost_difference.n_participants", "nhs_cost_difference.n_controls"
        ),
        "programme_cost.amount": PARAMETER,
        "programme_cost.basis": LABEL,
        "programme_cost.price_year": PARAMETER,
        "programme_cost.source": LABEL,
        "programme_cost.n_referred": COUNT,
        "programme_cost.n_starters": COUNT,
        "programme_cost.start_rate": share("n_starters", "n_referred"),
        "programme_cost.per_participant": derived("n_starters", "n_referred"),
        "programme_cost_per_participant": derived(
            "programme_cost.n_starters", "programme_cost.n_referred"
        ),
        "wellby.analysis": LABEL,
        "wellby.basis": LABEL,
        "wellby.spec*": METADATA,
        "wellby.suppressed": LABEL,
        "wellby.discount_rate": PARAMETER,
        "wellby.duration_years": PARAMETER,
        "wellby.wellby_years": PARAMETER,
        "wellby.wellby_value*": PARAMETER,
        "wellby.n_referred": COUNT,
        "wellby.n_responders": COUNT,
        "wellby.programme_cost_per_participant": derived(
            "programme_cost.n_starters", "programme_cost.n_referred"
        ),
        "wellby.social_value_per_participant": derived("n_responders"),
        "wellby.life_satisfaction_change*": derived("n_responders"),
        "wellby.social_value_per_pound*": derived("n_responders"),
        "wellby.completers_upper*": derived("n_responders"),
        "wellby_social_value_per_pound.basis": LABEL,
        "wellby_social_value_per_pound.suppressed": LABEL,
        "wellby_social_value_per_pound.n_responders": COUNT,
        **{
            f"wellby_social_value_per_pound.{k}": derived("n_responders")
            for k in (
                "estimate",
                "low",
                "high",
                "ci_low",
                "ci_high",
                "completers_upper",
                "completers_ci_low",
                "completers_ci_high",
            )
        },
    },
}

_EVENTS_TABLE = {"period": LABEL, "referral_source": LABEL, "n": COUNT, "suppressed": LABEL}

#: CSV tables: file stem -> (results.json section, path prefix) whose declarations its columns
#: share, and the table's own declarations (used first). ``""`` is an unnamed index column.
TABLES: dict[str, tuple[str | None, str, dict[str, Field]]] = {
    "utilisation": ("utilisation", "", {}),
    "negative_controls": ("negative_controls", "", {}),
    "matching": ("matching", "", {}),
    "censoring": ("censoring", "", {}),
    "censoring_model": ("censoring", "model.", {"": LABEL}),
    "censoring_weights": ("censoring", "weights.", {"": LABEL}),
    "window_coverage": ("window_coverage", "", {}),
    "event_study_*": ("event_study", "*.", {}),
    "pathway": ("pathway", "", {}),
    "reach": ("reach", "", {}),
    "waiting_times": ("waiting_times", "", {}),
    "sensitivity": ("sensitivity", "", {}),
    "referrals_by_quarter": (None, "", _EVENTS_TABLE),
    "referrals_by_year_source": (None, "", _EVENTS_TABLE),
    "outcomes_by_deprivation": ("outcomes_by_deprivation", "entries.", {"": LABEL}),
    "cost_by_setting": ("economics", "cost_change_by_setting.", {}),
    "unit_costs": (None, "", {"*": PARAMETER}),
    "overlap": (
        None,
        "",
        {
            "bin_mid": PARAMETER,
            "participants": COUNT,
            "controls_matched": COUNT,
            "controls_all": COUNT,
        },
    ),
    # means of 0/1 covariates are shares of the published group sizes (tables.control_balance)
    "balance": (None, "", {"covariate": LABEL, "*": derived()}),
    "wellbeing": (
        "wellbeing",
        "",
        {
            "label": LABEL,
            "effect_size": derived("n_paired"),
            "effect_size_ci_low": derived("n_paired"),
            "effect_size_ci_high": derived("n_paired"),
            "share_improved": derived("n_paired"),
            "share_deteriorated": derived("n_paired"),
        },
    ),
}

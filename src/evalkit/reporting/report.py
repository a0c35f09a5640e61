"""A programme report: every analysis run once, disclosure-controlled, ready to show and write.

:func:`build_report` is what the report notebook calls: it runs the programme's analyses
(matched cohort, utilisation, event studies, sensitivity, wellbeing), applies disclosure control
to every count, and returns a :class:`ProgrammeReport` whose methods render the report's
sections (summary, tables, figures) in Jupyter. With ``output_dir`` it also writes
``results.json``, the table CSVs and the figure PNGs there. Figures are drawn from the
controlled tables only.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.analysis import (
    economics,
    load_study,
    outcomes_by_deprivation,
    pathway,
    reach_all,
    referral_trends,
    wellbeing_all,
    wellbeing_entries,
)
from evalkit.analysis.equity import PATHWAY_STEPS
from evalkit.analysis.power import MDE_METHOD, add_mde, mde_utilisation_all
from evalkit.analysis.utilisation import (
    event_study,
    matched_cohort,
    sensitivity,
    utilisation_all,
    utilisation_table,
)
from evalkit.config import Programme, instruments, project_root
from evalkit.files import write_json
from evalkit.jsonsafe import round_floats
from evalkit.reporting import figures as figs
from evalkit.reporting import narrative as nar
from evalkit.reporting.checker import _PEOPLE_PHRASE
from evalkit.reporting.disclosure import (
    DEFAULT_RULE,
    DisclosureRule,
    control_entries,
    control_entry,
)
from evalkit.reporting.pipeline import quiet
from evalkit.reporting.plan import plan_status, resolved_plan
from evalkit.reporting.programme import methods_appendix
from evalkit.reporting.results import build_results, write_table

#: Settings whose event studies and naive-vs-matched comparisons the report shows.
FOCUS_SETTINGS = ("emergency_admission", "gp_appointment")
#: Window of the headline sentences (months after referral).
HEADLINE_WINDOW = 6
#: A fall the summary calls plausible for a community programme: an outcome whose MDE is this
#: fall or smaller is reported as one the evaluation was powered for (assumptions log REP-5).
PLAUSIBLE_FALL = 0.20
#: Covariates that are not 0/1 indicators (their balance rows rest on every person).
_CONTINUOUS = ("distance", "age", "imd_decile", "prior12_", "prior3_")


class Html:
    """A fragment of HTML that renders in Jupyter (and, through nbconvert, in the report)."""

    def __init__(self, body: str) -> None:
        self.body = body

    def _repr_html_(self) -> str:
        return self.body

    def __repr__(self) -> str:  # plain-text view for terminals and nbval's text/plain
        return "[report section: shown as HTML]"


def html_table(
    df: pd.DataFrame,
    *,
    caption: str,
    counts: tuple[str, ...] = (),
    digits: int = 2,
    labels: dict[str, str] | None = None,
) -> Html:
    """An accessible HTML table (caption, header scopes); count cells marked ``ek-count``.

    A suppressed value (``None``/NaN in a count column) is shown as ``*``; the disclosure checker
    reads the ``ek-count`` cells.
    """
    labels = labels or {}
    head = "".join(
        f'<th scope="col">{html.escape(labels.get(c, c.replace("_", " ")))}</th>'
        for c in df.columns
    )
    rows = []
    for rec in df.itertuples(index=False):
        cells = []
        for col, v in zip(df.columns, rec, strict=True):
            missing = v is None or (isinstance(v, float) and math.isnan(v))
            if col in counts:
                text = "*" if missing else f"{int(v):,}"
                cells.append(f'<td class="ek-count num">{text}</td>')
            elif missing:
                cells.append('<td class="num">–</td>')
            elif isinstance(v, float | np.floating):
                cells.append(f'<td class="num">{v:,.{digits}f}</td>')
            elif isinstance(v, int | np.integer) and not isinstance(v, bool):
                cells.append(f'<td class="num">{v:,}</td>')
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return Html(
        f'<table class="ek-table"><caption>{html.escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _is_binary_row(name: str) -> bool:
    return not any(name == c or name.startswith(c) for c in _CONTINUOUS)


def control_balance(
    balance: pd.DataFrame,
    n_treated: int,
    n_control_before: float,
    n_control_after: float,
    rule: DisclosureRule = DEFAULT_RULE,
) -> pd.DataFrame:
    """Balance table with indicator rows resting on 1-7 people suppressed.

    For a 0/1 covariate the mean times the group size is a count of people; where that count is
    small the mean and every statistic built from it (SMD, variance ratio, eCDF) are suppressed.
    """
    out = balance.copy()
    groups = {
        "mean_treated": n_treated,
        "mean_control_before": n_control_before,
        "mean_control_after": n_control_after,
    }
    for name in out.index:
        if not _is_binary_row(str(name)):
            continue
        small = {
            col: rule.is_small(round(float(out.at[name, col]) * n))
            for col, n in groups.items()
            if col in out
        }
        if small.get("mean_treated") or small.get("mean_control_before"):
            out.loc[name, [c for c in out if c.endswith("_before")]] = np.nan
        if small.get("mean_treated") or small.get("mean_control_after"):
            out.loc[name, [c for c in out if c.endswith("_after")]] = np.nan
        if small.get("mean_treated"):
            out.loc[name, "mean_treated"] = np.nan
    return out


def _overlap_bins(mc: Any, rule: DisclosureRule, n_bins: int = 25) -> pd.DataFrame:
    """Counts of the matching distance in fixed bins per group, disclosure-controlled."""
    m = mc.match
    dist = m.distance
    treated = m.data[m.treatment] == 1
    matched = m.matched.index
    lo, hi = np.nanpercentile(dist, [0.5, 99.5])
    edges = np.linspace(lo, hi, n_bins + 1)
    mids = (edges[:-1] + edges[1:]) / 2

    def counts(values: pd.Series) -> list[int | None]:
        h, _ = np.histogram(values.clip(lo, hi), bins=edges)
        return [rule.count(int(x)) for x in h]

    ctrl = ~treated
    return pd.DataFrame(
        {
            "bin_mid": mids,
            "participants": counts(dist[treated]),
            "controls_matched": counts(dist[ctrl & dist.index.isin(matched)]),
            "controls_all": counts(dist[ctrl]),
        }
    )


@dataclass
class ProgrammeReport:
    """A programme's report content: controlled results, tables and figures."""

    programme: Programme
    results: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, figs.ReportFigure]
    notes: list[str] = field(default_factory=list)

    # --- sections --------------------------------------------------------------------------
    def title(self) -> Html:
        """The report's heading and one-line description."""
        p = self.programme
        return Html(
            f"<h1>{html.escape(p.title)}: evaluation report</h1>"
            f'<p class="ek-lede">{html.escape(p.description)}</p>'
            f"<p>Providers: {html.escape(', '.join(p.providers))}. "
            f"Programme code <code>{html.escape(p.slug)}</code>.</p>"
        )

    def _entry(self, setting: str, window: int, method: str, scale: str) -> dict[str, Any] | None:
        for e in self.results["utilisation"]:
            if (e["setting"], e["window_months"], e["method"], e["scale"]) == (
                setting,
                window,
                method,
                scale,
            ):
                return e
        return None

    def headline(self, setting: str, window: int = HEADLINE_WINDOW) -> str:
        """The quotable sentence for one setting and window (matched DiD), with its MDE."""
        diff = self._entry(setting, window, "matched_did", "difference_per_person")
        rr = self._entry(setting, window, "matched_did", "rate_ratio")
        if diff is None:
            return f"{nar.setting_label(setting, capital=True)}: not analysed."
        sentence = nar.utilisation_headline(rr, diff)
        if rr is not None:
            sentence += " " + nar.mde_sentence(rr.get("n_participants"), rr.get("mde"), setting)
        return sentence

    def powered_for(self, window: int = HEADLINE_WINDOW) -> str:
        """Which outcomes the evaluation could detect a plausible fall in (80% power, 5%)."""
        powered, not_powered = [], []
        for setting in self.programme.outcomes.settings:
            e = self._entry(setting, window, "matched_did", "rate_ratio")
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

    def plan_notice(self) -> Html:
        """Whether the report followed a locked analysis plan, for the first screen."""
        plan = self.results.get("plan") or {}
        if not plan.get("locked"):
            return Html(
                '<div class="ek-notice" role="note"><p><strong>Analysis plan not locked.</strong>'
                " The analysis options for this programme were not frozen before the outcomes "
                "were analysed (<code>evalkit plan lock</code>), so they could have been chosen "
                "after seeing the results. Treat the findings as exploratory.</p></div>"
            )
        devs = plan.get("deviations") or []
        sha = html.escape(str(plan.get("sha256", ""))[:12])
        when = html.escape(str(plan.get("locked_on")))
        if not devs:
            return Html(
                f'<div class="ek-notice" role="note"><p><strong>Locked analysis plan '
                f"followed.</strong> The analysis used exactly the options locked on {when} "
                f"(plan <code>{sha}</code>).</p></div>"
            )
        rows = "".join(
            f"<li><code>{html.escape(d['option'])}</code>: locked "
            f"{html.escape(json.dumps(d['locked']))}, used {html.escape(json.dumps(d['used']))}"
            "</li>"
            for d in devs
        )
        return Html(
            f'<div class="ek-notice" role="note"><p><strong>Deviations from the locked analysis '
            f"plan</strong> (locked on {when}, plan <code>{sha}</code>):</p><ul>{rows}</ul></div>"
        )

    def summary(self) -> Html:
        """Plain-English summary for commissioners: reach, headlines, what the evidence can say."""
        r = self.results
        m = r["matching"]
        items = [
            f"<li>{html.escape(self.headline(s))}</li>"
            for s in [
                *FOCUS_SETTINGS,
                *[s for s in self.programme.outcomes.settings if s not in FOCUS_SETTINGS],
            ]
        ]
        wb = self.tables["wellbeing"]
        main = self.programme.primary_instrument
        main_rows = wb[wb["instrument"] == main]
        if len(main_rows):
            e = main_rows.iloc[0].to_dict()
            mde = e.get("mde")
            mde_text = (
                f" With this many people it could reliably detect only changes of about "
                f"{mde:.1f} points or more."
                if mde is not None and mde == mde
                else ""
            )
            items.append(
                f"<li>{html.escape(nar.wellbeing_sentence(e, instruments()[main].title))}"
                " This is a change among people who answered both times, not an effect: there "
                f"is no comparison group for questionnaires.{mde_text}</li>"
            )
        items += [f"<li>{html.escape(x)}</li>" for x in self.economics_sentences()]
        reach_line = f"<p>{html.escape(self.reach_sentence())}</p>"
        naive = self._entry("emergency_admission", HEADLINE_WINDOW, "naive_prepost", "rate_ratio")
        did_rr = self._entry("emergency_admission", HEADLINE_WINDOW, "matched_did", "rate_ratio")
        rtm = ""
        if naive and did_rr and naive.get("estimate") and did_rr.get("estimate"):
            rtm = (
                f"<li>Looking at participants alone, emergency admissions in the "
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
                + "</li>"
            )
        reach = (
            f'<p><strong>Who took part.</strong> About <span class="ek-count">'
            f"{_fmt_count(m['n_participants'])}</span> people were referred in the study period; "
            f'<span class="ek-count">{_fmt_count(m["n_matched"])}</span> of them were compared '
            f'with <span class="ek-count">{_fmt_count(m["n_controls"])}</span> similar '
            "registered patients who were not referred (matched on age, sex, deprivation, "
            "ethnicity, long-term conditions and recent healthcare use).</p>"
        )
        caveats = (
            "<li>This is an observational comparison: matching removes the differences we can "
            "measure, not those we cannot (for example, motivation). The sensitivity section "
            "shows how strong an unmeasured difference would have to be to explain the results "
            "away.</li>"
            "<li>A result whose interval includes no change is not evidence that the programme "
            "makes no difference; small programmes can only detect large changes.</li>"
        )
        return Html(
            "<h2>Summary for commissioners</h2>"
            f"{self.plan_notice().body}"
            f"<p>{html.escape(self.programme.description)}</p>"
            f"{reach}{reach_line}<p><strong>Headline findings</strong> (95% confidence "
            f"intervals in brackets):</p><ul>{''.join(items)}</ul>"
            "<p><strong>What the evidence can and cannot say.</strong></p>"
            f"<ul>{rtm}<li>{html.escape(self.powered_for())}</li>{caveats}</ul>"
        )

    def reach_sentence(self) -> str:
        """Reach of the most against the least deprived fifth, in words."""
        e = next(
            (
                x
                for x in self.results.get("reach", [])
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

    def economics_sentences(self) -> list[str]:
        """NHS cash (cost saving, ROI) and, separately, the wellbeing valuation, in words."""
        e = self.results.get("economics") or {}
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
                f"{_gbp(roi['estimate'])} per £1 spent (95% CI {_gbp(roi['ci_low'])} to "
                f"{_gbp(roi['ci_high'])}); net of the programme's own cost, "
                f"{_gbp(roi['estimate'] - 1)} per £1."
            )
            if sav["ci_low"] <= 0 <= sav["ci_high"]:
                s += " The interval includes no saving."
            out.append(s)
        w = e.get("wellby_social_value_per_pound") or {}
        if w.get("estimate") is not None:
            out.append(
                "Separately, and not NHS cash: the average change in life satisfaction, valued "
                "in WELLBYs with the HM Treasury Green Book value, is worth about "
                f"{_gbp(w['estimate'])} of social value per £1 of programme cost "
                f"({_gbp(w['low'])} to {_gbp(w['high'])} with the Green Book's low and high "
                "values), assuming the "
                "change lasts one year and is due to the programme. Without a comparison group "
                "that cannot be tested, so this is an illustration, not an effect estimate."
            )
        return out

    def economics_summary(self) -> Html:
        """The costs and return on investment section's headline paragraph and assumptions."""
        e = self.results.get("economics") or {}
        items = "".join(f"<li>{html.escape(x)}</li>" for x in self.economics_sentences())
        cpa = e.get("cost_per_emergency_admission_avoided") or {}
        extra = ""
        if cpa.get("estimate") is not None:
            hi = (
                "unbounded (the interval of admissions avoided includes none)"
                if cpa.get("ci_high") is None
                else f"£{cpa['ci_high']:,.0f}"
            )
            extra = (
                f"<li>Programme cost per emergency admission avoided: £{cpa['estimate']:,.0f} "
                f"(95% CI £{cpa['ci_low']:,.0f} to {html.escape(hi)}).</li>"
            )
        assumptions = "".join(f"<li>{html.escape(a)}</li>" for a in e.get("assumptions", []))
        return Html(
            f"<ul>{items}{extra}</ul><p><strong>Assumptions.</strong></p><ul>{assumptions}</ul>"
        )

    def deprivation_summary(self) -> Html:
        """Heterogeneity tests of the outcomes across deprivation groups, in words."""
        het = (self.results.get("outcomes_by_deprivation") or {}).get("heterogeneity") or {}
        items = []
        for outcome, h in het.items():
            if h.get("p_value") is None:
                continue
            items.append(
                f"<li>{html.escape(nar.setting_label(outcome, capital=True))}: test of "
                f"difference between deprivation groups p = {h['p_value']:.2f} "
                f"(I² = {100 * (h.get('i2') or 0):.0f}%)"
                + (
                    "; the groups' estimates are compatible with one common effect."
                    if h["p_value"] >= 0.05
                    else "; the effect appears to differ between groups."
                )
                + "</li>"
            )
        if not items:
            return Html("<p>Too few participants per deprivation group to compare outcomes.</p>")
        return Html(f"<ul>{''.join(items)}</ul>")

    def table(self, name: str) -> Html:
        """One of the report's controlled tables as an accessible HTML table."""
        spec = _TABLE_VIEWS[name]
        df = self.tables[spec["source"]]
        if spec.get("filter"):
            df = spec["filter"](df)
        cols = [c for c in spec["columns"] if c in df]
        return html_table(
            df[cols],
            caption=spec["caption"],
            counts=tuple(c for c in cols if c in spec.get("counts", ())),
            digits=spec.get("digits", 2),
            labels=spec.get("labels"),
        )

    def figure(self, name: str) -> figs.ReportFigure | Html:
        """One of the report's figures (caption and alt text included).

        A figure that could not be drawn (too few people or events) is replaced by a sentence
        saying so, so every programme's report has the same structure.
        """
        if name not in self.figures:
            return Html(
                f'<p class="ek-missing">Figure "{html.escape(name.replace("_", " "))}" is not '
                "shown: too few people or events to draw it safely.</p>"
            )
        return self.figures[name]

    def reach_summary(self) -> Html:
        """The reach-by-deprivation sentence as a paragraph."""
        return Html(f"<p>{html.escape(self.reach_sentence())}</p>")

    def figure_names(self) -> list[str]:
        """Names of the figures in report order."""
        return list(self.figures)

    def appendix_data(self) -> Html:
        """Methods appendix, data part: input hashes, parameters and disclosure rule."""
        r = self.results
        hashes = "".join(
            f"<tr><td>{html.escape(k)}</td><td><code>{v}</code></td></tr>"
            for k, v in r["data_sha256"].items()
        )
        params = html.escape(_pretty(r["parameters"]))
        d = r["disclosure"]
        return Html(
            '<h3>Data</h3><table class="ek-table"><caption>SHA-256 of each input table '
            '</caption><thead><tr><th scope="col">table</th><th scope="col">SHA-256</th>'
            f"</tr></thead><tbody>{hashes}</tbody></table>"
            f"<h3>Parameters</h3><pre>{params}</pre>"
            f"<h3>Disclosure control</h3><p>{html.escape(d['rule'])} (threshold "
            f"{d['threshold']}, rounding base {d['rounding_base']}); rates and means resting on "
            "a suppressed count are suppressed with it (shown as *). Figures are drawn from "
            "the controlled tables only.</p>"
        )

    def appendix_software(self) -> Html:
        """Methods appendix, software part: evalkit and package versions."""
        r = self.results
        versions = ", ".join(f"{k} {v}" for k, v in r["package_versions"].items())
        return Html(
            f"<h3>Software</h3><p>evalkit {html.escape(r['evalkit_version'])}; {versions}.</p>"
        )

    # --- files -----------------------------------------------------------------------------
    def write(self, output_dir: str | Path) -> Path:
        """Write results.json, the table CSVs and the figure PNGs into ``output_dir``."""
        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(self.results, out / "results.json")
        for name, df in self.tables.items():
            write_table(round_floats(df.to_dict(orient="records")), out / f"{name}.csv")
        for f in self.figures.values():
            f.save(out / "figures")
        return out


def _gbp(x: float, dp: int = 2) -> str:
    """Pounds with a proper minus sign: ``_gbp(-1.3)`` is "−£1.30"."""
    return f"{'−' if x < 0 else ''}£{abs(x):,.{dp}f}"


def _saved(x: float) -> str:
    """A saving per participant in words: "£3,856 saved" or "£423 extra cost"."""
    return f"£{abs(x):,.0f} {'saved' if x >= 0 else 'extra cost'}"


def _fmt_count(n: int | None) -> str:
    return "*" if n is None else f"{n:,}"


def _pretty(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True, default=str)


_UTIL_COLS = [
    "setting",
    "window_months",
    "method",
    "scale",
    "estimate",
    "ci_low",
    "ci_high",
    "n_participants",
    "n_controls",
]


def _pathway_view(group: str, caption: str) -> dict[str, Any]:
    """Table view of the pathway by ``group``: one row per level, one count column per step."""

    def wide(d: pd.DataFrame) -> pd.DataFrame:
        # dropna=False keeps a step whose counts are all suppressed (shown as *).
        return (
            d[d["group"] == group]
            .pivot_table(
                index="level",
                columns="step",
                values="n",
                aggfunc="first",
                sort=False,
                dropna=False,
            )
            .reset_index()
            .rename(columns={"level": group})
        )

    return {
        "source": "pathway",
        "filter": wide,
        "columns": [group, *PATHWAY_STEPS],
        "counts": PATHWAY_STEPS,
        "caption": caption,
    }


_TABLE_VIEWS: dict[str, dict[str, Any]] = {
    "reach": {
        "source": "reach",
        "columns": [
            "group",
            "level",
            "participants",
            "eligible_person_years",
            "ratio_vs_reference",
            "ci_low",
            "ci_high",
            "reference_level",
        ],
        "counts": ("participants",),
        "digits": 2,
        "labels": {
            "eligible_person_years": "eligible person-years",
            "ratio_vs_reference": "rate ratio vs reference",
        },
        "caption": "Reach: participants (people at their first referral) per eligible "
        "person-year, as rate ratios against the reference group with exact Poisson 95% CIs.",
    },
    "pathway": {
        "source": "pathway",
        "filter": lambda d: d[d["group"] == "all"],
        "columns": ["step", "n"],
        "counts": ("n",),
        "caption": "Pathway, everyone referred: people at each step (each step counts people "
        "who also passed the steps before it).",
    },
    "pathway_imd": _pathway_view(
        "imd_quintile", "Pathway by IMD quintile (1 = most deprived): people at each step."
    ),
    "pathway_ethnicity": _pathway_view(
        "ethnicity_group", "Pathway by ethnicity group: people at each step."
    ),
    "outcomes_by_deprivation": {
        "source": "outcomes_by_deprivation",
        "columns": ["outcome", "scale", "level", "n_participants", "estimate", "ci_low", "ci_high"],
        "counts": ("n_participants",),
        "labels": {"level": "IMD quintiles"},
        "caption": "Outcomes by deprivation: matched DiD rate ratios (6 months) and wellbeing "
        "change by IMD quintile group (pooled where groups are small).",
    },
    "waiting_times": {
        "source": "waiting_times",
        "columns": ["period", "n_started", "median_days", "q1_days", "q3_days"],
        "counts": ("n_started",),
        "digits": 0,
        "caption": "Waiting time from referral to the first session, days (median and "
        "quartiles) by year of referral; suppressed where the number of starters in a year "
        "is 1 to 7.",
    },
    "unit_costs": {
        "source": "unit_costs",
        "columns": [
            "setting",
            "cost",
            "price_year",
            "source",
            "original_price_year",
            "inflated",
            "flag",
        ],
        "digits": 0,
        "caption": "Unit costs (£ per event) with source and price year; costs from older "
        "years are inflated with the NHS Cost Inflation Index and flagged.",
    },
    "referrals_by_source": {
        "source": "referrals_by_year_source",
        "columns": ["period", "referral_source", "n"],
        "counts": ("n",),
        "labels": {"period": "year", "n": "referrals"},
        "caption": "Referrals (every episode) per calendar year by referral source.",
    },
    "cost_by_setting": {
        "source": "cost_by_setting",
        "columns": [
            "setting",
            "unit_cost",
            "events_difference_per_participant",
            "cost_difference_per_participant",
            "cost_ci_low",
            "cost_ci_high",
        ],
        "digits": 2,
        "caption": "NHS cost change per participant by setting over 12 months: events and £ "
        "(participants against matched controls, 95% bootstrap CI).",
    },
    "utilisation_rate_ratios": {
        "source": "utilisation",
        "filter": lambda d: d[d["scale"] == "rate_ratio"],
        "columns": _UTIL_COLS,
        "counts": ("n_participants", "n_controls"),
        "caption": "Rate ratios by setting and window: matched difference-in-differences beside "
        "the naive before/after figure (participants only). Below 1 = fewer events than expected.",
    },
    "utilisation_differences": {
        "source": "utilisation",
        "filter": lambda d: d[d["scale"] == "difference_per_person"],
        "columns": _UTIL_COLS,
        "counts": ("n_participants", "n_controls"),
        "caption": "Absolute change: events per participant over the window (total_cost: £ per "
        "participant), matched DiD beside naive before/after.",
    },
    "mde": {
        "source": "utilisation",
        "filter": lambda d: d[(d["method"] == "matched_did") & (d["scale"] == "rate_ratio")],
        "columns": [
            "setting",
            "window_months",
            "n_participants",
            "n_controls",
            "estimate",
            "ci_low",
            "ci_high",
            "mde",
        ],
        "counts": ("n_participants", "n_controls"),
        "labels": {"mde": "minimum detectable rate ratio"},
        "caption": "Minimum detectable effects (80% power, 5% two-sided) beside each matched "
        "DiD rate ratio: a fall smaller than 1 − MDE could not reliably be detected.",
    },
    "wellbeing": {
        "source": "wellbeing",
        "columns": [
            "label",
            "n_baseline",
            "n_paired",
            "mean_before",
            "mean_after",
            "mean_change",
            "ci_low",
            "ci_high",
            "effect_size",
            "share_improved",
            "share_deteriorated",
        ],
        "counts": ("n_baseline", "n_paired"),
        "caption": "Wellbeing measures: paired change from the start to the end of the "
        "programme among people with both measures (a change, not an effect).",
    },
    "balance": {
        "source": "balance",
        "columns": [
            "covariate",
            "mean_treated",
            "mean_control_before",
            "smd_before",
            "mean_control_after",
            "smd_after",
            "var_ratio_after",
        ],
        "digits": 3,
        "caption": "Covariate balance: means and standardised mean differences before and "
        "after matching (rows resting on a suppressed count, 1 to 7, are shown as –).",
    },
    "sensitivity": {
        "source": "sensitivity",
        "columns": ["analysis", "estimate", "ci_low", "ci_high", "note"],
        "caption": "Sensitivity analyses for emergency admissions at 6 months (rate ratios; "
        "E-value row: the strength of confounding needed to explain the estimate away).",
    },
    "matching": {
        "source": "matching",
        "columns": [
            "n_participants",
            "n_matched",
            "n_unmatched",
            "n_controls",
            "share_matched",
            "max_abs_smd_after",
            "caliper_width",
        ],
        "counts": ("n_participants", "n_matched", "n_unmatched", "n_controls"),
        "digits": 3,
        "labels": {
            "n_participants": "participants",
            "n_matched": "matched",
            "n_unmatched": "not matched",
            "n_controls": "matched controls",
            "share_matched": "share matched",
            "max_abs_smd_after": "largest |SMD| after",
            "caliper_width": "caliper (logit units)",
        },
        "caption": "Matching summary: participants with at least one matched control, and the "
        "largest standardised difference remaining on any covariate.",
    },
}


def _wellbeing_table(entries: list[dict[str, Any]]) -> pd.DataFrame:
    defs = instruments()
    rows = []
    for e in entries:
        name = e["instrument"]
        base, _, item = name.partition("_") if name not in defs else (name, "", "")
        title = defs[base].title if base in defs else name
        es = e.get("effect_size") or {}
        shares = e.get("shares") or {}
        rows.append(
            {
                "instrument": name,
                "label": f"{title}: {item.replace('_', ' ')}" if item else title,
                "n_baseline": e.get("n_baseline"),
                "n_paired": e.get("n_paired"),
                "mean_before": e.get("mean_before"),
                "mean_after": e.get("mean_after"),
                "mean_change": e.get("mean_change"),
                "ci_low": e.get("ci_low"),
                "ci_high": e.get("ci_high"),
                "effect_size": es.get("estimate"),
                "effect_size_ci_low": es.get("ci_low"),
                "effect_size_ci_high": es.get("ci_high"),
                "mde": e.get("mde"),
                "share_improved": shares.get("improved"),
                "share_deteriorated": shares.get("deteriorated"),
            }
        )
    df = pd.DataFrame(rows)
    # Standardised change with "positive = better" for every measure.
    for e, i in zip(entries, range(len(df)), strict=True):
        if e.get("direction") == "lower" and df.at[i, "effect_size"] is not None:
            for c in ("effect_size", "effect_size_ci_low", "effect_size_ci_high"):
                df.at[i, c] = -df.at[i, c] if df.at[i, c] is not None else None
            lo, hi = df.at[i, "effect_size_ci_high"], df.at[i, "effect_size_ci_low"]
            df.at[i, "effect_size_ci_low"], df.at[i, "effect_size_ci_high"] = lo, hi
    return df.astype(
        {c: float for c in df.columns if c.startswith(("effect", "mean", "ci", "share", "mde"))}
    )


_COUNT_IN_TEXT = re.compile(
    r"\b\d+ of \d+\b|\bamong the \d+\b|\bOnly \d+\b|\b\d+ unit|\b\d+ matched"
)


def safe_notes(notes: list[str] | tuple[str, ...]) -> list[str]:
    """Notes that quote no count of people (a note that does is left out of the report).

    Examples
    --------
    >>> safe_notes(["67 of 94 participants matched", "Costs in 2023/24 prices"])
    ['Costs in 2023/24 prices']
    """
    return [n for n in notes if not _PEOPLE_PHRASE.search(n) and not _COUNT_IN_TEXT.search(n)]


def _strip_notes(obj: Any) -> Any:
    """A result dict without its free-text notes (they may quote raw counts)."""
    if isinstance(obj, dict):
        return {k: _strip_notes(v) for k, v in obj.items() if k != "notes"}
    if isinstance(obj, list):
        return [_strip_notes(v) for v in obj]
    return obj


def _referrals_by(trends: Any, rule: DisclosureRule, freq: str, by_source: bool) -> pd.DataFrame:
    """Referrals per period (``"Q"`` or ``"Y"``), by source or in total, disclosure-controlled."""
    t = trends.tidy("referrals")
    period = pd.PeriodIndex(pd.to_datetime(t["month"]), freq=freq).astype(str)
    keys = ["period", "referral_source"] if by_source else ["period"]
    out = t.assign(period=period).groupby(keys, as_index=False, sort=True)["n"].sum()
    if not by_source:
        out["referral_source"] = "all sources"
    return pd.DataFrame(control_entries(out.to_dict(orient="records"), rule))


def build_report(
    programme: str,
    data_dir: str | Path = "data/processed",
    output_dir: str | Path | None = None,
    *,
    ratio: int | None = None,
    caliper: float | None = None,
    plans_dir: str | Path | None = None,
    rule: DisclosureRule = DEFAULT_RULE,
    progress: Any = None,
) -> ProgrammeReport:
    """Run a programme's analyses once and assemble its controlled report content.

    ``data_dir`` is the processed data (``make data`` or :func:`ensure_data` makes it). With
    ``output_dir`` the results.json, table CSVs and figure PNGs are written there as well.
    ``ratio`` and ``caliper`` override the programme's matching options (None or 0: as
    configured); any difference from the locked analysis plan in ``plans_dir`` (default
    ``<project>/plans``) is listed as a deviation in the report.
    """
    options = {"ratio": ratio or None, "caliper": caliper or None}
    plans = Path(plans_dir) if plans_dir is not None else project_root() / "plans"
    with quiet():
        report = _build(programme, data_dir, rule, progress or (lambda msg: None), options, plans)
    if output_dir is not None:
        report.write(output_dir)
    return report


def _build(
    programme: str,
    data_dir: str | Path,
    rule: DisclosureRule,
    say: Any,
    options: dict[str, Any],
    plans_dir: Path,
) -> ProgrammeReport:
    study = load_study(programme, data_dir)
    prog = study.programme
    say("matching participants to risk-set controls")
    mc = matched_cohort(
        study,
        ratio=options.get("ratio"),
        caliper=options["caliper"] if options.get("caliper") else "config",
    )
    say("difference-in-differences per setting and window")
    fits = utilisation_all(mc)
    say("minimum detectable effects")
    mdes = mde_utilisation_all(mc, fits)
    util_raw = [
        {k: v for k, v in e.items() if k != "mde_sentence"}
        for e in add_mde(utilisation_table(fits).to_dict(orient="records"), mdes)
    ]
    say("event studies")
    es = {s: event_study(mc, s) for s in FOCUS_SETTINGS if s in prog.outcomes.settings}
    say("sensitivity analyses")
    sens = sensitivity(study, mc)
    say("wellbeing pre/post")
    wb_results = wellbeing_all(study)
    wb_raw = wellbeing_entries(wb_results)
    say("reach, pathway and outcomes by deprivation")
    reach_res = reach_all(study)
    reach_entries = control_entries(reach_res.entries(), rule)
    paths = [pathway(study), *(pathway(study, by=g) for g in ("imd_quintile", "ethnicity_group"))]
    pathway_entries = control_entries(
        [e for i, p in enumerate(paths) for e in p.entries() if i == 0 or e["group"] != "all"],
        rule,
    )
    obd = outcomes_by_deprivation(study, mc)
    obd_dict = _strip_notes(obd.to_dict())
    obd_dict["entries"] = control_entries(obd_dict["entries"], rule)
    trends = referral_trends(study, freq="year")
    waiting = pd.DataFrame(control_entries(trends.tidy("waiting").to_dict(orient="records"), rule))
    say("costs and return on investment")
    econ = economics(study, mc)
    econ_dict = control_entry(_strip_notes(econ.to_dict()), rule)
    econ_dict["assumptions"] = safe_notes(econ.notes)
    m = mc.match
    raw_matching = {
        "n_participants": int(m.n_treated),
        "n_matched": int(m.n_matched_treated),
        "n_unmatched": int(m.n_treated - m.n_matched_treated),
        "n_controls": int(mc.n_controls),
    }
    balance_raw = m.balance()
    n_ctrl_after = float(m.matched.loc[m.matched[m.treatment] == 0, "weight"].sum())
    balance = control_balance(
        balance_raw, int(m.n_treated), float(m.n_controls), n_ctrl_after, rule
    )
    max_smd = float(balance_raw.drop(index="distance", errors="ignore")["smd_after"].abs().max())
    matching = control_entries([raw_matching], rule)[0]
    matching.update(
        {
            "share_matched": raw_matching["n_matched"] / raw_matching["n_participants"],
            "max_abs_smd_after": max_smd,
            "caliper_width": m.caliper_width,
        }
    )
    parameters = {
        "programme": prog.slug,
        "outcomes": prog.outcomes.model_dump(),
        "matching": mc.spec,
        "unit_costs": {"table": study.unit_costs.name, "price_year": study.unit_costs.price_year},
        "instruments": list(prog.instruments),
        "disclosure": {"threshold": rule.threshold, "base": rule.base, "rounding": rule.rounding},
    }
    used = resolved_plan(prog, unit_costs=study.unit_costs)
    used["matching"] = {k: mc.spec.get(k, v) for k, v in used["matching"].items()}
    used["disclosure"] = {"threshold": rule.threshold, "rounding_base": rule.base}
    plan = plan_status(prog, used, plans_dir)
    results = build_results(
        prog.slug,
        processed_dir=Path(data_dir),
        parameters=parameters,
        utilisation=util_raw,
        wellbeing=wb_raw,
        rule=rule,
        extra={
            "matching": matching,
            "sensitivity": control_entries(sens.to_dict(orient="records"), rule),
            "event_study": {
                s: r.event_study.drop(columns=["pre", "reference"], errors="ignore").to_dict(
                    orient="records"
                )
                for s, r in es.items()
            },
            "pretrend_p_value": {s: r.pretrend_p_value for s, r in es.items()},
            "reach": reach_entries,
            "pathway": pathway_entries,
            "economics": econ_dict,
            "outcomes_by_deprivation": obd_dict,
            "waiting_times": waiting.to_dict(orient="records"),
            "methods": {**methods_appendix(prog.instruments), "mde": MDE_METHOD},
            "plan": plan,
        },
    )
    wb_table = _wellbeing_table(results["wellbeing"])
    tables: dict[str, pd.DataFrame] = {
        "utilisation": pd.DataFrame(results["utilisation"]),
        "wellbeing": wb_table,
        "balance": balance.reset_index(names="covariate"),
        "overlap": _overlap_bins(mc, rule),
        "sensitivity": pd.DataFrame(results["sensitivity"]),
        "matching": pd.DataFrame([results["matching"]]),
        "reach": pd.DataFrame(results["reach"]),
        "pathway": pd.DataFrame(results["pathway"]),
        "outcomes_by_deprivation": pd.DataFrame(results["outcomes_by_deprivation"]["entries"]),
        "referrals_by_quarter": _referrals_by(trends, rule, "Q", by_source=False),
        "referrals_by_year_source": _referrals_by(trends, rule, "Y", by_source=True),
        "waiting_times": pd.DataFrame(results["waiting_times"]),
        "unit_costs": pd.DataFrame(results["economics"]["unit_costs"]),
        "cost_by_setting": pd.DataFrame(results["economics"]["cost_change_by_setting"]),
    }
    for s in es:
        tables[f"event_study_{s}"] = pd.DataFrame(results["event_study"][s])
    say("figures")
    figures: dict[str, figs.ReportFigure] = {}
    util = tables["utilisation"]
    for s in es:
        label = nar.setting_label(s, capital=True)
        figures[f"compare_{s}"] = figs.comparison_figure(
            util[(util["setting"] == s) & (util["scale"] == "rate_ratio")],
            f"compare_{s}",
            label,
        )
        figures[f"event_study_{s}"] = figs.event_study_figure(
            tables[f"event_study_{s}"], f"event_study_{s}", label
        )
    figures["love_plot"] = figs.love_figure(balance.drop(index="distance", errors="ignore"))
    figures["overlap"] = figs.overlap_figure(tables["overlap"])
    if wb_table["effect_size"].notna().any():
        figures["wellbeing_change"] = figs.wellbeing_figure(wb_table)
    reach_t = tables["reach"].copy()
    reach_t["label"] = reach_t["group"].str.replace("_", " ") + ": " + reach_t["level"].astype(str)
    reach_plot = reach_t[reach_t["group"].isin(["imd_quintile", "ethnicity_group"])].rename(
        columns={"ratio_vs_reference": "estimate"}
    )
    figures["reach"] = figs.forest_figure(
        reach_plot[reach_plot["ci_low"].notna()],
        "reach",
        label_col="label",
        title="Referral rate against the reference group",
        xlabel="Rate ratio (log scale): referrals per eligible person-year vs reference",
        caption="Reach: each group's referral rate per eligible person-year against the "
        "reference group (IMD quintile 5, the least deprived; for ethnicity the largest group), "
        "with exact Poisson 95% CIs. Above 1 = referred more often. Groups with a suppressed "
        "count, or with no participants, are not shown.",
    )
    for by in ("imd_quintile", "ethnicity_group"):
        table = tables["pathway"][tables["pathway"]["group"].isin(["all", by])]
        ax = paths[1 if by == "imd_quintile" else 2].plot(table=table)
        figures[f"pathway_{by}"] = figs.from_axes(
            f"pathway_{by}",
            ax,
            f"Pathway by {by.replace('_', ' ')}: the share of referred people still on the "
            "pathway at each step, from counts rounded to the nearest 5 (a suppressed count "
            "leaves a gap).",
            "Step chart from referral to a follow-up wellbeing measure, one line per group; "
            + "; ".join(
                f"{r.level}: {r.n if r.n is not None else 'suppressed'} at {r.step}"
                for r in table[table["step"].isin(["referred", "followup_measure"])].itertuples()
            ),
        )
    figures["referral_trends"] = figs.referrals_figure(tables["referrals_by_quarter"])
    obd_t = tables["outcomes_by_deprivation"]
    if len(obd_t) and "estimate" in obd_t:
        obd_t = obd_t.assign(
            label=obd_t["outcome"].map(lambda o: nar.setting_label(o, capital=True))
            + ", IMD "
            + obd_t["level"].astype(str)
        )
        rr = obd_t[obd_t["scale"] == "rate_ratio"]
        if len(rr):
            figures["outcomes_by_deprivation"] = figs.forest_figure(
                rr,
                "outcomes_by_deprivation",
                label_col="label",
                title="Matched DiD rate ratio by deprivation (6 months)",
                xlabel="Rate ratio (log scale), 95% CI",
                caption="Utilisation effect by IMD quintile group (1 = most deprived), matched "
                "DiD rate ratios at 6 months; quintiles are pooled where a group is small.",
            )
    figures["cost_by_setting"] = figs.from_axes(
        "cost_by_setting",
        econ.plot_cost_by_setting(),
        "NHS cost change per participant by setting over 12 months (participants against "
        "matched controls), with 95% bootstrap CIs; below 0 = cost less than expected.",
        "Dot plot of cost change by setting: "
        + "; ".join(
            f"{r['setting']}: £{r['cost_difference_per_participant']:,.0f}"
            for r in results["economics"]["cost_change_by_setting"]
        ),
    )
    return ProgrammeReport(prog, results, tables, figures, list(mc.notes))

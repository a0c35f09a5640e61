"""Provider data-quality reports: what each provider submitted and what intake found in it.

:func:`provider_quality` reads a processed intake (accepted tables, quarantine, the episodes file
of :mod:`evalkit.intake.episodes`) and counts, per provider: completeness of every referral field,
rows quarantined by reason (invalid codes and the rest), linkage of its people to the GP register,
questionnaire rows quarantined and questionnaires not scorable, duplicate and conflicting
submissions, and timeliness (``submitted_on`` against the referral and end dates: median days and
rows over 30 and 90 days). :func:`write_provider_reports` publishes them under the project's one
small-number rule (:mod:`evalkit.reporting.disclosure`: counts 1-7 suppressed, others rounded to
5, shares from the rounded counts, medians over 1-7 rows not shown) as
``reports/providers/<provider>/index.html`` and ``quality.csv``, scans them with the disclosure
checker, and writes the row-level list of problems, by the provider's own episode ids (never a
person id or NHS number), to ``data/returns/<provider>/problems.csv``, outside ``reports/``. See
``docs/decisions/provider-submissions.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit import __version__
from evalkit import contract as C
from evalkit.files import write_text
from evalkit.intake.episodes import EPISODES_FILE
from evalkit.intake.report import REASON_TEXT
from evalkit.reporting.checker import CheckResult, check_outputs
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule
from evalkit.reporting.html import qualified_name, render

__all__ = [
    "METRIC_COLUMNS",
    "PROBLEM_COLUMNS",
    "ProviderQuality",
    "provider_quality",
    "provider_slug",
    "write_provider_reports",
]

#: Columns of :meth:`ProviderQuality.tidy` (and of each ``quality.csv``).
METRIC_COLUMNS = ("provider", "section", "measure", "field", "n", "n_base", "share", "median_days")
#: Columns of each ``problems.csv``: the provider's own episode id, the field and the reason.
PROBLEM_COLUMNS = ("episode_id", "field", "reason", "detail")
#: Columns of the intake's episodes file (:data:`evalkit.intake.episodes.EPISODES_FILE`).
_EPISODE_COLUMNS = (
    "row_number", "episode_id", "provider", "outcome", "kept_episode_id", "fields", "providers",
)  # fmt: skip
#: Timeliness thresholds, in days after the referral (or the episode's end).
LATE_DAYS = (30, 90)
_SECTIONS = {
    "submissions": "Rows received",
    "completeness": "Completeness of each referral field (rows with a value)",
    "invalid": "Referral rows quarantined, by reason",
    "linkage": "Linkage to the GP register",
    "questionnaires": "Questionnaires",
    "episodes": "Duplicate and conflicting submissions of one episode",
    "timeliness": "Timeliness of submission",
}


def provider_slug(name: str) -> str:
    """A provider's folder name: lower case, runs of other characters as one dash.

    Examples
    --------
    >>> provider_slug("Art Shape (Gloucester)")
    'art-shape-gloucester'
    """
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-") or "provider"


@dataclass(frozen=True)
class ProviderQuality:
    """Data-quality counts of every provider in one processed intake (uncontrolled).

    Attributes
    ----------
    metrics : pandas.DataFrame
        :data:`METRIC_COLUMNS`: one row per provider and measure, raw counts ``n`` out of
        ``n_base`` (empty when the measure has no base), ``share`` = n / n_base, and
        ``median_days`` for timeliness.
    problems : pandas.DataFrame
        ``provider`` and :data:`PROBLEM_COLUMNS`: one row per problem, by episode id.
    spec : dict
        What was read (the processed folder, whether the episodes file was there).
    notes : tuple of str
        Plain-English notes (rows that could not be given a provider).
    """

    metrics: pd.DataFrame
    problems: pd.DataFrame
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def providers(self) -> list[str]:
        """The providers found, sorted."""
        return sorted(self.metrics["provider"].unique().tolist())

    def tidy(self) -> pd.DataFrame:
        """The raw metrics (:data:`METRIC_COLUMNS`); never publish these."""
        return self.metrics.copy()

    def controlled(self, rule: DisclosureRule = DEFAULT_RULE) -> pd.DataFrame:
        """The metrics under the small-number rule: what ``quality.csv`` holds.

        Counts through :meth:`DisclosureRule.count`; a share is computed from the controlled
        count and base (NHS Digital: percentages from rounded numerator and denominator) and is
        empty when either is suppressed; a median over 1-7 rows is empty. Rounding is what makes
        secondary suppression unnecessary, so a rule without it is refused.
        """
        if not rule.rounding:
            raise ValueError(
                "provider reports need a rounding rule: without rounding a suppressed count can be "
                "recovered from its total, and secondary suppression is not implemented"
            )
        out = self.metrics.copy()
        n = [rule.count(v) for v in out["n"]]
        base = [None if pd.isna(b) else rule.count(b) for b in out["n_base"]]
        share = [(a / b) if a is not None and b else None for a, b in zip(n, base, strict=True)]
        med = [
            None if pd.isna(m) or rule.is_small(b) or not b else m
            for m, b in zip(out["median_days"], out["n_base"], strict=True)
        ]
        out["n"] = pd.array(n, dtype="Int64")
        out["n_base"] = pd.array(base, dtype="Int64")
        out["share"] = pd.array(share, dtype="Float64").round(3)
        out["median_days"] = pd.array(med, dtype="Float64")
        return out

    def summary(self) -> str:
        """Plain text: providers and the raw counts of their quarantined and filtered rows."""
        lines = ["Provider data quality (raw counts; publish only write_provider_reports())"]
        sub = self.metrics[self.metrics["section"] == "submissions"]
        for p, d in sub.groupby("provider"):
            lines.append(
                f"{p}: " + ", ".join(f"{m} {int(v)}" for m, v in zip(d.measure, d.n, strict=True))
            )
        return "\n".join([*lines, *[f"- {n}" for n in self.notes]])

    def __repr__(self) -> str:
        return self.summary()


# ---- reading the processed intake -------------------------------------------------------------
def _read(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=columns or [])
    return pd.read_parquet(path)


def _empty(s: pd.Series) -> pd.Series:
    """Empty cells: null, or only white space."""
    return s.isna() | (s.astype("string").str.strip() == "")


def provider_quality(processed: str | Path) -> ProviderQuality:
    """Count every data-quality measure per provider from a processed intake.

    Parameters
    ----------
    processed : Path
        The processed folder (``data/processed`` or ``data/demo/processed``).

    Returns
    -------
    ProviderQuality
        Raw counts per provider; :meth:`ProviderQuality.controlled` is what may be published.
    """
    processed = Path(processed)
    if not (processed / "intake_report.json").exists():
        raise FileNotFoundError(f"{processed}: no intake_report.json (run intake first)")
    acc = _read(processed / "referrals.parquet")
    quar = _read(processed / "quarantine" / "referrals.parquet")
    episodes = _read(processed / EPISODES_FILE, [*_EPISODE_COLUMNS])
    notes: list[str] = []
    if not (processed / EPISODES_FILE).exists():
        notes.append("No episodes file (an intake before provider submissions): no duplicates.")
    quar = quar.assign(provider=quar["provider"].astype("string").str.strip())
    received = pd.concat(
        [acc.assign(_status="accepted"), quar.assign(_status="quarantined")], ignore_index=True
    )
    filtered = episodes[episodes["outcome"] == C.DUPLICATE_SUBMISSION]
    register = set(_read(processed / "population.parquet")["person_id"].astype(str))
    measures, mquar = _attributed_measures(processed, received, episodes)
    metrics: list[dict[str, Any]] = []
    problems: list[pd.DataFrame] = []
    for p in sorted(received["provider"].dropna().unique().tolist()):
        rows = received[received["provider"] == p]
        dups = filtered[filtered["provider"] == p]
        ms, mq = measures[measures["provider"] == p], mquar[mquar["provider"] == p]
        add = _adder(metrics, p)
        _submissions(add, rows, dups)
        _completeness(add, rows)
        _invalid(add, rows)
        _linkage(add, rows, register)
        _questionnaires(add, ms, mq)
        _episodes(add, rows, dups)
        late = _timeliness(add, rows[rows["_status"] == "accepted"])
        problems.append(_problems(p, rows, dups, episodes, mq, ms, late))
    n_unknown = int(received["provider"].isna().sum())
    if n_unknown:
        notes.append("Some referral rows have no provider and are in no provider's report.")
    metrics_df = pd.DataFrame(metrics, columns=list(METRIC_COLUMNS))
    problems_df = (
        pd.concat(problems, ignore_index=True)
        if problems
        else pd.DataFrame(columns=["provider", *PROBLEM_COLUMNS])
    )
    spec = {"processed": str(processed), "episodes_file": (processed / EPISODES_FILE).exists()}
    return ProviderQuality(metrics_df, problems_df, spec, tuple(notes))


def _adder(metrics: list[dict[str, Any]], provider: str) -> Any:
    def add(
        section: str,
        measure: str,
        n: int,
        base: int | None = None,
        *,
        field: str = "",
        median: float | None = None,
    ) -> None:
        metrics.append(
            {
                "provider": provider,
                "section": section,
                "measure": measure,
                "field": field,
                "n": int(n),
                "n_base": None if base is None else int(base),
                "share": (n / base) if base else None,
                "median_days": median,
            }
        )

    return add


def _attributed_measures(
    processed: Path, received: pd.DataFrame, episodes: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accepted and quarantined measures rows, each with the provider(s) of its episode id."""
    owners = pd.concat(
        [received[["episode_id", "provider"]], episodes[["episode_id", "provider"]]]
    ).dropna()
    owners = owners.assign(episode_id=owners["episode_id"].astype(str)).drop_duplicates()
    out = []
    for path in (processed / "measures.parquet", processed / "quarantine" / "measures.parquet"):
        m = _read(path)
        if m.empty:
            m = pd.DataFrame(columns=["episode_id", "instrument", "timepoint", "reason"])
        m = m.assign(episode_id=m["episode_id"].astype(str))
        out.append(m.merge(owners, on="episode_id", how="inner"))
    return out[0], out[1]


# ---- the measures -----------------------------------------------------------------------------
def _submissions(add: Any, rows: pd.DataFrame, dups: pd.DataFrame) -> None:
    add("submissions", "referral rows received", len(rows) + len(dups))
    add("submissions", "accepted", int((rows["_status"] == "accepted").sum()))
    add("submissions", "quarantined", int((rows["_status"] == "quarantined").sum()))
    add("submissions", "left out as exact repeats (duplicate submissions)", len(dups))


def _completeness(add: Any, rows: pd.DataFrame) -> None:
    for c in C.COLUMNS["referrals"]:
        if c == "provider":
            continue
        filled = 0 if c not in rows else int((~_empty(rows[c])).sum())
        add("completeness", "rows with a value", filled, len(rows), field=c)


def _invalid(add: Any, rows: pd.DataFrame) -> None:
    q = rows[(rows["_status"] == "quarantined") & (rows["reason"] != C.CONFLICTING_SUBMISSIONS)]
    by = q.groupby(["reason", "column"], dropna=False).size()
    for (reason, column), n in sorted(by.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))):
        text = f"{reason}: {REASON_TEXT.get(reason, reason)}"
        add("invalid", text, int(n), len(rows), field="" if pd.isna(column) else str(column))


def _linkage(add: Any, rows: pd.DataFrame, register: set[str]) -> None:
    ids = rows["person_id"].astype("string").str.strip()
    given = ~_empty(rows["person_id"])
    linked = int(ids[given].isin(register).sum())
    add("linkage", "person found in the GP register", linked, int(given.sum()), field="person_id")


def _questionnaires(add: Any, ms: pd.DataFrame, mq: pd.DataFrame) -> None:
    total = len(ms) + len(mq)
    for reason, n in mq.groupby("reason").size().sort_index().items():
        text = f"item rows quarantined, {reason}: {REASON_TEXT.get(reason, reason)}"
        add("questionnaires", text, int(n), total)
    scores = _scores(ms)
    add(
        "questionnaires",
        "questionnaires not scorable (too many items missing)",
        int((~scores["scorable"]).sum()) if len(scores) else 0,
        len(scores),
    )


def _scores(ms: pd.DataFrame) -> pd.DataFrame:
    """One row per accepted questionnaire (episode, instrument, timepoint) with ``scorable``."""
    if ms.empty:
        return pd.DataFrame(columns=["episode_id", "instrument", "timepoint", "scorable"])
    from evalkit.config import instruments
    from evalkit.stats.scoring import score_measures

    defs = instruments()
    known = ms[ms["instrument"].isin(list(defs))]
    cols = ["episode_id", "instrument", "timepoint", "assessed_on", "item", "response"]
    s = score_measures(known[cols].drop_duplicates(), defs)
    # Separately reported items (ONS4) score one row each: one questionnaire is all its rows.
    s = s.assign(instrument=s["instrument"].str.split("_").str[0].where(
        s["instrument"].str.startswith("ons4_"), s["instrument"]
    ))  # fmt: skip
    return s.groupby(["episode_id", "instrument", "timepoint"], as_index=False).agg(
        scorable=("scorable", "all"), reason=("reason_not_scored", "first")
    )


def _episodes(add: Any, rows: pd.DataFrame, dups: pd.DataFrame) -> None:
    conflicts = int((rows.get("reason") == C.CONFLICTING_SUBMISSIONS).sum())
    base = len(rows) + len(dups)
    add("episodes", "exact repeats left out (the earliest submission kept)", len(dups), base)
    add(
        "episodes",
        "rows of an episode submitted with different data (quarantined)",
        conflicts,
        base,
    )


def _timeliness(add: Any, acc: pd.DataFrame) -> pd.DataFrame:
    """Days from referral and from end to submission; returns the rows submitted too early."""
    if "submitted_on" not in acc or acc.empty:
        add("timeliness", "rows with a submission date", 0, len(acc), field="submitted_on")
        return acc.iloc[0:0]
    sub = pd.to_datetime(acc["submitted_on"])
    add(
        "timeliness",
        "rows with a submission date",
        int(sub.notna().sum()),
        len(acc),
        field="submitted_on",
    )
    for col, what in (("referral_date", "the referral"), ("end_date", "the episode's end")):
        days = (sub - pd.to_datetime(acc[col])).dt.days.dropna()
        median = float(np.median(days)) if len(days) else None
        for limit in LATE_DAYS:
            add(
                "timeliness",
                f"submitted more than {limit} days after {what}",
                int((days > limit).sum()),
                len(days),
                field=col,
                median=median,
            )
    early = acc[(sub < pd.to_datetime(acc["referral_date"])).to_numpy()]
    add(
        "timeliness",
        "submitted before the referral date",
        len(early),
        int(sub.notna().sum()),
        field="submitted_on",
    )
    return early


def _problems(
    provider: str,
    rows: pd.DataFrame,
    dups: pd.DataFrame,
    episodes: pd.DataFrame,
    mq: pd.DataFrame,
    ms: pd.DataFrame,
    early: pd.DataFrame,
) -> pd.DataFrame:
    """The provider's row-level problems: episode id, field, reason and a detail (no person)."""
    q = rows[rows["_status"] == "quarantined"]
    detail = episodes[episodes["outcome"] == C.CONFLICTING_SUBMISSIONS].set_index("episode_id")
    conflict_text = {
        e: f"providers: {r['providers']}; fields: {r['fields']}".replace(",", ", ")
        for e, r in detail[~detail.index.duplicated()].iterrows()
    }
    parts = [
        pd.DataFrame(
            {
                "episode_id": q["episode_id"].astype("string"),
                "field": q["column"].astype("string"),
                "reason": q["reason"],
                "detail": [
                    conflict_text.get(e, REASON_TEXT.get(r, ""))
                    for e, r in zip(q["episode_id"], q["reason"], strict=True)
                ],
            }
        ),
        pd.DataFrame(
            {
                "episode_id": dups["episode_id"],
                "field": "",
                "reason": C.DUPLICATE_SUBMISSION,
                "detail": [
                    f"same data as episode {k}, which was kept" for k in dups["kept_episode_id"]
                ],
            }
        ),
        pd.DataFrame(
            {
                "episode_id": mq["episode_id"],
                "field": mq["column"] if "column" in mq else "",
                "reason": mq["reason"],
                "detail": mq["instrument"].astype("string")
                + " "
                + mq["timepoint"].astype("string"),
            }
        ),
        _unscorable(ms),
        pd.DataFrame(
            {
                "episode_id": early["episode_id"],
                "field": "submitted_on",
                "reason": "submitted before the referral date",
                "detail": "",
            }
        ),
    ]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts
    ) else pd.DataFrame(columns=list(PROBLEM_COLUMNS))  # fmt: skip
    out = out.astype("string").fillna("")
    out.insert(0, "provider", provider)
    return out.sort_values(["episode_id", "field", "reason"], ignore_index=True)


def _unscorable(ms: pd.DataFrame) -> pd.DataFrame:
    s = _scores(ms)
    s = s[~s["scorable"].astype(bool)] if len(s) else s
    return pd.DataFrame(
        {
            "episode_id": s["episode_id"],
            "field": "response",
            "reason": "questionnaire not scorable",
            "detail": s["instrument"].astype("string") + " " + s["timepoint"].astype("string"),
        }
    )


# ---- publishing -------------------------------------------------------------------------------
def write_provider_reports(
    quality: ProviderQuality,
    out: str | Path = Path("reports/providers"),
    returns: str | Path = Path("data/returns"),
    *,
    rule: DisclosureRule = DEFAULT_RULE,
    person_ids: frozenset[str] = frozenset(),
) -> CheckResult:
    """Write each provider's report and problems list; scan the reports; return the scan.

    ``out/<provider>/index.html`` and ``quality.csv`` hold the controlled metrics only;
    ``returns/<provider>/problems.csv`` the row-level problems by episode id, for return to the
    provider. ``returns`` must lie outside ``out`` and outside any ``reports`` folder above it.
    A finding of the disclosure checker raises ``ValueError`` (nothing is left half-checked:
    the files stay for inspection, and the command fails).
    """
    out, returns = Path(out), Path(returns)
    ro, rr = out.resolve(), returns.resolve()
    fences = [ro, *[p for p in ro.parents if p.name == "reports"]]
    if any(rr == f or f in rr.parents for f in fences):
        raise ValueError(f"{returns}: the problems list must go outside {out} and reports/")
    table = quality.controlled(rule)
    for p in quality.providers:
        slug = provider_slug(p)
        mine = table[table["provider"] == p]
        write_text(_csv(mine, quality.metrics), out / slug / "quality.csv")
        page = render(
            "provider_quality.html.j2",
            provider=p,
            sections=_sections(mine),
            notes=list(quality.notes),
            version=__version__,
            analysis=qualified_name(provider_quality),
        )
        write_text(page.body + "\n", out / slug / "index.html")
        probs = quality.problems[quality.problems["provider"] == p][list(PROBLEM_COLUMNS)]
        write_text(probs.to_csv(index=False), returns / slug / "problems.csv")
    result = check_outputs(out, person_ids=person_ids, rule=rule)
    if not result.ok:
        raise ValueError(result.summary())
    return result


def _csv(mine: pd.DataFrame, raw: pd.DataFrame) -> str:
    """``quality.csv``: a suppressed count (or a value resting on one) is ``*``; empty = n/a."""
    base_given = raw.loc[mine.index, "n_base"].notna()
    text = pd.DataFrame(
        {
            **{c: mine[c].astype("string") for c in ("provider", "section", "measure", "field")},
            "n": mine["n"].astype("string").fillna("*"),
            "n_base": mine["n_base"].astype("string").where(~base_given, lambda s: s.fillna("*")),
            "share": mine["share"].astype("string").where(~base_given, lambda s: s.fillna("*")),
            "median_days": mine["median_days"]
            .astype("string")
            .where(raw.loc[mine.index, "median_days"].isna(), lambda s: s.fillna("*")),
        }
    )
    return text.fillna("").to_csv(index=False)


def _sections(mine: pd.DataFrame) -> list[dict[str, Any]]:
    """The controlled metrics as the template's sections and rows (display text)."""
    out = []
    for key, title in _SECTIONS.items():
        d = mine[mine["section"] == key]
        if d.empty:
            continue
        rows = [
            {
                "measure": r.measure,
                "field": r.field,
                "n": None if pd.isna(r.n) else int(r.n),
                "n_base": None if pd.isna(r.n_base) else int(r.n_base),
                "has_base": key != "submissions",
                "share": ""
                if key == "submissions"
                else ("–" if pd.isna(r.share) else f"{100 * r.share:.0f}%"),
                "median": "" if key != "timeliness" else (
                    "–" if pd.isna(r.median_days) else f"{r.median_days:.0f}"
                ),
            }
            for r in d.itertuples(index=False)
        ]  # fmt: skip
        out.append({"title": title, "rows": rows})
    return out

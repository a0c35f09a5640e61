"""What intake read, accepted and quarantined: the report objects and ``intake_report.json``.

:class:`IntakeReport` is what :func:`evalkit.intake.run_intake` returns; its
:meth:`~IntakeReport.to_dict` is the content of ``intake_report.json``, one
:class:`TableReport` per contract table. (Intake sits below the statistics layer, so these do
not share :class:`evalkit.stats.result.Result`; they show themselves the same way.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit import contract as C

__all__ = ["REASON_TEXT", "IntakeReport", "SourceReport", "TableReport"]

#: Plain-English meaning of each quarantine reason (used in messages and the docs).
REASON_TEXT: dict[str, str] = {
    C.MISSING_REQUIRED: "a required value is empty",
    C.MALFORMED_PERSON_ID: "person_id does not match the person id pattern",
    C.INVALID_TYPE: "not a number, or not a date in the expected format",
    C.IMPOSSIBLE_DATE: (
        "not a real calendar date, before 1900-01-02 (submitted_on: before 2000-01-01) or after "
        "the extract end"
    ),
    C.INVALID_CODE: "value not in the code list",
    C.OUT_OF_RANGE: "number outside its allowed range",
    C.UNKNOWN_PROGRAMME: "programme is not a configured programme",
    C.UNKNOWN_INSTRUMENT: "instrument is not a defined instrument",
    C.UNKNOWN_ITEM: "the instrument has no such item",
    C.RESPONSE_OUT_OF_RANGE: "response outside the instrument's item range",
    C.DATES_OUT_OF_ORDER: "date earlier than the date that must precede it",
    C.ATTENDED_EXCEEDS_OFFERED: "sessions_attended above sessions_offered",
    C.DUPLICATE_PERSON_ID: "person_id already seen on an earlier accepted row",
    C.DUPLICATE_EVENT_ID: "event_id already seen on an earlier accepted row",
    C.DUPLICATE_EPISODE: "episode_id already seen on an earlier accepted row",
    C.DUPLICATE_RESPONSE: "same episode, instrument, timepoint and item on an earlier row",
    C.PARENT_QUARANTINED: "its person or episode was quarantined",
    C.UNKNOWN_PERSON: "person_id not in the population table",
    C.UNKNOWN_EPISODE: "episode_id not in the referrals table",
    C.EVENT_OUTSIDE_REGISTRATION: "event outside the person's registration or after death",
    C.REGISTERED_BEFORE_BIRTH: "registered_from in a year before year_of_birth",
    C.REFERRAL_AFTER_DEATH: "referral after the person's date_of_death or registered_to",
    C.BORN_AFTER_REFERRAL: "the person's year_of_birth is after the referral's year",
    C.ASSESSED_OUTSIDE_EPISODE: (
        f"assessed more than {C.ASSESSED_BEFORE_REFERRAL_DAYS} days before the referral or "
        f"{C.ASSESSED_AFTER_END_DAYS} days after the episode's end"
    ),
    C.CONFLICTING_SUBMISSIONS: "one episode submitted with different data (all its rows held)",
}


@dataclass(frozen=True)
class SourceReport:
    """Intake of one source file of a table: ``rows_read = kept + filtered + quarantined``.

    ``rows_kept`` are the file's accepted rows; ``rows_filtered`` counts rows left out by each
    named filter rule (``keep <column>``); ``rows_quarantined`` counts quarantined rows by reason.
    """

    file: str
    sha256: str
    format: str
    rows_read: int
    rows_kept: int
    rows_filtered: dict[str, int]
    rows_quarantined: dict[str, int]
    size_bytes: int = 0

    @property
    def reconciled(self) -> bool:
        """Whether every row read is kept, filtered or quarantined, exactly once."""
        filtered = sum(self.rows_filtered.values())
        return self.rows_read == self.rows_kept + filtered + sum(self.rows_quarantined.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (an entry of a table's ``sources`` in ``intake_report.json``)."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_filtered": dict(self.rows_filtered),
            "rows_quarantined": dict(self.rows_quarantined),
            "size_bytes": self.size_bytes,
        }


@dataclass(frozen=True)
class TableReport:
    """Intake of one raw table: counts that reconcile, where it came from, what was ignored.

    A table read from several files (a mapping's ``sources``) has one :class:`SourceReport` per
    file in ``sources``; its ``rows_read`` is their sum, ``source_file`` their names joined with
    ``", "`` and ``sha256`` the SHA-256 of their hashes joined with newlines, in order.
    ``rows_read == rows_accepted + rows_filtered + rows_quarantined``.
    """

    table: str
    source_file: str
    format: str
    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    quarantined_by_reason: dict[str, int]
    sha256: str
    ignored_columns: tuple[str, ...] = ()
    absent_optional_columns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    size_bytes: int = 0
    #: Rows left out by a named filter rule (counted, written nowhere): read = accepted +
    #: quarantined + filtered.
    rows_filtered: int = 0
    filtered_by_rule: dict[str, int] = field(default_factory=dict)
    #: One entry per source file (a table of a mapping's ``sources`` has several).
    sources: tuple[SourceReport, ...] = ()

    @property
    def reconciled(self) -> bool:
        """Whether the table's and every file's counts reconcile, and the files sum to the table."""
        table = self.rows_read == self.rows_accepted + self.rows_filtered + self.rows_quarantined
        if not self.sources:
            return table
        sums = (
            sum(s.rows_read for s in self.sources) == self.rows_read
            and sum(s.rows_kept for s in self.sources) == self.rows_accepted
        )
        return table and sums and all(s.reconciled for s in self.sources)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (the per-table entry of ``intake_report.json``)."""
        return {
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "quarantined_by_reason": dict(self.quarantined_by_reason),
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "source_file": self.source_file,
            "format": self.format,
            "ignored_columns": list(self.ignored_columns),
            "absent_optional_columns": list(self.absent_optional_columns),
            "examples": list(self.examples),
            "rows_filtered": self.rows_filtered,
            "filtered_by_rule": dict(self.filtered_by_rule),
            "sources": [src.to_dict() for src in self.sources],
        }


@dataclass(frozen=True)
class IntakeReport:
    """What intake read, accepted and quarantined, per table.

    Attributes
    ----------
    tables : dict of str to TableReport
        One entry per contract table, in processing order.
    out_dir : Path
        Where the processed tables, ``quarantine/`` and ``intake_report.json`` were written.
    spec : dict
        Arguments actually used (mapping, extract end, programmes, instruments, threads).
    notes : tuple of str
        Plain-English notes (ignored columns, defaults assumed).
    """

    tables: dict[str, TableReport]
    out_dir: Path
    spec: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def rows_read(self) -> int:
        """Rows read over all tables."""
        return sum(t.rows_read for t in self.tables.values())

    @property
    def rows_accepted(self) -> int:
        """Rows accepted over all tables."""
        return sum(t.rows_accepted for t in self.tables.values())

    @property
    def rows_filtered(self) -> int:
        """Rows left out by filter rules over all tables."""
        return sum(t.rows_filtered for t in self.tables.values())

    @property
    def rows_quarantined(self) -> int:
        """Rows quarantined over all tables."""
        return sum(t.rows_quarantined for t in self.tables.values())

    def tidy(self) -> pd.DataFrame:
        """One row per table and outcome (``accepted``, a filter rule, a reason) with its count."""
        rows = []
        for name, t in self.tables.items():
            rows.append({"table": name, "outcome": "accepted", "n": t.rows_accepted})
            for rule, n in t.filtered_by_rule.items():
                rows.append({"table": name, "outcome": f"filtered: {rule}", "n": n})
            for reason, n in t.quarantined_by_reason.items():
                rows.append({"table": name, "outcome": reason, "n": n})
        return pd.DataFrame(rows, columns=["table", "outcome", "n"])

    def summary(self) -> str:
        """Plain-text summary: header, one line per table and reason, notes."""
        lines = [
            "Intake: raw tables checked against the data contract",
            f"Output: {self.out_dir}",
            f"Extract end: {self.spec.get('extract_end')}   Mapping: {self.spec.get('mapping')}",
            "",
            f"{'table':<12}{'read':>12}{'accepted':>12}{'quarantined':>13}  file",
        ]
        for name, t in self.tables.items():
            lines.append(
                f"{name:<12}{t.rows_read:>12,}{t.rows_accepted:>12,}{t.rows_quarantined:>13,}"
                f"  {t.source_file}"
            )
            for reason, n in t.quarantined_by_reason.items():
                lines.append(f"{'':<12}{'':>12}{reason:>24}: {n:,}")
            for rule, n in t.filtered_by_rule.items():
                lines.append(f"{'':<12}{'':>12}{'filtered ' + rule:>24}: {n:,}")
            if len(t.sources) > 1:
                for src in t.sources:
                    lines.append(
                        f"{'':<12}{src.rows_read:>12,}{src.rows_kept:>12,}"
                        f"{sum(src.rows_quarantined.values()):>13,}  - {src.file}"
                    )
        if self.notes:
            lines += ["", "Notes:", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        return f"<pre>{escape(self.summary())}</pre>"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary: the content of ``intake_report.json``."""
        return {
            "tables": {name: t.to_dict() for name, t in self.tables.items()},
            "reconciled": all(t.reconciled for t in self.tables.values()),
            "spec": self.spec,
            "notes": list(self.notes),
            "reason_order": list(C.REASONS),
        }

    def plot_quarantine(self, ax: Any = None) -> Any:
        """Horizontal bar chart of quarantined rows by table and reason; returns the Axes."""
        import matplotlib.pyplot as plt

        df = self.tidy()
        df = df[(df["outcome"] != "accepted") & ~df["outcome"].str.startswith("filtered: ")]
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 0.4 * max(len(df), 2) + 1))
        labels = [f"{r.table}: {r.outcome}" for r in df.itertuples()]
        ax.barh(labels, df["n"].to_numpy())
        ax.set_xlabel("rows quarantined")
        ax.set_title("Intake quarantine by reason")
        ax.invert_yaxis()
        return ax

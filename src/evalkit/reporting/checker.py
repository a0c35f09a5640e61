"""Scan a report folder for small counts and identifiers, and fail if any is found.

Disclosure control is applied where numbers are made (:mod:`evalkit.reporting.disclosure`); this
checker is the independent second line, run over every written file (docs/design/methods.md
section 5):

- **counts** in JSON (keys that name counts), CSV (count columns) and HTML (cells and spans that
  evalkit marks ``class="ek-count"``, plus "N people"-style phrases in the text) must be 0, or
  above the threshold and a multiple of the rounding base;
- **identifiers** anywhere in the text: the data's own person ids (when given), any 16-hex-digit
  pseudonym-shaped string, NHS-number-shaped strings with a valid check digit, UK postcodes, and
  any field or heading naming a date of birth.

Embedded images (``data:`` URIs) are removed before the text scans: a PNG cannot be read, which
is why figures are drawn only from disclosure-controlled tables.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from evalkit.nhs_number import is_valid_nhs_number
from evalkit.reporting.disclosure import COUNT_KEYS, DEFAULT_RULE, DisclosureRule

SCANNED_SUFFIXES = (".html", ".csv", ".json")
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")
_PSEUDONYM = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{16}(?![0-9A-Za-z])")
_NHS_NUMBER = re.compile(r"(?<![0-9A-Za-z.])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![0-9A-Za-z]|\.[0-9])")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2}\b")
_DOB_NAME = re.compile(r"date[ _-]?of[ _-]?birth|\bdob\b|birth[ _-]?date", re.IGNORECASE)
PEOPLE_PHRASE = re.compile(
    r"(?<![0-9.,£%])\b(\d+)\s+(people|persons|participants|patients|referrals|controls|starters)\b"
)
_STYLE_SCRIPT = re.compile(r"<(style|script)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")


def is_count_key(key: str) -> bool:
    """Whether a JSON key or CSV column holds a count of people or events."""
    return key in COUNT_KEYS or key.startswith("n_")


@dataclass(frozen=True)
class Finding:
    """One problem: the file, where in it, what kind, and the offending value."""

    path: str
    location: str
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.path} [{self.location}]: {self.kind}: {self.value}"


@dataclass(frozen=True)
class CheckResult:
    """What was scanned and what was found."""

    scanned: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No finding and at least one file scanned."""
        return not self.findings and bool(self.scanned)

    def summary(self) -> str:
        """Files scanned and each finding, one per line."""
        head = (
            f"disclosure check: {len(self.scanned)} file(s) scanned, "
            f"{len(self.findings)} finding(s)"
        )
        return "\n".join(
            [head, *[f"  {f}" for f in self.findings], *[f"  note: {n}" for n in self.notes]]
        )

    def __repr__(self) -> str:
        return self.summary()


class _CountCells(HTMLParser):
    """Collect the text of elements marked ``class="ek-count"``."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.cells: list[str] = []
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = dict(attrs).get("class") or ""
        if self.depth:
            self.depth += 1
        elif "ek-count" in classes.split():
            self.depth = 1
            self._buf = []

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            if not self.depth:
                self.cells.append("".join(self._buf).strip())

    def handle_data(self, data: str) -> None:
        if self.depth:
            self._buf.append(data)


def _bad_count(value: Any, rule: DisclosureRule) -> bool:
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        if text in ("", "*", "null", "None", "nan", "NaN"):
            return False
        try:
            value = float(text)
        except ValueError:
            return False
    if not isinstance(value, int | float) or value != value:
        return False
    if value == 0:
        return False
    if value != int(value):
        return True  # a count is never fractional
    n = int(value)
    if 1 <= n <= rule.threshold:
        return True
    return rule.rounding and n % rule.base != 0


def _walk_json(obj: Any, path: str, out: list[tuple[str, str, Any]]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append((f"{path}.{k}", str(k), v))
            _walk_json(v, f"{path}.{k}", out)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk_json(v, f"{path}[{i}]", out)


def _identifier_findings(
    text: str, where: str, person_ids: frozenset[str], check_postcodes: bool
) -> list[Finding]:
    out: list[Finding] = []
    for m in _PSEUDONYM.finditer(text):
        out.append(Finding(where, f"offset {m.start()}", "person-id-shaped string", m.group()))
    if person_ids:
        for token in set(re.findall(r"[0-9A-Za-z]{8,}", text)) & person_ids:
            out.append(Finding(where, "text", "person id from the data", token))
    for m in _NHS_NUMBER.finditer(text):
        digits = "".join(m.groups())
        if is_valid_nhs_number(digits):
            out.append(Finding(where, f"offset {m.start()}", "NHS-number-shaped string", m.group()))
    if check_postcodes:
        for m in _POSTCODE.finditer(text):
            out.append(Finding(where, f"offset {m.start()}", "postcode-shaped string", m.group()))
    for m in _DOB_NAME.finditer(text):
        out.append(Finding(where, f"offset {m.start()}", "date of birth field", m.group()))
    return out


def _json_findings(
    raw: str, text: str, where: str, ids: frozenset[str], rule: DisclosureRule
) -> list[Finding]:
    """Count keys and identifiers in a JSON file."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        return [Finding(where, f"line {exc.lineno}", "unreadable JSON", exc.msg)]
    items: list[tuple[str, str, Any]] = []
    _walk_json(obj, "$", items)
    findings = [
        Finding(where, loc, "small or unrounded count", repr(value))
        for loc, key, value in items
        if is_count_key(key) and not isinstance(value, dict | list) and _bad_count(value, rule)
    ]
    return findings + _identifier_findings(text, where, ids, check_postcodes=True)


def _csv_findings(
    raw: str, text: str, where: str, ids: frozenset[str], rule: DisclosureRule
) -> list[Finding]:
    """Count columns and identifiers in a CSV file."""
    findings = [
        Finding(where, f"row {i}, column {col}", "small or unrounded count", value)
        for i, row in enumerate(csv.DictReader(io.StringIO(raw)), start=2)
        for col, value in row.items()
        if col and is_count_key(col) and _bad_count(value, rule)
    ]
    return findings + _identifier_findings(text, where, ids, check_postcodes=True)


def _html_findings(
    raw: str, text: str, where: str, ids: frozenset[str], rule: DisclosureRule
) -> list[Finding]:
    """``ek-count`` cells, counts of people in visible text, and identifiers in an HTML page."""
    parser = _CountCells()
    parser.feed(text)
    findings = [
        Finding(where, f"ek-count cell {i}", "small or unrounded count", cell)
        for i, cell in enumerate(parser.cells)
        if _bad_count(cell, rule)
    ]
    visible = _TAGS.sub(" ", _STYLE_SCRIPT.sub(" ", text))
    findings += [
        Finding(where, f"text offset {m.start()}", "small or unrounded count", m.group())
        for m in PEOPLE_PHRASE.finditer(visible)
        if _bad_count(m.group(1), rule)
    ]
    findings += _identifier_findings(visible, where, ids, check_postcodes=True)
    findings += [
        f
        for f in _identifier_findings(text, where, ids, check_postcodes=False)
        if f.kind in ("person id from the data", "person-id-shaped string") and f not in findings
    ]
    return findings


_BY_SUFFIX = {".json": _json_findings, ".csv": _csv_findings, ".html": _html_findings}


def check_file(
    path: str | Path,
    *,
    person_ids: Iterable[str] = (),
    rule: DisclosureRule = DEFAULT_RULE,
) -> list[Finding]:
    """Findings in one HTML, CSV or JSON file (other files: none)."""
    path = Path(path)
    scan = _BY_SUFFIX.get(path.suffix.lower())
    if scan is None:
        return []
    raw = path.read_text(encoding="utf-8", errors="replace")
    return scan(raw, _DATA_URI.sub("data:", raw), str(path), frozenset(person_ids), rule)


def check_outputs(
    folder: str | Path,
    *,
    person_ids: Iterable[str] = (),
    rule: DisclosureRule = DEFAULT_RULE,
    require: Iterable[str] = (),
) -> CheckResult:
    """Scan every HTML, CSV and JSON file under ``folder``.

    ``require`` lists sub-folders (programme slugs) that must each contribute at least one HTML,
    one CSV and one JSON file; a missing kind is a finding, and an empty folder never passes.
    """
    folder = Path(folder)
    ids = frozenset(person_ids)
    files = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SCANNED_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    findings: list[Finding] = []
    for p in files:
        findings += check_file(p, person_ids=ids, rule=rule)
    for sub in require:
        for suffix in SCANNED_SUFFIXES:
            if not any(p.suffix == suffix and p.relative_to(folder).parts[0] == sub for p in files):
                findings.append(
                    Finding(str(folder / sub), "folder", "nothing scanned", f"no {suffix} file")
                )
    if not files:
        findings.append(Finding(str(folder), "folder", "nothing scanned", "no report files"))
    return CheckResult(tuple(str(p) for p in files), tuple(findings))

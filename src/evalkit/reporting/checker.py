"""Scan a report folder, every file in it, for small counts and identifiers; fail if any is found.

Disclosure control is applied where numbers are made (:mod:`evalkit.reporting.disclosure`); this
checker is the independent second line, run over every file of a report folder, hidden folders
included (docs/design/methods.md section 5; the rules are :mod:`evalkit.reporting.checker_rules`):

- **every file type**: HTML (and SVG), CSV, TSV, JSON, notebooks (each cell's source and every
  output: text, ``text/html``, ``text/plain``, JSON), PDF (its text, read with pypdf), and any
  other file as text (``.txt``, ``.md``, ``.log`` ...). Images (PNG, JPEG, GIF, WebP, TIFF, by
  their first bytes, not their names) are skipped and listed as skipped: figures are drawn only
  from disclosure-controlled tables. A file that is neither an image nor readable text is a
  finding: what cannot be read cannot be published;
- **counts** must be 0, or above the threshold and a multiple of the rounding base: in JSON keys,
  CSV/TSV columns and HTML table cells whose name or header names a count (``n_participants``,
  ``people``, ``N``, ``total`` ...), cells evalkit marks ``class="ek-count"``, JSON embedded in
  HTML (``<script type="application/json">``, a Vega-Lite spec's ``"values": [...]``), and counts
  written in text (``n = 3``, ``3 women``, ``3 of 45``);
- **identifiers** anywhere in the text: the data's own person ids (when given), any
  16-hex-digit pseudonym-shaped string, NHS-number-shaped strings with a valid check digit, UK
  postcodes, and any field or heading naming a date of birth;
- **leftovers** of an interrupted build (``.<slug>-staging-*``, ``.<slug>-old``,
  ``.intake-work-*``) must never be in a published folder: each is a finding, and its files are
  scanned too. A build's lock file (``.<slug>.lock``, a process id) is not.

Embedded images (``data:`` URIs) are removed before the text scans.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from evalkit.reporting import declared
from evalkit.reporting.checker_rules import (
    COUNT_KIND,
    bad_count,
    cell_number,
    count_phrases,
    identifier_findings,
    is_count_key,
    is_count_name,
    names_statistic,
)
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule

#: Every programme's report folder must hold at least one file of each of these types.
REQUIRED_SUFFIXES = (".html", ".csv", ".json")
#: "N people"-style phrases (tables.py drops notes that hold one; the checker reads more).
PEOPLE_PHRASE = re.compile(
    r"(?<![0-9.,£%])\b(\d+)\s+(people|persons|participants|patients|referrals|controls|starters)\b"
)
LEFTOVER_KIND = "leftover of an interrupted build"
#: Findings of one kind listed per file; the rest are counted in one more finding (a data table
#: in a report folder would otherwise list a million person ids).
MAX_PER_KIND = 20
_MORE = "file (further findings)"
UNREADABLE_KIND = "file the checker cannot read"
#: Leftovers of killed builds (docs/decisions/crash-safety.md), by folder name.
_LEFTOVER = re.compile(r"^\.(?:.+-staging-.*|.+-old|intake-work-.*)$")
_LOCK_FILE = re.compile(r"^\.[^/]+\.lock$")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*")
_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+")
_STYLE_SCRIPT = re.compile(r"<(style|script)\b.*?</\1>", re.DOTALL | re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_JSON_TYPE = re.compile(r"""type\s*=\s*["']?[^"'\s>]*json""", re.IGNORECASE)
#: Where a script (a Vega-Lite or Plotly spec) starts a block of embedded data.
_EMBEDDED_DATA = re.compile(r"""["']?(?:values|datasets|data)["']?\s*:\s*(?=[\[{])""")
_TAGS = re.compile(r"<[^>]+>")
_HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".svg", ".xml")
_MAX_NAME_WORDS = 6
_LETTER = re.compile(r"[A-Za-z]")
_MD_RULE = re.compile(r"\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*")
#: JSON text copied verbatim from evalkit's definitions (instrument sources: "a clinical
#: sample, n = 172" is a published study's size, not a count from the data). Identifiers are
#: still looked for there; counts in words are not.
_DEFINITION_TEXT = ("$.methods.instruments",)


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
    """What was scanned, what was skipped (images) and what was found."""

    scanned: tuple[str, ...]
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = field(default=())
    skipped: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """No finding and at least one file scanned."""
        return not self.findings and bool(self.scanned)

    def summary(self) -> str:
        """Files scanned and skipped, and each finding, one per line."""
        head = (
            f"disclosure check: {len(self.scanned)} file(s) scanned, "
            f"{len(self.skipped)} image(s) skipped, {len(self.findings)} finding(s)"
        )
        return "\n".join(
            [head, *[f"  {f}" for f in self.findings], *[f"  note: {n}" for n in self.notes]]
        )

    def __repr__(self) -> str:
        return self.summary()


class _Cells(HTMLParser):
    """Collect ``ek-count`` elements and every table cell with its row and column labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ek_cells: list[str] = []
        #: (table number, row number, column label, row label, text, is ek-count)
        self.cells: list[tuple[int, int, str, str, str, bool]] = []
        self._ek_depth = 0
        self._ek_buf: list[str] = []
        self._tables: list[dict[str, Any]] = []
        self._n_tables = 0
        self._cell: list[str] | None = None
        self._cell_tag = ""
        self._cell_ek = False
        self._cell_span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if self._ek_depth:
            self._ek_depth += 1
        elif "ek-count" in classes:
            self._ek_depth, self._ek_buf = 1, []
        if tag == "table":
            self._n_tables += 1
            self._tables.append({"n": self._n_tables, "rows": [], "row": None})
        elif self._tables and tag == "tr":
            self._tables[-1]["row"] = []
        elif self._tables and tag in ("td", "th"):
            self._cell, self._cell_tag, self._cell_ek = [], tag, "ek-count" in classes
            span = a.get("colspan") or "1"
            self._cell_span = int(span) if span.isdigit() else 1

    def handle_endtag(self, tag: str) -> None:
        if self._ek_depth:
            self._ek_depth -= 1
            if not self._ek_depth:
                self.ek_cells.append("".join(self._ek_buf).strip())
        if tag in ("td", "th") and self._cell is not None and self._tables:
            row = self._tables[-1]["row"]
            if row is not None:
                text = " ".join("".join(self._cell).split())
                row.append((self._cell_tag, text, self._cell_ek))
                row.extend([(self._cell_tag, text, self._cell_ek)] * (self._cell_span - 1))
            self._cell = None
        elif tag == "tr" and self._tables and self._tables[-1]["row"] is not None:
            self._tables[-1]["rows"].append(self._tables[-1]["row"])
            self._tables[-1]["row"] = None
        elif tag == "table" and self._tables:
            self._close_table(self._tables.pop())

    def handle_data(self, data: str) -> None:
        if self._ek_depth:
            self._ek_buf.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def _close_table(self, table: dict[str, Any]) -> None:
        """Label each data cell with its column header and its row's first text cell."""
        header: list[str] = []  # header rows joined per column: "People 2023", "Women share"
        for r, row in enumerate(table["rows"], start=1):
            if row and all(tag == "th" for tag, _, _ in row):
                header += [""] * (len(row) - len(header))
                header = [f"{h} {t}".strip() for h, (_, t, _) in zip(header, row, strict=False)]
                header += [""] * (len(row) - len(header))
                continue
            label = next((t for _, t, _ in row[:1] if cell_number(t) is None), "")
            for i, (tag, text, ek) in enumerate(row):
                column = header[i] if i < len(header) else ""
                if tag == "td" or i > 0:
                    self.cells.append((table["n"], r, column, label, text, ek))


def _is_count_cell(column: str, label: str, cell: str) -> bool:
    """Whether an unmarked table cell shows a count.

    A whole number under a header or in a row whose label names a count, when neither names a
    statistic (a share in the row of "Women", a mean under "People"). Headers of more than six
    words are titles (a programme's name), not names of counts; a number with decimals is a
    statistic.
    """
    if not re.fullmatch(r"\s*(\d{1,3}(,\d{3})+|\d+)\s*(\(.*\))?\s*", cell):
        return False
    names = [x for x in (column, label) if len(x.split()) <= _MAX_NAME_WORDS]
    return any(is_count_name(x) for x in names) and not any(
        names_statistic(x) for x in (column, label)
    )


@dataclass(frozen=True)
class _Scan:
    """The scans of one file; every finding names the file."""

    where: str
    ids: frozenset[str]
    rule: DisclosureRule

    def _f(self, location: str, kind: str, value: str) -> Finding:
        return Finding(self.where, location, kind, value)

    def identifiers(self, text: str, at: str = "", *, postcodes: bool = True) -> list[Finding]:
        """Identifiers in text, located after ``at`` (at most ``MAX_PER_KIND`` of each kind)."""
        out: list[Finding] = []
        seen: Counter[str] = Counter()
        for loc, kind, value in identifier_findings(text, self.ids, postcodes=postcodes):
            seen[kind] += 1
            if seen[kind] <= MAX_PER_KIND:
                out.append(self._f(f"{at}{loc}", kind, value))
        return out + [
            self._f(_MORE, kind, f"{n - MAX_PER_KIND} more not listed")
            for kind, n in seen.items()
            if n > MAX_PER_KIND
        ]

    def phrases(self, text: str, at: str = "") -> list[Finding]:
        """Counts written in words (``n = 3``, ``3 women``, ``3 of 45``)."""
        seen: set[tuple[int, str]] = set()
        out = []
        for offset, phrase, number in count_phrases(text):
            if bad_count(number, self.rule) and (offset, number) not in seen:
                seen.add((offset, number))
                out.append(self._f(f"{at}text offset {offset}", COUNT_KIND, phrase))
        return out

    def text(self, text: str, at: str = "") -> list[Finding]:
        """Plain text (a log, a notebook's stream, a PDF's page): counts and identifiers."""
        return self.phrases(text, at) + self.identifiers(text, at)

    def json_value(self, obj: Any, at: str = "$", *, statistics: bool = False) -> list[Finding]:
        """Keys that name counts, and counts in words in string values, anywhere in ``obj``.

        The keys of a flat object under a key that names a statistic (``"shares":
        {"improved": 0.28}``) are not counts (``statistics``) unless they are evalkit's own
        count keys (``n_improved``); records in a list always are
        looked at (``"rate_by_group": [{"n": 3, ...}]``).
        """
        out: list[Finding] = []
        if isinstance(obj, dict):
            for k, v in obj.items():
                path, key = f"{at}.{k}", str(k)
                named = is_count_key(key) or (not statistics and is_count_name(key))
                if named and not isinstance(v, dict | list):
                    if bad_count(v, self.rule):
                        out.append(self._f(path, COUNT_KIND, repr(v)))
                out += self.json_value(v, path, statistics=_flat(v) and names_statistic(key))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out += self.json_value(v, f"{at}[{i}]")
        elif isinstance(obj, str) and not at.startswith(_DEFINITION_TEXT):
            out += self.phrases(obj, f"{at} ")
        return out

    def json(self, raw: str, at: str = "") -> list[Finding]:
        """A JSON file (or embedded JSON text)."""
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            return [self._f(f"{at}line {exc.lineno}", "unreadable JSON", exc.msg)]
        text = _DATA_URI.sub("data:", raw)
        return self.json_value(obj, at + "$") + self.identifiers(text, at)

    def table(self, raw: str, delimiter: str = ",") -> list[Finding]:
        """CSV or TSV: columns named as counts, counts in words in any cell, identifiers."""
        out: list[Finding] = []
        reader = csv.reader(io.StringIO(raw), delimiter=delimiter)
        try:
            header = next(reader, [])
            counts = [is_count_name(h) for h in header]
            for r, row in enumerate(reader, start=2):
                for c, value in enumerate(row):
                    if c < len(counts) and counts[c]:
                        if bad_count(value, self.rule):
                            out.append(self._f(f"row {r}, column {header[c]}", COUNT_KIND, value))
                    elif _LETTER.search(value):  # a count in words needs a word
                        column = header[c] if c < len(header) else f"#{c + 1}"
                        out += self.phrases(value, f"row {r}, column {column}, ")
        except csv.Error as exc:
            return [self._f(f"line {reader.line_num}", UNREADABLE_KIND, f"not a table: {exc}")]
        return out + self.identifiers(raw)

    def html(self, raw: str, at: str = "") -> list[Finding]:
        """An HTML page (or a notebook's ``text/html`` output, an SVG)."""
        text = _DATA_URI.sub("data:", raw)
        cells = _Cells()
        cells.feed(text)
        cells.close()
        out = [
            self._f(f"{at}ek-count cell {i}", COUNT_KIND, cell)
            for i, cell in enumerate(cells.ek_cells)
            if bad_count(cell, self.rule)
        ]
        for table, row, column, label, cell, ek in cells.cells:
            if ek or not _is_count_cell(column, label, cell):
                continue
            number = cell_number(cell)
            if number is not None and bad_count(number, self.rule):
                where = f"{at}table {table}, row {row}, column {column or '?'} (row {label!r})"
                out.append(self._f(where, COUNT_KIND, cell))
        for i, m in enumerate(_SCRIPT.finditer(text), start=1):
            out += self.script(m.group(1), m.group(2), f"{at}script {i} ")
        visible = html.unescape(_TAGS.sub(" ", _STYLE_SCRIPT.sub(" ", text)))
        out += self.text(visible, at)
        out += [
            f
            for f in self.identifiers(text, at, postcodes=False)
            if f.kind in ("person id from the data", "person-id-shaped string") and f not in out
        ]
        return out

    def markdown(self, text: str, at: str = "") -> list[Finding]:
        """Markdown: counts in pipe tables (labelled as HTML cells are), then as HTML/text."""
        out: list[Finding] = []
        lines = text.splitlines()
        i = 0
        while i < len(lines) - 1:
            if not (lines[i].lstrip().startswith("|") and _MD_RULE.fullmatch(lines[i + 1])):
                i += 1
                continue
            header, j = _md_cells(lines[i]), i + 2
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                row = _md_cells(lines[j])
                label = row[0] if row and cell_number(row[0]) is None else ""
                for c, cell in enumerate(row[1:], start=1):
                    column = header[c] if c < len(header) else ""
                    number = cell_number(cell)
                    if _is_count_cell(column, label, cell) and bad_count(number, self.rule):
                        where = f"{at}line {j + 1}, column {column or '?'} (row {label!r})"
                        out.append(self._f(where, COUNT_KIND, cell))
                j += 1
            i = j
        return out + self.html(text, at)

    def script(self, attrs: str, body: str, at: str) -> list[Finding]:
        """A script's embedded data: all of it when typed JSON, else each ``"values": [...]``."""
        if _JSON_TYPE.search(attrs):
            return self.json(html.unescape(body) if "&quot;" in body else body, at)
        out: list[Finding] = []
        decoder = json.JSONDecoder()
        for m in _EMBEDDED_DATA.finditer(body):
            try:
                obj, _ = decoder.raw_decode(body, m.end())
            except json.JSONDecodeError:
                continue  # JavaScript, not JSON data
            out += self.json_value(obj, f"{at}offset {m.end()} $")
        return out

    def notebook(self, raw: str) -> tuple[list[Finding], list[str]]:
        """A notebook: every cell's source and output; images skipped (and counted)."""
        try:
            nb = json.loads(raw)
        except json.JSONDecodeError as exc:
            return [self._f(f"line {exc.lineno}", "unreadable notebook", exc.msg)], []
        out = self.identifiers(json.dumps(nb.get("metadata", {})), "metadata ")
        images: list[str] = []
        for i, cell in enumerate(nb.get("cells", [])):
            source = _joined(cell.get("source", ""))
            at = f"cell {i} source "
            if cell.get("cell_type") == "code":
                out += self.identifiers(source, at)  # code: a typed-in identifier, not counts
            else:
                out += self.markdown(source, at)
            for j, output in enumerate(cell.get("outputs", [])):
                at = f"cell {i} output {j} "
                out += self.text(_joined(output.get("text", "")), at)
                out += self.text("\n".join(output.get("traceback", [])), at)
                for mime, value in (output.get("data") or {}).items():
                    if mime.startswith("image/") and mime != "image/svg+xml":
                        images.append(f"{self.where} (cell {i} output {j} {mime})")
                    elif "html" in mime or "svg" in mime or "markdown" in mime:
                        out += self.html(_joined(value), f"{at}{mime} ")
                    elif "json" in mime:
                        out += self.json_value(value, f"{at}{mime} $")
                        out += self.identifiers(json.dumps(value), f"{at}{mime} ")
                    else:
                        out += self.text(_joined(value), f"{at}{mime} ")
        return out, images

    def pdf(self, data: bytes) -> list[Finding]:
        """A PDF's text, page by page (pypdf); a PDF it cannot read is a finding."""
        from pypdf import PdfReader  # only when there is a PDF

        try:
            pages = [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]
        except Exception as exc:  # pypdf raises many types on a damaged file
            return [
                self._f("file", UNREADABLE_KIND, f"PDF text not readable ({type(exc).__name__})")
            ]
        out: list[Finding] = []
        for k, page in enumerate(pages, start=1):
            out += self.text(page, f"page {k} ")
        return out


def _flat(value: Any) -> bool:
    """An object of scalars (or lists of scalars): no records inside."""
    return isinstance(value, dict) and not any(
        isinstance(x, dict) or (isinstance(x, list) and any(isinstance(y, dict | list) for y in x))
        for x in value.values()
    )


def _md_cells(line: str) -> list[str]:
    """The cells of a Markdown pipe-table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _joined(value: Any) -> str:
    """A notebook field: a string or a list of lines."""
    return "".join(value) if isinstance(value, list) else str(value)


def _is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _scan_file(
    path: Path, ids: frozenset[str], rule: DisclosureRule
) -> tuple[list[Finding], list[str]]:
    """Findings in one file, and what was skipped: the file (an image) or a notebook's images."""
    scan = _Scan(str(path), ids, rule)
    try:
        data = path.read_bytes()
    except OSError as exc:  # unreadable (permissions, a dangling link): cannot be published
        return [scan._f("file", UNREADABLE_KIND, exc.strerror or type(exc).__name__)], []
    suffix = path.suffix.lower()
    if _is_image(data):
        return [], [str(path)]
    if suffix == ".pdf" or data.startswith(b"%PDF-"):
        return scan.pdf(data), []
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raw = ""
    if "\x00" in raw or (data and not raw):
        return [scan._f("file", UNREADABLE_KIND, "binary, neither an image nor text")], []
    if suffix == ".ipynb":
        return scan.notebook(raw)
    readers: dict[str, Callable[[str], list[Finding]]] = {
        ".json": scan.json,
        ".geojson": scan.json,
        ".csv": scan.table,
        ".tsv": lambda text: scan.table(text, "\t"),
        ".tab": lambda text: scan.table(text, "\t"),
        ".md": scan.markdown,
        ".markdown": scan.markdown,
        **dict.fromkeys(_HTML_SUFFIXES, scan.html),
    }
    return readers.get(suffix, scan.text)(raw), []


def _capped(findings: list[Finding]) -> list[Finding]:
    """The first ``MAX_PER_KIND`` findings of each kind, and one that counts the others."""
    more: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    out = []
    for f in findings:
        if f.location == _MORE:
            more[f.kind] += int(f.value.split()[0])
            continue
        kept[f.kind] += 1
        if kept[f.kind] <= MAX_PER_KIND:
            out.append(f)
        else:
            more[f.kind] += 1
    return out + [
        Finding(findings[0].path, _MORE, k, f"{n} more not listed") for k, n in more.items()
    ]


def check_file(
    path: str | Path,
    *,
    person_ids: Iterable[str] = (),
    rule: DisclosureRule = DEFAULT_RULE,
) -> list[Finding]:
    """Findings in one file of any type (an image has none: it is skipped)."""
    return _capped(_scan_file(Path(path), frozenset(person_ids), rule)[0])


def _declared_findings(
    folder: Path, scanned: list[Path], rule: DisclosureRule, *, required: bool
) -> list[Finding]:
    """Findings of the declared outputs (:mod:`evalkit.reporting.declared`).

    Each report folder's files against its ``disclosure.json`` and the rule of each field's
    class, and every evalkit HTML table's columns declared (``data-kind``), its count columns
    controlled. Leftover folders are findings already and are not checked again.
    """
    out: list[Finding] = []
    published = [
        p for p in scanned if not any(_LEFTOVER.match(x) for x in p.relative_to(folder).parts)
    ]
    for p in published:
        if p.name == "results.json" and (required or (p.parent / declared.MANIFEST).is_file()):
            out += [
                Finding(str(p.parent / name), loc, kind, value)
                for name, loc, kind, value in declared.folder_findings(p.parent, rule)
            ]
        elif p.suffix == ".html":
            text = p.read_text(encoding="utf-8", errors="replace")
            out += [
                Finding(str(p), loc, kind, value)
                for loc, kind, value in declared.html_findings(text, rule)
            ]
    return out


def check_outputs(
    folder: str | Path,
    *,
    person_ids: Iterable[str] = (),
    rule: DisclosureRule = DEFAULT_RULE,
    require: Iterable[str] = (),
    declarations: bool = False,
) -> CheckResult:
    """Scan every file under ``folder``, hidden folders included; leftovers are findings.

    ``require`` lists sub-folders (programme slugs) that must each contribute at least one HTML,
    one CSV and one JSON file; a missing kind is a finding, and an empty folder never passes.
    A folder with a ``disclosure.json`` is checked against its declarations; with
    ``declarations`` (every evalkit build and ``evalkit check``) a report folder without one
    is a finding.
    """
    folder = Path(folder)
    ids = frozenset(person_ids)
    entries = sorted(folder.rglob("*"))
    findings: list[Finding] = [
        Finding(
            str(p),
            "folder",
            LEFTOVER_KIND,
            "a staging, old or work folder is never published; the next build of the same "
            "report (or intake) removes it, or remove it by hand",
        )
        for p in entries
        if p.is_dir() and _LEFTOVER.match(p.name)
    ]
    scanned: list[Path] = []
    skipped: list[str] = []
    for p in entries:
        if p.is_dir():
            continue
        if _LOCK_FILE.match(p.name) and p.is_file() and p.stat().st_size < 64:
            continue  # a build's lock: its process id
        found, skips = _scan_file(p, ids, rule)
        findings += _capped(found)
        skipped += skips
        if skips != [str(p)]:
            scanned.append(p)
    findings += _capped(_declared_findings(folder, scanned, rule, required=declarations))
    for sub in require:
        for suffix in REQUIRED_SUFFIXES:
            if not any(
                p.suffix == suffix and p.relative_to(folder).parts[0] == sub for p in scanned
            ):
                findings.append(
                    Finding(str(folder / sub), "folder", "nothing scanned", f"no {suffix} file")
                )
    if not scanned:
        findings.append(Finding(str(folder), "folder", "nothing scanned", "no report files"))
    return CheckResult(tuple(str(p) for p in scanned), tuple(findings), skipped=tuple(skipped))

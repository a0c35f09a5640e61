"""Declared outputs: every published field's disclosure class and base (issue #20 item 1).

Every field a report publishes (a results.json key, a CSV column) is declared here with its
*disclosure class* and the counts it rests on, instead of the checker guessing from column
names. The classes (docs/decisions/disclosure-classes.md):

``count``
    people or events: 0 stays 0, 1..threshold suppressed, the rest rounded to the base.
``share``
    a proportion of two counts, ``of=(numerator, denominator)``: published only as the ratio
    of the *published* (rounded) counts, so it cannot undo their rounding; suppressed when
    either is.
``derived``
    a mean, rate, ratio or valuation over people: suppressed whenever a count in ``base`` is.
``estimate``
    a model estimate: published only when every count in ``base`` is published and at least
    :data:`~evalkit.reporting.small.MIN_FOR_ESTIMATES` (ACRO's threshold for a regression).
``parameter`` / ``label`` / ``metadata``
    a configured constant (unit cost, WELLBY value), a category or text, provenance: not
    data about people (the checker still scans them for identifiers and small counts in text).

The build applies the rules by class to each section as it finishes
(:func:`apply_declared`); ``write_report`` writes the declarations of every field it wrote to
``disclosure.json`` (:func:`manifest`), and the checker checks files against the declarations
and the declarations against the rule (:func:`declaration_findings`). A field with no
declaration is a finding, so a new output cannot be published without one.

A base name is looked up in the field's own entry, then in the enclosing entries, then as a
dotted path from the section's root (``nhs_cost_difference.n_participants``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.reporting.declarations import EMPTY, KINDS, RESULTS, TABLES, Field
from evalkit.reporting.disclosure import DEFAULT_RULE, DisclosureRule
from evalkit.reporting.small import MIN_FOR_ESTIMATES

#: The file in each report folder that declares every field written (read by the checker).
MANIFEST = "disclosure.json"
#: Decimal places of a share computed from published counts (ample: the counts are rounded).
SHARE_DIGITS = 3


# ----------------------------------------------------------------------------- lookup
def _match(pattern: str, path: str) -> bool:
    """Whether declaration ``pattern`` covers field ``path`` (``*`` segments, ``x*`` subtrees)."""
    if pattern.endswith("*") and not pattern.endswith(".*") and pattern != "*":
        head = pattern[:-1]
        return path == head or path.startswith(head + ".")
    p, q = pattern.split("."), path.split(".")
    if pattern == "*":
        return True
    if len(p) != len(q):
        return False
    return all(a == "*" or a == b for a, b in zip(p, q, strict=True))


def lookup(declarations: dict[str, Field], path: str, value: Any = 0) -> Field | None:
    """The declaration of ``path``: an exact entry first, then the patterns in order.

    An empty ``value`` (None, ``[]``, ``{}``) at a node whose children are declared (an
    estimate not made, an empty list of entries) is declared as that empty subtree.
    """
    if path in declarations:
        return declarations[path]
    for pattern, decl in declarations.items():
        if "*" in pattern and _match(pattern, path):
            return decl
    if value is None or value == [] or value == {}:
        if path == "":
            return EMPTY if declarations else None
        head = path + "."
        if any(p.startswith(head) or _match(p, head + "x") for p in declarations):
            return EMPTY
    return None


def table_declarations(stem: str) -> dict[str, Field] | None:
    """Column declarations of CSV table ``stem`` (None if the table is not declared)."""
    spec = next(
        (
            v
            for k, v in TABLES.items()
            if k == stem or (k.endswith("*") and stem.startswith(k[:-1]))
        ),
        None,
    )
    if spec is None:
        return None
    section, prefix, own = spec
    out = dict(own)
    for path, decl in RESULTS.get(section or "", {}).items():
        if prefix and not _match(prefix + "*", path) and not path.startswith(prefix):
            continue
        if prefix.startswith("*"):
            column = path.split(".", 1)[1] if "." in path else path
        else:
            column = path[len(prefix) :]
        out.setdefault(column, decl)
    return out


# ----------------------------------------------------------------------------- walking
def fields(value: Any, prefix: str = "") -> Iterator[tuple[str, Any, list[dict[str, Any]]]]:
    """Every leaf field of a section: ``(path, value, enclosing dicts innermost first)``.

    A list of dicts contributes its items' fields under the list's path; a list of scalars,
    an empty list, or ``None`` is one leaf.
    """

    def walk(v: Any, path: str, parents: list[dict[str, Any]]) -> Iterator[Any]:
        if isinstance(v, dict):
            for k, x in v.items():
                yield from walk(x, f"{path}.{k}" if path else str(k), [v, *parents])
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            for x in v:
                yield from walk(x, path, parents)
        else:
            yield path, v, parents

    yield from walk(value, prefix, [])


def _resolve(name: str, parents: list[dict[str, Any]], root: Any) -> tuple[bool, Any]:
    """The value of base count ``name``: own entry, enclosing entries, then a root path.

    A suppressed count (listed in its entry's ``suppressed``, or ``*`` in a CSV) resolves to
    ``"*"``; ``(False, None)`` when there is no such field (a base of another file).
    """
    for d in parents:
        if name in d:
            listed = d.get("suppressed")
            if isinstance(listed, list | tuple) and name in listed:
                return True, "*"
            return True, d[name]
    node: Any = root
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        parent, node = node, node[part]
    listed = parent.get("suppressed")
    if isinstance(listed, list | tuple) and name.rsplit(".", 1)[-1] in listed:
        return True, "*"
    return True, node


def _suppressed(v: Any) -> bool:
    return v == "*"


def _is_missing(v: Any) -> bool:
    return v is None or v == "*" or (isinstance(v, float) and math.isnan(v))


def expected(
    decl: Field, value: Any, parents: list[dict[str, Any]], root: Any, rule: DisclosureRule
) -> tuple[bool, Any, str]:
    """``(ok, value the rule gives, why)`` for a published field under its declaration."""
    if decl.kind == "count":
        if _is_missing(value) or isinstance(value, bool) or not isinstance(value, int | float):
            return True, value, ""
        want = rule.count(value)
        ok = want is not None and float(want) == float(value)
        return (
            ok,
            want,
            "" if ok else "count not controlled (0, or above the threshold and rounded)",
        )
    bases = [_resolve(b, parents, root) for b in decl.base]
    if decl.kind == "share" and decl.of is not None:
        num = _resolve(decl.of[0], parents, root)[1]
        den_parts = [_resolve(d, parents, root)[1] for d in decl.of[1]]
        if _is_missing(num) or any(_is_missing(d) for d in den_parts) or num == "*":
            want = None
        else:
            den = sum(float(d) for d in den_parts)
            want = round(float(num) / den, SHARE_DIGITS) if den > 0 else None
        if _is_missing(value):
            # suppressing a share its counts would allow is conservative, never a leak
            return True, value, ""
        ok = want is not None and not _is_missing(value) and abs(float(value) - want) < 1e-9
        return ok, want, "" if ok else "share not computed from the published counts"
    if decl.kind in ("derived", "estimate"):
        missing = any(found and _suppressed(v) for found, v in bases)
        few = decl.kind == "estimate" and any(found and _few(v) for found, v in bases)
        if (missing or few) and not _is_missing(value):
            why = (
                "its base count is suppressed"
                if missing
                else (f"a model estimate on fewer than {MIN_FOR_ESTIMATES} people")
            )
            return False, None, why
    return True, value, ""


def _few(v: Any) -> bool:
    """A published base count too small for a model estimate (0 means no such group)."""
    return not _is_missing(v) and 0 < float(v) < MIN_FOR_ESTIMATES


def undeclared(section: str, value: Any) -> list[str]:
    """Paths in results.json section ``section`` with no declaration."""
    decls = RESULTS.get(section)
    if decls is None:
        return [section]
    return sorted({p for p, v, _ in fields(value) if lookup(decls, p, v) is None})


def apply_declared(section: str, value: Any, rule: DisclosureRule = DEFAULT_RULE) -> Any:
    """Apply the rule by class to an already count-controlled results.json section, in place.

    Shares become the ratio of the published counts; a derived value whose base count is
    suppressed, or a model estimate on fewer than 10 people, becomes ``None`` and is listed in
    its entry's ``suppressed``. Undeclared fields are left for the checker to report.
    """
    decls = RESULTS.get(section, {})
    for path, v, parents in list(fields(value)):
        decl = lookup(decls, path, v)
        if decl is None or not parents or decl.kind in ("parameter", "label", "metadata"):
            continue
        ok, want, _ = expected(decl, v, parents, value, rule)
        if ok:
            continue
        entry, key = parents[0], path.rsplit(".", 1)[-1]
        entry[key] = want
        if want is None:
            entry["suppressed"] = sorted({*entry.get("suppressed", []), key})
    return value


def manifest(results: dict[str, Any], tables: dict[str, list[str]]) -> dict[str, Any]:
    """``disclosure.json``: the declaration of every field written (undeclared ones omitted).

    ``tables`` maps each CSV file name to its columns.
    """
    out: dict[str, Any] = {"classes": list(KINDS), "min_for_estimates": MIN_FOR_ESTIMATES}
    declared_results: dict[str, dict[str, Any]] = {}
    for section, value in results.items():
        decls = RESULTS.get(section, {})
        declared_results[section] = {
            p: d.to_dict() for p, v, _ in fields(value) if (d := lookup(decls, p, v)) is not None
        }
    out["results.json"] = declared_results
    for name, columns in sorted(tables.items()):
        decls = table_declarations(name.removesuffix(".csv")) or {}
        out[name] = {c: d.to_dict() for c in columns if (d := lookup(decls, c)) is not None}
    return out


def _field(d: dict[str, Any]) -> Field:
    of = d.get("of")
    return Field(
        d["kind"],
        tuple(d.get("base", ())),
        (of["numerator"], tuple(of["denominator"])) if of else None,
    )


def _cell(text: str) -> Any:
    if text in ("", "*"):
        return None if text == "" else "*"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def declaration_findings(
    files: dict[str, Any], declarations: dict[str, Any], rule: DisclosureRule = DEFAULT_RULE
) -> list[tuple[str, str, str, str]]:
    """Check published files against their declarations, and the values against the rule.

    ``files`` maps a file name to its parsed content: results.json's dict, or a CSV's rows
    (dicts of strings). Returns ``(file, location, kind, value)`` tuples: a field with no
    declaration, a declaration of an unknown class, or a value the rule forbids.
    """
    out: list[tuple[str, str, str, str]] = []
    for name, content in sorted(files.items()):
        declared = declarations.get(name)
        if declared is None:
            out.append((name, "file", "no declarations for this file", "disclosure.json"))
            continue
        if name.endswith(".json"):
            units = [(s, v, declared.get(s, {})) for s, v in content.items()]
        else:
            rows = [{k: _cell(x) for k, x in row.items()} for row in content]
            units = [("", rows, declared)] if rows else []
        for section, value, decls in units:
            for path, v, parents in fields(value):
                where = f"{section}.{path}".strip(".") if section else path
                d = decls.get(path)
                if d is None:
                    out.append((name, where, "undeclared field (no disclosure class)", str(v)))
                    continue
                if d.get("kind") not in KINDS:
                    out.append((name, where, "unknown disclosure class", str(d.get("kind"))))
                    continue
                ok, want, why = expected(_field(d), v, parents, value, rule)
                if not ok:
                    out.append((name, where, why, f"{v} (the rule gives {want})"))
    return out


def apply_table(
    stem: str, table: pd.DataFrame, rule: DisclosureRule = DEFAULT_RULE
) -> pd.DataFrame:
    """:func:`apply_declared` for a report table (one row = one entry); a new frame."""
    decls = table_declarations(stem)
    if decls is None or table.empty:
        return table
    rows = table.to_dict(orient="records")
    changed = False
    for row in rows:
        for column in list(row):
            decl = lookup(decls, str(column))
            if decl is None or decl.kind in ("parameter", "label", "metadata"):
                continue
            ok, want, _ = expected(decl, row[column], [row], row, rule)
            if ok:
                continue
            changed = True
            row[column] = want
            if want is None and "suppressed" in row:
                listed = row["suppressed"] if isinstance(row["suppressed"], list) else []
                row["suppressed"] = sorted({*listed, str(column)})
    if not changed:
        return table
    out = pd.DataFrame(rows, columns=table.columns, index=table.index)
    return out


def small_models(
    raw: list[dict[str, Any]], published: list[dict[str, Any]], fields_: tuple[str, ...]
) -> list[dict[str, Any]]:
    """Blank the model estimates of entries fitted on too few people or clusters (raw counts).

    A model estimate is published only with at least :data:`MIN_FOR_ESTIMATES` participants,
    as many controls where there are controls, as many clusters (``n_clusters``, the smaller
    dimension when two-way) and as many residual degrees of freedom (clusters - 1 for
    cluster-robust errors): ACRO's thresholds, decided in docs/decisions/disclosure-classes.md.
    ``raw`` and ``published`` are the same entries before and after count control.
    """
    out = []
    for r, p in zip(raw, published, strict=True):
        n, controls = r.get("n_participants") or 0, r.get("n_controls") or 0
        clusters = r.get("n_clusters")
        too_few = (
            n < MIN_FOR_ESTIMATES
            or 0 < controls < MIN_FOR_ESTIMATES
            or (
                clusters is not None
                and (clusters < MIN_FOR_ESTIMATES or clusters - 1 < MIN_FOR_ESTIMATES)
            )
        )
        if too_few:
            blank = [k for k in fields_ if p.get(k) is not None]
            p = {**p, **{k: None for k in blank}}
            if blank:
                p["suppressed"] = sorted({*p.get("suppressed", []), *blank})
        out.append(p)
    return out


def apply_all(
    parts: dict[str, Any], tables: dict[str, pd.DataFrame], rule: DisclosureRule = DEFAULT_RULE
) -> dict[str, pd.DataFrame]:
    """:func:`apply_declared` on every results.json section (in place) and every table."""
    for name, part in parts.items():
        apply_declared(name, part, rule)
    return {name: apply_table(name, t, rule) for name, t in tables.items()}


def folder_findings(
    folder: Path, rule: DisclosureRule = DEFAULT_RULE
) -> list[tuple[str, str, str, str]]:
    """:func:`declaration_findings` for one programme's report folder (one with results.json).

    Its ``disclosure.json`` must exist and declare every field of results.json and of each CSV
    table beside it; a folder without results.json has nothing to check here. File names in the
    findings are relative to ``folder``.
    """
    results_path = folder / "results.json"
    if not results_path.is_file():
        return []
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return [(MANIFEST, "file", "missing: no field declarations", MANIFEST)]
    try:
        declarations = json.loads(manifest_path.read_text(encoding="utf-8"))
        files: dict[str, Any] = {"results.json": json.loads(results_path.read_text("utf-8"))}
    except (OSError, ValueError) as exc:
        return [(MANIFEST, "file", "unreadable", str(exc)[:80])]
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            files[path.name] = list(csv.DictReader(f))
    return declaration_findings(files, declarations, rule)


def secondary_suppression(
    entries: list[dict[str, Any]],
    rule: DisclosureRule = DEFAULT_RULE,
    *,
    count: str = "n",
    group: str = "group",
    by: tuple[str, ...] = ("step",),
    total: str = "all",
) -> list[dict[str, Any]]:
    """Suppress a second part where one suppressed part could be recovered from its total.

    Only when counts are not rounded (``rule.rounding`` False): a table of parts beside their
    total (each ``group``'s levels beside the ``total`` row, per ``by``) then gives a single
    suppressed part away by subtraction, so the smallest published part of that group is
    suppressed too. With rounding the differences are off by up to the rounding in every cell,
    the HES rule's reason for needing no secondary suppression (docs/reference/disclosure.md).
    """
    if rule.rounding:
        return entries
    out = [dict(e) for e in entries]
    totals = {tuple(e.get(k) for k in by) for e in out if e.get(group) == total}
    for key in totals:
        for g in {e.get(group) for e in out} - {total}:
            parts = [e for e in out if e.get(group) == g and tuple(e.get(k) for k in by) == key]
            hidden = [e for e in parts if count in (e.get("suppressed") or [])]
            shown = [e for e in parts if e.get(count) not in (None, 0) and e not in hidden]
            if len(hidden) == 1 and shown:
                smallest = min(shown, key=lambda e: e[count])
                smallest[count] = None
                smallest["suppressed"] = sorted({*(smallest.get("suppressed") or []), count})
    return out


class _Tables(HTMLParser):
    """Each evalkit table's (name, header (label, data-kind) pairs, rows of cell texts)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[tuple[str, str]], list[list[str]]]] = []
        self._cell: list[str] | None = None
        self._in_table = False
        self._kind = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and "ek-table" in (a.get("class") or "").split():
            self.tables.append((a.get("data-table") or "", [], []))
            self._in_table = True
        elif self._in_table and tag == "tr":
            self.tables[-1][2].append([])
        elif (
            self._in_table and tag in ("th", "td") and "ek-table-note" not in (a.get("class") or "")
        ):
            self._cell, self._kind = [], a.get("data-kind") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_table = False
        elif tag == "tr" and self._in_table and not self.tables[-1][2][-1]:
            self.tables[-1][2].pop()  # the header row (its cells went to the header)
        elif tag in ("th", "td") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            _, header, rows = self.tables[-1]
            if tag == "th":
                header.append((text, self._kind))
            else:
                rows[-1].append(text)
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def html_findings(text: str, rule: DisclosureRule = DEFAULT_RULE) -> list[tuple[str, str, str]]:
    """Every evalkit HTML table's columns declared (``data-kind``), its count cells controlled.

    Returns ``(location, kind, value)`` tuples; the caller adds the file.
    """
    parser = _Tables()
    parser.feed(text)
    out: list[tuple[str, str, str]] = []
    for name, header, rows in parser.tables:
        for i, (label, kind) in enumerate(header):
            where = f"table {name or '?'}, column {label!r}"
            if kind not in KINDS:
                out.append((where, "undeclared column (no disclosure class)", kind or label))
                continue
            if kind != "count":
                continue
            for row in rows:
                cell = row[i].replace(",", "") if i < len(row) else ""
                if cell in ("*", "–", "-", "") or not cell.replace(".", "", 1).isdigit():
                    continue
                if rule.count(float(cell)) != float(cell):
                    out.append((where, "count not controlled", row[i]))
    return out

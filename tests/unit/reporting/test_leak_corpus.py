"""A fixed corpus of planted leaks (issue #20, "What it must show"): each is caught by the checker.

Every case plants one leak in one file of an otherwise clean report folder and asserts the
checker's finding names that file and the right kind. The cases are the issue's: a small count
in a column the checker did not recognise by name (``people``, ``N``, ``total``), ``n = 3`` and
``3 women`` in text, an unlabelled table cell, a count in a notebook output, in a ``.txt`` /
``.tsv``, in a hidden folder, in a log, in JSON embedded in HTML (the explorer's data), a
leftover staging folder; and an NHS number, a postcode, a pseudonym, a person id of the data and
a date of birth in each output type (HTML, CSV, TSV, JSON, notebook, PDF, explorer data, log,
text, Markdown). The PDF is written by hand (one page, one text stream): no browser.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from evalkit.reporting.checker import LEFTOVER_KIND, check_outputs
from evalkit.reporting.checker_rules import COUNT_KIND

SLUG = "mindsong"
PERSON_ID = "P00012345678"  # an id of the data (given to the checker, as the pipeline does)
#: The clean report every case starts from: it must pass on its own (see the first test).
CLEAN = {
    "index.html": (
        "<html><body><main><h1>Report</h1><p>120 participants; rate ratio 0.84 (95% CI 0.74 "
        "to 0.96) over 12 months, 2023 to 2024.</p><table><tr><th>group</th><th>people</th>"
        "<th>share</th></tr><tr><td>all</td><td>120</td><td>0.37</td></tr></table></main>"
        "</body></html>"
    ),
    "reach.csv": "group,participants,eligible_person_years\nall,120,224.42\n",
    "results.json": json.dumps({"matching": {"n_participants": 120, "share_matched": 0.85}}),
}


def _html(text: str) -> str:
    return f"<html><body><main><p>{text}</p></main></body></html>"


def _table(text: str, delimiter: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerows([["group", "note"], ["all", text]])
    return buf.getvalue()


def _notebook(*outputs: dict) -> str:
    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "id": "c1",
        "metadata": {},
        "outputs": list(outputs),
        "source": "show(table)",
    }
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _stream(text: str) -> str:
    return _notebook({"name": "stdout", "output_type": "stream", "text": [text]})


def _display(mime: str, value: str | dict) -> str:
    output = {"data": {mime: value}, "metadata": {}, "output_type": "display_data"}
    return _notebook(output)


def _pdf(text: str) -> bytes:
    """A one-page PDF whose content stream shows ``text`` (Helvetica), with a correct xref."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _explorer(text: str) -> str:
    """The explorer page's data: a Vega-Lite spec's inline values."""
    return json.dumps({"data": {"values": [{"group": "all", "label": text}]}})


#: Where an identifier can be planted, as (file name in the report, writer of that text).
WRITERS: dict[str, tuple[str, Callable[[str], str | bytes]]] = {
    "html": ("index.html", _html),
    "csv": ("extra.csv", _table),
    "tsv": ("extra.tsv", lambda t: _table(t, "\t")),
    "json": ("extra.json", lambda t: json.dumps({"note": t})),
    "notebook": ("notebook.ipynb", _stream),
    "notebook html": ("notebook.ipynb", lambda t: _display("text/html", _html(t))),
    "pdf": ("report.pdf", _pdf),
    "explorer data": ("explorer/data.json", _explorer),
    "log": ("build.log", lambda t: f"2026-12-04 01:00:00 INFO {t}\n"),
    "txt": ("notes.txt", lambda t: t + "\n"),
    "md": ("README.md", lambda t: f"# Notes\n\n{t}\n"),
}
IDENTIFIERS = {
    "NHS number": ("NHS number 943 476 5919", "NHS-number-shaped string"),
    "postcode": ("lives at SW1A 1AA", "postcode-shaped string"),
    "pseudonym": ("person 0123456789abcdef", "person-id-shaped string"),
    "person id": (f"see {PERSON_ID}", "person id from the data"),
    "date of birth": ("Date of birth: 01/02/1950", "date of birth field"),
}

#: Count leaks: (case id, file name, content, kind).
COUNTS: list[tuple[str, str, str | bytes, str]] = [
    ("csv column people", "extra.csv", "group,people\nall,3\n", COUNT_KIND),
    ("csv column N", "extra.csv", "group,N\nall,3\n", COUNT_KIND),
    ("csv column total", "extra.csv", "group,total\nall,4\n", COUNT_KIND),
    ("csv unrounded", "extra.csv", "group,people\nall,12\n", COUNT_KIND),
    ("csv n = 3 in a note", "extra.csv", _table("n = 3 at follow-up"), COUNT_KIND),
    ("tsv column people", "extra.tsv", "group\tpeople\nall\t3\n", COUNT_KIND),
    ("json key people", "extra.json", json.dumps({"rows": [{"people": 3}]}), COUNT_KIND),
    ("json key N", "extra.json", json.dumps({"N": 3}), COUNT_KIND),
    ("json 3 women", "extra.json", json.dumps({"text": "3 women started"}), COUNT_KIND),
    ("html n = 3", "index.html", _html("Of those referred, n = 3 finished."), COUNT_KIND),
    ("html n=3", "index.html", _html("finished (n=3)"), COUNT_KIND),
    ("html N: 3", "index.html", _html("N: 3"), COUNT_KIND),
    ("html 3 women", "index.html", _html("3 women started"), COUNT_KIND),
    ("html 3 of 45", "index.html", _html("3 of 45 completed"), COUNT_KIND),
    (
        "html unlabelled cell",
        "index.html",
        "<html><body><table><tr><th>group</th><th>N</th></tr><tr><td>all</td><td>3</td></tr>"
        "</table></body></html>",
        COUNT_KIND,
    ),
    (
        "html row-labelled cell",
        "index.html",
        "<html><body><table><tr><td>Women</td><td>3</td></tr></table></body></html>",
        COUNT_KIND,
    ),
    (
        "html embedded json",
        "index.html",
        '<html><body><script type="application/json">{"rows": [{"people": 3}]}</script>'
        "</body></html>",
        COUNT_KIND,
    ),
    (
        "html vega-lite values",
        "explorer/index.html",
        '<html><body><div id="v"></div><script>vegaEmbed("#v", {"mark": "bar", "data": '
        '{"values": [{"group": "IMD 1", "n": 3}, {"group": "IMD 2", "n": 40}]}});</script>'
        "</body></html>",
        COUNT_KIND,
    ),
    (
        "explorer data json",
        "explorer/data.json",
        json.dumps({"data": {"values": [{"group": "IMD 1", "participants": 3}]}}),
        COUNT_KIND,
    ),
    ("notebook stream n = 3", "notebook.ipynb", _stream("n = 3\n"), COUNT_KIND),
    ("notebook text/plain", "notebook.ipynb", _display("text/plain", "3 women"), COUNT_KIND),
    (
        "notebook dataframe html",
        "notebook.ipynb",
        _display(
            "text/html",
            '<table class="dataframe"><thead><tr><th></th><th>group</th><th>people</th></tr>'
            "</thead><tbody><tr><th>0</th><td>all</td><td>3</td></tr></tbody></table>",
        ),
        COUNT_KIND,
    ),
    (
        "notebook json output",
        "notebook.ipynb",
        _display("application/json", {"total": 3}),
        COUNT_KIND,
    ),
    ("pdf n = 3", "report.pdf", _pdf("Of those referred, n = 3 finished."), COUNT_KIND),
    ("pdf 3 women", "report.pdf", _pdf("3 women started"), COUNT_KIND),
    ("txt 3 women", "notes.txt", "3 women started\n", COUNT_KIND),
    ("md n=3", "README.md", "# Notes\n\nfinished (n=3)\n", COUNT_KIND),
    (
        "md table cell",
        "README.md",
        "| group | people |\n|---|---:|\n| all | 3 |\n",
        COUNT_KIND,
    ),
    (
        "notebook markdown table",
        "notebook.ipynb",
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "markdown",
                        "id": "m1",
                        "metadata": {},
                        "source": ["| | N |\n", "|---|---|\n", "| Women | 4 |\n"],
                    }
                ],
                "metadata": {},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        ),
        COUNT_KIND,
    ),
    ("log n = 3", "build.log", "INFO wellbeing: n = 3 with both questionnaires\n", COUNT_KIND),
    ("log 3 of 45", "build.log", "INFO 3 of 45 participants matched\n", COUNT_KIND),
    ("hidden folder csv", ".cache/extra.csv", "group,people\nall,3\n", COUNT_KIND),
    ("hidden file", ".notes.txt", "3 women\n", COUNT_KIND),
]


def _report(tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    (out / SLUG).mkdir(parents=True)
    for name, text in CLEAN.items():
        (out / SLUG / name).write_text(text)
    return out


def _plant(reports: Path, name: str, content: str | bytes) -> Path:
    path = reports / SLUG / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _caught(reports: Path, path: Path) -> set[str]:
    """Kinds of the findings in ``path``; every finding must be in it (nothing else leaks)."""
    result = check_outputs(reports, person_ids={PERSON_ID}, require=[SLUG])
    assert result.findings, result.summary()
    assert {f.path for f in result.findings} == {str(path)}, result.summary()
    return {f.kind for f in result.findings}


def test_the_clean_report_passes(tmp_path: Path) -> None:
    result = check_outputs(_report(tmp_path), person_ids={PERSON_ID}, require=[SLUG])
    assert result.ok, result.summary()


@pytest.mark.parametrize(
    ("name", "content", "kind"), [c[1:] for c in COUNTS], ids=[c[0] for c in COUNTS]
)
def test_planted_count_is_caught(
    tmp_path: Path, name: str, content: str | bytes, kind: str
) -> None:
    reports = _report(tmp_path)
    assert kind in _caught(reports, _plant(reports, name, content))


@pytest.mark.parametrize("where", sorted(WRITERS))
@pytest.mark.parametrize("identifier", sorted(IDENTIFIERS))
def test_planted_identifier_is_caught_in_every_output_type(
    tmp_path: Path, where: str, identifier: str
) -> None:
    name, write = WRITERS[where]
    text, kind = IDENTIFIERS[identifier]
    reports = _report(tmp_path)
    assert kind in _caught(reports, _plant(reports, name, write(text)))


@pytest.mark.parametrize("folder", [f".{SLUG}-staging-k2j4ab", f".{SLUG}-old", ".intake-work-7x2"])
def test_leftover_of_an_interrupted_build_is_caught(tmp_path: Path, folder: str) -> None:
    """Clean files in a leftover folder: the folder itself is the finding."""
    reports = _report(tmp_path)
    (reports / folder).mkdir()
    (reports / folder / "results.json").write_text(CLEAN["results.json"])
    result = check_outputs(reports, person_ids={PERSON_ID}, require=[SLUG])
    assert [(Path(f.path).name, f.kind) for f in result.findings] == [(folder, LEFTOVER_KIND)]


def test_pdf_writer_gives_text_pypdf_reads() -> None:
    """The hand-written PDF is a real one: pypdf finds its page and its text."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(_pdf("3 women (and n = 3)")))
    assert len(reader.pages) == 1
    assert "3 women (and n = 3)" in reader.pages[0].extract_text()

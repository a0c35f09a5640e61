"""evalkit.reporting: controlled report content, the report notebook's calls, HTML and checks.

The report notebook builds a report section by section::

    import evalkit as ek
    report = ek.reporting.ReportBuilder("mindsong", "../data/processed")
    report.run_matched_cohort()      # one analysis per call; papermill times each
    report.figure("love_plot")
    ...
    content = report.content()       # the controlled results.json content
    content.summary()

``build_report`` does all of it in one call.
"""

from evalkit.reporting.build import ReportBuilder
from evalkit.reporting.checker import CheckResult, check_outputs
from evalkit.reporting.pipeline import (
    ReportError,
    build_index,
    ensure_data,
    export_html,
    quiet,
    render_report,
)
from evalkit.reporting.report import ProgrammeReport, build_report, write_report

__all__ = [
    "CheckResult",
    "ProgrammeReport",
    "ReportBuilder",
    "ReportError",
    "build_index",
    "build_report",
    "check_outputs",
    "ensure_data",
    "export_html",
    "quiet",
    "render_report",
    "write_report",
]

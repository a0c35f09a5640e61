"""evalkit.reporting: controlled report content, the report notebook's calls, HTML and checks.

A notebook needs only::

    import evalkit as ek
    ek.reporting.ensure_data("../data/raw", "../data/processed")
    report = ek.reporting.build_report("mindsong", "../data/processed")
    report.summary()
"""

from evalkit.reporting.checker import CheckResult, check_outputs
from evalkit.reporting.pipeline import (
    ReportError,
    build_index,
    ensure_data,
    export_html,
    quiet,
    render_report,
)
from evalkit.reporting.report import ProgrammeReport, build_report

__all__ = [
    "CheckResult",
    "ProgrammeReport",
    "ReportError",
    "build_index",
    "build_report",
    "check_outputs",
    "ensure_data",
    "export_html",
    "quiet",
    "render_report",
]

"""mmx_report: the paper's tables and figures for a run, as one HTML page (plotting lives here, not in mmx)."""

from mmx_report.build import REPORT_FILE, build_report

__all__ = ["REPORT_FILE", "build_report"]

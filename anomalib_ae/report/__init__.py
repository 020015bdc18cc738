"""A self-contained HTML report of one scoring run: counts, score distribution, top anomalies explained.

:func:`build_report` collects a :class:`ReportData` (numbers and base64 PNG images) from a model
and an input; :func:`render_report` fills the Jinja2 template shipped in
``anomalib_ae/report/templates/``; :func:`write_report` writes it atomically. The page loads
nothing from the network (images are ``data:`` URIs and a Content-Security-Policy forbids the rest).
"""

from anomalib_ae.report.build import FeatureSummary, ReportData, ReportItem, build_report
from anomalib_ae.report.render import render_report, write_report

__all__ = ["FeatureSummary", "ReportData", "ReportItem", "build_report", "render_report", "write_report"]

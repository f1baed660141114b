"""A client's periodic report as HTML and PDF, from one typed document (see ``document.py``)."""

from services.reporting.rendering.context import PostLink, ReportContext, period_days
from services.reporting.rendering.errors import RenderingError
from services.reporting.rendering.report import RenderedReport, render_report
from services.reporting.rendering.summary import change_summary

__all__ = [
    "PostLink",
    "RenderedReport",
    "RenderingError",
    "ReportContext",
    "change_summary",
    "period_days",
    "render_report",
]

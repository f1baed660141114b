"""``render_report``: the KPIs and their context in, the HTML, the PDF and the charts out. Pure:
no database, no network, nothing written to disk."""

from __future__ import annotations

from dataclasses import dataclass

from services.reporting.kpis.schemas import EngagementKpis
from services.reporting.rendering.charts import draw_charts
from services.reporting.rendering.compose import compose
from services.reporting.rendering.context import ReportContext
from services.reporting.rendering.errors import RenderingError
from services.reporting.rendering.formatting import Formats
from services.reporting.rendering.html import render_html
from services.reporting.rendering.pdf import render_pdf
from services.reporting.rendering.wording import WORDS


@dataclass(frozen=True)
class RenderedReport:
    html: bytes
    pdf: bytes
    charts: dict[str, bytes]  # PNG by name: volume, sentiment, channels, map


def render_report(kpis: EngagementKpis, context: ReportContext) -> RenderedReport:
    """Raises `RenderingError` with the failing stage in its message, never a half result."""
    words, formats = WORDS[context.language], Formats(context.language)
    stage = "charts"
    try:
        subtitle = formats.period(context.first_day, context.last_day)
        charts = draw_charts(kpis, words, formats, subtitle)
        stage = "document"
        document = compose(kpis, context, charts)
        stage = "html"
        html = render_html(document)
        stage = "pdf"
        pdf = render_pdf(document)
    except Exception as error:  # matplotlib, Pillow, Jinja2 and fpdf2 raise their own types
        raise RenderingError(f"rendering the report's {stage} failed: {error}") from error
    return RenderedReport(html=html, pdf=pdf, charts=charts)

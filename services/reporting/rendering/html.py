"""The document as one self-contained HTML page: charts inlined as data URIs, styles inline, so
the file can be mailed or downloaded and opened anywhere without the network."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.reporting.rendering.document import ReportDocument

TEMPLATES = Path(__file__).parent / "templates"


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,  # a misspelt field fails the render instead of printing ""
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["data_uri"] = _data_uri
    return environment


def render_html(document: ReportDocument) -> bytes:
    template = _environment().get_template("report.html.j2")
    return template.render(document=document).encode("utf-8")

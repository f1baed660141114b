"""The report as one typed document: the single "template" both outputs are made from.

`compose.py` fills it from the KPIs (every figure already formatted, every word translated);
`html.py` renders it through a Jinja2 template and `pdf.py` walks it with fpdf2. Neither output
formats a figure or picks a word itself, so they cannot disagree. Each block names its ``kind``
for the template to dispatch on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

# How a table cell or a key figure is coloured: the objectives' status, mostly.
Tone = Literal["good", "warning", "bad", "muted"]


@dataclass(frozen=True)
class Paragraph:
    kind: ClassVar[str] = "paragraph"
    text: str


@dataclass(frozen=True)
class Notice:
    """Said in place of a chart or table that has nothing to show."""

    kind: ClassVar[str] = "notice"
    text: str


@dataclass(frozen=True)
class Subheading:
    kind: ClassVar[str] = "subheading"
    text: str


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    previous: str | None = None  # "Previous: 979", already worded, when there is a previous period


@dataclass(frozen=True)
class KeyFigures:
    kind: ClassVar[str] = "key_figures"
    items: tuple[KeyFigure, ...]


@dataclass(frozen=True)
class Cell:
    text: str
    link: str | None = None
    tone: Tone | None = None


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False  # right-aligned, and never wrapped in the PDF


@dataclass(frozen=True)
class Table:
    kind: ClassVar[str] = "table"
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str | None = None  # e.g. that only the first 20 rows are listed


@dataclass(frozen=True)
class Chart:
    kind: ClassVar[str] = "chart"
    name: str  # its key in `RenderedReport.charts`
    description: str  # the HTML's alt text
    png: bytes
    width_px: int
    height_px: int
    width_mm: float  # on the A4 page


Block = Paragraph | Notice | Subheading | KeyFigures | Table | Chart


@dataclass(frozen=True)
class Section:
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Cover:
    title: str
    organization: str
    period: str
    details: tuple[tuple[str, str], ...]  # (label, value): engagement, channel, generated


@dataclass(frozen=True)
class ReportDocument:
    language: str
    cover: Cover
    sections: tuple[Section, ...]
    footer: str  # organisation and period, beside the page number
    page_label: str  # "Page {page} of {pages}"

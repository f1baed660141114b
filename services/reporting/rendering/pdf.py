"""The document as an A4 PDF, drawn with fpdf2: no browser, no system library, only wheels.

Text is set in DejaVu Sans from matplotlib's wheel (the charts' own font, with the accents and
the signs Italian needs); every page but the cover carries the organisation, the period and the
page number in its footer. Blocks that must not be split (a chart, a row of key figures, a
heading with nothing under it) move to the next page when they do not fit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import matplotlib
from fpdf import FPDF, FontFace
from fpdf.enums import (
    Align,
    MethodReturnValue,
    TableBordersLayout,
    TableCellFillMode,
    XPos,
    YPos,
)
from fpdf.util import Padding

from services.reporting.rendering.document import (
    Block,
    Chart,
    Cover,
    KeyFigures,
    Notice,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
    Table,
    Tone,
)

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FAMILY = "DejaVu"
MARGIN = 15.0
FOOTER_ROOM = 18.0

Rgb = tuple[int, int, int]
INK: Rgb = (33, 33, 33)
MUTED: Rgb = (105, 105, 105)
ACCENT: Rgb = (31, 78, 121)
RULE: Rgb = (199, 211, 224)
BOX: Rgb = (221, 227, 234)
STRIPE: Rgb = (247, 249, 251)
NOTICE: Rgb = (250, 250, 250)
LINK: Rgb = (21, 101, 192)
WHITE: Rgb = (255, 255, 255)
# (fill, text) per tone: the same colours as the HTML's.
TONES: dict[Tone, tuple[Rgb, Rgb]] = {
    "good": ((217, 240, 211), (27, 94, 32)),
    "warning": ((255, 232, 179), (122, 79, 0)),
    "bad": ((248, 208, 204), (142, 27, 16)),
    "muted": ((238, 238, 238), (85, 85, 85)),
}

FIGURES_PER_ROW = 4
FIGURE_GAP = 3.0
FIGURE_HEIGHT = 22.5
# Room a heading needs below it, so it never ends a page alone.
SECTION_ROOM = 45.0
SUBHEADING_ROOM = 30.0
CELL_SIZE = 8.5
HEADING_SIZE = 7.5
CELL_PADDING = 2.0
ROW_PADDING = 1.4
LINE_HEIGHT = 4.6
# A table this short (in rows, and at most half a page) is never split across pages; a longer
# one needs this many rows on the page it starts on, so no page ends with a heading row alone.
UNSPLIT_ROWS = 12
FIRST_ROWS = 4
MIN_TEXT_COLUMN = 16.0


class _ReportPdf(FPDF):
    def __init__(self, document: ReportDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.document = document
        self.add_font(FAMILY, "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font(FAMILY, "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=FOOTER_ROOM)
        self.set_title(f"{document.cover.title} · {document.footer}")
        self.set_author(document.cover.organization)
        self.set_lang(document.language)
        self.set_creator("Atlantide Engage")

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-12)
        self._font(8, colour=MUTED)
        self.set_draw_color(*BOX)
        self.line(MARGIN, self.get_y() - 1.5, self.w - MARGIN, self.get_y() - 1.5)
        page = self.document.page_label.format(page=self.page_no(), pages="{nb}")
        footer = self._fitted(self.document.footer, self.epw * 0.75 - 3, 8)
        self._font(8, colour=MUTED)
        self.cell(self.epw * 0.75, 5, footer)
        self.cell(self.epw * 0.25, 5, page, align=Align.R)

    def _font(self, size: float, *, bold: bool = False, colour: Rgb = INK) -> None:
        self.set_font(FAMILY, "B" if bold else "", size)
        self.set_text_color(*colour)

    def room(self) -> float:
        return self.page_break_trigger - self.get_y()

    def make_room(self, height: float) -> None:
        """A new page unless ``height`` fits; never a second one for a block taller than a
        page, which then breaks where it must."""
        at_top = self.get_y() <= self.t_margin + 0.01
        if self.room() < height and not at_top:
            self.add_page()

    def cover(self, cover: Cover) -> None:
        self.set_fill_color(*ACCENT)
        self.rect(0, 0, self.w, 8, style="F")
        self.set_y(24)
        self._font(12, bold=True, colour=ACCENT)
        self.cell(0, 6, cover.title.upper(), align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)
        self._font(26, bold=True)
        self.multi_cell(
            0, 11, cover.organization, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.ln(1)
        self._font(15)
        self.multi_cell(0, 8, cover.period, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(4)
        label_width = max(self._width(label, 9.5) for label, _ in cover.details) + 6
        for label, value in cover.details:
            self._font(9.5, colour=MUTED)
            self.cell(label_width, 5.5, label)
            self._font(9.5)
            self.multi_cell(0, 5.5, value, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)
        self.set_draw_color(*ACCENT)
        self.set_line_width(0.8)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.set_line_width(0.2)
        self.ln(2)

    def _width(self, text: str, size: float, *, bold: bool = False) -> float:
        self.set_font(FAMILY, "B" if bold else "", size)
        return self.get_string_width(text)

    def section(self, section: Section) -> None:
        # Sections flow on from each other; a new page comes where the heading and what it
        # announces would not fit, so a short section never leaves most of a page empty.
        self.make_room(max(SECTION_ROOM, 16 + self._keep_height_of(section.blocks)))
        self.ln(4)
        self._font(15, bold=True, colour=ACCENT)
        self.cell(0, 8, section.title, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(*RULE)
        self.line(MARGIN, self.get_y(), self.w - MARGIN, self.get_y())
        self.ln(3)
        for index, block in enumerate(section.blocks):
            if isinstance(block, Paragraph):
                self._font(10.5)
                self.multi_cell(
                    0, 5.6, block.text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )
                self.ln(1)
            elif isinstance(block, Notice):
                self._notice(block)
            elif isinstance(block, Subheading):
                self.make_room(
                    max(SUBHEADING_ROOM, 10 + self._keep_height_of(section.blocks[index + 1 :]))
                )
                self.ln(2)
                self._font(11.5, bold=True)
                self.cell(0, 7, block.text, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                self.ln(0.5)
            elif isinstance(block, KeyFigures):
                self._key_figures(block)
            elif isinstance(block, Table):
                self._table(block)
            else:
                self._chart(block)

    def _keep_height(self, block: Block | None) -> float:
        """How much of ``block`` must fit on the page it starts on (and so under the heading
        before it)."""
        if isinstance(block, Chart):
            return block.width_mm * block.height_px / block.width_px + 2
        if isinstance(block, KeyFigures):
            return FIGURE_HEIGHT + FIGURE_GAP
        if isinstance(block, Table):
            widths = self._column_widths(block)
            heading = self._row_height([c.title for c in block.columns], widths, HEADING_SIZE)
            rows = [
                self._row_height([c.text for c in row], widths, CELL_SIZE) for row in block.rows
            ]
            whole = heading + sum(rows)
            page = self.page_break_trigger - self.t_margin
            if len(rows) <= UNSPLIT_ROWS and whole <= page / 2:
                return whole
            return heading + sum(rows[:FIRST_ROWS])
        if isinstance(block, (Paragraph, Notice)):
            return 12
        return 0

    def _keep_height_of(self, blocks: Sequence[Block]) -> float:
        """`_keep_height` of the first block, and of the one after it when the first is a
        subheading: a heading stays with what it announces."""
        if not blocks:
            return 0
        if isinstance(blocks[0], Subheading):
            return 10 + self._keep_height(_first(blocks[1:]))
        return self._keep_height(blocks[0])

    def _row_height(self, texts: Sequence[str], widths: Sequence[float], size: float) -> float:
        self.set_font(FAMILY, "B", size)
        lines = max(
            len(self._lines(text, width - 2 * CELL_PADDING, LINE_HEIGHT))
            for text, width in zip(texts, widths, strict=True)
        )
        return lines * LINE_HEIGHT + 2 * ROW_PADDING

    def _lines(self, text: str, width: float, line_height: float) -> list[str]:
        """How fpdf2 would wrap ``text`` in the current font, without drawing it."""
        lines = self.multi_cell(
            width, line_height, text, align=Align.L, dry_run=True, output=MethodReturnValue.LINES
        )
        return cast(list[str], lines)

    def _notice(self, notice: Notice) -> None:
        self._font(10, colour=MUTED)
        self.set_fill_color(*NOTICE)
        self.set_draw_color(*BOX)
        self.multi_cell(
            0,
            5.5,
            notice.text,
            align=Align.L,
            border=1,
            fill=True,
            padding=Padding(top=2.5, right=3, bottom=2.5, left=3),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(3)

    def _key_figures(self, figures: KeyFigures) -> None:
        width = (self.epw - FIGURE_GAP * (FIGURES_PER_ROW - 1)) / FIGURES_PER_ROW
        room = width - 5
        items = figures.items
        for start in range(0, len(items), FIGURES_PER_ROW):
            self.make_room(FIGURE_HEIGHT + FIGURE_GAP)
            top = self.get_y()
            for index, item in enumerate(items[start : start + FIGURES_PER_ROW]):
                left = MARGIN + index * (width + FIGURE_GAP)
                self.set_draw_color(*BOX)
                self.rect(left, top, width, FIGURE_HEIGHT, round_corners=True, corner_radius=1.5)
                self._font(7.5, colour=MUTED)
                for line_index, line in enumerate(self._label_lines(item.label, room)):
                    self.set_xy(left + 2.5, top + 2 + line_index * 3.3)
                    self.cell(room, 3.3, line)
                value = self._fitted(item.value, room, 15, bold=True)
                self.set_xy(left + 2.5, top + 9.2)
                self._font(15, bold=True)
                self.cell(room, 7, value)
                if item.previous:
                    previous = self._fitted(item.previous, room, 7.5)
                    self.set_xy(left + 2.5, top + 17)
                    self._font(7.5, colour=MUTED)
                    self.cell(room, 3.5, previous)
            self.set_xy(MARGIN, top + FIGURE_HEIGHT + FIGURE_GAP)
        self.ln(1)

    def _label_lines(self, label: str, room: float) -> list[str]:
        """A key figure's label on at most two lines, the second cut if it must be."""
        lines = self._lines(label, room, 3.3)
        if len(lines) <= 2:
            return lines
        return [lines[0], self._fitted(" ".join(lines[1:]), room, 7.5)]

    def _fitted(self, text: str, room: float, size: float, *, bold: bool = False) -> str:
        """``text`` cut with an ellipsis to fit ``room`` millimetres: a key figure's box has a
        fixed size, and a label spilling into the next box would be unreadable."""
        if self._width(text, size, bold=bold) <= room:
            return text
        while text and self._width(text + "…", size, bold=bold) > room:
            text = text[:-1]
        return text.rstrip() + "…"

    def _table(self, table: Table) -> None:
        widths = self._column_widths(table)
        self.make_room(self._keep_height(table))
        # fpdf2 paints a row left unstriped with the current fill colour: start from white.
        self.set_fill_color(*WHITE)
        self._font(CELL_SIZE)
        with self.table(
            width=self.epw,
            col_widths=widths,
            text_align=tuple("RIGHT" if c.numeric else "LEFT" for c in table.columns),
            line_height=LINE_HEIGHT,
            padding=(ROW_PADDING, CELL_PADDING),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            cell_fill_color=STRIPE,
            cell_fill_mode=TableCellFillMode.EVEN_ROWS,
            headings_style=FontFace(
                emphasis="BOLD", color=WHITE, fill_color=ACCENT, size_pt=HEADING_SIZE
            ),
        ) as grid:
            heading = grid.row()
            for column in table.columns:
                heading.cell(column.title)
            for cells in table.rows:
                row = grid.row()
                for cell in cells:
                    style = None
                    if cell.tone:
                        fill, text = TONES[cell.tone]
                        style = FontFace(emphasis="BOLD", color=text, fill_color=fill)
                    elif cell.link:
                        style = FontFace(emphasis="UNDERLINE", color=LINK)
                    row.cell(cell.text, style=style, link=cell.link)
        if table.note:
            self._font(8, colour=MUTED)
            self.ln(1)
            self.cell(0, 4.5, table.note, align=Align.L, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def _column_widths(self, table: Table) -> tuple[float, ...]:
        """Columns as wide as their content, fitted to the page: when the page is too narrow,
        each gives way in proportion to what it can wrap (a heading's or a text's words, a
        figure's unit); a figure itself never breaks."""
        naturals, floors = [], []
        for index, column in enumerate(table.columns):
            cells = max(
                (
                    self._width(row[index].text, CELL_SIZE, bold=row[index].tone is not None)
                    for row in table.rows
                ),
                default=0,
            )
            heading = self._width(column.title, HEADING_SIZE, bold=True)
            longest_word = max(
                self._width(word, HEADING_SIZE, bold=True) for word in column.title.split() or [""]
            )
            # A text column may wrap its cells down to its heading's longest word; a figure's
            # column keeps each figure whole, but may put its unit on the next line.
            widest_figure = max(
                (
                    self._width(word, CELL_SIZE, bold=row[index].tone is not None)
                    for row in table.rows
                    for word in row[index].text.split()
                ),
                default=0,
            )
            floor = widest_figure if column.numeric else max(longest_word, MIN_TEXT_COLUMN)
            floors.append(max(floor, longest_word) + 2 * CELL_PADDING + 1.5)
            naturals.append(max(heading, cells) + 2 * CELL_PADDING + 1.5)
        total = sum(naturals)
        if total <= self.epw:
            return tuple(width * self.epw / total for width in naturals)
        excess = total - self.epw
        slack = [natural - floor for natural, floor in zip(naturals, floors, strict=True)]
        if sum(slack) < excess:
            return tuple(floor * self.epw / sum(floors) for floor in floors)
        return tuple(
            natural - excess * give / sum(slack)
            for natural, give in zip(naturals, slack, strict=True)
        )

    def _chart(self, chart: Chart) -> None:
        height = chart.width_mm * chart.height_px / chart.width_px
        self.make_room(height + 2)
        self.image(
            io.BytesIO(chart.png),
            x=(self.w - chart.width_mm) / 2,
            w=chart.width_mm,
            h=height,
            alt_text=chart.description,
        )
        self.ln(3)


def _first(blocks: Sequence[Block]) -> Block | None:
    return blocks[0] if blocks else None


def render_pdf(document: ReportDocument) -> bytes:
    pdf = _ReportPdf(document)
    pdf.add_page()
    pdf.cover(document.cover)
    for section in document.sections:
        pdf.section(section)
    return bytes(pdf.output())

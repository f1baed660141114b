"""A handbook version drawn as the reporting renderer's document (cover, sections, tables), so
that it comes out as HTML and as an A4 PDF by the same code as the periodic reports.

The renderer's document, HTML and PDF modules are plain drawing code (no database, no service):
strategy imports them as it imports the content service's pure platform tables.
"""

from __future__ import annotations

from datetime import datetime

from services.reporting.rendering.document import (
    Block,
    Cell,
    Column,
    Cover,
    Notice,
    Paragraph,
    ReportDocument,
    Section,
    Subheading,
    Table,
)
from services.reporting.rendering.html import render_html
from services.reporting.rendering.pdf import render_pdf
from services.strategy.handbook.content import ChannelGuide, HandbookContent

TITLE = "Client handbook"
SOURCE_ORDER = ("channel_mix", "editorial_rules", "graphic_line", "positioning")


def _bullets(items: list[str], empty: str) -> tuple[Block, ...]:
    if not items:
        return (Notice(empty),)
    return tuple(Paragraph(f"• {item}") for item in items)


def _channel(guide: ChannelGuide) -> Section:
    blocks: list[Block] = [Paragraph(guide.why), Subheading("What to post")]
    if guide.what_to_post:
        blocks.append(
            Table(
                columns=(Column("Pillar"), Column("Formats"), Column("When"), Column("For whom")),
                rows=tuple(
                    (
                        Cell(line.pillar + (f" ({line.hashtags})" if line.hashtags else "")),
                        Cell(line.formats),
                        Cell(line.when),
                        Cell(line.target),
                    )
                    for line in guide.what_to_post
                ),
            )
        )
    else:
        blocks.append(Notice("No editorial rule for this channel yet."))
    blocks += [
        Subheading("Formats and sizes"),
        Table(
            columns=(Column("What"), Column("From")),
            rows=tuple((Cell(line.what), Cell(line.source)) for line in guide.formats),
        ),
        Subheading("Tone"),
        *_bullets(guide.tone, "No tone of voice agreed yet."),
        Subheading("Do"),
        *_bullets(guide.do, "Nothing listed yet."),
        Subheading("Don't"),
        *_bullets(guide.dont, "Nothing listed yet."),
        Subheading("How to answer"),
        *_bullets(guide.answering, "No answering rules agreed yet (positioning)."),
    ]
    return Section(guide.name, tuple(blocks))


def handbook_document(
    content: HandbookContent, version: int, created_at: datetime, sources: dict[str, int]
) -> ReportDocument:
    sections: list[Section] = []
    if content.positioning is not None:
        positioning = content.positioning
        blocks: list[Block] = [Paragraph(positioning.statement)]
        if positioning.key_messages:
            blocks += [Subheading("Key messages"), *_bullets(positioning.key_messages, "")]
        sections.append(Section("Who we are on social media", tuple(blocks)))
    sections += [_channel(guide) for guide in content.channels]
    if content.gaps:
        sections.append(Section("Still to agree", _bullets(content.gaps, "")))
    # Stored as JSONB, whose keys come back in its own order: listed in the method's.
    ordered = sorted(sources.items(), key=lambda item: SOURCE_ORDER.index(item[0]))
    made_from = ", ".join(f"{kind.replace('_', ' ')} v{number}" for kind, number in ordered)
    return ReportDocument(
        language="en",
        cover=Cover(
            title=TITLE,
            organization=content.client,
            period=f"Version {version}, {created_at.date().isoformat()}",
            details=(
                ("Channels", ", ".join(guide.name for guide in content.channels)),
                ("Made from", made_from),
            ),
        ),
        sections=tuple(sections),
        footer=f"{content.client} · {TITLE} v{version}",
        page_label="Page {page} of {pages}",
    )


def to_html(document: ReportDocument) -> bytes:
    return render_html(document)


def to_pdf(document: ReportDocument) -> bytes:
    return render_pdf(document)

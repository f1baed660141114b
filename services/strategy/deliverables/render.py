"""The brief as a document, written out as Markdown or as a standalone HTML page.

Both formats come from one document model, so they always say the same thing. Every piece of
client text is escaped in HTML; Markdown keeps it as written, with table cells and list items
kept on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from services.strategy.deliverables.kinds import Brief


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    table: Table | None = None


@dataclass(frozen=True)
class Document:
    title: str
    subtitle: str
    sections: list[Section]


def brief_document(brief: Brief, title: str, subtitle: str) -> Document:
    timing = brief.timing
    sections = [
        Section("Context", paragraphs=[brief.context]),
        Section("Objectives", bullets=list(brief.objectives)),
        Section(
            "Targets",
            table=Table(
                ["Persona", "Age", "Interests", "Language", "Place", "Notes"],
                [
                    [
                        persona.name,
                        persona.age_band.value,
                        ", ".join(interest.value for interest in persona.interests),
                        persona.language,
                        f"{persona.place.name} ({persona.place.reach.value})",
                        persona.description,
                    ]
                    for persona in brief.targets
                ],
            ),
        ),
        Section("Tone of voice", paragraphs=[brief.tone] if brief.tone else ["Not set."]),
        Section("Constraints", bullets=list(brief.constraints) or ["None stated."]),
        Section(
            "Budget",
            paragraphs=[
                f"{brief.budget.amount} {brief.budget.currency}. {brief.budget.notes}".strip()
                if brief.budget
                else "Not set."
            ],
        ),
        Section(
            "Timing",
            paragraphs=[f"From {timing.starts_on.isoformat()} to {timing.ends_on.isoformat()}."],
            bullets=[f"{m.due_on.isoformat()}: {m.name}" for m in timing.milestones],
        ),
    ]
    return Document(title=title, subtitle=subtitle, sections=sections)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def to_markdown(document: Document) -> str:
    lines = [f"# {_one_line(document.title)}", "", f"_{_one_line(document.subtitle)}_", ""]
    for section in document.sections:
        lines += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            lines += [paragraph.strip(), ""]
        if section.bullets:
            lines += [f"- {_one_line(item)}" for item in section.bullets] + [""]
        if section.table is not None:
            table = section.table
            lines.append("| " + " | ".join(table.headers) + " |")
            lines.append("|" + "---|" * len(table.headers))
            lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in table.rows]
            lines.append("")
    return "\n".join(lines)


STYLE = """
body { font-family: system-ui, sans-serif; line-height: 1.5; margin: 2rem auto; max-width: 48rem;
       padding: 0 1rem; color: #1f2328; }
h1 { margin-bottom: 0; }
.subtitle { color: #59636e; margin-top: 0.25rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #d1d9e0; padding: 0.35rem 0.6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
"""


def _html_section(section: Section) -> list[str]:
    parts = [f"<section>\n<h2>{escape(section.title)}</h2>"]
    parts += [
        "<p>" + "<br>".join(escape(line) for line in paragraph.strip().splitlines()) + "</p>"
        for paragraph in section.paragraphs
    ]
    if section.bullets:
        items = "".join(f"<li>{escape(item)}</li>" for item in section.bullets)
        parts.append(f"<ul>{items}</ul>")
    if section.table is not None:
        head = "".join(f"<th>{escape(header)}</th>" for header in section.table.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
            for row in section.table.rows
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</section>")
    return parts


def to_html(document: Document) -> str:
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="subtitle">{escape(document.subtitle)}</p>',
    ]
    for section in document.sections:
        lines += _html_section(section)
    lines += ["</main>", "</body>", "</html>", ""]
    return "\n".join(lines)

"""The report's section on seeding and knowledge transfer (*seeding e relazioni*, *formazione e
affiancamento*): the outreach list by status, the steps taken in the period, and the training
progress overall and per person, each beside the period's start when it was known then.

Its figures (``RelationshipFigures``) are read from the read model by the report's activity and
carried in the context; its words are its own, in Italian and English."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from services.reporting.rendering.document import (
    Block,
    Cell,
    Column,
    KeyFigure,
    KeyFigures,
    Notice,
    Section,
    Subheading,
    Table,
)
from services.strategy.outreach.schemas import OutreachStatus
from services.strategy.training.schemas import TrainingProgress

if TYPE_CHECKING:
    # Only a type here: formatting imports the context, which imports this module.
    from services.reporting.rendering.formatting import Formats

# People listed in the report's table; the rest are counted in the note.
MAX_PEOPLE = 30


class OutreachFigures(BaseModel):
    model_config = ConfigDict(frozen=True)

    at_end: dict[str, int]
    at_start: dict[str, int] | None
    # Steps taken in the period, by the status they led to.
    steps: dict[str, int]


class RelationshipFigures(BaseModel):
    """The engagement's outreach and training at the period's end (and start); None for an
    area with nothing recorded by the end."""

    model_config = ConfigDict(frozen=True)

    outreach: OutreachFigures | None = None
    training: TrainingProgress | None = None
    training_at_start: TrainingProgress | None = None


@dataclass(frozen=True)
class _Words:
    outreach: str
    outreach_none: str
    statuses: dict[str, str]
    steps: str
    led_to: str
    step_count: str
    total: str
    previous: str
    training: str
    training_none: str
    sessions_held: str
    sessions_planned: str
    attendance: str
    participants: str
    competence_share: str
    person: str
    attended: str
    competences: str
    people_note: str


WORDS = {
    "it": _Words(
        outreach="Seeding e relazioni",
        outreach_none="Nessun contatto nella lista di outreach",
        statuses={
            OutreachStatus.TO_CONTACT: "Da contattare",
            OutreachStatus.CONTACTED: "Contattati",
            OutreachStatus.REPLIED: "Hanno risposto",
            OutreachStatus.ENGAGED: "Coinvolti",
            OutreachStatus.DECLINED: "Hanno declinato",
        },
        steps="Passi del periodo",
        led_to="Esito del passo",
        step_count="Passi",
        total="Contatti",
        previous="Precedente",
        training="Formazione e affiancamento",
        training_none="Nessuna attività di formazione registrata",
        sessions_held="Sessioni svolte",
        sessions_planned="Sessioni in programma",
        attendance="Presenze",
        participants="Persone",
        competence_share="Competenze acquisite",
        person="Persona",
        attended="Presenze",
        competences="Competenze",
        people_note="Le prime {shown} persone di {total}",
    ),
    "en": _Words(
        outreach="Seeding and relationships",
        outreach_none="No contact on the outreach list",
        statuses={
            OutreachStatus.TO_CONTACT: "To contact",
            OutreachStatus.CONTACTED: "Contacted",
            OutreachStatus.REPLIED: "Replied",
            OutreachStatus.ENGAGED: "Engaged",
            OutreachStatus.DECLINED: "Declined",
        },
        steps="Steps in the period",
        led_to="Led to",
        step_count="Steps",
        total="Contacts",
        previous="Previous",
        training="Training and coaching",
        training_none="No training recorded",
        sessions_held="Sessions held",
        sessions_planned="Sessions planned",
        attendance="Attendance",
        participants="People",
        competence_share="Competences acquired",
        person="Person",
        attended="Attended",
        competences="Competences",
        people_note="The first {shown} of {total} people",
    ),
}


def _outreach(figures: OutreachFigures | None, words: _Words, formats: Formats) -> Section:
    if figures is None:
        return Section(words.outreach, (Notice(words.outreach_none),))

    def figure(label: str, status: str | None) -> KeyFigure:
        def value(counts: dict[str, int]) -> str:
            return formats.count(counts.get(status, 0) if status else sum(counts.values()))

        start = figures.at_start
        return KeyFigure(
            label=label,
            value=value(figures.at_end),
            previous=f"{words.previous}: {value(start)}" if start is not None else None,
        )

    statuses = [status.value for status in OutreachStatus]
    step_rows = tuple(
        (Cell(words.statuses[status]), Cell(formats.count(figures.steps.get(status, 0))))
        for status in statuses
        if status != OutreachStatus.TO_CONTACT
    )
    return Section(
        words.outreach,
        (
            KeyFigures(
                (
                    figure(words.total, None),
                    *(figure(words.statuses[status], status) for status in statuses),
                )
            ),
            Subheading(words.steps),
            Table((Column(words.led_to), Column(words.step_count, numeric=True)), step_rows),
        ),
    )


def _training(
    progress: TrainingProgress | None,
    start: TrainingProgress | None,
    words: _Words,
    formats: Formats,
) -> Section:
    if progress is None:
        return Section(words.training, (Notice(words.training_none),))

    def figure(label: str, value: str, before: str | None) -> KeyFigure:
        return KeyFigure(label, value, f"{words.previous}: {before}" if before else None)

    figures = KeyFigures(
        (
            figure(
                words.sessions_held,
                formats.count(progress.sessions_held),
                formats.count(start.sessions_held) if start else None,
            ),
            figure(words.sessions_planned, formats.count(progress.sessions_planned), None),
            figure(
                words.attendance,
                formats.share(progress.attendance_share),
                formats.share(start.attendance_share) if start else None,
            ),
            figure(words.participants, formats.count(progress.participants), None),
            figure(
                words.competence_share,
                formats.share(progress.competence_share),
                formats.share(start.competence_share) if start else None,
            ),
        )
    )
    people = progress.people[:MAX_PEOPLE]
    blocks: list[Block] = [figures]
    if people:
        blocks.append(
            Table(
                (
                    Column(words.person),
                    Column(words.attended, numeric=True),
                    Column(words.competences, numeric=True),
                ),
                tuple(
                    (
                        Cell(person.name),
                        Cell(f"{person.sessions_attended}/{person.sessions_invited}"),
                        Cell(f"{person.competences_checked}/{person.competences_total}"),
                    )
                    for person in people
                ),
                note=words.people_note.format(shown=len(people), total=len(progress.people))
                if len(progress.people) > len(people)
                else None,
            )
        )
    return Section(words.training, tuple(blocks))


def relationship_sections(
    figures: RelationshipFigures | None, language: str, formats: Formats
) -> tuple[Section, ...]:
    """The outreach and training sections; none when the engagement recorded neither."""
    if figures is None or (figures.outreach is None and figures.training is None):
        return ()
    words = WORDS.get(language, WORDS["en"])
    sections = []
    if figures.outreach is not None:
        sections.append(_outreach(figures.outreach, words, formats))
    if figures.training is not None:
        sections.append(_training(figures.training, figures.training_at_start, words, formats))
    return tuple(sections)

"""Seeding and training in the periodic report: the read model keeps each outreach and training
event with the figures it carries (once, whatever the order), a report reads them as they stood
at its period's end and start, and the document shows them in its own sections."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.readmodel import relationships
from services.reporting.rendering import render_report
from services.reporting.rendering.relationships import OutreachFigures, RelationshipFigures
from services.strategy.outreach import events as outreach
from services.strategy.training import events as training
from services.strategy.training.schemas import PersonProgress, TrainingProgress
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import CloudEvent, new_event
from tests.test_reporting_rendering import context, november_kpis, pdf_text

NOVEMBER = (datetime(2026, 10, 31, 23, tzinfo=UTC), datetime(2026, 11, 30, 23, tzinfo=UTC))
STATUSES = ("to_contact", "contacted", "replied", "engaged", "declined")


def counts(**given: int) -> dict[str, int]:
    return {status: given.get(status, 0) for status in STATUSES}


def progress(engagement_id: uuid.UUID, held: int, checks: int) -> TrainingProgress:
    person = PersonProgress(
        participant_id=uuid.uuid4(),
        name="Anna Rossi",
        sessions_invited=held,
        sessions_attended=held,
        competences_checked=checks,
        competences_total=4,
        share=checks / 4,
    )
    return TrainingProgress(
        engagement_id=engagement_id,
        sessions_planned=1,
        sessions_held=held,
        sessions_cancelled=0,
        attendance_share=1.0 if held else None,
        participants=1,
        competences=4,
        checks=checks,
        competence_share=checks / 4,
        people=[person],
    )


def at(event: CloudEvent, moment: datetime) -> CloudEvent:
    return event.model_copy(update={"time": moment})


def step_event(
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    moment: datetime,
    status: str,
    by_status: dict[str, int],
) -> CloudEvent:
    data: dict[str, Any] = {
        "contact_id": uuid.uuid4(),
        "engagement_id": engagement_id,
        "organization_id": organization_id,
        "kind": "person",
        "platform": "instagram",
        "status": status,
        "due_on": None,
        "by_status": by_status,
        "step_id": uuid.uuid4(),
        "previous_status": "to_contact",
        "recorded_by": "tester",
    }
    payload = outreach.OutreachStepRecorded.model_validate(data)
    return at(new_event(outreach.OUTREACH_STEP_RECORDED, payload, source="urn:test"), moment)


async def test_a_report_reads_outreach_and_training_as_they_stood_in_its_period(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    organization_id, engagement_id = uuid.uuid4(), uuid.uuid4()
    start, end = NOVEMBER
    added = outreach.OutreachContactRecorded.model_validate(
        {
            "contact_id": uuid.uuid4(),
            "engagement_id": engagement_id,
            "organization_id": organization_id,
            "kind": "page",
            "platform": "facebook",
            "status": "to_contact",
            "due_on": None,
            "by_status": counts(to_contact=3),
            "change": "created",
            "recorded_by": "tester",
        }
    )
    trained = [
        at(
            new_event(
                training.TRAINING_ATTENDANCE_RECORDED,
                training.TrainingAttendanceRecorded(
                    engagement_id=engagement_id,
                    organization_id=organization_id,
                    recorded_by="tester",
                    progress=progress(engagement_id, held, checks),
                    session_id=uuid.uuid4(),
                    present=1,
                    absent=0,
                ),
                source="urn:test",
            ),
            moment,
        )
        for held, checks, moment in (
            (1, 1, start - timedelta(days=3)),
            (2, 3, start + timedelta(days=10)),
            # After the period: not in its report.
            (3, 4, end + timedelta(hours=1)),
        )
    ]
    events = [
        (relationships.record_outreach_contact,
         at(new_event(outreach.OUTREACH_CONTACT_RECORDED, added, source="urn:test"),
            start - timedelta(days=1))),
        (relationships.record_outreach_step,
         step_event(organization_id, engagement_id, start + timedelta(days=2), "contacted",
                    counts(to_contact=2, contacted=1))),
        (relationships.record_outreach_step,
         step_event(organization_id, engagement_id, start + timedelta(days=5), "contacted",
                    counts(to_contact=1, contacted=2))),
        (relationships.record_outreach_step,
         step_event(organization_id, engagement_id, start + timedelta(days=20), "replied",
                    counts(to_contact=1, contacted=1, replied=1))),
        (relationships.record_outreach_step,
         step_event(organization_id, engagement_id, end + timedelta(days=1), "engaged",
                    counts(to_contact=1, contacted=1, engaged=1))),
        *((relationships.record_training, event) for event in trained),
    ]  # fmt: skip
    # In any order, some twice: the same rows.
    shuffled = [*events, *events[:3]]
    random.Random(17).shuffle(shuffled)
    async with session_scope(sessions, SYSTEM) as session:
        for handler, event in shuffled:
            await handler(session, event)
    async with session_scope(sessions, SYSTEM) as session:
        figures = await relationships.figures(session, engagement_id, start, end)
        before = await relationships.figures(
            session, engagement_id, start - timedelta(days=60), start - timedelta(days=30)
        )

    assert figures.outreach == OutreachFigures(
        at_end=counts(to_contact=1, contacted=1, replied=1),
        at_start=counts(to_contact=3),
        steps=counts(contacted=2, replied=1),
    )
    assert figures.training is not None
    assert figures.training_at_start is not None
    assert (figures.training.sessions_held, figures.training.checks) == (2, 3)
    assert (figures.training_at_start.sessions_held, figures.training_at_start.checks) == (1, 1)
    # Nothing recorded yet at that time: no figures, so no section.
    assert before == RelationshipFigures()


def test_the_report_shows_seeding_and_training_sections() -> None:
    engagement_id = uuid.uuid4()
    figures = RelationshipFigures(
        outreach=OutreachFigures(
            at_end=counts(to_contact=4, contacted=3, replied=2, engaged=1),
            at_start=counts(to_contact=7, contacted=1),
            steps=counts(contacted=2, replied=2, engaged=1),
        ),
        training=progress(engagement_id, 2, 3),
        training_at_start=progress(engagement_id, 1, 1),
    )
    italian = render_report(
        november_kpis(), context("it").model_copy(update={"relationships": figures})
    )
    html = unescape(italian.html.decode())
    for expected in (
        "Seeding e relazioni",
        "Formazione e affiancamento",
        "Anna Rossi",
        "2/2",
        "3/4",
    ):
        assert expected in html
    # Contacts at the end beside the start: 10 against 8; replied in the period: 2.
    assert "Precedente: 8" in html
    assert "Hanno risposto" in html
    text = " ".join(pdf_text(italian).split())
    assert "Seeding e relazioni" in text
    assert "Anna Rossi" in text
    assert "75%" in text

    english = render_report(
        november_kpis(), context("en").model_copy(update={"relationships": figures})
    )
    assert "Seeding and relationships" in unescape(english.html.decode())
    # An engagement without outreach or training has no such sections.
    plain = unescape(render_report(november_kpis(), context("it")).html.decode())
    assert "Seeding e relazioni" not in plain
    assert "Formazione e affiancamento" not in plain

"""A training's progress: sessions by status, attendance of the held ones, and each person's
checklist, overall and per person. Read by the API and carried by every training event."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.service import require_engagement
from services.strategy.training import repository
from services.strategy.training.models import Competence
from services.strategy.training.schemas import PersonProgress, SessionStatus, TrainingProgress


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def progress(session: AsyncSession, engagement_id: uuid.UUID) -> TrainingProgress:
    """Sessions by status, attendance of the held ones, and checklists: overall and per person."""
    people = await repository.participants(session, engagement_id)
    competences = await repository.count(session, Competence, engagement_id)
    statuses = await repository.sessions_by_status(session, engagement_id)
    invited = await repository.invitations_held(session, engagement_id)
    attended = await repository.attended_held(session, engagement_id)
    checked = await repository.checks_per_person(session, engagement_id)
    listed = [
        PersonProgress(
            participant_id=person.id,
            name=person.name,
            sessions_invited=invited.get(person.id, 0),
            sessions_attended=attended.get(person.id, 0),
            competences_checked=checked.get(person.id, 0),
            competences_total=competences,
            share=_share(checked.get(person.id, 0), competences),
        )
        for person in people
    ]
    checks = sum(person.competences_checked for person in listed)
    return TrainingProgress(
        engagement_id=engagement_id,
        sessions_planned=statuses.get(SessionStatus.PLANNED.value, 0),
        sessions_held=statuses.get(SessionStatus.HELD.value, 0),
        sessions_cancelled=statuses.get(SessionStatus.CANCELLED.value, 0),
        attendance_share=_share(
            sum(person.sessions_attended for person in listed),
            sum(person.sessions_invited for person in listed),
        ),
        participants=len(listed),
        competences=competences,
        checks=checks,
        competence_share=_share(checks, competences * len(listed)),
        people=listed,
    )


async def engagement_progress(session: AsyncSession, engagement_id: uuid.UUID) -> TrainingProgress:
    await require_engagement(session, engagement_id)
    return await progress(session, engagement_id)

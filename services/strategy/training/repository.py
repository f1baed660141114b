"""Queries on training plans, attendance and checklists. Organisation scoping is applied by the
session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.training.models import (
    Competence,
    CompetenceCheck,
    TrainingAttendance,
    TrainingParticipant,
    TrainingSession,
)
from shared.paging import Keyset, PageQuery, paged

PARTICIPANT_ORDER = Keyset((TrainingParticipant.created_at, TrainingParticipant.id))
SESSION_ORDER = Keyset((TrainingSession.starts_at, TrainingSession.id))
COMPETENCE_ORDER = Keyset((Competence.created_at, Competence.id))


async def participant(
    session: AsyncSession, engagement_id: uuid.UUID, participant_id: uuid.UUID
) -> TrainingParticipant | None:
    return await session.scalar(
        select(TrainingParticipant).where(
            TrainingParticipant.id == participant_id,
            TrainingParticipant.engagement_id == engagement_id,
        )
    )


async def participant_named(
    session: AsyncSession, engagement_id: uuid.UUID, name: str
) -> TrainingParticipant | None:
    return await session.scalar(
        select(TrainingParticipant).where(
            TrainingParticipant.engagement_id == engagement_id,
            func.lower(TrainingParticipant.name) == name.lower(),
        )
    )


async def participants(
    session: AsyncSession, engagement_id: uuid.UUID
) -> Sequence[TrainingParticipant]:
    """All of them (at most ``MAX_PARTICIPANTS``), in name order."""
    return (
        await session.scalars(
            select(TrainingParticipant)
            .where(TrainingParticipant.engagement_id == engagement_id)
            .order_by(func.lower(TrainingParticipant.name), TrainingParticipant.id)
        )
    ).all()


async def participant_page(
    session: AsyncSession, engagement_id: uuid.UUID, wanted: PageQuery
) -> Sequence[TrainingParticipant]:
    statement = select(TrainingParticipant).where(
        TrainingParticipant.engagement_id == engagement_id
    )
    return (await session.scalars(paged(statement, PARTICIPANT_ORDER, wanted))).all()


async def count(
    session: AsyncSession, model: type[TrainingParticipant | Competence], engagement_id: uuid.UUID
) -> int:
    found = await session.scalar(
        select(func.count()).select_from(model).where(model.engagement_id == engagement_id)
    )
    return int(found or 0)


async def training_session(
    session: AsyncSession, engagement_id: uuid.UUID, session_id: uuid.UUID, *, lock: bool = False
) -> TrainingSession | None:
    statement = select(TrainingSession).where(
        TrainingSession.id == session_id, TrainingSession.engagement_id == engagement_id
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def session_page(
    session: AsyncSession, engagement_id: uuid.UUID, wanted: PageQuery, status: str | None
) -> Sequence[TrainingSession]:
    statement = select(TrainingSession).where(TrainingSession.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(TrainingSession.status == status)
    return (await session.scalars(paged(statement, SESSION_ORDER, wanted))).all()


async def attendance(
    session: AsyncSession, session_id: uuid.UUID
) -> dict[uuid.UUID, TrainingAttendance]:
    found = await session.scalars(
        select(TrainingAttendance).where(TrainingAttendance.session_id == session_id)
    )
    return {mark.participant_id: mark for mark in found}


async def mark_attendance(
    session: AsyncSession,
    training: TrainingSession,
    participant_id: uuid.UUID,
    present: bool,
    recorded_by: str,
) -> None:
    statement = insert(TrainingAttendance).values(
        session_id=training.id,
        participant_id=participant_id,
        organization_id=training.organization_id,
        present=present,
        recorded_by=recorded_by,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[TrainingAttendance.session_id, TrainingAttendance.participant_id],
            set_={"present": present, "recorded_by": recorded_by, "recorded_at": func.now()},
        )
    )


async def competence(
    session: AsyncSession, engagement_id: uuid.UUID, competence_id: uuid.UUID
) -> Competence | None:
    return await session.scalar(
        select(Competence).where(
            Competence.id == competence_id, Competence.engagement_id == engagement_id
        )
    )


async def competence_named(
    session: AsyncSession, engagement_id: uuid.UUID, title: str
) -> Competence | None:
    return await session.scalar(
        select(Competence).where(
            Competence.engagement_id == engagement_id,
            func.lower(Competence.title) == title.lower(),
        )
    )


async def competences(session: AsyncSession, engagement_id: uuid.UUID) -> Sequence[Competence]:
    """All of them (at most ``MAX_COMPETENCES``), oldest first."""
    return (
        await session.scalars(
            select(Competence)
            .where(Competence.engagement_id == engagement_id)
            .order_by(Competence.created_at, Competence.id)
        )
    ).all()


async def competence_page(
    session: AsyncSession, engagement_id: uuid.UUID, wanted: PageQuery
) -> Sequence[Competence]:
    statement = select(Competence).where(Competence.engagement_id == engagement_id)
    return (await session.scalars(paged(statement, COMPETENCE_ORDER, wanted))).all()


async def checks_of(
    session: AsyncSession, participant_id: uuid.UUID
) -> dict[uuid.UUID, CompetenceCheck]:
    found = await session.scalars(
        select(CompetenceCheck).where(CompetenceCheck.participant_id == participant_id)
    )
    return {check.competence_id: check for check in found}


async def check(
    session: AsyncSession,
    participant: TrainingParticipant,
    competence_id: uuid.UUID,
    note: str | None,
    checked_by: str,
) -> CompetenceCheck:
    statement = (
        insert(CompetenceCheck)
        .values(
            participant_id=participant.id,
            competence_id=competence_id,
            organization_id=participant.organization_id,
            engagement_id=participant.engagement_id,
            note=note,
            checked_by=checked_by,
        )
        .on_conflict_do_update(
            index_elements=[CompetenceCheck.participant_id, CompetenceCheck.competence_id],
            set_={"note": note, "checked_by": checked_by, "checked_at": func.now()},
        )
        .returning(CompetenceCheck)
    )
    checked: CompetenceCheck = (
        await session.scalars(statement, execution_options={"populate_existing": True})
    ).one()
    return checked


async def uncheck(
    session: AsyncSession, participant_id: uuid.UUID, competence_id: uuid.UUID
) -> bool:
    """Whether there was a check to withdraw."""
    removed = await session.execute(
        delete(CompetenceCheck)
        .where(
            CompetenceCheck.participant_id == participant_id,
            CompetenceCheck.competence_id == competence_id,
        )
        .returning(CompetenceCheck.participant_id)
    )
    return removed.first() is not None


# --- progress ---------------------------------------------------------------------------------


async def sessions_by_status(session: AsyncSession, engagement_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(TrainingSession.status, func.count())
        .where(TrainingSession.engagement_id == engagement_id)
        .group_by(TrainingSession.status)
    )
    return {status: count for status, count in rows.all()}


async def invitations_held(session: AsyncSession, engagement_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per person, the held sessions they were invited to."""
    invited = (
        select(func.unnest(TrainingSession.participant_ids).label("participant_id"))
        .where(
            TrainingSession.engagement_id == engagement_id,
            TrainingSession.status == "held",
        )
        .subquery()
    )
    rows = await session.execute(
        select(invited.c.participant_id, func.count()).group_by(invited.c.participant_id)
    )
    return {participant_id: count for participant_id, count in rows.all()}


async def attended_held(session: AsyncSession, engagement_id: uuid.UUID) -> dict[uuid.UUID, int]:
    """Per person, the held sessions they were at (and still invited to)."""
    rows = await session.execute(
        select(TrainingAttendance.participant_id, func.count())
        .join(TrainingSession, TrainingSession.id == TrainingAttendance.session_id)
        .where(
            TrainingSession.engagement_id == engagement_id,
            TrainingSession.status == "held",
            TrainingAttendance.present.is_(True),
            TrainingAttendance.participant_id == func.any(TrainingSession.participant_ids),
        )
        .group_by(TrainingAttendance.participant_id)
    )
    return {participant_id: count for participant_id, count in rows.all()}


async def checks_per_person(
    session: AsyncSession, engagement_id: uuid.UUID
) -> dict[uuid.UUID, int]:
    rows = await session.execute(
        select(CompetenceCheck.participant_id, func.count())
        .where(CompetenceCheck.engagement_id == engagement_id)
        .group_by(CompetenceCheck.participant_id)
    )
    return {participant_id: count for participant_id, count in rows.all()}

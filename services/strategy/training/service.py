"""Rules of training: participants and competences belong to one engagement (names unique,
bounded in number); a planned session may change or be cancelled, attendance is recorded once it
has begun (and makes it held); a check names its checker and moment. Every change is an event
carrying the engagement's progress."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events as strategy_events
from services.strategy.models import Engagement, outbox
from services.strategy.service import locked_engagement, require_engagement
from services.strategy.training import events, repository
from services.strategy.training.models import (
    Competence,
    CompetenceCheck,
    TrainingParticipant,
    TrainingSession,
)
from services.strategy.training.progress import progress
from services.strategy.training.schemas import (
    MAX_COMPETENCES,
    MAX_PARTICIPANTS,
    AttendanceOut,
    AttendanceRecord,
    Checklist,
    ChecklistItem,
    CompetenceCreate,
    ParticipantCreate,
    SessionAttendance,
    SessionChange,
    SessionCreate,
    SessionOut,
    SessionStatus,
    TrainingMode,
)
from shared.auth import Principal
from shared.domain import InterventionMode
from shared.errors import ConflictError, FieldError, NotFoundError, validation_problem
from shared.events.envelope import new_event

PAYLOADS: dict[str, type[events.TrainingFact]] = {
    events.TRAINING_PARTICIPANT_RECORDED: events.TrainingParticipantRecorded,
    events.TRAINING_SESSION_RECORDED: events.TrainingSessionRecorded,
    events.TRAINING_ATTENDANCE_RECORDED: events.TrainingAttendanceRecorded,
    events.TRAINING_COMPETENCE_RECORDED: events.TrainingCompetenceRecorded,
    events.TRAINING_COMPETENCE_CHECKED: events.TrainingCompetenceChecked,
}


async def _emit(
    session: AsyncSession, engagement: Engagement, principal: Principal, name: str, **fact: object
) -> None:
    """The event ``name`` with the fact and the engagement's progress after it."""
    payload = PAYLOADS[name]
    await outbox.add(
        session,
        new_event(
            name,
            payload.model_validate(
                {
                    "engagement_id": engagement.id,
                    "organization_id": engagement.organization_id,
                    "recorded_by": principal.subject,
                    "progress": await progress(session, engagement.id),
                    **fact,
                }
            ),
            source=strategy_events.SOURCE,
            subject=str(engagement.id),
        ),
    )


# --- participants -----------------------------------------------------------------------------


async def require_participant(
    session: AsyncSession, engagement_id: uuid.UUID, participant_id: uuid.UUID
) -> TrainingParticipant:
    await require_engagement(session, engagement_id)
    found = await repository.participant(session, engagement_id, participant_id)
    if found is None:
        raise NotFoundError("training participant", participant_id)
    return found


async def add_participant(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: ParticipantCreate
) -> TrainingParticipant:
    engagement = await locked_engagement(session, engagement_id)
    same = await repository.participant_named(session, engagement.id, data.name)
    if same is not None:
        raise ConflictError(
            f"the engagement already has a participant named {data.name!r}",
            participant_id=str(same.id),
        )
    if await repository.count(session, TrainingParticipant, engagement.id) >= MAX_PARTICIPANTS:
        raise ConflictError(f"an engagement trains at most {MAX_PARTICIPANTS} people")
    person = TrainingParticipant(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        name=data.name,
        job_title=data.job_title,
        created_by=principal.subject,
    )
    session.add(person)
    await session.flush()
    await session.refresh(person, ["created_at"])
    await _emit(
        session,
        engagement,
        principal,
        events.TRAINING_PARTICIPANT_RECORDED,
        participant_id=person.id,
    )
    return person


# --- sessions ---------------------------------------------------------------------------------


def session_answer(training: TrainingSession) -> SessionOut:
    return SessionOut.model_validate(training, from_attributes=True)


async def require_session(
    session: AsyncSession, engagement_id: uuid.UUID, session_id: uuid.UUID
) -> TrainingSession:
    await require_engagement(session, engagement_id)
    found = await repository.training_session(session, engagement_id, session_id)
    if found is None:
        raise NotFoundError("training session", session_id)
    return found


async def _check_invited(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    participant_ids: Iterable[uuid.UUID],
    field: str,
) -> None:
    known = {person.id for person in await repository.participants(session, engagement_id)}
    errors = [
        FieldError(
            field=f"{field}.{i}",
            message=f"{participant_id} is not a participant of this engagement",
            type="unknown_participant",
        )
        for i, participant_id in enumerate(participant_ids)
        if participant_id not in known
    ]
    if errors:
        raise validation_problem(errors)


def _default_mode(engagement: Engagement) -> TrainingMode:
    if engagement.mode == InterventionMode.AFFIANCAMENTO.value:
        return "affiancamento"
    return "formazione"


async def plan_session(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: SessionCreate
) -> TrainingSession:
    engagement = await locked_engagement(session, engagement_id)
    await _check_invited(session, engagement.id, data.participant_ids, "body.participant_ids")
    training = TrainingSession(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        title=data.title,
        mode=data.mode or _default_mode(engagement),
        starts_at=data.starts_at,
        duration_minutes=data.duration_minutes,
        place=data.place,
        materials=[material.model_dump(mode="json") for material in data.materials],
        participant_ids=list(data.participant_ids),
        status=SessionStatus.PLANNED.value,
        created_by=principal.subject,
    )
    session.add(training)
    await session.flush()
    await session.refresh(training, ["created_at", "updated_at"])
    await _emit_session(session, engagement, principal, training, "created")
    return training


async def _emit_session(
    session: AsyncSession,
    engagement: Engagement,
    principal: Principal,
    training: TrainingSession,
    change: Literal["created", "updated", "cancelled"],
) -> None:
    await _emit(
        session,
        engagement,
        principal,
        events.TRAINING_SESSION_RECORDED,
        session_id=training.id,
        change=change,
        mode=training.mode,
        starts_at=training.starts_at,
        status=training.status,
    )


async def change_session(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    session_id: uuid.UUID,
    change: SessionChange,
) -> TrainingSession:
    """Only a planned session changes: a held one has its attendance, a cancelled one is over."""
    engagement = await locked_engagement(session, engagement_id)
    training = await repository.training_session(session, engagement.id, session_id, lock=True)
    if training is None:
        raise NotFoundError("training session", session_id)
    if training.status != SessionStatus.PLANNED.value:
        raise ConflictError(
            f"training session {session_id} is {training.status}: only a planned one changes",
            session_status=training.status,
        )
    if change.participant_ids is not None:
        await _check_invited(session, engagement.id, change.participant_ids, "body.participant_ids")
    given = change.model_dump(exclude_unset=True)
    if change.materials is not None:
        given["materials"] = [material.model_dump(mode="json") for material in change.materials]
    for field, value in given.items():
        setattr(training, field, value)
    await session.flush()
    await session.refresh(training, ["updated_at"])
    cancelled = change.status == SessionStatus.CANCELLED.value
    await _emit_session(
        session, engagement, principal, training, "cancelled" if cancelled else "updated"
    )
    return training


async def _attendance_answer(session: AsyncSession, training: TrainingSession) -> SessionAttendance:
    marks = await repository.attendance(session, training.id)
    invited = set(training.participant_ids)
    people = [
        person
        for person in await repository.participants(session, training.engagement_id)
        if person.id in invited
    ]
    return SessionAttendance(
        session_id=training.id,
        status=SessionStatus(training.status),
        attendance=[
            AttendanceOut(
                participant_id=person.id,
                name=person.name,
                present=marks[person.id].present if person.id in marks else None,
                recorded_by=marks[person.id].recorded_by if person.id in marks else None,
                recorded_at=marks[person.id].recorded_at if person.id in marks else None,
            )
            for person in people
        ],
    )


async def attendance_of(
    session: AsyncSession, engagement_id: uuid.UUID, session_id: uuid.UUID
) -> SessionAttendance:
    return await _attendance_answer(
        session, await require_session(session, engagement_id, session_id)
    )


async def record_attendance(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    session_id: uuid.UUID,
    data: AttendanceRecord,
) -> SessionAttendance:
    """Who was there: only invited people, once the session has begun and unless cancelled;
    the session is held from its first attendance."""
    engagement = await locked_engagement(session, engagement_id)
    training = await repository.training_session(session, engagement.id, session_id, lock=True)
    if training is None:
        raise NotFoundError("training session", session_id)
    if training.status == SessionStatus.CANCELLED.value:
        raise ConflictError(
            f"training session {session_id} was cancelled", session_status="cancelled"
        )
    if training.starts_at > datetime.now(UTC):
        raise ConflictError(
            f"training session {session_id} has not begun: attendance is recorded from "
            f"{training.starts_at.isoformat()}",
            starts_at=training.starts_at.isoformat(),
        )
    invited = set(training.participant_ids)
    errors = [
        FieldError(
            field=f"body.attendance.{i}.participant_id",
            message=f"{mark.participant_id} was not invited to this session",
            type="not_invited",
        )
        for i, mark in enumerate(data.attendance)
        if mark.participant_id not in invited
    ]
    if errors:
        raise validation_problem(errors)
    for mark in data.attendance:
        await repository.mark_attendance(
            session, training, mark.participant_id, mark.present, principal.subject
        )
    training.status = SessionStatus.HELD.value
    await session.flush()
    present = sum(mark.present for mark in data.attendance)
    await _emit(
        session,
        engagement,
        principal,
        events.TRAINING_ATTENDANCE_RECORDED,
        session_id=training.id,
        present=present,
        absent=len(data.attendance) - present,
    )
    return await _attendance_answer(session, training)


# --- competences ------------------------------------------------------------------------------


async def add_competence(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: CompetenceCreate
) -> Competence:
    engagement = await locked_engagement(session, engagement_id)
    same = await repository.competence_named(session, engagement.id, data.title)
    if same is not None:
        raise ConflictError(f"the checklist already has {data.title!r}", competence_id=str(same.id))
    if await repository.count(session, Competence, engagement.id) >= MAX_COMPETENCES:
        raise ConflictError(f"a checklist holds at most {MAX_COMPETENCES} competences")
    competence = Competence(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        title=data.title,
        description=data.description,
        created_by=principal.subject,
    )
    session.add(competence)
    await session.flush()
    await session.refresh(competence, ["created_at"])
    await _emit(
        session,
        engagement,
        principal,
        events.TRAINING_COMPETENCE_RECORDED,
        competence_id=competence.id,
    )
    return competence


async def checklist(
    session: AsyncSession, engagement_id: uuid.UUID, participant_id: uuid.UUID
) -> Checklist:
    person = await require_participant(session, engagement_id, participant_id)
    checks = await repository.checks_of(session, person.id)
    items = [
        ChecklistItem(
            competence_id=competence.id,
            title=competence.title,
            checked=competence.id in checks,
            note=checks[competence.id].note if competence.id in checks else None,
            checked_by=checks[competence.id].checked_by if competence.id in checks else None,
            checked_at=checks[competence.id].checked_at if competence.id in checks else None,
        )
        for competence in await repository.competences(session, engagement_id)
    ]
    return Checklist(
        participant_id=person.id,
        name=person.name,
        items=items,
        checked=sum(item.checked for item in items),
        total=len(items),
    )


async def _person_and_competence(
    session: AsyncSession,
    engagement: Engagement,
    participant_id: uuid.UUID,
    competence_id: uuid.UUID,
) -> TrainingParticipant:
    person = await repository.participant(session, engagement.id, participant_id)
    if person is None:
        raise NotFoundError("training participant", participant_id)
    if await repository.competence(session, engagement.id, competence_id) is None:
        raise NotFoundError("competence", competence_id)
    return person


async def check_competence(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    participant_id: uuid.UUID,
    competence_id: uuid.UUID,
    note: str | None,
) -> CompetenceCheck:
    """Checked by the caller, now; checking again records the new checker, note and moment."""
    engagement = await locked_engagement(session, engagement_id)
    person = await _person_and_competence(session, engagement, participant_id, competence_id)
    checked = await repository.check(session, person, competence_id, note, principal.subject)
    await _emit(
        session,
        engagement,
        principal,
        events.TRAINING_COMPETENCE_CHECKED,
        participant_id=person.id,
        competence_id=competence_id,
        checked=True,
    )
    return checked


async def uncheck_competence(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    participant_id: uuid.UUID,
    competence_id: uuid.UUID,
) -> None:
    """Withdraw a check (a mistake, or a skill to show again); nothing to withdraw is no event."""
    engagement = await locked_engagement(session, engagement_id)
    person = await _person_and_competence(session, engagement, participant_id, competence_id)
    if await repository.uncheck(session, person.id, competence_id):
        await _emit(
            session,
            engagement,
            principal,
            events.TRAINING_COMPETENCE_CHECKED,
            participant_id=person.id,
            competence_id=competence_id,
            checked=False,
        )

"""HTTP routes of an engagement's training and knowledge transfer: the agency plans sessions,
records attendance and checks competences; everyone scoped to the engagement reads the plan,
the checklists and the progress."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import Field

from services.strategy.service import require_engagement
from services.strategy.training import progress, repository, service
from services.strategy.training.schemas import (
    AttendanceRecord,
    Checklist,
    ChecklistItem,
    CompetenceCheckBody,
    CompetenceCreate,
    CompetenceOut,
    ParticipantCreate,
    ParticipantOut,
    SessionAttendance,
    SessionChange,
    SessionCreate,
    SessionOut,
    SessionStatus,
    TrainingProgress,
)
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, PageQuery, page_of

router = APIRouter(prefix="/engagements/{engagement_id}/training", tags=["training"])

PARTICIPANTS = "/participants"
SESSIONS = "/sessions"
COMPETENCES = "/competences"
CHECK = PARTICIPANTS + "/{participant_id}/competences/{competence_id}"


class SessionFilters(PageQuery):
    status: SessionStatus | None = Field(None, description="Only sessions with this status")


@router.post(
    PARTICIPANTS,
    status_code=status.HTTP_201_CREATED,
    response_model=ParticipantOut,
    dependencies=[AUTHORIZED],
    summary="Add a person of the client's staff to the engagement's training (agency; 409 for a "
    "name already there)",
)
async def create_training_participant(
    engagement_id: uuid.UUID,
    body: ParticipantCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ParticipantOut:
    person = await service.add_participant(session, principal, engagement_id, body)
    return ParticipantOut.model_validate(person, from_attributes=True)


@router.get(
    PARTICIPANTS,
    response_model=list[ParticipantOut],
    summary="The people trained, oldest first; a Link header names the next page (any role, "
    "own organisations)",
)
async def list_training_participants(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[ParticipantOut]:
    await require_engagement(session, engagement_id)
    found = await repository.participant_page(session, engagement_id, page)
    held = page_of(found, repository.PARTICIPANT_ORDER, page, request, response)
    return [ParticipantOut.model_validate(person, from_attributes=True) for person in held]


@router.get(
    PARTICIPANTS + "/{participant_id}",
    response_model=Checklist,
    summary="One person's competence checklist: every competence, checked or not, by whom and "
    "when (any role, own organisations)",
)
async def get_competence_checklist(
    engagement_id: uuid.UUID, participant_id: uuid.UUID, session: SessionDep
) -> Checklist:
    return await service.checklist(session, engagement_id, participant_id)


@router.put(
    CHECK,
    response_model=ChecklistItem,
    dependencies=[AUTHORIZED],
    summary="Check a competence for a person: the caller is the checker, now is the moment "
    "(agency)",
)
async def check_competence(
    engagement_id: uuid.UUID,
    participant_id: uuid.UUID,
    competence_id: uuid.UUID,
    body: CompetenceCheckBody,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ChecklistItem:
    checked = await service.check_competence(
        session, principal, engagement_id, participant_id, competence_id, body.note
    )
    competence = await repository.competence(session, engagement_id, competence_id)
    return ChecklistItem(
        competence_id=checked.competence_id,
        title=competence.title if competence is not None else "",
        checked=True,
        note=checked.note,
        checked_by=checked.checked_by,
        checked_at=checked.checked_at,
    )


@router.delete(
    CHECK,
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Withdraw a person's check of a competence (agency)",
)
async def uncheck_competence(
    engagement_id: uuid.UUID,
    participant_id: uuid.UUID,
    competence_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await service.uncheck_competence(
        session, principal, engagement_id, participant_id, competence_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    SESSIONS,
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    dependencies=[AUTHORIZED],
    summary="Plan a training session: date, people invited, materials (agency)",
)
async def plan_training_session(
    engagement_id: uuid.UUID, body: SessionCreate, session: SessionDep, principal: CurrentPrincipal
) -> SessionOut:
    return service.session_answer(
        await service.plan_session(session, principal, engagement_id, body)
    )


@router.get(
    SESSIONS,
    response_model=list[SessionOut],
    summary="The training plan: sessions by date, optionally by status; a Link header names the "
    "next page (any role, own organisations)",
)
async def list_training_sessions(
    engagement_id: uuid.UUID,
    filters: Annotated[SessionFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[SessionOut]:
    await require_engagement(session, engagement_id)
    found = await repository.session_page(
        session, engagement_id, filters, filters.status.value if filters.status else None
    )
    held = page_of(found, repository.SESSION_ORDER, filters, request, response)
    return [service.session_answer(training) for training in held]


@router.get(
    SESSIONS + "/{session_id}",
    response_model=SessionOut,
    summary="One training session (any role, own organisations)",
)
async def get_training_session(
    engagement_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep
) -> SessionOut:
    return service.session_answer(await service.require_session(session, engagement_id, session_id))


@router.patch(
    SESSIONS + "/{session_id}",
    response_model=SessionOut,
    dependencies=[AUTHORIZED],
    summary="Change or cancel a planned training session (agency; 409 once held or cancelled)",
)
async def update_training_session(
    engagement_id: uuid.UUID,
    session_id: uuid.UUID,
    body: SessionChange,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> SessionOut:
    return service.session_answer(
        await service.change_session(session, principal, engagement_id, session_id, body)
    )


@router.get(
    SESSIONS + "/{session_id}/attendance",
    response_model=SessionAttendance,
    summary="Who was at a training session: every person invited (any role, own organisations)",
)
async def get_training_attendance(
    engagement_id: uuid.UUID, session_id: uuid.UUID, session: SessionDep
) -> SessionAttendance:
    return await service.attendance_of(session, engagement_id, session_id)


@router.put(
    SESSIONS + "/{session_id}/attendance",
    response_model=SessionAttendance,
    dependencies=[AUTHORIZED],
    summary="Record who was at a training session, once it has begun; the session is held "
    "(agency; 409 before it begins or once cancelled)",
)
async def record_training_attendance(
    engagement_id: uuid.UUID,
    session_id: uuid.UUID,
    body: AttendanceRecord,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> SessionAttendance:
    return await service.record_attendance(session, principal, engagement_id, session_id, body)


@router.post(
    COMPETENCES,
    status_code=status.HTTP_201_CREATED,
    response_model=CompetenceOut,
    dependencies=[AUTHORIZED],
    summary="Add a competence to the engagement's checklist (agency; 409 for a title already "
    "there)",
)
async def create_competence(
    engagement_id: uuid.UUID,
    body: CompetenceCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> CompetenceOut:
    competence = await service.add_competence(session, principal, engagement_id, body)
    return CompetenceOut.model_validate(competence, from_attributes=True)


@router.get(
    COMPETENCES,
    response_model=list[CompetenceOut],
    summary="The engagement's competence checklist, oldest first; a Link header names the next "
    "page (any role, own organisations)",
)
async def list_competences(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[CompetenceOut]:
    await require_engagement(session, engagement_id)
    found = await repository.competence_page(session, engagement_id, page)
    held = page_of(found, repository.COMPETENCE_ORDER, page, request, response)
    return [CompetenceOut.model_validate(competence, from_attributes=True) for competence in held]


@router.get(
    "/progress",
    response_model=TrainingProgress,
    summary="Where the knowledge transfer stands: sessions, attendance and checklists, overall "
    "and per person (any role, own organisations)",
)
async def get_training_progress(engagement_id: uuid.UUID, session: SessionDep) -> TrainingProgress:
    return await progress.engagement_progress(session, engagement_id)

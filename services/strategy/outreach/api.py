"""HTTP routes of an engagement's outreach list: the agency records contacts and the steps taken
with them; everyone scoped to the engagement reads the list, its reminders and its counts."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.strategy.outreach import repository, service
from services.strategy.outreach.schemas import (
    ContactChange,
    ContactCreate,
    ContactFilters,
    ContactOut,
    OutreachCounts,
    ReminderFilters,
    StepCreate,
    StepOut,
)
from services.strategy.service import require_engagement
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

router = APIRouter(prefix="/engagements/{engagement_id}/outreach", tags=["outreach"])

CONTACTS = "/contacts"
ONE = CONTACTS + "/{contact_id}"


@router.post(
    CONTACTS,
    status_code=status.HTTP_201_CREATED,
    response_model=ContactOut,
    dependencies=[AUTHORIZED],
    summary="Put a person, page or community on the engagement's outreach list, with an "
    "optional first reminder (agency; 409 when the handle is on the list already)",
)
async def create_outreach_contact(
    engagement_id: uuid.UUID, body: ContactCreate, session: SessionDep, principal: CurrentPrincipal
) -> ContactOut:
    contact = await service.create_contact(session, principal, engagement_id, body)
    return service.answer(contact, await service.today(session, contact.organization_id))


@router.get(
    CONTACTS,
    response_model=list[ContactOut],
    summary="The engagement's outreach list, oldest first, by status, platform or handles; a "
    "Link header names the next page (any role, own organisations)",
)
async def list_outreach_contacts(
    engagement_id: uuid.UUID,
    filters: Annotated[ContactFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[ContactOut]:
    engagement = await require_engagement(session, engagement_id)
    found = await repository.page(
        session,
        engagement_id,
        filters,
        status=filters.status.value if filters.status else None,
        platform=filters.platform,
        handle_keys=filters.handle_keys(),
    )
    held = page_of(found, repository.CONTACT_ORDER, filters, request, response)
    today = await service.today(session, engagement.organization_id)
    return [service.answer(contact, today) for contact in held]


@router.get(
    "/reminders",
    response_model=list[ContactOut],
    summary="The contacts with a next step due, soonest first, or only the overdue ones; a Link "
    "header names the next page (any role, own organisations)",
)
async def list_outreach_reminders(
    engagement_id: uuid.UUID,
    filters: Annotated[ReminderFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[ContactOut]:
    engagement = await require_engagement(session, engagement_id)
    today = await service.today(session, engagement.organization_id)
    found = await repository.reminders(
        session, engagement_id, filters, today if filters.overdue else None
    )
    held = page_of(found, repository.REMINDER_ORDER, filters, request, response)
    return [service.answer(contact, today) for contact in held]


@router.get(
    "/counts",
    response_model=OutreachCounts,
    summary="How many of the engagement's contacts stand at each status, and how many next "
    "steps are overdue (any role, own organisations)",
)
async def count_outreach_contacts(engagement_id: uuid.UUID, session: SessionDep) -> OutreachCounts:
    return await service.counts(session, engagement_id)


@router.get(
    ONE,
    response_model=ContactOut,
    summary="One contact of the outreach list (any role, own organisations)",
)
async def get_outreach_contact(
    engagement_id: uuid.UUID, contact_id: uuid.UUID, session: SessionDep
) -> ContactOut:
    contact = await service.require_contact(session, engagement_id, contact_id)
    return service.answer(contact, await service.today(session, contact.organization_id))


@router.patch(
    ONE,
    response_model=ContactOut,
    dependencies=[AUTHORIZED],
    summary="Change a contact's kind, name, notes or reminder; its status moves by steps only "
    "(agency)",
)
async def update_outreach_contact(
    engagement_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: ContactChange,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> ContactOut:
    contact = await service.change_contact(session, principal, engagement_id, contact_id, body)
    return service.answer(contact, await service.today(session, contact.organization_id))


@router.post(
    ONE + "/steps",
    status_code=status.HTTP_201_CREATED,
    response_model=StepOut,
    dependencies=[AUTHORIZED],
    summary="Record a step with a contact: contacted, replied, engaged or declined, along the "
    "allowed transitions (agency; 409 for another)",
)
async def record_outreach_step(
    engagement_id: uuid.UUID,
    contact_id: uuid.UUID,
    body: StepCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> StepOut:
    _, step = await service.record_step(session, principal, engagement_id, contact_id, body)
    return StepOut.model_validate(step, from_attributes=True)


@router.get(
    ONE + "/steps",
    response_model=list[StepOut],
    summary="The steps taken with a contact, oldest first; a Link header names the next page "
    "(any role, own organisations)",
)
async def list_outreach_steps(
    engagement_id: uuid.UUID,
    contact_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[StepOut]:
    contact = await service.require_contact(session, engagement_id, contact_id)
    found = await repository.steps(session, contact.id, page)
    held = page_of(found, repository.STEP_ORDER, page, request, response)
    return [StepOut.model_validate(step, from_attributes=True) for step in held]

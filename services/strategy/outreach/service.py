"""Rules of the outreach list: one contact per handle and platform in an engagement, steps only
along the allowed transitions, and a reminder (next step, due day) per contact. Every change is
an event carrying the engagement's counts by status."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events as strategy_events
from services.strategy.models import outbox
from services.strategy.outreach import events, repository
from services.strategy.outreach.models import OutreachContact, OutreachStep
from services.strategy.outreach.schemas import (
    TRANSITIONS,
    ContactChange,
    ContactCreate,
    ContactKind,
    ContactOut,
    OutreachCounts,
    OutreachStatus,
    StepCreate,
)
from services.strategy.service import locked_engagement, require_engagement
from shared.auth import Principal
from shared.errors import ConflictError, NotFoundError
from shared.events.envelope import new_event


async def today(session: AsyncSession, organization_id: uuid.UUID) -> date:
    """Today in the client's time zone: the day reminders fall due in."""
    zone = await repository.timezone(session, organization_id)
    return datetime.now(ZoneInfo(zone)).date()


def answer(contact: OutreachContact, today: date) -> ContactOut:
    return ContactOut(
        id=contact.id,
        organization_id=contact.organization_id,
        engagement_id=contact.engagement_id,
        kind=ContactKind(contact.kind),
        platform=contact.platform,
        handle=contact.handle,
        display_name=contact.display_name,
        notes=contact.notes,
        status=OutreachStatus(contact.status),
        next_step=contact.next_step,
        due_on=contact.due_on,
        overdue=contact.due_on is not None and contact.due_on < today,
        created_by=contact.created_by,
        created_at=contact.created_at,
        updated_at=contact.updated_at,
    )


async def require_contact(
    session: AsyncSession, engagement_id: uuid.UUID, contact_id: uuid.UUID
) -> OutreachContact:
    await require_engagement(session, engagement_id)
    contact = await repository.get(session, engagement_id, contact_id)
    if contact is None:
        raise NotFoundError("outreach contact", contact_id)
    return contact


async def _by_status(session: AsyncSession, engagement_id: uuid.UUID) -> dict[OutreachStatus, int]:
    found = await repository.by_status(session, engagement_id)
    return {status: found.get(status.value, 0) for status in OutreachStatus}


async def counts(session: AsyncSession, engagement_id: uuid.UUID) -> OutreachCounts:
    engagement = await require_engagement(session, engagement_id)
    by_status = await _by_status(session, engagement_id)
    overdue = await repository.overdue(
        session, engagement_id, await today(session, engagement.organization_id)
    )
    return OutreachCounts(
        engagement_id=engagement_id,
        total=sum(by_status.values()),
        by_status=by_status,
        overdue=overdue,
    )


async def _emit_recorded(
    session: AsyncSession,
    contact: OutreachContact,
    change: Literal["created", "updated"],
    principal: Principal,
) -> None:
    await outbox.add(
        session,
        new_event(
            events.OUTREACH_CONTACT_RECORDED,
            events.OutreachContactRecorded(
                contact_id=contact.id,
                engagement_id=contact.engagement_id,
                organization_id=contact.organization_id,
                kind=ContactKind(contact.kind),
                platform=contact.platform,
                status=OutreachStatus(contact.status),
                due_on=contact.due_on,
                by_status=await _by_status(session, contact.engagement_id),
                change=change,
                recorded_by=principal.subject,
            ),
            source=strategy_events.SOURCE,
            subject=str(contact.id),
        ),
    )


async def create_contact(
    session: AsyncSession, principal: Principal, engagement_id: uuid.UUID, data: ContactCreate
) -> OutreachContact:
    engagement = await locked_engagement(session, engagement_id)
    handle_key = data.handle.lower()
    same = await repository.with_handle(session, engagement.id, data.platform, handle_key)
    if same is not None:
        raise ConflictError(
            f"{data.handle!r} on {data.platform} is on the engagement's outreach list already",
            contact_id=str(same.id),
        )
    contact = OutreachContact(
        id=uuid.uuid4(),
        organization_id=engagement.organization_id,
        engagement_id=engagement.id,
        kind=data.kind.value,
        platform=data.platform,
        handle=data.handle,
        handle_key=handle_key,
        display_name=data.display_name,
        notes=data.notes,
        status=OutreachStatus.TO_CONTACT.value,
        next_step=data.next_step,
        due_on=data.due_on,
        created_by=principal.subject,
    )
    session.add(contact)
    await session.flush()
    await session.refresh(contact, ["created_at", "updated_at"])
    await _emit_recorded(session, contact, "created", principal)
    return contact


async def change_contact(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    contact_id: uuid.UUID,
    change: ContactChange,
) -> OutreachContact:
    engagement = await locked_engagement(session, engagement_id)
    contact = await repository.get(session, engagement.id, contact_id)
    if contact is None:
        raise NotFoundError("outreach contact", contact_id)
    # Python values (a day stays a date); the kind, a StrEnum, is stored as its text.
    for field, value in change.model_dump(exclude_unset=True).items():
        setattr(contact, field, value)
    await session.flush()
    await session.refresh(contact, ["updated_at"])
    await _emit_recorded(session, contact, "updated", principal)
    return contact


async def record_step(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    contact_id: uuid.UUID,
    data: StepCreate,
) -> tuple[OutreachContact, OutreachStep]:
    """Move the relationship along an allowed transition (409 otherwise); the step's reminder
    replaces the contact's."""
    engagement = await locked_engagement(session, engagement_id)
    contact = await repository.get(session, engagement.id, contact_id, lock=True)
    if contact is None:
        raise NotFoundError("outreach contact", contact_id)
    previous = OutreachStatus(contact.status)
    if data.status not in TRANSITIONS[previous]:
        allowed = sorted(status.value for status in TRANSITIONS[previous])
        raise ConflictError(
            f"an outreach contact that is {previous.value} cannot become {data.status.value}",
            contact_status=previous.value,
            allowed=allowed,
        )
    step = OutreachStep(
        id=uuid.uuid4(),
        organization_id=contact.organization_id,
        engagement_id=contact.engagement_id,
        contact_id=contact.id,
        previous_status=previous.value,
        status=data.status.value,
        note=data.note,
        recorded_by=principal.subject,
    )
    session.add(step)
    contact.status = data.status.value
    contact.next_step = data.next_step
    contact.due_on = data.due_on
    await session.flush()
    await session.refresh(step, ["created_at"])
    await session.refresh(contact, ["updated_at"])
    await outbox.add(
        session,
        new_event(
            events.OUTREACH_STEP_RECORDED,
            events.OutreachStepRecorded(
                contact_id=contact.id,
                engagement_id=contact.engagement_id,
                organization_id=contact.organization_id,
                kind=ContactKind(contact.kind),
                platform=contact.platform,
                status=data.status,
                due_on=contact.due_on,
                by_status=await _by_status(session, contact.engagement_id),
                step_id=step.id,
                previous_status=previous,
                recorded_by=principal.subject,
            ),
            source=strategy_events.SOURCE,
            subject=str(contact.id),
        ),
    )
    return contact, step

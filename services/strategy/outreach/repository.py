"""Queries on the outreach list and its steps. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Organization
from services.strategy.outreach.models import OutreachContact, OutreachStep
from shared.paging import Keyset, PageQuery, paged

CONTACT_ORDER = Keyset((OutreachContact.created_at, OutreachContact.id))
REMINDER_ORDER = Keyset((OutreachContact.due_on, OutreachContact.id))
STEP_ORDER = Keyset((OutreachStep.created_at, OutreachStep.id))


async def timezone(session: AsyncSession, organization_id: uuid.UUID) -> str:
    found = await session.scalar(
        select(Organization.timezone).where(Organization.id == organization_id)
    )
    return found or "UTC"


async def get(
    session: AsyncSession, engagement_id: uuid.UUID, contact_id: uuid.UUID, *, lock: bool = False
) -> OutreachContact | None:
    statement = select(OutreachContact).where(
        OutreachContact.id == contact_id, OutreachContact.engagement_id == engagement_id
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def with_handle(
    session: AsyncSession, engagement_id: uuid.UUID, platform: str, handle_key: str
) -> OutreachContact | None:
    return await session.scalar(
        select(OutreachContact).where(
            OutreachContact.engagement_id == engagement_id,
            OutreachContact.platform == platform,
            OutreachContact.handle_key == handle_key,
        )
    )


async def page(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    wanted: PageQuery,
    *,
    status: str | None,
    platform: str | None,
    handle_keys: Sequence[str],
) -> Sequence[OutreachContact]:
    statement = select(OutreachContact).where(OutreachContact.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(OutreachContact.status == status)
    if platform is not None:
        statement = statement.where(OutreachContact.platform == platform)
    if handle_keys:
        statement = statement.where(OutreachContact.handle_key.in_(handle_keys))
    return (await session.scalars(paged(statement, CONTACT_ORDER, wanted))).all()


async def reminders(
    session: AsyncSession, engagement_id: uuid.UUID, wanted: PageQuery, before: date | None
) -> Sequence[OutreachContact]:
    """Contacts with a next step due, soonest first; only those due before ``before`` if given."""
    statement = select(OutreachContact).where(
        OutreachContact.engagement_id == engagement_id, OutreachContact.due_on.is_not(None)
    )
    if before is not None:
        statement = statement.where(OutreachContact.due_on < before)
    return (await session.scalars(paged(statement, REMINDER_ORDER, wanted))).all()


async def steps(
    session: AsyncSession, contact_id: uuid.UUID, wanted: PageQuery
) -> Sequence[OutreachStep]:
    statement = select(OutreachStep).where(OutreachStep.contact_id == contact_id)
    return (await session.scalars(paged(statement, STEP_ORDER, wanted))).all()


async def by_status(session: AsyncSession, engagement_id: uuid.UUID) -> dict[str, int]:
    rows = await session.execute(
        select(OutreachContact.status, func.count())
        .where(OutreachContact.engagement_id == engagement_id)
        .group_by(OutreachContact.status)
    )
    return {status: count for status, count in rows.all()}


async def overdue(session: AsyncSession, engagement_id: uuid.UUID, today: date) -> int:
    found = await session.scalar(
        select(func.count()).where(
            OutreachContact.engagement_id == engagement_id, OutreachContact.due_on < today
        )
    )
    return int(found or 0)

"""Queries of the strategy service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.lifecycle.schemas import EngagementFilters
from services.strategy.models import Engagement, EngagementSummary, Organization
from shared.auth import Principal


async def get_organization(
    session: AsyncSession, organization_id: uuid.UUID
) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.id == organization_id))


async def list_organizations(session: AsyncSession) -> Sequence[Organization]:
    return (await session.scalars(select(Organization).order_by(Organization.name))).all()


async def get_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement | None:
    return await session.scalar(select(Engagement).where(Engagement.id == engagement_id))


async def list_engagements(
    session: AsyncSession, filters: EngagementFilters, principal: Principal
) -> Sequence[tuple[Engagement, EngagementSummary | None]]:
    """One page of engagements with their summaries, newest first, in one query; for
    ``waiting_for_me``, those waiting for a role the caller holds in their organisation."""
    statement = (
        select(Engagement, EngagementSummary)
        .outerjoin(EngagementSummary, EngagementSummary.engagement_id == Engagement.id)
        .order_by(Engagement.created_at.desc(), Engagement.id)
        .limit(filters.limit)
        .offset(filters.offset)
    )
    if filters.organization_id is not None:
        statement = statement.where(Engagement.organization_id == filters.organization_id)
    if filters.status is not None:
        statement = statement.where(EngagementSummary.status == filters.status.value)
    if filters.phase is not None:
        statement = statement.where(EngagementSummary.phase == filters.phase.value)
    if filters.waiting_for_me:
        statement = statement.where(_waiting_for(principal))
    return [(engagement, summary) for engagement, summary in (await session.execute(statement))]


def _waiting_for(principal: Principal) -> ColumnElement[bool]:
    """Engagements waiting for a role ``principal`` holds in the engagement's organisation."""
    waiting = EngagementSummary.waiting_roles
    conditions = [
        (Engagement.organization_id == organization_id) & waiting.overlap(sorted(roles))
        for organization_id, roles in principal.organization_roles.items()
        if roles
    ]
    if principal.agency_roles:
        conditions.append(waiting.overlap(sorted(principal.agency_roles)))
    return or_(false(), *conditions)

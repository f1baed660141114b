"""Queries of the strategy service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.lifecycle.schemas import EngagementFilters
from services.strategy.models import Engagement, EngagementSummary, Organization


async def get_organization(
    session: AsyncSession, organization_id: uuid.UUID
) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.id == organization_id))


async def list_organizations(session: AsyncSession) -> Sequence[Organization]:
    return (await session.scalars(select(Organization).order_by(Organization.name))).all()


async def get_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement | None:
    return await session.scalar(select(Engagement).where(Engagement.id == engagement_id))


async def list_engagements(
    session: AsyncSession, filters: EngagementFilters, roles: Collection[str]
) -> Sequence[tuple[Engagement, EngagementSummary | None]]:
    """One page of engagements with their summaries, newest first, in one query; ``roles`` are
    the caller's, for ``waiting_for_me``."""
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
        statement = statement.where(EngagementSummary.waiting_roles.overlap(sorted(roles)))
    return [(engagement, summary) for engagement, summary in (await session.execute(statement))]

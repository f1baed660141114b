"""Queries of the strategy service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Engagement, Organization


async def get_organization(
    session: AsyncSession, organization_id: uuid.UUID
) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.id == organization_id))


async def list_organizations(session: AsyncSession) -> Sequence[Organization]:
    return (await session.scalars(select(Organization).order_by(Organization.name))).all()


async def get_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement | None:
    return await session.scalar(select(Engagement).where(Engagement.id == engagement_id))


async def list_engagements(
    session: AsyncSession, organization_id: uuid.UUID | None = None
) -> Sequence[Engagement]:
    statement = select(Engagement).order_by(Engagement.created_at.desc())
    if organization_id is not None:
        statement = statement.where(Engagement.organization_id == organization_id)
    return (await session.scalars(statement)).all()

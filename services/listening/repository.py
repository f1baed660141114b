"""Queries of the listening service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.models import ListeningQuery


async def list_queries(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    engagement_id: uuid.UUID | None,
    status: str | None,
) -> Sequence[ListeningQuery]:
    statement = select(ListeningQuery).order_by(ListeningQuery.created_at, ListeningQuery.id)
    if organization_id is not None:
        statement = statement.where(ListeningQuery.organization_id == organization_id)
    if engagement_id is not None:
        statement = statement.where(ListeningQuery.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(ListeningQuery.status == status)
    return (await session.scalars(statement)).all()


async def engagement_queries_for_update(
    session: AsyncSession, organization_id: uuid.UUID, engagement_id: uuid.UUID
) -> Sequence[ListeningQuery]:
    """Every query of the engagement, locked: a concurrent stop waits and then sees them
    stopped."""
    return (
        await session.scalars(
            select(ListeningQuery)
            .where(
                ListeningQuery.organization_id == organization_id,
                ListeningQuery.engagement_id == engagement_id,
            )
            .order_by(ListeningQuery.created_at, ListeningQuery.id)
            .with_for_update()
        )
    ).all()

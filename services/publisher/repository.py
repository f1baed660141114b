"""Queries of the publisher. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.publisher.models import Connection, PostMetricsSample, Publication


async def list_connections(
    session: AsyncSession, organization_id: uuid.UUID | None
) -> Sequence[Connection]:
    statement = select(Connection).order_by(Connection.created_at)
    if organization_id is not None:
        statement = statement.where(Connection.organization_id == organization_id)
    return (await session.scalars(statement)).all()


async def list_publications(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    engagement_id: uuid.UUID | None,
    status: str | None,
) -> Sequence[Publication]:
    statement = select(Publication).order_by(Publication.due_at)
    if organization_id is not None:
        statement = statement.where(Publication.organization_id == organization_id)
    if engagement_id is not None:
        statement = statement.where(Publication.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(Publication.status == status)
    return (await session.scalars(statement)).all()


async def metrics_of(
    session: AsyncSession, publication_id: uuid.UUID
) -> Sequence[PostMetricsSample]:
    return (
        await session.scalars(
            select(PostMetricsSample)
            .where(PostMetricsSample.publication_id == publication_id)
            .order_by(PostMetricsSample.collected_at)
        )
    ).all()

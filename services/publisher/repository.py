"""Queries of the publisher. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
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


async def connections_on(
    session: AsyncSession, organization_id: uuid.UUID, channels: Sequence[str]
) -> Sequence[Connection]:
    """The organisation's connections on these channels, most recently connected first."""
    return (
        await session.scalars(
            select(Connection)
            .where(Connection.organization_id == organization_id, Connection.channel.in_(channels))
            .order_by(Connection.created_at.desc(), Connection.id)
        )
    ).all()


async def publications_of_period(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
) -> Sequence[Publication]:
    """The engagement's posts published in ``[starts_at, ends_at)``, and its failed posts that
    were due in it (a failed post has no publication time)."""
    return (
        await session.scalars(
            select(Publication)
            .where(
                Publication.organization_id == organization_id,
                Publication.engagement_id == engagement_id,
                or_(
                    and_(
                        Publication.status == "published",
                        Publication.published_at >= starts_at,
                        Publication.published_at < ends_at,
                    ),
                    and_(
                        Publication.status == "failed",
                        Publication.due_at >= starts_at,
                        Publication.due_at < ends_at,
                    ),
                ),
            )
            .order_by(Publication.due_at, Publication.id)
        )
    ).all()


async def latest_metrics(
    session: AsyncSession, publication_ids: Sequence[uuid.UUID], as_of: datetime | None
) -> Sequence[PostMetricsSample]:
    """Each publication's newest metrics sample (collected at or before ``as_of``)."""
    if not publication_ids:
        return []
    statement = (
        select(PostMetricsSample)
        .where(PostMetricsSample.publication_id.in_(publication_ids))
        .order_by(
            PostMetricsSample.publication_id,
            PostMetricsSample.collected_at.desc(),
            PostMetricsSample.id.desc(),
        )
        .ext(distinct_on(PostMetricsSample.publication_id))
    )
    if as_of is not None:
        statement = statement.where(PostMetricsSample.collected_at <= as_of)
    return (await session.scalars(statement)).all()

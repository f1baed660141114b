"""Queries on handbooks. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Handbook
from shared.paging import Keyset, PageQuery, paged

# Oldest first: versions are numbered from 1.
VERSION_ORDER = Keyset((Handbook.version,))


async def latest(session: AsyncSession, engagement_id: uuid.UUID) -> Handbook | None:
    return await session.scalar(
        select(Handbook)
        .where(Handbook.engagement_id == engagement_id)
        .order_by(Handbook.version.desc())
        .limit(1)
    )


async def get_version(
    session: AsyncSession, engagement_id: uuid.UUID, version: int
) -> Handbook | None:
    return await session.scalar(
        select(Handbook).where(Handbook.engagement_id == engagement_id, Handbook.version == version)
    )


async def list_versions(
    session: AsyncSession, engagement_id: uuid.UUID, page: PageQuery
) -> Sequence[Handbook]:
    statement = select(Handbook).where(Handbook.engagement_id == engagement_id)
    return (await session.scalars(paged(statement, VERSION_ORDER, page))).all()

"""Queries on deliverables. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Deliverable
from shared.paging import Keyset, PageQuery, paged


async def latest(
    session: AsyncSession, engagement_id: uuid.UUID, kind: str, status: str | None = None
) -> Deliverable | None:
    statement = (
        select(Deliverable)
        .where(Deliverable.engagement_id == engagement_id, Deliverable.kind == kind)
        .order_by(Deliverable.version.desc())
        .limit(1)
    )
    if status is not None:
        statement = statement.where(Deliverable.status == status)
    return await session.scalar(statement)


async def get_version(
    session: AsyncSession, engagement_id: uuid.UUID, kind: str, version: int
) -> Deliverable | None:
    return await session.scalar(
        select(Deliverable).where(
            Deliverable.engagement_id == engagement_id,
            Deliverable.kind == kind,
            Deliverable.version == version,
        )
    )


# Oldest first: a deliverable's versions are numbered from 1.
VERSION_ORDER = Keyset((Deliverable.version,))


async def list_versions(
    session: AsyncSession, engagement_id: uuid.UUID, kind: str, page: PageQuery
) -> Sequence[Deliverable]:
    """A page of a deliverable's versions from after the page's cursor (one more than the page
    when more follow)."""
    statement = select(Deliverable).where(
        Deliverable.engagement_id == engagement_id, Deliverable.kind == kind
    )
    return (await session.scalars(paged(statement, VERSION_ORDER, page))).all()


async def version_states(
    session: AsyncSession, engagement_id: uuid.UUID
) -> Sequence[tuple[str, int, str]]:
    """(kind, version, status) of every version of the engagement's deliverables, oldest first."""
    rows = await session.execute(
        select(Deliverable.kind, Deliverable.version, Deliverable.status)
        .where(Deliverable.engagement_id == engagement_id)
        .order_by(Deliverable.kind, Deliverable.version)
    )
    return [(kind, version, status) for kind, version, status in rows]

"""Queries on touchpoints and their scan counts. Organisation scoping is applied by the session
(the public redirect's session is the system's: a code names its touchpoint wherever it is)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.models import Organization
from services.strategy.touchpoints.models import Touchpoint, TouchpointScan
from shared.paging import Keyset, PageQuery, paged

TOUCHPOINT_ORDER = Keyset((Touchpoint.created_at, Touchpoint.id))


async def organization(session: AsyncSession, organization_id: uuid.UUID) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.id == organization_id))


async def get(
    session: AsyncSession, engagement_id: uuid.UUID, touchpoint_id: uuid.UUID
) -> Touchpoint | None:
    return await session.scalar(
        select(Touchpoint).where(
            Touchpoint.id == touchpoint_id, Touchpoint.engagement_id == engagement_id
        )
    )


async def named(session: AsyncSession, engagement_id: uuid.UUID, name: str) -> Touchpoint | None:
    return await session.scalar(
        select(Touchpoint).where(
            Touchpoint.engagement_id == engagement_id,
            func.lower(Touchpoint.name) == name.lower(),
        )
    )


async def page(
    session: AsyncSession, engagement_id: uuid.UUID, wanted: PageQuery, archived: bool
) -> Sequence[Touchpoint]:
    statement = select(Touchpoint).where(Touchpoint.engagement_id == engagement_id)
    if not archived:
        statement = statement.where(Touchpoint.archived_at.is_(None))
    return (await session.scalars(paged(statement, TOUCHPOINT_ORDER, wanted))).all()


@dataclass(frozen=True)
class Followed:
    """What the redirect needs of a touchpoint, and its organisation's time zone (its days)."""

    touchpoint: Touchpoint
    timezone: str


async def by_code(session: AsyncSession, code: str) -> Followed | None:
    found = (
        await session.execute(
            select(Touchpoint, Organization.timezone)
            .join(Organization, Organization.id == Touchpoint.organization_id)
            .where(Touchpoint.code == code)
        )
    ).first()
    return None if found is None else Followed(found[0], found[1])


async def count_hit(session: AsyncSession, touchpoint: Touchpoint, day: date, medium: str) -> int:
    """One more hit on the day, in one statement whatever else hits at once; the day's new
    count."""
    statement = (
        insert(TouchpointScan)
        .values(
            touchpoint_id=touchpoint.id,
            organization_id=touchpoint.organization_id,
            day=day,
            medium=medium,
            count=1,
        )
        .on_conflict_do_update(
            index_elements=[
                TouchpointScan.touchpoint_id,
                TouchpointScan.day,
                TouchpointScan.medium,
            ],
            set_={"count": TouchpointScan.count + 1},
        )
        .returning(TouchpointScan.count)
    )
    count: int = (await session.execute(statement)).scalar_one()
    return count


async def scans_by_day(
    session: AsyncSession, touchpoint_id: uuid.UUID, since: date, until: date
) -> Sequence[tuple[date, str, int]]:
    """(day, medium, count) of one touchpoint in the period, oldest first."""
    rows = await session.execute(
        select(TouchpointScan.day, TouchpointScan.medium, TouchpointScan.count)
        .where(
            TouchpointScan.touchpoint_id == touchpoint_id,
            TouchpointScan.day >= since,
            TouchpointScan.day <= until,
        )
        .order_by(TouchpointScan.day, TouchpointScan.medium)
    )
    return [(day, medium, count) for day, medium, count in rows]


@dataclass(frozen=True)
class Totals:
    touchpoint: Touchpoint
    qr: int
    link: int
    last_day: date | None


async def totals(
    session: AsyncSession, engagement_id: uuid.UUID, since: date, until: date
) -> list[Totals]:
    """Every touchpoint of the engagement with its scans and clicks in the period."""
    per_medium = (
        select(
            TouchpointScan.touchpoint_id,
            func.sum(TouchpointScan.count).filter(TouchpointScan.medium == "qr").label("qr"),
            func.sum(TouchpointScan.count).filter(TouchpointScan.medium == "link").label("link"),
            func.max(TouchpointScan.day).label("last_day"),
        )
        .where(TouchpointScan.day >= since, TouchpointScan.day <= until)
        .group_by(TouchpointScan.touchpoint_id)
        .subquery()
    )
    rows = await session.execute(
        select(Touchpoint, per_medium.c.qr, per_medium.c.link, per_medium.c.last_day)
        .outerjoin(per_medium, per_medium.c.touchpoint_id == Touchpoint.id)
        .where(Touchpoint.engagement_id == engagement_id)
        .order_by(Touchpoint.created_at, Touchpoint.id)
    )
    return [
        Totals(touchpoint, int(qr or 0), int(link or 0), last_day)
        for touchpoint, qr, link, last_day in rows
    ]

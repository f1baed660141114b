"""Queries of the strategy service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, bindparam, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.lifecycle.schemas import EngagementFilters
from services.strategy.models import Engagement, EngagementSummary, Organization
from shared.auth import Principal
from shared.paging import Keyset, PageQuery, paged

# By name; the id orders two organisations of the same name.
ORGANIZATION_ORDER = Keyset((Organization.name, Organization.id))
# Newest first; the id orders engagements created in the same transaction.
ENGAGEMENT_ORDER = Keyset((Engagement.created_at, Engagement.id), descending=True)


# Built once, not per read (the session's scoping is added to each execution).
_ORGANIZATION = select(Organization).where(Organization.id == bindparam("organization_id"))
_ENGAGEMENT = select(Engagement).where(Engagement.id == bindparam("engagement_id"))


async def get_organization(
    session: AsyncSession, organization_id: uuid.UUID
) -> Organization | None:
    return await session.scalar(_ORGANIZATION, {"organization_id": organization_id})


async def list_organizations(session: AsyncSession, page: PageQuery) -> Sequence[Organization]:
    """A page of the organisations the session sees, from after the page's cursor (one more
    than the page when more follow)."""
    return (await session.scalars(paged(select(Organization), ORGANIZATION_ORDER, page))).all()


async def get_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement | None:
    return await session.scalar(_ENGAGEMENT, {"engagement_id": engagement_id})


async def lock_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement | None:
    """The engagement, locked until the transaction ends: what belongs to it (deliverable
    versions, touchpoints, outreach, training, handbooks) changes one transaction at a time, so
    numbers follow one another, names are checked for repeats and each event's figures follow
    the last."""
    return await session.scalar(
        select(Engagement).where(Engagement.id == engagement_id).with_for_update()
    )


async def list_engagements(
    session: AsyncSession, filters: EngagementFilters, principal: Principal
) -> Sequence[tuple[Engagement, EngagementSummary | None]]:
    """One page of engagements with their summaries, newest first, in one query (one more
    than the page when more follow); for ``waiting_for_me``, those waiting for a role the
    caller holds in their organisation."""
    statement = select(Engagement, EngagementSummary).outerjoin(
        EngagementSummary, EngagementSummary.engagement_id == Engagement.id
    )
    if filters.organization_id is not None:
        statement = statement.where(Engagement.organization_id == filters.organization_id)
    if filters.status is not None:
        statement = statement.where(EngagementSummary.status == filters.status.value)
    if filters.phase is not None:
        statement = statement.where(EngagementSummary.phase == filters.phase.value)
    if filters.waiting_for_me:
        statement = statement.where(_waiting_for(principal))
    found = await session.execute(paged(statement, ENGAGEMENT_ORDER, filters))
    return [(engagement, summary) for engagement, summary in found]


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

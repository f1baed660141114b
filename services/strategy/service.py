"""Rules of the strategy service: who may create what, and which events each change emits."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy import events, repository
from services.strategy.models import Engagement, Organization, outbox
from services.strategy.schemas import EngagementCreate, OrganizationCreate
from shared.auth import Principal
from shared.errors import NotFoundError, ProblemError
from shared.events.envelope import new_event
from shared.settings import Environment


async def create_organization(
    session: AsyncSession, principal: Principal, data: OrganizationCreate
) -> Organization:
    organization = Organization(
        id=uuid.uuid4(), name=data.name, timezone=data.timezone, created_by=principal.subject
    )
    session.add(organization)
    await session.flush()
    await outbox.add(
        session,
        new_event(
            events.ORGANIZATION_CREATED,
            events.OrganizationCreated(
                organization_id=organization.id,
                name=organization.name,
                timezone=organization.timezone,
            ),
            source=events.SOURCE,
            subject=str(organization.id),
        ),
    )
    return organization


async def require_organization(
    session: AsyncSession, principal: Principal, organization_id: uuid.UUID
) -> Organization:
    principal.require_organization(organization_id)
    organization = await repository.get_organization(session, organization_id)
    if organization is None:
        raise NotFoundError("organization", organization_id)
    return organization


async def require_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement:
    engagement = await repository.get_engagement(session, engagement_id)
    if engagement is None:
        raise NotFoundError("engagement", engagement_id)
    return engagement


async def locked_engagement(session: AsyncSession, engagement_id: uuid.UUID) -> Engagement:
    """``require_engagement``, locked until the transaction ends."""
    engagement = await repository.lock_engagement(session, engagement_id)
    if engagement is None:
        raise NotFoundError("engagement", engagement_id)
    return engagement


async def create_engagement(
    session: AsyncSession, principal: Principal, data: EngagementCreate, environment: Environment
) -> Engagement:
    if data.time_scale is not None and environment == "prod":
        message = "time_scale compresses an engagement for demos and tests; not in prod"
        errors = [{"field": "body.time_scale", "message": message, "type": "not_allowed"}]
        raise ProblemError(422, "validation-error", message, errors=errors)
    await require_organization(session, principal, data.organization_id)
    engagement = Engagement(
        id=uuid.uuid4(),
        organization_id=data.organization_id,
        mode=data.mode.value,
        channels=[channel.value for channel in data.channels],
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        report_cadence=data.report_cadence,
        created_by=principal.subject,
    )
    session.add(engagement)
    await session.flush()
    await outbox.add(
        session,
        new_event(
            events.ENGAGEMENT_CREATED,
            events.EngagementCreated(
                engagement_id=engagement.id,
                organization_id=engagement.organization_id,
                mode=data.mode,
                channels=data.channels,
                starts_on=data.starts_on,
                ends_on=data.ends_on,
                time_scale=data.time_scale,
                report_cadence=data.report_cadence,
            ),
            source=events.SOURCE,
            subject=str(engagement.id),
        ),
    )
    return engagement

"""An engagement's inbox settings: the first-response target and the business calendar its
SLA counts in (defaults when none were stored)."""

from __future__ import annotations

import uuid
from datetime import datetime, time

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.conversations import repository
from services.listening.conversations.business_hours import BusinessCalendar
from services.listening.conversations.schemas import InboxSettingsBody
from services.listening.models import InboxSettings, engagements
from shared.auth import Principal


def default_settings() -> InboxSettingsBody:
    return InboxSettingsBody()


def settings_body(row: InboxSettings | None) -> InboxSettingsBody:
    if row is None:
        return default_settings()
    return InboxSettingsBody(
        target_first_response_minutes=row.target_first_response_minutes,
        business_days=row.business_days,
        opens=_clock(row.opens_minute),
        closes=_clock(row.closes_minute),
        time_zone=row.time_zone,
        escalate_after_minutes=row.escalate_after_minutes,
    )


def calendar_of(body: InboxSettingsBody) -> BusinessCalendar:
    return BusinessCalendar(
        time_zone=body.time_zone,
        weekdays=frozenset(body.business_days),
        opens=body.opens,
        closes=body.closes,
    )


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


async def engagement_settings(session: AsyncSession, engagement_id: uuid.UUID) -> InboxSettingsBody:
    return settings_body(await repository.inbox_settings(session, engagement_id))


async def put_settings(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    body: InboxSettingsBody,
    now: datetime,
) -> uuid.UUID:
    """Store an engagement's inbox settings; conversations opened from now on follow them."""
    organization_id = await engagements.require(session, engagement_id)
    row = await repository.inbox_settings(session, engagement_id)
    if row is None:
        row = InboxSettings(engagement_id=engagement_id, organization_id=organization_id)
        session.add(row)
    row.target_first_response_minutes = body.target_first_response_minutes
    row.business_days = body.business_days
    row.opens_minute = _minute(body.opens)
    row.closes_minute = _minute(body.closes)
    row.time_zone = body.time_zone
    row.escalate_after_minutes = body.escalate_after_minutes
    row.updated_by = principal.subject
    row.updated_at = now
    return organization_id

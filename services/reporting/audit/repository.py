"""Reading the audit log: newest first, a page at a time by keyset (``occurred_at``, event id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import AuditEntry


@dataclass(frozen=True)
class AuditFilter:
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def page(
    session: AsyncSession,
    wanted: AuditFilter,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Sequence[AuditEntry]:
    statement = select(AuditEntry).where(AuditEntry.organization_id == wanted.organization_id)
    if wanted.engagement_id is not None:
        statement = statement.where(AuditEntry.engagement_id == wanted.engagement_id)
    if wanted.actor is not None:
        statement = statement.where(AuditEntry.actor == wanted.actor)
    if wanted.action is not None:
        statement = statement.where(AuditEntry.action == wanted.action)
    if wanted.since is not None:
        statement = statement.where(AuditEntry.occurred_at >= wanted.since)
    if wanted.until is not None:
        statement = statement.where(AuditEntry.occurred_at < wanted.until)
    if after is not None:
        statement = statement.where(
            tuple_(AuditEntry.occurred_at, AuditEntry.event_id) < tuple_(*after)
        )
    statement = statement.order_by(AuditEntry.occurred_at.desc(), AuditEntry.event_id.desc())
    return (await session.scalars(statement.limit(limit))).all()

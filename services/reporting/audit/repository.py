"""Reading the audit log: newest first, a page at a time by keyset (``occurred_at``, event id)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.models import AuditEntry
from shared.paging import Keyset, PageQuery, paged

# Newest first; the event id breaks ties between entries of the same moment.
AUDIT_ORDER = Keyset((AuditEntry.occurred_at, AuditEntry.event_id), descending=True)


@dataclass(frozen=True)
class AuditFilter:
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def page(session: AsyncSession, wanted: AuditFilter, page: PageQuery) -> Sequence[AuditEntry]:
    """The entries ``wanted``, newest first, from after the page's cursor: one more than the
    page when more follow."""
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
    return (await session.scalars(paged(statement, AUDIT_ORDER, page))).all()

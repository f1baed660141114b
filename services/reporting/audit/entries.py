"""Which events are audited, and what each says: actor, action, object and result.

One table (``AUDITED``) so that what the log holds is read in one place (and documented from it
in ``docs/audit.md``); every entry is inserted once per event id, so a redelivered or replayed
event adds nothing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.content import events as content
from services.content.plan import events as plan
from services.listening import events as listening
from services.publisher import events as publisher
from services.reporting import events as reporting
from services.reporting.models import AuditEntry
from services.strategy import events as strategy
from services.strategy.contracts import LifecycleEventName
from shared.events.consumer import PoisonMessageError
from shared.events.envelope import CloudEvent

# What the platform does by itself (a post going out at its time) is done by nobody in particular.
SYSTEM_ACTOR = "system"
DETAIL_LIMIT = 2000

Result = Literal["succeeded", "failed"]


@dataclass(frozen=True)
class Audited:
    """How one event reads as an audit entry. ``actor`` names the data field holding the
    subject who acted (the first one set, when several may); none: the platform itself."""

    action: str
    object_type: str
    object_field: str
    actor: tuple[str, ...] = ()
    result: Result = "succeeded"
    detail: str | None = None


def _lifecycle(name: LifecycleEventName) -> str:
    return strategy.lifecycle_event(name)


AUDITED: Mapping[str, Audited] = {
    # Approvals.
    strategy.DELIVERABLE_APPROVED: Audited(
        "approve", "deliverable", "deliverable_id", ("approved_by",), detail="approved_as"
    ),
    _lifecycle(LifecycleEventName.APPROVAL_GRANTED): Audited(
        "approve", "gate", "gate", ("actor",), detail="reason"
    ),
    _lifecycle(LifecycleEventName.APPROVAL_REJECTED): Audited(
        "reject", "gate", "gate", ("actor",), detail="reason"
    ),
    content.ITEM_APPROVED: Audited(
        "approve", "content_item", "item_id", ("client_approved_by", "agency_approved_by")
    ),
    content.ITEM_REJECTED: Audited(
        "reject", "content_item", "item_id", ("rejected_by",), detail="comment"
    ),
    plan.PLAN_APPROVED: Audited("approve", "plan", "plan_id", ("approved_by",)),
    reporting.REPORT_APPROVED: Audited(
        "approve", "report", "report_id", ("approved_by",), detail="comment"
    ),
    reporting.REPORT_REJECTED: Audited(
        "reject", "report", "report_id", ("rejected_by",), detail="reason"
    ),
    # Publications.
    publisher.POST_PUBLISHED: Audited("publish", "publication", "publication_id", detail="url"),
    publisher.POST_FAILED: Audited(
        "publish", "publication", "publication_id", result="failed", detail="detail"
    ),
    publisher.POST_WITHDRAWN: Audited("withdraw", "publication", "publication_id", detail="reason"),
    reporting.REPORT_DELIVERED: Audited("deliver", "report", "report_id"),
    # Replies to the public.
    listening.CONVERSATION_REPLY_SENT: Audited(
        "reply", "conversation", "conversation_id", ("sent_by",)
    ),
    listening.CONVERSATION_REPLY_FAILED: Audited(
        "reply", "conversation", "conversation_id", ("sent_by",), "failed", detail="failure"
    ),
    # Platform tokens and the keys that seal them.
    publisher.CHANNEL_CONNECTED: Audited(
        "connect_channel", "channel", "connection_id", ("connected_by",), detail="channel"
    ),
    publisher.CHANNEL_NEEDS_REAUTH: Audited(
        "token_refused", "channel", "connection_id", result="failed", detail="reason"
    ),
    publisher.TOKENS_RESEALED: Audited(
        "rotate_keys", "organization", "organization_id", ("rotated_by",), detail="connections"
    ),
    # Engagement control.
    _lifecycle(LifecycleEventName.ENGAGEMENT_PAUSED): Audited(
        "pause", "engagement", "engagement_id", ("actor",), detail="reason"
    ),
    _lifecycle(LifecycleEventName.ENGAGEMENT_RESUMED): Audited(
        "resume", "engagement", "engagement_id", ("actor",), detail="reason"
    ),
    _lifecycle(LifecycleEventName.ENGAGEMENT_CANCELLED): Audited(
        "cancel", "engagement", "engagement_id", ("actor",), detail="reason"
    ),
}


def _uuid_or_none(value: object) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def entry_of(event: CloudEvent, audited: Audited) -> dict[str, object]:
    """The row ``event`` makes; an event naming no organisation or object can never make one."""
    data = event.data
    organization_id = _uuid_or_none(data.get("organization_id"))
    object_id = data.get(audited.object_field)
    if organization_id is None or object_id is None:
        raise PoisonMessageError(
            f"{event.name} {event.id}: no organisation or {audited.object_field} to audit"
        )
    actor = next((str(data[field]) for field in audited.actor if data.get(field)), SYSTEM_ACTOR)
    detail = data.get(audited.detail) if audited.detail else None
    return {
        "event_id": event.id,
        "organization_id": organization_id,
        "engagement_id": _uuid_or_none(data.get("engagement_id")),
        "occurred_at": event.time,
        "actor": actor[:200],
        "action": audited.action,
        "object_type": audited.object_type,
        "object_id": str(object_id)[:64],
        "result": audited.result,
        "event_type": event.type[:200],
        "detail": None if detail is None else str(detail)[:DETAIL_LIMIT],
    }


async def record(session: AsyncSession, event: CloudEvent) -> None:
    audited = AUDITED.get(event.name)
    if audited is None:
        return
    statement = insert(AuditEntry).values(entry_of(event, audited))
    await session.execute(statement.on_conflict_do_nothing(index_elements=[AuditEntry.event_id]))

"""What feeds the inbox: the listening worker's consumers of ingested mentions and of
engagements' modes.

``listening.mentions_ingested`` names the mentions a batch stored: each of an engagement that
wants an answer opens a conversation, or joins its author's open one on the same source
(threads). The kernel's consumer records the event with the conversations it made, in one
transaction, so a redelivered event changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.conversations import repository, service
from services.listening.models import EngagementMode, ProcessedEvent
from shared.domain import InterventionMode
from shared.engagement_directory import ENGAGEMENT_CREATED
from shared.events.consumer import Subscription
from shared.events.envelope import CloudEvent

INTAKE_DURABLE = "listening-conversations-intake"
MODES_DURABLE = "listening-engagement-modes"


async def open_conversations(session: AsyncSession, event: CloudEvent) -> None:
    ingested = events.MentionsIngested.model_validate(event.data)
    wanted = set(ingested.engagement_ids)
    if not wanted or not ingested.mention_ids:
        return
    now = datetime.now(UTC)
    for mention in await repository.mentions(session, ingested.mention_ids):
        for engagement_id in mention.engagement_ids:
            if engagement_id in wanted:
                await service.receive_mention(session, mention, engagement_id, now)


class _EngagementMode(BaseModel):
    """The part of strategy's ``engagement_created`` this read model keeps."""

    engagement_id: str
    organization_id: str
    mode: InterventionMode


async def record_mode(session: AsyncSession, event: CloudEvent) -> None:
    created = _EngagementMode.model_validate(event.data)
    await session.execute(
        insert(EngagementMode)
        .values(
            engagement_id=created.engagement_id,
            organization_id=created.organization_id,
            mode=created.mode.value,
        )
        .on_conflict_do_nothing()
    )


intake_subscription = Subscription(
    durable=INTAKE_DURABLE,
    event=events.MENTIONS_INGESTED,
    handler=open_conversations,
    processed_model=ProcessedEvent,
)
modes_subscription = Subscription(
    durable=MODES_DURABLE,
    event=ENGAGEMENT_CREATED,
    handler=record_mode,
    processed_model=ProcessedEvent,
)
SUBSCRIPTIONS = [modes_subscription, intake_subscription]

"""What the reporting worker consumes to keep its read model: one durable consumer per event.

Every subscription handles a fetch in one transaction: the two that carry many facts per event
(``mentions_ingested``, ``metrics_sampled``) with bulk inserts, the others one event after the
other in the fetch's order. The list's order is also the order ``rebuild`` replays them in: the
facts others wait for (an engagement's contract, a contest's entries) come first."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests import events as contests
from services.listening import events as listening
from services.publisher import events as publisher
from services.reporting.audit import entries as audit
from services.reporting.models import ProcessedEvent
from services.reporting.readmodel import contests as contest_facts
from services.reporting.readmodel import engagements as engagement_facts
from services.reporting.readmodel import listening as listening_facts
from services.reporting.readmodel import posts as post_facts
from services.reporting.readmodel import relationships as relationship_facts
from services.strategy import events as strategy
from shared.events.consumer import BatchHandler, EventHandler, Subscription
from shared.events.envelope import CloudEvent

DURABLE_PREFIX = "reporting-readmodel-"
# Events asked for at each fetch; those carrying up to 500 facts each are asked for fewer.
FETCH_BATCH = 100
BULK_FETCH_BATCH = 20


def durable(event: str) -> str:
    """``reporting-readmodel-<domain>-<event>``: JetStream names take no dots."""
    return DURABLE_PREFIX + event.replace(".", "-")


def in_order(handler: EventHandler) -> BatchHandler:
    """A fetch's events handled one after the other, in the fetch's transaction."""

    async def handle_all(session: AsyncSession, received: Sequence[CloudEvent]) -> None:
        for event in received:
            await handler(session, event)

    return handle_all


def audited(event: str, handler: EventHandler) -> EventHandler:
    """``handler``, also writing the audit entry when ``event`` is audited (same transaction)."""
    if event not in audit.AUDITED:
        return handler

    async def handle(session: AsyncSession, received: CloudEvent) -> None:
        await handler(session, received)
        await audit.record(session, received)

    return handle


async def _audit_only(session: AsyncSession, event: CloudEvent) -> None:
    await audit.record(session, event)


def _subscription(event: str, handler: EventHandler = _audit_only) -> Subscription:
    handler = audited(event, handler)
    return Subscription(
        durable=durable(event),
        event=event,
        handler=handler,
        processed_model=ProcessedEvent,
        batch_handler=in_order(handler),
        fetch_batch=FETCH_BATCH,
    )


def _bulk_subscription(event: str, handler: EventHandler, batch: BatchHandler) -> Subscription:
    return Subscription(
        durable=durable(event),
        event=event,
        handler=handler,
        processed_model=ProcessedEvent,
        batch_handler=batch,
        fetch_batch=BULK_FETCH_BATCH,
    )


SUBSCRIPTIONS: Sequence[Subscription] = [
    _subscription(strategy.ORGANIZATION_CREATED, engagement_facts.record_organization),
    _subscription(strategy.ENGAGEMENT_CREATED, engagement_facts.record_engagement),
    _subscription(strategy.DELIVERABLE_APPROVED, engagement_facts.record_objectives),
    *(
        _subscription(name, engagement_facts.record_lifecycle)
        for name in (
            engagement_facts.PHASE_STARTED,
            engagement_facts.ENGAGEMENT_COMPLETED,
            engagement_facts.ENGAGEMENT_CANCELLED,
        )
    ),
    _subscription(listening.QUERY_STARTED, listening_facts.record_query),
    _bulk_subscription(
        listening.MENTIONS_INGESTED,
        listening_facts.record_mention_batch,
        listening_facts.record_mentions,
    ),
    _subscription(publisher.POST_SCHEDULED, post_facts.record_post_scheduled),
    _subscription(publisher.POST_PUBLISHED, post_facts.record_post_published),
    _subscription(publisher.POST_FAILED, post_facts.record_post_failed),
    _subscription(publisher.POST_WITHDRAWN, post_facts.record_post_withdrawn),
    _bulk_subscription(
        publisher.METRICS_SAMPLED, post_facts.record_sample, post_facts.record_samples
    ),
    _subscription(listening.CONVERSATION_OPENED, listening_facts.record_conversation_opened),
    _subscription(listening.CONVERSATION_FIRST_RESPONSE, listening_facts.record_first_response),
    _subscription(listening.CONVERSATION_SLA_BREACHED, listening_facts.record_sla_breached),
    _subscription(listening.CONVERSATION_CLOSED, listening_facts.record_conversation_closed),
    _subscription(contests.CONTEST_ENTRY_ACCEPTED, contest_facts.record_entry_accepted),
    _subscription(contests.CONTEST_ENTRY_REJECTED, contest_facts.record_entry_rejected),
    _subscription(contests.CONTEST_DRAWN, contest_facts.record_draw),
    _subscription(contests.CONTEST_WINNER_UNCLAIMED, contest_facts.record_unclaimed),
    *(_subscription(name, handler) for name, handler in relationship_facts.OUTREACH_EVENTS.items()),
    *(
        _subscription(name, relationship_facts.record_training)
        for name in relationship_facts.TRAINING_EVENTS
    ),
]
# The audited events no fact of the read model needs: their consumers write the audit log only.
SUBSCRIPTIONS = [
    *SUBSCRIPTIONS,
    *(
        _subscription(event)
        for event in audit.AUDITED
        if event not in {subscription.event for subscription in SUBSCRIPTIONS}
    ),
]

"""Making the read model again from the event stream (``engage reporting rebuild``).

The reporting worker may be running meanwhile, and is left alone: its durable consumers keep
handling what is published, and the rebuild replays the past beside them.

1. One transaction empties the read-model tables and deletes the read-model consumers'
   ``processed_events`` rows. ``TRUNCATE`` waits for the consumers' transactions in flight: a
   fact committed before it is gone (and replayed below), one committed after it stays, with its
   ``processed_events`` row.
2. The stream's last sequence is noted.
3. Each subscription, in ``SUBSCRIPTIONS``' order (the facts others wait for first), is replayed
   through an ephemeral consumer of its subject from the stream's start, until everything up to
   the noted sequence is settled. Each fetch is handled by the kernel's consumer under the
   subscription's own durable name, so the worker's consumer and the replay share
   ``processed_events``: an event handled by one is skipped by the other, and the handlers are
   commutative upserts, so their interleaving changes nothing.

The worker's durable consumers are not deleted and made again: that would replay everything
twice while the worker runs, and leave the model unfed when it does not. Only what the stream
still holds can be replayed (its limits decide how far back that is). Reports read the model
while it fills: a rebuild is for a quiet moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.models import (
    SCHEMA,
    AccountMetricsFact,
    Base,
    ContestEntryFact,
    ConversationFact,
    EngagementFact,
    MentionFact,
    ObjectivesFact,
    OrganizationFact,
    PostFact,
    PostMetricsFact,
    ProcessedEvent,
    QueryFact,
)
from services.reporting.readmodel.relationships import RelationshipFact
from services.reporting.readmodel.subscriptions import SUBSCRIPTIONS
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.events.consumer import Subscription
from shared.events.jetstream import connect_nats
from shared.settings import EventSettings, Settings

# What the rebuild empties and fills again (the engagements directory is not a figure: it is
# only ever added to, and stays).
READ_MODEL: Sequence[type[Base]] = (
    OrganizationFact,
    EngagementFact,
    ObjectivesFact,
    PostFact,
    PostMetricsFact,
    AccountMetricsFact,
    QueryFact,
    MentionFact,
    ConversationFact,
    ContestEntryFact,
    RelationshipFact,
)
FETCH_SECONDS = 1.0
# An ephemeral consumer left behind (the rebuild was killed) is removed by JetStream after this.
INACTIVE_SECONDS = 300.0
# At most one progress line per subscription this often, besides its last one.
PROGRESS_SECONDS = 2.0

Report = Callable[[str], None]


async def rebuild(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    events: EventSettings,
    report: Report,
    subscriptions: Sequence[Subscription] = SUBSCRIPTIONS,
) -> dict[str, int]:
    """Empty the read model and replay the stream into it; the events handled, by event."""
    await _empty(sessions, subscriptions)
    report("read model emptied")
    last_seq = (await js.stream_info(events.stream)).state.last_seq
    replayed = {}
    for subscription in subscriptions:
        replayed[subscription.event] = await _replay(
            sessions, js, events, subscription, last_seq, report
        )
    report(f"read model rebuilt: {sum(replayed.values())} events up to sequence {last_seq}")
    return replayed


async def _empty(
    sessions: async_sessionmaker[AsyncSession], subscriptions: Sequence[Subscription]
) -> None:
    tables = ", ".join(f"{SCHEMA}.{model.__tablename__}" for model in READ_MODEL)
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(text(f"TRUNCATE TABLE {tables}"))
        await session.execute(
            delete(ProcessedEvent).where(
                ProcessedEvent.consumer.in_([s.durable for s in subscriptions])
            )
        )


async def _replay(
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    events: EventSettings,
    subscription: Subscription,
    last_seq: int,
    report: Report,
) -> int:
    """Every event of the subscription's subject up to ``last_seq``, handled and settled."""
    consumer = subscription.consumer(js, sessions, events)
    spec = consumer.spec
    pull = await js.pull_subscribe(
        spec.filter_subject,
        stream=spec.stream,
        config=ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            max_deliver=spec.max_deliver,
            ack_wait=spec.ack_wait_seconds,
            inactive_threshold=INACTIVE_SECONDS,
        ),
    )
    name = (await pull.consumer_info()).name
    handled, reported_at = 0, time.monotonic()
    try:
        while True:
            info = await pull.consumer_info()
            delivered = info.delivered.stream_seq if info.delivered else None
            caught_up = info.num_pending == 0 or (delivered or 0) >= last_seq
            if caught_up and not info.num_ack_pending:
                break
            try:
                messages = await pull.fetch(spec.fetch_batch, timeout=FETCH_SECONDS)
            except (NatsTimeoutError, TimeoutError):
                continue
            await consumer.handle_fetched(messages)
            handled += len(messages)
            if time.monotonic() - reported_at >= PROGRESS_SECONDS:
                report(f"{subscription.event}: {handled} events replayed")
                reported_at = time.monotonic()
    finally:
        await pull.unsubscribe()
        await js.delete_consumer(spec.stream, name)
    report(f"{subscription.event}: {handled} events replayed")
    return handled


async def rebuild_from_settings(settings: Settings, report: Report) -> dict[str, int]:
    """``engage reporting rebuild``: the configured database and stream."""
    engine = create_engine(settings)
    nats = await connect_nats(settings, "reporting-rebuild")
    try:
        return await rebuild(
            create_session_factory(engine), nats.jetstream(), settings.events, report
        )
    finally:
        await nats.close()
        await engine.dispose()

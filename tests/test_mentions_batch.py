"""The kernel consumer's batch mode, which mention ingestion uses: a fetch is handled in one
transaction and acked after its commit; a batch that fails is handled again one event at a
time, so a poison event is terminated alone; an event handled before is not handed over again;
and two copies of one mention in one batch are stored once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.intake import mention_received
from services.listening.models import Mention
from services.strategy.models import ProcessedEvent
from shared.events.consumer import PoisonMessageError, Subscription
from shared.events.envelope import CloudEvent, new_event
from shared.settings import EventSettings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_mentions import publish_event, raw, wait_for_mentions
from tests.test_thin_thread import create_org


class Recorder:
    """Batch and single handlers that record each event's note in ``effects``."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.singles: list[str] = []

    async def _record(self, session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        for event in events:
            if event.data["note"] == "poison":
                raise PoisonMessageError("never readable")
            await session.execute(
                text("INSERT INTO effects (event_id, note) VALUES (:id, :note)"),
                {"id": event.id, "note": event.data["note"]},
            )

    async def batch(self, session: AsyncSession, events: Sequence[CloudEvent]) -> None:
        self.batches.append([event.data["note"] for event in events])
        await self._record(session, events)

    async def single(self, session: AsyncSession, event: CloudEvent) -> None:
        self.singles.append(event.data["note"])
        await self._record(session, [event])


async def notes(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(text("SELECT note FROM effects ORDER BY note"))
        return list(rows)


async def publish_all(nats_client: NatsClient, events: EventSettings, *sent: CloudEvent) -> None:
    js = nats_client.jetstream()
    for event in sent:
        await js.publish(
            event.nats_subject(events.subject_prefix),
            event.model_dump_json().encode(),
            headers={"Nats-Msg-Id": uuid.uuid4().hex},
        )


@asynccontextmanager
async def consuming(
    nats_client: NatsClient,
    events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
    recorder: Recorder,
) -> AsyncIterator[None]:
    subscription = Subscription(
        durable="test-batch",
        event="test.noted",
        handler=recorder.single,
        processed_model=ProcessedEvent,
        batch_handler=recorder.batch,
    )
    consumer = subscription.consumer(nats_client.jetstream(), sessions, events)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, batch=10))

    async def subscribed() -> bool:
        try:
            await nats_client.jetstream().consumer_info(events.stream, "test-batch")
        except NotFoundError:
            return False
        return True

    await wait_until(subscribed, timeout=10)
    try:
        yield
    finally:
        stop.set()
        await task


def noted(note: str) -> CloudEvent:
    return new_event("test.noted", {"note": note}, source="urn:test")


async def test_a_batch_is_one_transaction_and_a_failed_batch_is_handled_one_by_one(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    async with fresh_sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE effects (event_id text NOT NULL, note text)"))
    recorder = Recorder()
    first = noted("a")
    # In the stream before the consumer starts: its first fetch takes all four.
    await publish_all(nats_client, isolated_events, first, noted("b"), noted("poison"), noted("c"))
    async with consuming(nats_client, isolated_events, fresh_sessions, recorder):
        await wait_until(lambda: _has(fresh_sessions, ["a", "b", "c"]), timeout=10)
        # The batch failed on the poison event and was rolled back; each was then handled alone.
        assert recorder.batches[0] == ["a", "b", "poison", "c"]
        assert recorder.singles == ["a", "b", "poison", "c"]
        before = len(recorder.batches)

        await publish_all(nats_client, isolated_events, first, noted("d"), noted("e"))
        await wait_until(lambda: _has(fresh_sessions, ["a", "b", "c", "d", "e"]), timeout=10)
        await asyncio.sleep(0.3)
    # The event handled before is not handed over again.
    assert [note for batch in recorder.batches[before:] for note in batch] == ["d", "e"]
    assert recorder.singles == ["a", "b", "poison", "c"]
    assert await notes(fresh_sessions) == ["a", "b", "c", "d", "e"]


async def _has(sessions: async_sessionmaker[AsyncSession], expected: list[str]) -> bool:
    return await notes(sessions) == expected


async def test_two_copies_of_a_mention_in_one_batch_are_stored_once(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    mention = raw(organization_id, "Twice", engagement_id=engagement_id)
    copies = [
        mention_received(mention).model_copy(update={"id": str(uuid.uuid4())}) for _ in range(2)
    ]
    for copy in copies:
        await publish_event(nats_client, platform, copy)
    await wait_for_mentions(platform, engagement_id, 1)
    await asyncio.sleep(0.3)
    async with sessions() as session:
        stored = await session.scalar(
            select(func.count())
            .select_from(Mention)
            .where(Mention.external_id == mention.external_id)
        )
    assert stored == 1

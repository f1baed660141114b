"""The kernel consumer's batch mode, which mention ingestion uses: a fetch is handled in one
transaction and acked after its commit; a batch that fails is handled again one event at a
time, so a poison event is terminated alone; an event handled before is not handed over again;
two copies of one mention in one batch are stored once; and a mention whose handling keeps
failing is dead-lettered after N deliveries, visible through the API, while the others of its
batch are stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.events import MENTION_RECEIVED
from services.listening.ingestion import DURABLE, ingestion
from services.listening.intake import mention_received
from services.listening.models import Mention
from services.strategy.models import ProcessedEvent
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.consumer import (
    REASON_HEADER,
    PoisonMessageError,
    Subscription,
    dead_letter_subject,
    spec_for,
)
from shared.events.envelope import CloudEvent, new_event
from shared.settings import EventSettings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_mentions import gazetteer_failing_on_boom, publish_event, raw, wait_for_mentions
from tests.test_thin_thread import create_org

# A fixture of tests/test_mentions.py, used by name.
__all__ = ["gazetteer_failing_on_boom"]


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


async def test_a_mention_that_keeps_failing_is_dead_lettered_and_the_rest_of_its_batch_stored(
    platform: Platform,
    nats_client: NatsClient,
    sessions: async_sessionmaker[AsyncSession],
    isolated_events: EventSettings,
    gazetteer_failing_on_boom: None,
) -> None:
    organization_id = await create_org(platform)
    good = [raw(organization_id, f"Fine {n}") for n in range(3)]
    broken = raw(organization_id, "boom")
    js = nats_client.jetstream()
    # A consumer of its own on the test's stream, quick to give up on the broken mention.
    spec = replace(
        spec_for(DURABLE, MENTION_RECEIVED, isolated_events),
        max_deliveries=2,
        nak_delay_seconds=0.1,
    )
    consumer = ingestion.subscription.consumer(js, sessions, isolated_events, spec)
    # One mention per message, as published before pages (a page: ``test_mentions_pages.py``).
    for mention in [good[0], broken, *good[1:]]:
        event = mention_received(mention)
        await js.publish(
            event.nats_subject(isolated_events.subject_prefix),
            event.model_dump_json().encode(),
            stream=isolated_events.stream,
            headers={"Nats-Msg-Id": event.id},
        )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    letters: list[Any] = []

    async def dead_lettered() -> bool:
        nonlocal letters
        response = await platform.gateway.get(
            "/v1/listening/dead-letters",
            params={"organization_id": organization_id},
            headers=platform.auth(Role.MANAGER),
        )
        letters = response.json()
        return len(letters) == 1

    try:
        await wait_until(dead_lettered, timeout=15)
        await asyncio.sleep(0.5)
        info = await js.consumer_info(isolated_events.stream, DURABLE)
    finally:
        stop.set()
        await task
    [letter] = letters
    assert letter["event_id"] == mention_received(broken).id
    assert letter["consumer"] == DURABLE
    assert letter["reason"] == "failed 2 times: RuntimeError: the gazetteer has a bug"
    assert letter["payload"]["data"]["text"] == "boom"
    assert (info.num_ack_pending, info.num_pending) == (0, 0), "settled, not redelivered"
    async with session_scope(sessions, SYSTEM) as session:
        stored = await session.scalars(
            select(Mention.text).where(Mention.organization_id == uuid.UUID(organization_id))
        )
        assert sorted(stored) == ["Fine 0", "Fine 1", "Fine 2"]
    published = await js.get_last_msg(
        isolated_events.stream, dead_letter_subject(isolated_events, DURABLE)
    )
    assert published.headers is not None
    assert published.headers[REASON_HEADER] == letter["reason"]

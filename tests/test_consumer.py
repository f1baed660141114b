"""The consumer helper: ack after commit, nak with delay, idempotent redelivery, term on poison,
and dead letters after N failed deliveries."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import ProcessedEvent
from shared.events.consumer import (
    REASON_HEADER,
    ConsumerSpec,
    DeadLetterHandler,
    EventConsumer,
    EventHandler,
    PoisonMessageError,
    TransientError,
    dead_letter_subject,
    spec_for,
)
from shared.events.envelope import CloudEvent, new_event
from shared.events.jetstream import connect_nats
from shared.settings import EventSettings, Settings
from tests.conftest import wait_until
from tests.events_helpers import own_nats, stream_messages


@pytest.fixture
async def effects(
    fresh_sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """A table where the test handler records what it did (no unique key: doubles would show)."""
    async with fresh_sessions() as session, session.begin():
        await session.execute(text("CREATE TABLE effects (event_id text NOT NULL, note text)"))
    return fresh_sessions


async def effect_count(sessions: async_sessionmaker[AsyncSession], event_id: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM effects WHERE event_id = :id"), {"id": event_id}
        )
        return int(count or 0)


def recording_handler(
    calls: list[str], fail: Callable[[CloudEvent, int], None] = lambda *_: None
) -> EventHandler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        calls.append(event.id)
        fail(event, calls.count(event.id))
        await session.execute(
            text("INSERT INTO effects (event_id, note) VALUES (:id, :note)"),
            {"id": event.id, "note": event.data.get("note")},
        )

    return handle


@asynccontextmanager
async def consuming(
    nats_client: NatsClient,
    events: EventSettings,
    sessions: async_sessionmaker[AsyncSession],
    handler: EventHandler,
    on_dead_letter: DeadLetterHandler | None = None,
    **spec: float | str,
) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(
        nats_client.jetstream(),
        ConsumerSpec(
            durable="test-consumer",
            # Not the dead letters' subject (``<prefix>.deadletter.<durable>``).
            filter_subject=f"{events.subject_prefix}.test.>",
            stream=events.stream,
            **spec,  # type: ignore[arg-type]
        ),
        handler,
        sessions,
        ProcessedEvent,
        on_dead_letter,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, batch=5))

    async def subscribed() -> bool:
        try:
            await nats_client.jetstream().consumer_info(events.stream, consumer.spec.durable)
        except NotFoundError:
            return False
        return True

    # The consumer exists on the stream before the test asks JetStream about it.
    await wait_until(subscribed, timeout=10)
    try:
        yield consumer
    finally:
        stop.set()
        await task


async def publish(
    nats_client: NatsClient, events: EventSettings, event: CloudEvent, msg_id: str | None = None
) -> None:
    await nats_client.jetstream().publish(
        event.nats_subject(events.subject_prefix),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": msg_id or event.id},
    )


def sample(note: str) -> CloudEvent:
    return new_event("test.noted", {"note": note}, source="urn:test")


async def test_transient_failure_is_nakked_and_redelivered(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    def fail_first(event: CloudEvent, attempt: int) -> None:
        if attempt == 1:
            raise TransientError("search index is restarting", delay=0.2)

    calls: list[str] = []
    event = sample("retry me")
    async with consuming(
        nats_client, isolated_events, effects, recording_handler(calls, fail_first)
    ):
        await publish(nats_client, isolated_events, event)

        async def applied() -> bool:
            return await effect_count(effects, event.id) == 1

        await wait_until(applied, timeout=10)
    assert calls == [event.id, event.id], "delivered, nakked, redelivered once"
    assert await effect_count(effects, event.id) == 1


async def test_redelivery_after_a_lost_ack_has_no_second_effect(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    acks: list[int] = []
    real_ack = Msg.ack

    async def ack_lost_the_first_time(self: Msg) -> None:
        acks.append(self.metadata.num_delivered)
        if self.metadata.num_delivered > 1:
            await real_ack(self)

    monkeypatch.setattr(Msg, "ack", ack_lost_the_first_time)
    calls: list[str] = []
    event = sample("once only")
    async with consuming(
        nats_client, isolated_events, effects, recording_handler(calls), ack_wait_seconds=1.0
    ):
        await publish(nats_client, isolated_events, event)
        await wait_until(lambda: asyncio.sleep(0, result=len(acks) >= 2), timeout=15)
    assert acks[:2] == [1, 2], "JetStream redelivered the message whose ack was lost"
    assert calls == [event.id], "the handler ran once"
    assert await effect_count(effects, event.id) == 1


async def test_duplicate_event_published_twice_is_handled_once(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    calls: list[str] = []
    event = sample("twice")
    async with consuming(
        nats_client, isolated_events, effects, recording_handler(calls)
    ) as consumer:
        # Two copies that JetStream cannot deduplicate (different message ids).
        await publish(nats_client, isolated_events, event, msg_id="copy-1")
        await publish(nats_client, isolated_events, event, msg_id="copy-2")

        async def both_acked() -> bool:
            info = await nats_client.jetstream().consumer_info(
                isolated_events.stream, consumer.spec.durable
            )
            return bool(info.ack_floor.stream_seq == 2)

        await wait_until(both_acked, timeout=10)
    assert calls == [event.id]
    assert await effect_count(effects, event.id) == 1


async def test_poison_messages_are_terminated_not_redelivered(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    def reject(event: CloudEvent, attempt: int) -> None:
        if event.data.get("note") == "poison":
            raise PoisonMessageError("refers to an organisation that never existed")

    calls: list[str] = []
    poison = sample("poison")
    healthy = sample("healthy")
    async with consuming(
        nats_client,
        isolated_events,
        effects,
        recording_handler(calls, reject),
        nak_delay_seconds=0.1,
    ) as consumer:
        await nats_client.jetstream().publish(
            f"{isolated_events.subject_prefix}.test.noted", b"{not json"
        )
        await nats_client.jetstream().publish(
            f"{isolated_events.subject_prefix}.test.noted", json.dumps({"id": "no-type"}).encode()
        )
        await publish(nats_client, isolated_events, poison)
        await publish(nats_client, isolated_events, healthy)

        async def settled() -> bool:
            info = await nats_client.jetstream().consumer_info(
                isolated_events.stream, consumer.spec.durable
            )
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await wait_until(settled, timeout=10)
        await asyncio.sleep(0.5)
        info = await nats_client.jetstream().consumer_info(
            isolated_events.stream, consumer.spec.durable
        )
    assert info.num_redelivered == 0, "terminated messages are not redelivered"
    assert calls == [poison.id, healthy.id]
    assert await effect_count(effects, poison.id) == 0, "the poison handler's work was rolled back"
    assert await effect_count(effects, healthy.id) == 1


async def test_a_consumer_outlives_a_nats_outage(
    effects: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    calls: list[str] = []
    async with (
        own_nats(settings, tmp_path) as (nats, client),
        consuming(client, nats.events, effects, recording_handler(calls)),
    ):
        before = sample("before")
        await publish(client, nats.events, before)
        await wait_until(lambda: asyncio.sleep(0, result=before.id in calls), timeout=10)

        await nats.stop(client)
        await asyncio.sleep(2.5)
        await nats.start()
        await wait_until(lambda: asyncio.sleep(0, result=client.is_connected), timeout=30)
        after = sample("after")
        await publish(client, nats.events, after)

        await wait_until(lambda: asyncio.sleep(0, result=after.id in calls), timeout=30)
    assert await effect_count(effects, after.id) == 1


async def test_a_message_that_keeps_failing_is_dead_lettered_after_n_deliveries(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    def always(event: CloudEvent, attempt: int) -> None:
        if event.data.get("note") == "broken":
            raise RuntimeError("the handler has a bug")

    async def keep(session: AsyncSession, event: CloudEvent, reason: str) -> None:
        await session.execute(
            text("INSERT INTO effects (event_id, note) VALUES (:id, :note)"),
            {"id": event.id, "note": f"dead: {reason}"},
        )

    calls: list[str] = []
    broken, healthy = sample("broken"), sample("healthy")
    subject = dead_letter_subject(isolated_events, "test-consumer")
    js = nats_client.jetstream()
    async with consuming(
        nats_client,
        isolated_events,
        effects,
        recording_handler(calls, always),
        keep,
        nak_delay_seconds=0.1,
        max_deliveries=3,
        dead_letter_subject=subject,
    ) as consumer:
        await publish(nats_client, isolated_events, broken)
        await publish(nats_client, isolated_events, healthy)
        await js.publish(f"{isolated_events.subject_prefix}.test.noted", b"{not json")

        async def settled() -> bool:
            info = await js.consumer_info(isolated_events.stream, consumer.spec.durable)
            return bool(info.num_ack_pending == 0 and info.num_pending == 0)

        await wait_until(settled, timeout=15)
        await asyncio.sleep(0.5)
    assert calls.count(broken.id) == 3, "delivered three times, then not again"
    assert calls.count(healthy.id) == 1
    async with effects() as session:
        kept = await session.scalar(
            text("SELECT note FROM effects WHERE event_id = :id"), {"id": broken.id}
        )
    assert kept == "dead: failed 3 times: RuntimeError: the handler has a bug"
    assert await effect_count(effects, healthy.id) == 1

    unreadable, letter = await stream_messages(js, isolated_events.stream, subject)
    assert CloudEvent.model_validate_json(letter.data).id == broken.id
    assert letter.headers is not None
    assert letter.headers[REASON_HEADER] == "failed 3 times: RuntimeError: the handler has a bug"
    assert unreadable.data == b"{not json"
    assert unreadable.headers is not None
    assert unreadable.headers[REASON_HEADER].startswith("not a CloudEvent: ")


async def refilter_keeps_the_durables_place(
    client: NatsClient, events: EventSettings, sessions: async_sessionmaker[AsyncSession]
) -> tuple[list[str], list[str], str]:
    """A durable made before events carried their organisation (filter ``<prefix>.test.noted``)
    has acknowledged two old events of three; the consumer then starts with today's filter.

    Returns the events it handled, the two published under today's subjects, and the
    durable's filter afterwards."""
    js = client.jetstream()
    old_subject = f"{events.subject_prefix}.test.noted"
    await js.add_consumer(
        events.stream,
        ConsumerConfig(
            durable_name="test-refilter",
            filter_subject=old_subject,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
        ),
    )
    for note in ("old 1", "old 2", "old 3"):
        event = sample(note)
        await js.publish(old_subject, event.model_dump_json().encode(), stream=events.stream)
    pull = await js.pull_subscribe_bind("test-refilter", stream=events.stream)
    first, second, _unacked = await pull.fetch(3, timeout=5)
    await first.ack_sync()
    await second.ack_sync()
    await pull.unsubscribe()
    organization = str(uuid.uuid4())
    fresh = [
        new_event("test.noted", {"note": f"new {n}", "organization_id": organization}, source="t")
        for n in (1, 2)
    ]
    for event in fresh:
        await publish(client, events, event)

    calls: list[str] = []
    consumer = EventConsumer(
        js,
        spec_for("test-refilter", "test.noted", events),
        recording_handler(calls),
        sessions,
        ProcessedEvent,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, batch=5))
    try:
        await wait_until(lambda: asyncio.sleep(0, result=len(calls) >= 2), timeout=10)
    finally:
        stop.set()
        await task
    info = await js.consumer_info(events.stream, "test-refilter")
    return calls, [event.id for event in fresh], info.config.filter_subject or ""


async def test_a_durable_with_the_old_filter_is_refiltered_on_the_shared_server(
    effects: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    """NATS 2.9 (the shared server) cannot change a filter: the durable is made again."""
    calls, fresh, filter_subject = await refilter_keeps_the_durables_place(
        nats_client, isolated_events, effects
    )
    assert filter_subject == f"{isolated_events.subject_prefix}.test.noted.*"
    # The acknowledged old events are not handled again; the unacknowledged one is on a
    # subject the new filter does not match (see docs/events.md on the upgrade).
    assert calls == fresh


async def test_a_durable_with_the_old_filter_is_updated_in_place_on_nats_2_10_and_later(
    effects: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    async with own_nats(settings, tmp_path) as (nats, client):
        assert client.connected_server_version.minor >= 10
        calls, fresh, filter_subject = await refilter_keeps_the_durables_place(
            client, nats.events, effects
        )
    assert filter_subject == f"{nats.events.subject_prefix}.test.noted.*"
    assert calls == fresh


async def test_a_consumer_on_a_closed_client_stops_so_that_its_runner_starts_it_again(
    effects: async_sessionmaker[AsyncSession],
    settings: Settings,
    isolated_events: EventSettings,
) -> None:
    """A client the NATS supervisor replaced is closed: retrying on it would go on forever."""
    client = await connect_nats(settings, "closed-consumer-test")
    consumer = EventConsumer(
        client.jetstream(),
        spec_for("test-closed", "test.noted", isolated_events),
        recording_handler([]),
        effects,
        ProcessedEvent,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop, batch=5))

    async def subscribed() -> bool:
        try:
            await client.jetstream().consumer_info(isolated_events.stream, "test-closed")
        except NotFoundError:
            return False
        return True

    await wait_until(subscribed, timeout=10)
    await client.close()
    try:
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(10):
                await task
    finally:
        stop.set()

"""The transactional outbox and its relay, against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry import context as otel_context
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.models import OutboxEvent, outbox
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import new_event
from shared.events.jetstream import connect_nats
from shared.events.outbox import outbox_channel
from shared.events.relay import OutboxRelay
from shared.events.wakeup import OutboxWakeup
from shared.settings import EventSettings, Settings
from shared.telemetry import context_from_headers
from tests.conftest import free_port, wait_until
from tests.events_helpers import events_of, own_nats, stream_messages


async def stage(sessions: async_sessionmaker[AsyncSession], *notes: str) -> list[str]:
    ids = []
    async with session_scope(sessions, SYSTEM) as session:
        for note in notes:
            event = new_event("test.something_happened", {"note": note}, source="urn:test")
            await outbox.add(session, event)
            ids.append(event.id)
    return ids


async def pending(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.published_at.is_(None))
        )
        return int(count or 0)


async def test_relay_publishes_committed_events_in_order_and_marks_them(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    ids = await stage(fresh_sessions, "first", "second", "third")
    relay = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)

    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    assert await pending(fresh_sessions) == 0
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert [event.id for event in events_of(messages)] == ids
    # The events name no organisation: ``_`` stands in its place.
    assert {msg.subject for msg in messages} == {
        f"{isolated_events.subject_prefix}.test.something_happened._"
    }


async def test_relay_publishes_an_event_under_its_organisation(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    organization_id = uuid.uuid4()
    async with session_scope(fresh_sessions, SYSTEM) as session:
        owned = new_event(
            "test.owned", {"organization_id": str(organization_id)}, source="urn:test"
        )
        await outbox.add(session, owned)
        # Not a UUID: nothing says whose it is.
        await outbox.add(
            session, new_event("test.owned", {"organization_id": "nobody"}, source="urn:test")
        )
    relay = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)
    assert await relay.relay_once() == 2

    prefix = isolated_events.subject_prefix
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{prefix}.*.*.{organization_id}"
    )
    assert [event.id for event in events_of(messages)] == [owned.id]
    assert [msg.subject for msg in messages] == [f"{prefix}.test.owned.{organization_id}"]
    assert owned.nats_subject(prefix) == messages[0].subject
    unowned = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{prefix}.test.owned._"
    )
    assert len(unowned) == 1


async def test_relay_dying_between_publish_and_mark_delivers_exactly_once(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await stage(fresh_sessions, "a", "b")
    dying = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)

    async def crash(*_: object) -> None:
        raise RuntimeError("relay killed after publishing, before marking sent")

    monkeypatch.setattr(dying, "_mark_published", crash)
    with pytest.raises(RuntimeError, match="relay killed"):
        await dying.relay_once()
    assert await pending(fresh_sessions) == 2, "nothing was marked: the crash lost the marks"

    restarted = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)
    assert await restarted.relay_once() == 2
    assert await pending(fresh_sessions) == 0

    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert [event.id for event in events_of(messages)] == ids, "each event is in the stream once"


async def test_event_of_a_rolled_back_transaction_is_never_published(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    async def fail_after_staging() -> None:
        async with session_scope(fresh_sessions, SYSTEM) as session:
            await outbox.add(
                session, new_event("test.something_happened", {"note": "x"}, source="urn:test")
            )
            raise ValueError("business rule broken after the event was staged")

    with pytest.raises(ValueError, match="business rule"):
        await fail_after_staging()
    kept = await stage(fresh_sessions, "committed")

    relay = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events)
    assert await relay.relay_once() == 1
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert [event.id for event in events_of(messages)] == kept


def database_url(sessions: async_sessionmaker[AsyncSession]) -> str:
    return str(sessions.kw["bind"].url.render_as_string(hide_password=False))


async def drained(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return await pending(sessions) == 0


async def test_relay_wakes_on_commit_instead_of_waiting_for_its_poll(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    # Polling every 30 s: only the commit's notification can bring the events out in time.
    slow_poll = isolated_events.model_copy(update={"relay_poll_seconds": 30.0})
    wakeup = OutboxWakeup(database_url(fresh_sessions), outbox_channel(OutboxEvent))
    relay = OutboxRelay(fresh_sessions, OutboxEvent, nats_client.jetstream(), slow_poll, wakeup)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.wait_for(wakeup.listening.wait(), timeout=10)
        await asyncio.sleep(0.5)  # the relay has looked, found nothing and gone idle
        ids = await stage(fresh_sessions, "wake", "up")
        committed = time.perf_counter()
        await wait_until(lambda: drained(fresh_sessions), timeout=5, interval=0.01)
        assert time.perf_counter() - committed < 5
        # A second commit wakes it again.
        ids += await stage(fresh_sessions, "again")
        await wait_until(lambda: drained(fresh_sessions), timeout=5, interval=0.01)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert [event.id for event in events_of(messages)] == ids


async def test_relay_keeps_polling_when_it_cannot_listen(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    nowhere = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing"
    wakeup = OutboxWakeup(nowhere, outbox_channel(OutboxEvent))
    relay = OutboxRelay(
        fresh_sessions, OutboxEvent, nats_client.jetstream(), isolated_events, wakeup
    )
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await stage(fresh_sessions, "polled")
        await wait_until(lambda: drained(fresh_sessions), timeout=5)
        assert not wakeup.listening.is_set()
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)


async def test_same_event_id_is_staged_once(
    fresh_sessions: async_sessionmaker[AsyncSession],
) -> None:
    event = new_event("test.something_happened", {"note": "retry"}, source="urn:test")
    async with session_scope(fresh_sessions, SYSTEM) as session:
        assert await outbox.add(session, event) is True
    async with session_scope(fresh_sessions, SYSTEM) as session:
        assert await outbox.add(session, event) is False
    assert await pending(fresh_sessions) == 1


async def test_add_all_stages_events_in_their_order_with_the_trace_headers(
    fresh_sessions: async_sessionmaker[AsyncSession],
) -> None:
    events = [
        new_event("test.something_happened", {"note": n}, source="urn:test") for n in range(40)
    ]
    already = events[7]
    async with session_scope(fresh_sessions, SYSTEM) as session:
        assert await outbox.add(session, already) is True
    headers = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}

    # Staged inside a trace (as a request's or activity's events are): each row carries it.
    token = otel_context.attach(context_from_headers(headers))
    try:
        async with session_scope(fresh_sessions, SYSTEM) as session:
            staged = await outbox.add_all(session, [*events, events[3]])
    finally:
        otel_context.detach(token)

    # One of the 40 was staged before; the repeated copy in the call is one event.
    assert staged == 39
    async with fresh_sessions() as session:
        rows = (await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))).all()
    assert [row.event_id for row in rows] == [already.id] + [
        event.id for event in events if event is not already
    ]
    assert [row.envelope["data"]["note"] for row in rows[1:]] == [n for n in range(40) if n != 7]
    assert {row.headers["traceparent"] for row in rows[1:]} == {headers["traceparent"]}


async def test_events_committed_while_nats_is_down_are_delivered_when_it_returns(
    fresh_sessions: async_sessionmaker[AsyncSession], settings: Settings, tmp_path: Path
) -> None:
    async with own_nats(settings, tmp_path) as (nats, client):
        relay = OutboxRelay(fresh_sessions, OutboxEvent, client.jetstream(), nats.events)
        stop = asyncio.Event()
        running = asyncio.create_task(relay.run(stop))
        try:
            await nats.stop(client)

            ids = await stage(fresh_sessions, "during", "the", "outage")
            await asyncio.sleep(1.0)
            assert await pending(fresh_sessions) == 3, (
                "nothing can be marked sent while NATS is down"
            )

            await nats.start()

            async def drained() -> bool:
                return await pending(fresh_sessions) == 0

            await wait_until(drained, timeout=30)
            messages = await stream_messages(
                client.jetstream(), nats.events.stream, f"{nats.events.subject_prefix}.>"
            )
            assert [event.id for event in events_of(messages)] == ids
        finally:
            stop.set()
            await running


async def test_a_relay_on_a_closed_client_stops_so_that_its_runner_starts_it_again(
    fresh_sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    isolated_events: EventSettings,
) -> None:
    """A client the NATS supervisor replaced is closed: retrying on it would go on forever."""
    client = await connect_nats(settings, "closed-relay-test")
    relay = OutboxRelay(fresh_sessions, OutboxEvent, client.jetstream(), isolated_events)
    await client.close()
    await stage(fresh_sessions, "waits for a live client")
    stop = asyncio.Event()
    try:
        with pytest.raises(ConnectionClosedError):
            async with asyncio.timeout(10):
                await relay.run(stop)
    finally:
        stop.set()
    assert await pending(fresh_sessions) == 1


class CountingPublishes:
    """A JetStream context that notes the ``Nats-Msg-Id`` of every publish it passes on."""

    def __init__(self, js: JetStreamContext, sent: list[str]) -> None:
        self._js = js
        self._sent = sent

    async def publish_async(
        self, subject: str, payload: bytes, **options: Any
    ) -> asyncio.Future[PubAck]:
        self._sent.append(options["headers"]["Nats-Msg-Id"])
        return await self._js.publish_async(subject, payload, **options)


async def test_two_relays_on_one_outbox_publish_each_event_once_and_in_order(
    fresh_sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    isolated_events: EventSettings,
) -> None:
    ids = await stage(fresh_sessions, *(f"event {n}" for n in range(300)))
    small_batches = isolated_events.model_copy(update={"relay_batch_size": 25})
    sent: list[str] = []
    relays = [
        OutboxRelay(
            fresh_sessions,
            OutboxEvent,
            cast(JetStreamContext, CountingPublishes(nats_client.jetstream(), sent)),
            small_batches,
        )
        for _ in range(2)
    ]

    async def relay_until_drained(relay: OutboxRelay) -> int:
        relayed = 0
        while await pending(fresh_sessions):
            relayed += await relay.relay_once()
            await asyncio.sleep(0)
        return relayed

    relayed = await asyncio.gather(*(relay_until_drained(relay) for relay in relays))

    assert sum(relayed) == len(ids)
    # JetStream would drop a second copy: what matters is that no relay sent one.
    assert sorted(sent) == sorted(ids), "an event was sent twice, or never"
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert [event.id for event in events_of(messages)] == ids, "the stream keeps the outbox's order"

"""Outbox relay throughput against the ceiling of publishing the same messages to JetStream
directly with ``publish_async`` on the same connection, acknowledgements gathered at the end
(``jetstream_publish_async``), measured in the same run.

N events (``events``; 20,000, or ``BENCH_OUTBOX_EVENTS``) are staged in a scratch strategy
outbox; the relay's batch size is the configured one (``ENGAGE_EVENTS__RELAY_BATCH_SIZE``), or
``BENCH_OUTBOX_BATCH`` to measure another."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

from benchmarks.common import report, scratch_settings, scratch_stream
from services.strategy.models import OutboxEvent, outbox
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.events.envelope import CloudEvent, new_event
from shared.events.relay import OutboxRelay

EVENTS = int(os.environ.get("BENCH_OUTBOX_EVENTS", "20000"))
STAGE_BATCH = 1_000
_BATCH = os.environ.get("BENCH_OUTBOX_BATCH")


def bench_events(count: int) -> list[CloudEvent]:
    organization_id = str(uuid.UUID(int=7, version=4))
    return [
        new_event("bench.relayed", {"n": n, "organization_id": organization_id}, source="urn:bench")
        for n in range(count)
    ]


async def run() -> None:
    async with (
        scratch_settings("strategy") as settings,
        scratch_stream(settings, "bench") as js,
    ):
        if _BATCH:
            events_settings = settings.events.model_copy(update={"relay_batch_size": int(_BATCH)})
            settings = settings.model_copy(update={"events": events_settings})
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        try:
            events = bench_events(EVENTS)
            # The baseline: the same messages (subject, body, headers with a message id of
            # their own, so that the relay's copies are not duplicates) on the same connection.
            messages = [
                (event.nats_subject(settings.events.subject_prefix), event.model_dump_json())
                for event in events
            ]
            started = time.perf_counter()
            acks = [
                await js.publish_async(
                    subject,
                    body.encode(),
                    stream=settings.events.stream,
                    headers={"Nats-Msg-Id": str(uuid.uuid4())},
                )
                for subject, body in messages
            ]
            await asyncio.gather(*acks)
            baseline = EVENTS / (time.perf_counter() - started)

            for offset in range(0, EVENTS, STAGE_BATCH):
                async with session_scope(sessions, SYSTEM) as session:
                    await outbox.add_all(session, events[offset : offset + STAGE_BATCH])
            relay = OutboxRelay(sessions, OutboxEvent, js, settings.events)
            started = time.perf_counter()
            relayed = 0
            while (published := await relay.relay_once()) > 0:
                relayed += published
            relay_rate = relayed / (time.perf_counter() - started)
            report(
                "outbox_relay",
                "events_per_second",
                round(relay_rate, 1),
                "events/s",
                events=relayed,
                batch_size=settings.events.relay_batch_size,
                baseline="jetstream_publish_async",
                baseline_value=round(baseline, 1),
                ratio=round(relay_rate / baseline, 3),
                target=0.3,
            )
        finally:
            await engine.dispose()

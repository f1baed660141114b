"""Outbox relay throughput against the ceiling of publishing the same messages to JetStream
directly (one awaited publish per message, as the relay does), measured in the same run."""

from __future__ import annotations

import json
import time
import uuid

from benchmarks.common import report, scratch_settings, scratch_stream
from services.strategy.models import OutboxEvent, outbox
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.events.envelope import new_event
from shared.events.relay import OutboxRelay
from shared.events.subjects import NO_ORGANIZATION

EVENTS = 5_000
STAGE_BATCH = 500


async def run() -> None:
    async with (
        scratch_settings("strategy") as settings,
        scratch_stream(settings, "bench") as js,
    ):
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        try:
            payload = json.dumps(
                new_event("bench.baseline", {"n": 0}, source="urn:bench").model_dump(mode="json")
            ).encode()
            started = time.perf_counter()
            for _ in range(EVENTS):
                await js.publish(
                    f"{settings.events.subject_prefix}.bench.baseline.{NO_ORGANIZATION}",
                    payload,
                    headers={"Nats-Msg-Id": str(uuid.uuid4())},
                )
            baseline = EVENTS / (time.perf_counter() - started)

            for offset in range(0, EVENTS, STAGE_BATCH):
                async with session_scope(sessions, SYSTEM) as session:
                    for n in range(offset, offset + STAGE_BATCH):
                        await outbox.add(
                            session, new_event("bench.relayed", {"n": n}, source="urn:bench")
                        )
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
                baseline="jetstream_publish_awaited",
                baseline_value=round(baseline, 1),
                ratio=round(relay_rate / baseline, 3),
            )
        finally:
            await engine.dispose()

"""Events after the faults: every outbox row on the stream exactly once, and every durable
consumer having recorded each event of its subject once, none pending or dead-lettered."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chaos.checks.result import EXAMPLES, Check, duplicated_keys
from services.content import models as content
from services.listening import models as listening
from services.publisher import models as publisher
from services.reporting import models as reporting
from services.strategy import models as strategy
from shared.events.outbox import OutboxMixin, ProcessedEventMixin
from shared.settings import Settings

SERVICE_MODELS: dict[str, tuple[type[OutboxMixin], type[ProcessedEventMixin]]] = {
    "strategy": (strategy.OutboxEvent, strategy.ProcessedEvent),
    "content": (content.OutboxEvent, content.ProcessedEvent),
    "publisher": (publisher.OutboxEvent, publisher.ProcessedEvent),
    "listening": (listening.OutboxEvent, listening.ProcessedEvent),
    "reporting": (reporting.OutboxEvent, reporting.ProcessedEvent),
}
SETTLE_POLL_SECONDS = 1.0


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` one token, ``>`` the rest."""
    wanted, parts = pattern.split("."), subject.split(".")
    for index, part in enumerate(wanted):
        if part == ">":
            return len(parts) > index
        if index >= len(parts) or part not in ("*", parts[index]):
            return False
    return len(wanted) == len(parts)


# --- the stream ---------------------------------------------------------------------------------


@dataclass
class StreamEvent:
    seq: int
    subject: str
    event_id: str
    type: str


async def read_stream(js: JetStreamContext, settings: Settings) -> list[StreamEvent]:
    """Every message the stream holds, oldest first."""
    events = settings.events
    info = await js.stream_info(events.stream)
    found: list[StreamEvent] = []
    if info.state.messages == 0:
        return found
    subscription = await js.subscribe(
        f"{events.subject_prefix}.>", stream=events.stream, ordered_consumer=True
    )
    try:
        while len(found) < info.state.messages:
            try:
                msg = await subscription.next_msg(timeout=2.0)
            except TimeoutError:
                break
            body = json.loads(msg.data)
            found.append(
                StreamEvent(
                    msg.metadata.sequence.stream,
                    msg.subject,
                    str(body.get("id", "")),
                    str(body.get("type", "")),
                )
            )
    finally:
        await subscription.unsubscribe()
    return found


async def _outbox_rows(engine: AsyncEngine) -> dict[str, dict[str, datetime | None]]:
    rows: dict[str, dict[str, datetime | None]] = {}
    async with engine.connect() as connection:
        for service, (outbox, _) in SERVICE_MODELS.items():
            result = await connection.execute(select(outbox.event_id, outbox.published_at))
            rows[service] = {event_id: published for event_id, published in result}
    return rows


async def _settle(settled: Callable[[], Awaitable[bool]], within: float) -> float:
    """Poll ``settled`` until it holds or ``within`` seconds pass; seconds waited (the checks
    that follow say what did not settle)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await settled():
            break
        await asyncio.sleep(SETTLE_POLL_SECONDS)
    return time.monotonic() - started


async def settle_outboxes(engine: AsyncEngine, within: float) -> float:
    """Wait until every outbox row is marked published; seconds waited."""

    async def published() -> bool:
        rows = await _outbox_rows(engine)
        return all(published for service in rows.values() for published in service.values())

    return await _settle(published, within)


async def check_outbox(
    engine: AsyncEngine, js: JetStreamContext, settings: Settings, stream: list[StreamEvent]
) -> Check:
    info = await js.stream_info(settings.events.stream)
    rows = await _outbox_rows(engine)
    in_stream = Counter(event.event_id for event in stream)
    owned: set[str] = set()
    services: dict[str, Any] = {}
    ok = True
    for service, events in rows.items():
        ids = set(events)
        owned |= ids
        missing = sorted(ids - set(in_stream))
        duplicated = sorted(i for i in ids if in_stream[i] > 1)
        unpublished = sum(published is None for published in events.values())
        ok = ok and not missing and not duplicated and not unpublished
        services[service] = {
            "outbox_rows": len(ids),
            "on_stream": len(ids) - len(missing),
            "missing": len(missing),
            "duplicates": len(duplicated),
            "unpublished": unpublished,
            "examples": (missing + duplicated)[:EXAMPLES],
        }
    state = info.state
    span = state.last_seq - state.first_seq + 1 if state.messages else 0
    others = Counter(event.type for event in stream if event.event_id not in owned)
    dead_letters = sum(".deadletter." in event.subject for event in stream)
    return Check(
        "outbox_published_exactly_once",
        ok and span == state.messages,
        {
            "outbox_rows": sum(len(events) for events in rows.values()),
            "stream_messages": state.messages,
            "stream_first_seq": state.first_seq,
            "stream_last_seq": state.last_seq,
            "sequence_gaps": span - state.messages,
            "duplicate_ids_on_stream": len(duplicated_keys(in_stream)),
            "not_from_an_outbox": dict(others),
            "dead_letters_on_stream": dead_letters,
            "services": services,
        },
    )


# --- consumers ----------------------------------------------------------------------------------


async def settle_consumers(js: JetStreamContext, settings: Settings, within: float) -> float:
    """Wait until no durable consumer has anything pending or unacknowledged."""

    async def drained() -> bool:
        consumers = await js.consumers_info(settings.events.stream)
        return all(
            info.num_pending == 0 and info.num_ack_pending == 0
            for info in consumers
            if info.config.durable_name
        )

    return await _settle(drained, within)


async def check_consumers(
    engine: AsyncEngine, js: JetStreamContext, settings: Settings, stream: list[StreamEvent]
) -> Check:
    processed: dict[str, set[str]] = {}
    async with engine.connect() as connection:
        for _, model in SERVICE_MODELS.values():
            for consumer, event_id in await connection.execute(
                select(model.consumer, model.event_id)
            ):
                processed.setdefault(consumer, set()).add(event_id)
    dead_by_consumer = Counter(
        event.subject.rsplit(".", 1)[-1]
        for event in stream
        if f"{settings.events.subject_prefix}.deadletter." in event.subject
    )
    figures: dict[str, Any] = {}
    ok = True
    for info in await js.consumers_info(settings.events.stream):
        durable = info.config.durable_name
        if not durable:
            continue
        filters = list(info.config.filter_subjects or []) or [info.config.filter_subject or ">"]
        matching = Counter(
            event.event_id
            for event in stream
            if any(subject_matches(pattern, event.subject) for pattern in filters)
        )
        handled = processed.get(durable)
        entry: dict[str, Any] = {
            "events": len(matching),
            "pending": info.num_pending,
            "unacknowledged": info.num_ack_pending,
            "redelivered": info.num_redelivered,
            "dead_lettered": dead_by_consumer.get(durable, 0),
        }
        if handled is None:
            # A consumer keeping no processed_events (an effect idempotent by itself).
            entry["recorded"] = False
        else:
            missing = sorted(set(matching) - handled)
            entry |= {"recorded": True, "handled": len(handled), "missing": len(missing)}
            entry["examples"] = missing[:EXAMPLES]
            ok = ok and not missing
        ok = ok and not info.num_pending and not info.num_ack_pending
        ok = ok and not entry["dead_lettered"]
        figures[durable] = entry
    return Check("consumers_handled_each_event_once", ok, {"consumers": figures})

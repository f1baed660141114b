"""How sources hand mentions to ingestion: each raw mention is published on JetStream as a
``listening.mention_received`` CloudEvent, read by the ingestion consumer (``ingestion.py``).

``Nats-Msg-Id`` is the mention's organisation, source and external id, so JetStream drops a
mention a source reads twice within the stream's duplicate window; the consumer drops it after
that window (the same key is unique in ``listening.mentions``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from nats.js import JetStreamContext
from nats.js.api import PubAck

from services.listening import events
from services.listening.contracts import RawMention
from shared.events.envelope import CloudEvent, new_event
from shared.settings import Settings
from shared.telemetry import current_trace_headers

PUBLISH_TIMEOUT_SECONDS = 5.0


def mention_received(mention: RawMention) -> CloudEvent:
    return new_event(
        events.MENTION_RECEIVED,
        mention,
        source=events.SOURCE,
        subject=mention.dedup_key,
        event_id=events.mention_event_id(mention.dedup_key),
    )


async def publish_raw_mentions(
    js: JetStreamContext, settings: Settings, mentions: Iterable[RawMention]
) -> list[PubAck]:
    """Publish each mention for ingestion; returns once JetStream has stored them all, or
    raises ``TimeoutError`` after ``PUBLISH_TIMEOUT_SECONDS`` without an acknowledgement.

    No ``wait_stall``: with it the client waits for its pending-acks semaphore through a new
    task, which lets its flusher run, and so write to the socket, once per message (a third of
    the publisher's time). Without it the messages of a batch go out in a few writes; a full
    semaphore still waits, bounded by the timeout around the whole batch."""
    pending: list[asyncio.Future[PubAck]] = []
    trace = current_trace_headers()
    async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
        for mention in mentions:
            event = mention_received(mention)
            pending.append(
                await js.publish_async(
                    event.nats_subject(settings.events.subject_prefix),
                    event.model_dump_json().encode(),
                    stream=settings.events.stream,
                    headers={"Nats-Msg-Id": mention.dedup_key, **trace},
                )
            )
        return list(await asyncio.gather(*pending))

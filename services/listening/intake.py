"""How sources hand mentions to ingestion: each raw mention is published on JetStream as a
``listening.mention_received`` CloudEvent, read by the ingestion consumer (``ingestion.py``).

``Nats-Msg-Id`` is the mention's organisation, source and external id, so JetStream drops a
mention a source reads twice within the stream's duplicate window; the consumer drops it after
that window (the same key is unique in ``listening.mentions``)."""

from __future__ import annotations

import asyncio
import json
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
    """Publish each mention for ingestion; returns once JetStream has stored them all."""
    pending: list[asyncio.Future[PubAck]] = []
    for mention in mentions:
        event = mention_received(mention)
        pending.append(
            await js.publish_async(
                event.nats_subject(settings.events.subject_prefix),
                json.dumps(event.model_dump(mode="json"), separators=(",", ":")).encode(),
                wait_stall=PUBLISH_TIMEOUT_SECONDS,
                stream=settings.events.stream,
                headers={"Nats-Msg-Id": mention.dedup_key, **current_trace_headers()},
            )
        )
    async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
        return list(await asyncio.gather(*pending))

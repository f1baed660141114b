"""How sources hand mentions to ingestion: each raw mention is published on JetStream as a
``listening.mention_received`` CloudEvent, read by the ingestion consumer (``ingestion.py``).

``Nats-Msg-Id`` is the mention's organisation, source and external id, so JetStream drops a
mention a source reads twice within the stream's duplicate window; the consumer drops it after
that window (the same key is unique in ``listening.mentions``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice

import pydantic_core
from nats.js import JetStreamContext
from nats.js.api import PubAck

from services.listening import events
from services.listening.contracts import RawMention
from shared.events.envelope import CloudEvent, new_event
from shared.settings import Settings
from shared.telemetry import current_trace_headers

PUBLISH_TIMEOUT_SECONDS = 5.0
# Mentions sent before the acknowledgements of the window before are awaited: at most two
# windows are unacknowledged at a time (below the client's 4,000 pending publishes).
PUBLISH_WINDOW = 1_000


def mention_received(mention: RawMention) -> CloudEvent:
    return new_event(
        events.MENTION_RECEIVED,
        mention,
        source=events.SOURCE,
        subject=mention.dedup_key,
        event_id=events.mention_event_id(mention.dedup_key),
    )


# Where the fields every mention's event shares come from.
_TEMPLATE = new_event(events.MENTION_RECEIVED, {}, source=events.SOURCE)
_HEAD = b'{"id":"'
_SOURCE_TO_TIME = (
    b'","source":'
    + pydantic_core.to_json(_TEMPLATE.source)
    + b',"type":'
    + pydantic_core.to_json(_TEMPLATE.type)
    + b',"specversion":"1.0","time":'
)
_SUBJECT = b',"subject":'
_DATA = b',"datacontenttype":"application/json","dataschema":null,"data":'


def mention_received_json(mention: RawMention, time: bytes) -> bytes:
    """``mention_received(mention).model_dump_json()`` for an event of ``time`` (as JSON),
    written without building the event: the mention is serialised once, by its own model."""
    return _envelope(mention, mention.dedup_key, time)


def _envelope(mention: RawMention, key: str, time: bytes) -> bytes:
    """``mention_received_json`` of a mention whose ``dedup_key`` is ``key``."""
    return b"".join(
        (
            _HEAD,
            str(events.mention_event_id(key)).encode(),
            _SOURCE_TO_TIME,
            time,
            _SUBJECT,
            pydantic_core.to_json(key),
            _DATA,
            mention.__pydantic_serializer__.to_json(mention),
            b"}",
        )
    )


def mention_subject(settings: Settings, mention: RawMention) -> str:
    """``mention_received(mention).nats_subject(...)``: the organisation is always a UUID."""
    return f"{_subject_head(settings)}{mention.organization_id}"


def _subject_head(settings: Settings) -> str:
    """What every mention's subject starts with, up to its organisation."""
    return f"{settings.events.subject_prefix}.{_TEMPLATE.name}."


def _windows(mentions: Iterable[RawMention]) -> Iterator[list[RawMention]]:
    remaining = iter(mentions)
    while window := list(islice(remaining, PUBLISH_WINDOW)):
        yield window


async def publish_raw_mentions(
    js: JetStreamContext, settings: Settings, mentions: Iterable[RawMention]
) -> list[PubAck]:
    """Publish each mention for ingestion; returns once JetStream has stored them all, or
    raises ``TimeoutError`` when no acknowledgement came for ``PUBLISH_TIMEOUT_SECONDS``.

    The mentions go out in windows of ``PUBLISH_WINDOW``: a window is sent while the one
    before is being acknowledged, so the acknowledgements pending stay bounded and sending
    never waits for a round trip. No ``wait_stall``: with it the client waits for its
    pending-acks semaphore through a new task, which lets its flusher run, and so write to the
    socket, once per message."""
    acks: list[PubAck] = []
    trace = current_trace_headers()
    time = pydantic_core.to_json(datetime.now(UTC))
    stream = settings.events.stream
    # What every mention shares, once (``mention_subject``; the key is the message id too).
    head = _subject_head(settings)
    unacknowledged: list[asyncio.Future[PubAck]] = []
    for window in _windows(mentions):
        sent = []
        for mention in window:
            key = mention.dedup_key
            sent.append(
                await js.publish_async(
                    f"{head}{mention.organization_id}",
                    _envelope(mention, key, time),
                    stream=stream,
                    headers={"Nats-Msg-Id": key, **trace},
                )
            )
        acks += await _acknowledged(unacknowledged)
        unacknowledged = sent
    return acks + await _acknowledged(unacknowledged)


async def _acknowledged(sent: list[asyncio.Future[PubAck]]) -> list[PubAck]:
    """The acknowledgements of ``sent``, in order; ``TimeoutError`` when none comes for
    ``PUBLISH_TIMEOUT_SECONDS`` (a stream slow under load still makes progress)."""
    waiting: set[asyncio.Future[PubAck]] = set(sent)
    while waiting:
        done, waiting = await asyncio.wait(waiting, timeout=PUBLISH_TIMEOUT_SECONDS)
        if not done:
            raise TimeoutError(f"{len(waiting)} mentions not acknowledged by JetStream")
    return [ack.result() for ack in sent]

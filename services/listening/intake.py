"""How sources hand mentions to ingestion: the mentions are published on JetStream in pages, each
one ``listening.mention_received`` CloudEvent of version 2 whose data is up to ``PAGE_MENTIONS``
raw mentions of one organisation and source, read by the ingestion consumer (``ingestion.py``).
A page pays JetStream's, the client's and the envelope's cost per message once for all its
mentions. Version 1, one mention per event (``mention_received``), is still read.

A page's id, also its ``Nats-Msg-Id``, is derived from its mentions' organisation, source and
external ids, so JetStream drops a page a source publishes twice within the stream's duplicate
window; the consumer drops each mention stored before (the same key is unique in
``listening.mentions``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

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
# windows, so at most 2,000 messages, are unacknowledged at a time (below the client's 4,000
# pending publishes).
PUBLISH_WINDOW = 1_000
# Mentions of one organisation and source in one message; with ``FETCH_BATCH`` pages a fetch of
# the ingestion consumer stays within one transaction of about 1,000 mentions.
PAGE_MENTIONS = 100
# A page is closed before its JSON would pass this size, under NATS's 1 MiB payload; a mention
# larger than this alone (texts of 20,000 characters) still travels, in a page of its own.
PAGE_BYTES = 512 * 1024


def mention_received(mention: RawMention) -> CloudEvent:
    """The event of one mention (version 1)."""
    return new_event(
        events.MENTION_RECEIVED,
        mention,
        source=events.SOURCE,
        subject=mention.dedup_key,
        event_id=events.mention_event_id(mention.dedup_key),
    )


def mention_page(mentions: list[RawMention]) -> CloudEvent:
    """The event of a page of mentions of one organisation and source (version 2)."""
    first = mentions[0]
    return new_event(
        events.MENTION_RECEIVED,
        events.MentionPage(
            organization_id=first.organization_id, source=first.source, mentions=mentions
        ),
        source=events.SOURCE,
        subject=events.page_subject(first.organization_id, first.source.value),
        version=events.MENTION_PAGE_VERSION,
        event_id=events.page_event_id([mention.dedup_key for mention in mentions]),
    )


# Where the fields every mention's event shares come from.
_TEMPLATE = new_event(events.MENTION_RECEIVED, {}, source=events.SOURCE)
_PAGE_TEMPLATE = new_event(
    events.MENTION_RECEIVED, {}, source=events.SOURCE, version=events.MENTION_PAGE_VERSION
)
_HEAD = b'{"id":"'


def _source_to_time(template: CloudEvent) -> bytes:
    return (
        b'","source":'
        + pydantic_core.to_json(template.source)
        + b',"type":'
        + pydantic_core.to_json(template.type)
        + b',"specversion":"1.0","time":'
    )


_SOURCE_TO_TIME = _source_to_time(_TEMPLATE)
_PAGE_SOURCE_TO_TIME = _source_to_time(_PAGE_TEMPLATE)
_SUBJECT = b',"subject":'
_DATA = b',"datacontenttype":"application/json","dataschema":null,"data":'


def mention_received_json(mention: RawMention, time: bytes) -> bytes:
    """``mention_received(mention).model_dump_json()`` for an event of ``time`` (as JSON),
    written without building the event: the mention is serialised once, by its own model."""
    key = mention.dedup_key
    return b"".join(
        (
            _HEAD,
            str(events.mention_event_id(key)).encode(),
            _SOURCE_TO_TIME,
            time,
            _SUBJECT,
            pydantic_core.to_json(key),
            _DATA,
            _mention_json(mention),
            b"}",
        )
    )


def _mention_json(mention: RawMention) -> bytes:
    return mention.__pydantic_serializer__.to_json(mention)


def _page_json(
    page_id: uuid.UUID, first: RawMention, serialised: list[bytes], time: bytes
) -> bytes:
    """``mention_page(mentions).model_dump_json()`` for an event of ``time``, from each
    mention's own JSON (``serialised``): the mentions are serialised once."""
    organization_id = str(first.organization_id)
    source = first.source.value
    return b"".join(
        (
            _HEAD,
            str(page_id).encode(),
            _PAGE_SOURCE_TO_TIME,
            time,
            _SUBJECT,
            pydantic_core.to_json(events.page_subject(first.organization_id, source)),
            _DATA,
            b'{"organization_id":"',
            organization_id.encode(),
            b'","source":',
            pydantic_core.to_json(source),
            b',"mentions":[',
            b",".join(serialised),
            b"]}}",
        )
    )


def mention_page_json(mentions: list[RawMention], time: bytes) -> bytes:
    """``mention_page(mentions).model_dump_json()`` for an event of ``time`` (as JSON)."""
    page_id = events.page_event_id([mention.dedup_key for mention in mentions])
    return _page_json(page_id, mentions[0], [_mention_json(m) for m in mentions], time)


def mention_subject(settings: Settings, mention: RawMention) -> str:
    """``mention_received(mention).nats_subject(...)``: the organisation is always a UUID."""
    return f"{_subject_head(settings)}{mention.organization_id}"


def _subject_head(settings: Settings) -> str:
    """What every mention's subject starts with, up to its organisation."""
    return f"{settings.events.subject_prefix}.{_TEMPLATE.name}."


class _Page:
    __slots__ = ("first", "keys", "serialised", "size")

    def __init__(self, first: RawMention) -> None:
        self.first = first
        self.keys: list[str] = []
        self.serialised: list[bytes] = []
        self.size = 0

    def add(self, key: str, serialised: bytes) -> None:
        self.keys.append(key)
        self.serialised.append(serialised)
        self.size += len(serialised) + 1


def _pages(mentions: Iterable[RawMention]) -> Iterator[_Page]:
    """The mentions in pages of one organisation and source, each in the order given; a page is
    closed at ``PAGE_MENTIONS`` mentions or ``PAGE_BYTES`` of JSON, the rest at the end."""
    open_pages: dict[tuple[uuid.UUID, str], _Page] = {}
    for mention in mentions:
        serialised = _mention_json(mention)
        group = (mention.organization_id, mention.source.value)
        page = open_pages.get(group)
        if page is not None and page.size + len(serialised) > PAGE_BYTES:
            yield open_pages.pop(group)
            page = None
        if page is None:
            page = open_pages[group] = _Page(mention)
        page.add(mention.dedup_key, serialised)
        if len(page.keys) >= PAGE_MENTIONS:
            yield open_pages.pop(group)
    yield from open_pages.values()


def _windows(pages: Iterator[_Page]) -> Iterator[list[_Page]]:
    """Pages holding at most ``PUBLISH_WINDOW`` mentions together, so at most as many
    messages."""
    window: list[_Page] = []
    mentions = 0
    for page in pages:
        if window and mentions + len(page.keys) > PUBLISH_WINDOW:
            yield window
            window, mentions = [], 0
        window.append(page)
        mentions += len(page.keys)
    if window:
        yield window


async def publish_raw_mentions(
    js: JetStreamContext, settings: Settings, mentions: Iterable[RawMention]
) -> list[PubAck]:
    """Publish the mentions for ingestion, in pages; returns each page's acknowledgement once
    JetStream has stored them all, or raises ``TimeoutError`` when no acknowledgement came for
    ``PUBLISH_TIMEOUT_SECONDS``.

    The pages go out in windows of at most ``PUBLISH_WINDOW`` mentions: a window is sent while
    the window before is being acknowledged, so the acknowledgements pending stay bounded and
    sending never waits for a round trip. No ``wait_stall``: with it the client waits for its
    pending-acks semaphore through a new task, which lets its flusher run, and so write to the
    socket, once per message."""
    acks: list[PubAck] = []
    trace = current_trace_headers()
    time = pydantic_core.to_json(datetime.now(UTC))
    stream = settings.events.stream
    head = _subject_head(settings)
    unacknowledged: list[asyncio.Future[PubAck]] = []
    for window in _windows(_pages(mentions)):
        sent = []
        for page in window:
            page_id = events.page_event_id(page.keys)
            sent.append(
                await js.publish_async(
                    f"{head}{page.first.organization_id}",
                    _page_json(page_id, page.first, page.serialised, time),
                    stream=stream,
                    headers={"Nats-Msg-Id": str(page_id), **trace},
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
            raise TimeoutError(f"{len(waiting)} pages of mentions not acknowledged by JetStream")
    return [ack.result() for ack in sent]

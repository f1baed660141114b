"""Intake's envelopes, written without building the events, are the events ``mention_received``
(one mention) and ``mention_page`` (a page) build: same bytes, same subject; mentions are
published in pages of one organisation and source, each under an id derived from its mentions;
a window of mentions larger than the client's pending publishes is published whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pydantic_core
from nats.aio.client import Client as NatsClient

from benchmarks.listening_pipeline import organisations, raw_mentions
from services.listening import events
from services.listening.contracts import RawMention
from services.listening.intake import (
    PAGE_BYTES,
    PAGE_MENTIONS,
    PUBLISH_WINDOW,
    mention_page,
    mention_page_json,
    mention_received,
    mention_received_json,
    mention_subject,
    publish_raw_mentions,
)
from shared.events.envelope import CloudEvent
from shared.settings import EventSettings, Settings
from tests.events_helpers import events_of, stream_messages


def test_the_envelope_is_the_events_json_byte_for_byte() -> None:
    settings = Settings()
    odd = RawMention.model_validate(
        {
            "organization_id": uuid.uuid4(),
            "source": "rss",
            "external_id": 'città "quoted" \\ \u0001 ✓',
            "author": {"handle": "@è"},
            "text": "Ciao\nmondo \u2028 🍷",
            "published_at": "2027-05-01T08:00:00+02:00",
        }
    )
    for mention in [odd, *raw_mentions(organisations(), 200)]:
        event = mention_received(mention)
        time = pydantic_core.to_json(event.time)
        assert mention_received_json(mention, time) == event.model_dump_json().encode()
        assert mention_subject(settings, mention) == event.nats_subject(
            settings.events.subject_prefix
        )
        parsed = CloudEvent.model_validate_json(mention_received_json(mention, time))
        assert parsed == event


def test_a_pages_envelope_is_the_events_json_byte_for_byte() -> None:
    settings = Settings()
    mentions = list(raw_mentions(organisations(), 400))
    first = mentions[0]
    page = [
        m
        for m in mentions
        if (m.organization_id, m.source) == (first.organization_id, first.source)
    ]
    assert len(page) > 1
    event = mention_page(page)
    time = pydantic_core.to_json(event.time)

    assert mention_page_json(page, time) == event.model_dump_json().encode()
    assert event.type == "engage.listening.mention_received.v2"
    assert event.subject == f"{first.organization_id}/{first.source.value}"
    assert event.nats_subject(settings.events.subject_prefix) == mention_subject(settings, first)
    assert events.received_mentions(event) == [m.model_dump(mode="json") for m in page]
    assert events.page_mentions(event) == page


def test_a_pages_id_is_its_mentions_whatever_their_order() -> None:
    mentions = list(raw_mentions(organisations(), 40))
    keys = [m.dedup_key for m in mentions]

    assert events.page_event_id(keys) == events.page_event_id(list(reversed(keys)))
    assert events.page_event_id(keys) != events.page_event_id(keys[1:])
    assert events.page_event_id(keys) != events.mention_event_id(keys[0])


async def test_mentions_are_published_in_pages_of_one_organisation_and_source(
    settings: Settings, nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    scoped = settings.model_copy(update={"events": isolated_events})
    mentions = list(raw_mentions(organisations(), PUBLISH_WINDOW * 2 + 7))
    before = datetime.now(UTC)

    acks = await publish_raw_mentions(nats_client.jetstream(), scoped, mentions)

    assert [ack.seq for ack in acks] == list(range(1, len(acks) + 1))
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    pages = events_of(messages)
    assert len(pages) == len(acks) < len(mentions)
    received: list[RawMention] = []
    for msg, page in zip(messages, pages, strict=True):
        carried = events.page_mentions(page)
        assert events.is_mention_page(page)
        assert 0 < len(carried) <= PAGE_MENTIONS
        assert {(m.organization_id, m.source) for m in carried} == {
            (carried[0].organization_id, carried[0].source)
        }
        assert page.id == str(events.page_event_id([m.dedup_key for m in carried]))
        assert msg.headers is not None
        assert msg.headers["Nats-Msg-Id"] == page.id
        assert page.time >= before
        received += carried
    # Every mention once; each organisation's and source's in the order given.
    assert sorted(m.dedup_key for m in received) == sorted(m.dedup_key for m in mentions)

    def in_order(found: list[RawMention]) -> dict[tuple[uuid.UUID, str], list[str]]:
        grouped: dict[tuple[uuid.UUID, str], list[str]] = {}
        for m in found:
            grouped.setdefault((m.organization_id, m.source.value), []).append(m.external_id)
        return grouped

    assert in_order(received) == in_order(mentions)
    # Mentions of many organisations and sources interleaved still fill their pages: at most
    # one page of each organisation and source is not full.
    short = [
        (page.organization_id, page.data["source"])
        for page in pages
        if len(events.page_mentions(page)) < PAGE_MENTIONS
    ]
    assert len(short) == len(set(short)) <= len(in_order(mentions))
    assert len(pages) <= len(mentions) // PAGE_MENTIONS + len(in_order(mentions))
    # Read again by its source, the same pages are dropped by the stream's duplicate window.
    again = await publish_raw_mentions(nats_client.jetstream(), scoped, mentions)
    assert len(again) == len(acks)
    assert all(ack.duplicate for ack in again)


async def test_a_page_is_closed_before_it_outgrows_a_message(
    settings: Settings, nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    scoped = settings.model_copy(update={"events": isolated_events})
    organization_id = uuid.uuid4()
    # Some 80 KB of JSON each (four bytes a character): ten mentions pass ``PAGE_BYTES``.
    long = [
        RawMention.model_validate(
            {
                "organization_id": organization_id,
                "source": "rss",
                "external_id": f"long-{n}",
                "author": {"handle": "@a"},
                "text": "🍷" * 20_000,
                "published_at": "2027-05-01T08:00:00+02:00",
            }
        )
        for n in range(30)
    ]

    acks = await publish_raw_mentions(nats_client.jetstream(), scoped, long)

    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    assert len(messages) == len(acks) >= 5
    assert all(len(msg.data) <= PAGE_BYTES + 1_000 for msg in messages)
    carried = [m for page in events_of(messages) for m in events.page_mentions(page)]
    assert [m.external_id for m in carried] == [m.external_id for m in long]

"""Intake's envelope, written without building the event, is the event ``mention_received``
builds: same bytes, same subject; and a window of mentions larger than the client's pending
publishes is published whole."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pydantic_core
from nats.aio.client import Client as NatsClient

from benchmarks.listening_pipeline import organisations, raw_mentions
from services.listening.contracts import RawMention
from services.listening.intake import (
    PUBLISH_WINDOW,
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


async def test_more_mentions_than_a_window_are_published_in_order(
    settings: Settings, nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    scoped = settings.model_copy(update={"events": isolated_events})
    mentions = list(raw_mentions(organisations(), PUBLISH_WINDOW * 2 + 7))
    before = datetime.now(UTC)

    acks = await publish_raw_mentions(nats_client.jetstream(), scoped, mentions)

    assert [ack.seq for ack in acks] == list(range(1, len(mentions) + 1))
    messages = await stream_messages(
        nats_client.jetstream(), isolated_events.stream, f"{isolated_events.subject_prefix}.>"
    )
    received = events_of(messages)
    assert [event.subject for event in received] == [m.dedup_key for m in mentions]
    assert [msg.headers["Nats-Msg-Id"] for msg in messages if msg.headers] == [
        m.dedup_key for m in mentions
    ]
    assert all(event.time >= before for event in received)
    assert [RawMention.model_validate(event.data) for event in received] == mentions
    # Read again by its source, a mention is dropped by the stream's duplicate window.
    again = await publish_raw_mentions(nats_client.jetstream(), scoped, mentions[:3])
    assert all(ack.duplicate for ack in again)

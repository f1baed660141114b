"""Ingestion of pages of mentions (``mention_received`` version 2, what intake publishes) beside
single mentions (version 1, messages already in the stream when pages came): both are stored;
in a page, a mention that cannot be read, is of another organisation, names another
organisation's engagement or cannot be stored is dead-lettered alone with its reason, the
page's other mentions are stored, one ``mentions_ingested`` announces them and the page is
acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.events import MENTION_RECEIVED
from services.listening.ingestion import DURABLE, ingestion
from services.listening.intake import mention_page, mention_received, publish_raw_mentions
from services.listening.models import Mention
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.consumer import spec_for
from shared.events.envelope import CloudEvent
from shared.settings import EventSettings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_mentions import gazetteer_failing_on_boom, ingested_events, raw
from tests.test_thin_thread import create_org

# A fixture of tests/test_mentions.py, used by name.
__all__ = ["gazetteer_failing_on_boom"]


async def publish(js: JetStreamContext, events: EventSettings, event: CloudEvent) -> None:
    await js.publish(
        event.nats_subject(events.subject_prefix),
        event.model_dump_json().encode(),
        stream=events.stream,
        headers={"Nats-Msg-Id": event.id},
    )


@asynccontextmanager
async def ingesting(
    js: JetStreamContext, sessions: async_sessionmaker[AsyncSession], events: EventSettings
) -> AsyncIterator[None]:
    """The ingestion consumer on the test's stream, quick to give up on a failing message."""
    spec = replace(
        spec_for(DURABLE, MENTION_RECEIVED, events), max_deliveries=2, nak_delay_seconds=0.1
    )
    consumer = ingestion.subscription.consumer(js, sessions, events, spec)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def stored_texts(
    sessions: async_sessionmaker[AsyncSession], organization_id: str
) -> list[str]:
    async with session_scope(sessions, SYSTEM) as session:
        texts = await session.scalars(
            select(Mention.text).where(Mention.organization_id == uuid.UUID(organization_id))
        )
        return sorted(texts)


async def settled(js: JetStreamContext, events: EventSettings) -> bool:
    info = await js.consumer_info(events.stream, DURABLE)
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


async def dead_letters(platform: Platform, organization_id: str) -> list[Any]:
    response = await platform.gateway.get(
        "/v1/listening/dead-letters",
        params={"organization_id": organization_id},
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 200
    return list(response.json())


async def test_single_mentions_and_pages_in_one_stream_are_both_stored(
    platform: Platform,
    nats_client: NatsClient,
    sessions: async_sessionmaker[AsyncSession],
    isolated_events: EventSettings,
) -> None:
    organization_id = await create_org(platform)
    js = nats_client.jetstream()
    # Published before pages: one mention per message, version 1.
    for n in range(3):
        await publish(js, isolated_events, mention_received(raw(organization_id, f"Old {n}")))
    paged = [raw(organization_id, f"New {n}") for n in range(5)]
    scoped = platform.settings.model_copy(update={"events": isolated_events})
    await publish_raw_mentions(js, scoped, paged)
    # A page read again later (after JetStream's duplicate window): stored once all the same.
    again = mention_page(paged[:2]).model_copy(update={"id": str(uuid.uuid4())})
    await publish(js, isolated_events, again)
    expected = [*(f"New {n}" for n in range(5)), *(f"Old {n}" for n in range(3))]

    async with ingesting(js, sessions, isolated_events):

        async def all_stored() -> bool:
            return await stored_texts(sessions, organization_id) == sorted(expected)

        await wait_until(all_stored, timeout=15)
        await wait_until(lambda: settled(js, isolated_events), timeout=15)
    assert await stored_texts(sessions, organization_id) == sorted(expected)
    announced = await ingested_events(sessions, organization_id)
    assert sum(event["mentions"] for event in announced) == 8


async def test_a_pages_unreadable_and_foreign_mentions_are_dead_lettered_alone(
    platform: Platform,
    nats_client: NatsClient,
    sessions: async_sessionmaker[AsyncSession],
    isolated_events: EventSettings,
) -> None:
    organization_id = await create_org(platform)
    other_organization = await create_org(platform, "Cantina Rivale")
    foreign_engagement = await stored_engagement(platform, other_organization)
    good = [raw(organization_id, f"Fine {n}") for n in range(3)]
    page = mention_page(
        [good[0], raw(organization_id, "Not theirs", engagement_id=foreign_engagement), *good[1:]]
    )
    unreadable = {"organization_id": organization_id, "source": "instagram", "text": "no id"}
    stranger = raw(other_organization, "Of the other organisation").model_dump(mode="json")
    mentions = page.data["mentions"]
    page = page.model_copy(
        update={
            "data": {**page.data, "mentions": [unreadable, *mentions[:2], stranger, *mentions[2:]]}
        }
    )
    js = nats_client.jetstream()
    await publish(js, isolated_events, page)

    async with ingesting(js, sessions, isolated_events):

        async def all_dead_lettered() -> bool:
            return len(await dead_letters(platform, organization_id)) == 3

        await wait_until(all_dead_lettered, timeout=15)
        await wait_until(lambda: settled(js, isolated_events), timeout=15)
    letters = {
        letter["event_id"]: letter for letter in await dead_letters(platform, organization_id)
    }
    assert set(letters) == {f"{page.id}#0", f"{page.id}#2", f"{page.id}#3"}
    assert letters[f"{page.id}#0"]["reason"].startswith("not a raw mention: ")
    assert "external_id" in letters[f"{page.id}#0"]["reason"]
    assert letters[f"{page.id}#0"]["payload"]["data"] == unreadable
    assert letters[f"{page.id}#0"]["payload"]["id"] == page.id
    assert "another organisation" in letters[f"{page.id}#2"]["reason"]
    assert letters[f"{page.id}#2"]["payload"]["data"]["text"] == "Not theirs"
    assert letters[f"{page.id}#3"]["reason"].startswith(f"of organisation {other_organization}")
    assert all(letter["event_type"] == page.type for letter in letters.values())
    assert all(letter["consumer"] == DURABLE for letter in letters.values())
    # Shown to the page's organisation only: the stranger's organisation published nothing.
    assert await dead_letters(platform, other_organization) == []
    assert await stored_texts(sessions, organization_id) == ["Fine 0", "Fine 1", "Fine 2"]
    assert await stored_texts(sessions, other_organization) == []
    [announced] = await ingested_events(sessions, organization_id)
    assert announced["mentions"] == 3


async def test_a_pages_mention_that_cannot_be_stored_is_dead_lettered_and_the_rest_stored(
    platform: Platform,
    nats_client: NatsClient,
    sessions: async_sessionmaker[AsyncSession],
    isolated_events: EventSettings,
    gazetteer_failing_on_boom: None,
) -> None:
    organization_id = await create_org(platform)
    good = [raw(organization_id, f"Fine {n}") for n in range(3)]
    mentions = [good[0], raw(organization_id, "boom"), *good[1:]]
    page = mention_page(mentions)
    js = nats_client.jetstream()
    scoped = platform.settings.model_copy(update={"events": isolated_events})
    [ack] = await publish_raw_mentions(js, scoped, mentions)

    async with ingesting(js, sessions, isolated_events):

        async def dead_lettered() -> bool:
            return len(await dead_letters(platform, organization_id)) == 1

        await wait_until(dead_lettered, timeout=15)
        await wait_until(lambda: settled(js, isolated_events), timeout=15)
    [letter] = await dead_letters(platform, organization_id)
    assert letter["event_id"] == f"{page.id}#1"
    assert letter["reason"] == "cannot be stored: RuntimeError: the gazetteer has a bug"
    assert letter["payload"]["data"]["text"] == "boom"
    assert await stored_texts(sessions, organization_id) == ["Fine 0", "Fine 1", "Fine 2"]
    # Acknowledged, not terminated: the page itself is no dead letter.
    info = await js.consumer_info(isolated_events.stream, DURABLE)
    assert info.ack_floor.stream_seq == ack.seq

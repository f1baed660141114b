"""Live streams read only their organisations' events, and NATS is what leaves the others out:
each connection's consumer filters on ``<prefix>.*.*.<organisation>`` and is delivered no more
than the events it shows."""

from __future__ import annotations

import uuid
from pathlib import Path

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import ConsumerInfo

from services.gateway.streams import EventFeed, filter_subjects, visible_to
from shared.auth import Role
from shared.db.scoping import Scope
from shared.settings import EventSettings, Settings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import started_engagement
from tests.events_helpers import own_nats
from tests.test_streams import (
    SseClient,
    create_settled_org,
    last_sequence,
    lines_of,
    open_stream,
    publish,
)

EVENTS_PER_ORGANIZATION = 60


async def bound_consumers(js: JetStreamContext, stream: str, subject: str) -> list[ConsumerInfo]:
    """The push consumers (the gateway's, for open streams) filtering on ``subject``."""
    return [
        consumer
        for consumer in await js.consumers_info(stream)
        if consumer.push_bound
        and subject in [consumer.config.filter_subject, *(consumer.config.filter_subjects or [])]
    ]


async def test_each_organizations_stream_reads_only_its_own_events(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    prefix = events.subject_prefix
    first = await create_settled_org(platform, js, "Cantina di Torgiano")
    second = await create_settled_org(platform, js, "Oleificio di Spoleto")
    before = await last_sequence(js, events)
    published: dict[str, list[str]] = {first: [], second: []}
    for n in range(EVENTS_PER_ORGANIZATION):
        for organization_id in (first, second):
            event, _ = await publish(
                js, events, "test.numbered", {"organization_id": organization_id, "n": n}
            )
            published[organization_id].append(event.id)
        # Events of no organisation reach nobody.
        await publish(js, events, "test.unowned", {"n": n})
    assert await last_sequence(js, events) - before == 3 * EVENTS_PER_ORGANIZATION

    for organization_id in (first, second):
        headers = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
        async with open_stream(platform, "/v1/stream", headers, {"since": str(before)}) as sse:
            frames = await sse.events_until(published[organization_id][-1])
            [consumer] = await bound_consumers(js, events.stream, f"{prefix}.*.*.{organization_id}")

        assert [frame.cloud_event.id for frame in frames] == published[organization_id]
        assert {frame.cloud_event.data["organization_id"] for frame in frames} == {organization_id}
        # The server sent this connection its organisation's events and nothing else.
        assert consumer.delivered is not None
        assert consumer.delivered.consumer_seq == EVENTS_PER_ORGANIZATION
        assert consumer.num_pending == 0


async def test_the_engagement_stream_asks_nats_for_its_organisation_only(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    organization_id = await create_settled_org(platform, js, "Pro Loco Bevagna")
    engagement_id = (await started_engagement(platform, organization_id))["id"]
    path = f"/v1/engagements/{engagement_id}/stream"
    subject = f"{events.subject_prefix}.*.*.{organization_id}"

    async def one_bound() -> bool:
        return len(await bound_consumers(js, events.stream, subject)) == 1

    async with open_stream(platform, path, platform.auth(Role.MANAGER)):
        await wait_until(one_bound, timeout=10)


def test_the_filter_follows_what_the_caller_may_see() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    agency = Scope(organizations=frozenset(), all_organizations=True)
    client = Scope(organizations=frozenset({second, first}))

    assert filter_subjects("p", agency) == ["p.*.*.*"]
    assert filter_subjects("p", agency, first) == [f"p.*.*.{first}"]
    assert filter_subjects("p", client) == [f"p.*.*.{o}" for o in sorted((first, second))]
    assert filter_subjects("p", Scope(organizations=frozenset())) == ["p.*.*._"]


async def test_several_organisations_share_one_consumer_filtered_on_nats_2_10(
    settings: Settings, tmp_path: Path
) -> None:
    """A caller of two organisations (of three with events): one consumer with two filter
    subjects, delivered the two organisations' events only."""
    async with own_nats(settings, tmp_path) as (nats, client):
        js, events = client.jetstream(), nats.events
        first, second, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        scope = Scope(organizations=frozenset({first, second}))
        mine: list[str] = []
        for n in range(10):
            for organization_id in (first, other, second):
                event, _ = await publish(
                    js, events, "test.numbered", {"organization_id": str(organization_id), "n": n}
                )
                if organization_id != other:
                    mine.append(event.id)

        feed = await EventFeed.open(
            js,
            events,
            after_sequence=0,
            accepts=visible_to(scope),
            description="two organisations",
            subjects=filter_subjects(events.subject_prefix, scope),
        )
        frames = feed.frames()
        try:
            received = await SseClient(lines_of(frames)).events(len(mine))
            wanted = filter_subjects(events.subject_prefix, scope)
            assert await feed.consumer_filter() == wanted
            [consumer] = await bound_consumers(js, events.stream, wanted[0])
        finally:
            await frames.aclose()
            await feed.close()

    assert [frame.cloud_event.id for frame in received] == mine
    assert consumer.delivered is not None
    assert consumer.delivered.consumer_seq == len(mine)


async def test_on_nats_2_9_several_organisations_fall_back_to_one_filtered_in_the_gateway(
    nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    """The shared server is 2.9: no consumer takes several filters, so the gateway gets every
    organisation's events and shows the caller's."""
    js = nats_client.jetstream()
    first, second, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    scope = Scope(organizations=frozenset({first, second}))
    mine = []
    for organization_id in (first, other, second):
        event, _ = await publish(
            js, isolated_events, "test.numbered", {"organization_id": str(organization_id)}
        )
        if organization_id != other:
            mine.append(event.id)
    feed = await EventFeed.open(
        js,
        isolated_events,
        after_sequence=0,
        accepts=visible_to(scope),
        description="two organisations on 2.9",
        subjects=filter_subjects(isolated_events.subject_prefix, scope),
    )
    frames = feed.frames()
    try:
        received = await SseClient(lines_of(frames)).events(2)
        assert await feed.consumer_filter() == [f"{isolated_events.subject_prefix}.*.*.*"]
    finally:
        await frames.aclose()
        await feed.close()
    assert [frame.cloud_event.id for frame in received] == mine

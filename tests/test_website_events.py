"""The website watch's own events (engage.content.website_watch_*): a site added, failing,
recovered and removed, read back from the ENGAGE stream after the content outbox's relay sent
them. Failing and recovered are said on the site's changes only, not at every poll."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import Request, Response
from nats.aio.client import Client as NatsClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.models import OutboxEvent
from services.content.storage import media_storage
from services.content.website.service import SitePoller
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.events_helpers import stream_messages
from tests.fakes.common import serve
from tests.test_thin_thread import create_org
from tests.test_website_watch import CHANNELS, FakeSite, due_now, sites_path, watch

Json = dict[str, Any]
PREFIX = "engage.content.website_watch_"


class FlakySite(FakeSite):
    """``/flaky.xml`` answers 503 while the site is down, else the RSS feed."""

    up = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self.app.add_api_route("/flaky.xml", self.flaky, methods=["GET"])

    async def flaky(self, request: Request) -> Response:
        if not self.up:
            self._record(request)
            return Response(b"down for maintenance", status_code=503)
        return await self.rss(request)


@pytest.fixture
async def site() -> AsyncIterator[FlakySite]:
    fake = FlakySite()
    async with serve(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


async def watch_events(
    platform: Platform, nats_client: NatsClient, organization_id: str, count: int
) -> list[Json]:
    """The website watch events of the organisation on the stream, oldest first, once ``count``
    of them are there (the relay publishes them a moment after their commit)."""
    events = platform.settings.events
    subject = f"{events.subject_prefix}.content.*.{organization_id}"
    found: list[Json] = []

    async def relayed() -> bool:
        messages = await stream_messages(nats_client.jetstream(), events.stream, subject)
        found[:] = [
            envelope
            for msg in messages
            if (envelope := json.loads(msg.data))["type"].startswith(PREFIX)
        ]
        return len(found) >= count

    await wait_until(relayed, timeout=15)
    return found


async def staged(sessions: async_sessionmaker[AsyncSession], site_ids: list[str]) -> list[Json]:
    """Every event the content outbox holds about these sites, in the order they were staged."""
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.scalars(
            select(OutboxEvent.envelope)
            .where(OutboxEvent.envelope["subject"].astext.in_(site_ids))
            .order_by(OutboxEvent.seq)
        )
        return list(rows)


def kind(envelope: Json) -> str:
    return str(envelope["type"]).removeprefix(PREFIX).removesuffix(".v1")


async def test_a_site_added_failing_twice_recovering_and_removed_is_four_events(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    site: FlakySite,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    watched = await watch(platform, engagement_id, site.base_url + "/flaky.xml")
    site_id = uuid.UUID(watched["id"])
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)

    first = await poller.poll(site_id)
    await due_now(sessions, watched["id"])
    second = await poller.poll(site_id)
    site.up = True
    site.add(site.article(1, datetime.now(UTC) + timedelta(minutes=1)))
    await due_now(sessions, watched["id"])
    third = await poller.poll(site_id)
    await due_now(sessions, watched["id"])
    fourth = await poller.poll(site_id)
    removed = await platform.gateway.delete(
        sites_path(engagement_id, watched["id"]), headers=platform.auth(Role.MANAGER)
    )

    assert [first.outcome, second.outcome] == ["failing", "failing"]
    assert (third.outcome, fourth.outcome) == ("drafted", "unchanged")
    assert removed.status_code == 204
    found = await watch_events(platform, nats_client, organization_id, 4)
    assert [kind(envelope) for envelope in found] == ["added", "failing", "recovered", "removed"]
    assert {envelope["subject"] for envelope in found} == {watched["id"]}
    assert {envelope["source"] for envelope in found} == {"urn:atlantide-engage:content"}
    added, failing, recovered, gone = (envelope["data"] for envelope in found)
    fact = {
        "site_id": watched["id"],
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "url": site.base_url + "/flaky.xml",
    }
    assert added == {
        **fact,
        "channels": CHANNELS,
        "utm_campaign": "vendemmia-2026",
        "added_by": added["added_by"],
    }
    assert added["added_by"]
    assert {key: failing[key] for key in fact} == fact
    assert failing["reason"] == "HTTP 503"
    assert datetime.fromisoformat(failing["next_poll_at"]) > datetime.fromisoformat(failing["at"])
    assert {key: recovered[key] for key in fact} == fact
    assert recovered["failures"] == 2
    assert datetime.fromisoformat(recovered["at"]) > datetime.fromisoformat(failing["at"])
    assert gone == {**fact, "removed_by": added["added_by"]}


async def test_a_site_that_never_worked_is_failing_once_and_a_healthy_one_says_nothing(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FlakySite,
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    broken = await watch(platform, engagement_id, site.base_url + "/status/500")
    healthy = await watch(platform, engagement_id, site.base_url + "/rss.xml")
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)

    for _ in range(3):
        for watched in (broken, healthy):
            await due_now(sessions, watched["id"])
            await poller.poll(uuid.UUID(watched["id"]))

    found = await staged(sessions, [broken["id"], healthy["id"]])
    named = [(kind(envelope), envelope["subject"]) for envelope in found]
    assert named == [
        ("added", broken["id"]),
        ("added", healthy["id"]),
        ("failing", broken["id"]),
    ]
    assert found[2]["data"]["reason"] == "HTTP 500"

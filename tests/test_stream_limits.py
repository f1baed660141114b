"""What bounds a live stream: open streams per caller, how far back it replays, and the
caller's token, whose expiry ends it."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta

from nats.aio.client import Client as NatsClient

from services.gateway.streams import EventFeed, visible_to
from shared.auth import Role, issue_dev_token
from shared.db.scoping import Scope
from shared.settings import EventSettings
from tests.conftest import Platform
from tests.test_streams import SseClient, lines_of, publish


def caller(
    platform: Platform,
    role: Role = Role.MANAGER,
    orgs: list[str] | None = None,
    ttl: timedelta | None = None,
) -> dict[str, str]:
    """A token of its own subject: the per-caller count is this test's alone."""
    subject = f"streamer-{uuid.uuid4()}"
    token = issue_dev_token(platform.settings, subject, [role], orgs or ["*"], ttl=ttl)
    return {"Authorization": f"Bearer {token}"}


async def test_one_stream_more_than_the_cap_is_a_429_until_one_closes(platform: Platform) -> None:
    headers = caller(platform)
    cap = platform.settings.gateway.max_streams_per_principal
    async with AsyncExitStack() as stack:
        opened = []
        for _ in range(cap):
            response = await stack.enter_async_context(
                platform.gateway.stream("GET", "/v1/stream", headers=headers)
            )
            assert response.status_code == 200
            opened.append(response)

        refused = await platform.gateway.get("/v1/stream", headers=headers)
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["type"] == "urn:engage:problem:too-many-streams"
        assert refused.json()["limit"] == cap
        # Another caller is not held back by this one's streams.
        async with platform.gateway.stream("GET", "/v1/stream", headers=caller(platform)) as other:
            assert other.status_code == 200

        await opened[0].aclose()

        async def reopened() -> int:
            async with platform.gateway.stream("GET", "/v1/stream", headers=headers) as again:
                return again.status_code

        # The closed stream's place is freed once the gateway sees the disconnect.
        async with asyncio.timeout(10):
            while (status := await reopened()) == 429:
                await asyncio.sleep(0.05)
        assert status == 200


async def test_a_resume_point_further_back_than_the_cap_starts_at_the_cap_and_says_so(
    nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    js = nats_client.jetstream()
    organization_id = uuid.uuid4()
    sequences = [
        (
            await publish(
                js,
                isolated_events,
                "test.numbered",
                {"organization_id": str(organization_id), "n": n},
            )
        )[1]
        for n in range(10)
    ]
    scope = Scope(organizations=frozenset({organization_id}))

    async def frames_of(after: int, count: int) -> list[tuple[str | None, str | None]]:
        feed = await EventFeed.open(
            js,
            isolated_events,
            after_sequence=after,
            accepts=visible_to(scope),
            description="replay cap",
            max_replay_events=3,
        )
        frames = feed.frames()
        try:
            client = SseClient(lines_of(frames))
            received = [await client.next_frame() for _ in range(count)]
        finally:
            await frames.aclose()
            await feed.close()
        return [(frame.event, frame.id) for frame in received]

    truncated = await frames_of(0, 4)
    assert truncated[0] == ("stream.replay_truncated", None)
    assert truncated[1:] == [("test.numbered", str(seq)) for seq in sequences[-3:]]
    # Within the cap: no notice, every event after the resume point.
    within = await frames_of(sequences[-3], 2)
    assert within == [("test.numbered", str(seq)) for seq in sequences[-2:]]


async def test_the_notice_says_where_the_stream_resumed(
    nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    js = nats_client.jetstream()
    for n in range(5):
        await publish(
            js, isolated_events, "test.numbered", {"organization_id": str(uuid.uuid4()), "n": n}
        )
    feed = await EventFeed.open(
        js,
        isolated_events,
        after_sequence=0,
        accepts=lambda _: True,
        description="replay notice",
        max_replay_events=2,
    )
    frames = feed.frames()
    try:
        notice = await SseClient(lines_of(frames)).next_frame()
    finally:
        await frames.aclose()
        await feed.close()
    assert notice.cloud_event.type == "engage.stream.replay_truncated.v1"
    assert notice.cloud_event.data == {
        "requested_after": 0,
        "resumed_after": 3,
        "max_replay_events": 2,
    }


async def test_the_stream_ends_when_the_token_expires(platform: Platform) -> None:
    # Long enough to open the stream on a busy machine.
    headers = caller(
        platform, Role.CLIENT_VIEWER, orgs=[str(uuid.uuid4())], ttl=timedelta(seconds=4)
    )
    opened_at = datetime.now(UTC)
    async with platform.gateway.stream("GET", "/v1/stream", headers=headers) as response:
        assert response.status_code == 200
        lines = response.aiter_lines()
        client = SseClient(lines)
        async with asyncio.timeout(10):
            frame = await client.next_frame()
            while frame.event != "stream.token_expired":
                frame = await client.next_frame()
            # Nothing follows: the gateway closed the response.
            rest = [line async for line in lines]
    assert rest == []
    assert frame.id is None
    expired_at = datetime.fromisoformat(frame.cloud_event.data["expired_at"])
    assert opened_at < expired_at <= datetime.now(UTC)

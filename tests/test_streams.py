"""Server-Sent Events from the JetStream stream, over the real gateway and NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from services.gateway.streams import EventFeed, visible_to
from shared.auth import Role
from shared.db.scoping import Scope
from shared.events.consumer import DEAD_LETTER_SUBJECT
from shared.events.envelope import CloudEvent, new_event
from shared.settings import EventSettings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import started_engagement
from tests.events_helpers import events_of, stream_messages
from tests.test_thin_thread import create_org, engagement_body

READ_TIMEOUT = 15.0


@dataclass
class Frame:
    """One dispatched SSE block: its fields and any comment lines."""

    id: str | None = None
    event: str | None = None
    data_lines: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def cloud_event(self) -> CloudEvent:
        return CloudEvent.model_validate_json("\n".join(self.data_lines))


def parse_frames(lines: list[str]) -> list[Frame]:
    """The SSE wire format: ``field: value`` lines, ``: comment`` lines, a blank line ends one."""
    frames: list[Frame] = []
    current = Frame()
    for line in lines:
        if line == "":
            if current != Frame():
                frames.append(current)
            current = Frame()
        elif line.startswith(":"):
            current.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                current.data_lines.append(value)
            elif name in {"id", "event"}:
                setattr(current, name, value)
    return frames


async def lines_of(frames: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """A feed's frames as the lines an HTTP client reads."""
    async for frame in frames:
        for line in frame.decode().split("\n")[:-1]:
            yield line


class SseClient:
    """Reads frames from ``text/event-stream`` lines."""

    def __init__(self, lines: AsyncIterator[str]) -> None:
        self._lines = lines
        self._pending: list[str] = []

    async def next_frame(self) -> Frame:
        async with asyncio.timeout(READ_TIMEOUT):
            while True:
                line = await anext(self._lines)
                self._pending.append(line)
                if line == "":
                    frames = parse_frames(self._pending)
                    self._pending = []
                    if frames:
                        return frames[0]

    async def events(self, count: int) -> list[Frame]:
        """The next ``count`` event frames, skipping keep-alive comments."""
        received: list[Frame] = []
        while len(received) < count:
            frame = await self.next_frame()
            if frame.id is not None:
                received.append(frame)
        return received

    async def events_until(self, last_event_id: str) -> list[Frame]:
        """Event frames up to and including the event whose CloudEvent id is ``last_event_id``."""
        received: list[Frame] = []
        while not received or received[-1].cloud_event.id != last_event_id:
            received.extend(await self.events(1))
        return received


@asynccontextmanager
async def open_stream(
    platform: Platform,
    path: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> AsyncIterator[SseClient]:
    async with platform.gateway.stream("GET", path, headers=headers, params=params) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseClient(response.aiter_lines())


async def publish(
    js: JetStreamContext,
    events: EventSettings,
    name: str,
    data: dict[str, object],
    subject: str | None = None,
) -> tuple[CloudEvent, int]:
    """Publish a CloudEvent as the outbox relay does; returns it with its stream sequence."""
    event = new_event(name, data, source="urn:test:streams", subject=subject)
    ack = await js.publish(
        event.nats_subject(events.subject_prefix),
        event.model_dump_json().encode(),
        stream=events.stream,
        headers={"Nats-Msg-Id": event.id},
    )
    return event, int(ack.seq)


async def create_settled_org(platform: Platform, js: JetStreamContext, name: str) -> str:
    """An organisation whose ``organization_created`` event is already on the stream.

    The outbox relay publishes it a moment after the request; waiting for it keeps it from
    landing among the events a test publishes and counts.
    """
    organization_id = await create_org(platform, name)
    events = platform.settings.events
    subject = f"{events.subject_prefix}.strategy.organization_created.*"

    async def announced() -> bool:
        messages = await stream_messages(js, events.stream, subject)
        return any(
            event.data["organization_id"] == organization_id for event in events_of(messages)
        )

    await wait_until(announced, timeout=15)
    return organization_id


async def last_sequence(js: JetStreamContext, events: EventSettings) -> int:
    info = await js.stream_info(events.stream)
    return int(info.state.last_seq)


async def test_organization_stream_delivers_new_events_in_stream_order(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    organization_id = await create_settled_org(platform, js, "Cantina Montefalco")
    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    async with open_stream(
        platform, "/v1/stream", headers, {"organization_id": organization_id}
    ) as sse:
        published = [
            await publish(js, events, f"test.step_{n}", {"organization_id": organization_id})
            for n in range(3)
        ]
        frames = await sse.events(3)

    assert [frame.id for frame in frames] == [str(sequence) for _, sequence in published]
    assert [frame.event for frame in frames] == ["test.step_0", "test.step_1", "test.step_2"]
    assert [frame.cloud_event for frame in frames] == [event for event, _ in published]


async def test_outbox_events_reach_the_engagement_stream(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id = await create_org(platform, "Agriturismo Monte Cucco")
    js, events = nats_client.jetstream(), platform.settings.events
    before = await last_sequence(js, events)
    engagement_id = (await started_engagement(platform, organization_id))["id"]
    # Same organisation, another engagement: must not reach this engagement's stream.
    await publish(
        js,
        events,
        "lifecycle.phase_started",
        {"organization_id": organization_id, "engagement_id": str(uuid.uuid4())},
    )

    headers = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    path = f"/v1/engagements/{engagement_id}/stream"
    async with open_stream(platform, path, headers, {"since": str(before)}) as sse:
        first = (await sse.events(1))[0]
        # Named only as the subject: the engagement stream matches on it too.
        closing, _ = await publish(
            js, events, "test.closing", {"organization_id": organization_id}, engagement_id
        )
        frames = [first, *await sse.events_until(closing.id)]

    assert first.event == "strategy.engagement_created"
    assert first.cloud_event.data["engagement_id"] == engagement_id
    sequences = [int(frame.id or 0) for frame in frames]
    assert sequences == sorted(set(sequences))
    assert all(sequence > before for sequence in sequences)
    for frame in frames:
        event = frame.cloud_event
        assert event.data["organization_id"] == organization_id
        assert engagement_id in (event.data.get("engagement_id"), event.subject)


async def test_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    organization_id = await create_settled_org(platform, js, "Frantoio di Assisi")
    headers = platform.auth(Role.MANAGER)
    params = {"organization_id": organization_id}

    def data(n: int) -> dict[str, object]:
        return {"organization_id": organization_id, "n": n}

    async with open_stream(platform, "/v1/stream", headers, params) as sse:
        published = [(await publish(js, events, "test.numbered", data(n)))[0] for n in range(3)]
        before_disconnect = await sse.events(2)
    # Published while nobody listens; the third one was sent but never read.
    published += [(await publish(js, events, "test.numbered", data(n)))[0] for n in range(3, 6)]

    resume = {**headers, "Last-Event-ID": before_disconnect[-1].id or ""}
    # EventSource repeats the original URL; the header, not ``since``, says where to resume.
    async with open_stream(platform, "/v1/stream", resume, {**params, "since": "0"}) as sse:
        after_reconnect = await sse.events_until(published[-1].id)

    received = [frame.cloud_event.id for frame in before_disconnect + after_reconnect]
    assert received == [event.id for event in published]


async def test_a_client_never_receives_another_organizations_events(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    own = await create_settled_org(platform, js, "Pro Loco Gubbio")
    other = await create_settled_org(platform, js, "Comune di Perugia")
    before = await last_sequence(js, events)
    await publish(js, events, "test.private", {"organization_id": other})
    await publish(js, events, "test.visible", {"organization_id": own})
    await publish(js, events, "test.unowned", {"note": "names no organisation"})
    await publish(js, events, "test.private", {"organization_id": other})
    sentinel, _ = await publish(js, events, "test.visible", {"organization_id": own})

    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[own])
    async with open_stream(platform, "/v1/stream", headers, {"since": str(before)}) as sse:
        frames = await sse.events_until(sentinel.id)

    assert [frame.event for frame in frames] == ["test.visible", "test.visible"]
    assert {frame.cloud_event.data["organization_id"] for frame in frames} == {own}


async def test_another_organizations_streams_answer_404(platform: Platform) -> None:
    own = await create_org(platform, "Pro Loco Nocera")
    other = await create_org(platform, "Comune di Spello")
    created = await platform.gateway.post(
        "/v1/engagements", json=engagement_body(other), headers=platform.auth(Role.MANAGER)
    )
    assert created.status_code == 201, created.text
    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[own])

    for path, params in (
        (f"/v1/engagements/{created.json()['id']}/stream", None),
        (f"/v1/engagements/{uuid.uuid4()}/stream", None),
        ("/v1/stream", {"organization_id": other}),
    ):
        response = await platform.gateway.get(path, headers=headers, params=params)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:engage:problem:not-found"


async def test_streams_need_a_token(platform: Platform) -> None:
    for path in ("/v1/stream", f"/v1/engagements/{uuid.uuid4()}/stream"):
        response = await platform.gateway.get(path)
        assert response.status_code == 401, path
        assert response.json()["type"] == "urn:engage:problem:unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_malformed_resume_point_is_a_422_naming_the_field(platform: Platform) -> None:
    headers = {**platform.auth(Role.MANAGER), "Last-Event-ID": "yesterday"}
    response = await platform.gateway.get("/v1/stream", headers=headers)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["header.Last-Event-ID"]

    response = await platform.gateway.get(
        "/v1/stream", headers=platform.auth(Role.MANAGER), params={"since": "-1"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["query.since"]


async def test_a_disconnected_client_leaves_no_consumer_behind(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id = await create_org(platform, "Birrificio Amerino")
    js, events = nats_client.jetstream(), platform.settings.events
    engagement_id = (await started_engagement(platform, organization_id))["id"]

    async def bound_consumers() -> int:
        consumers = await js.consumers_info(events.stream)
        return sum(
            1
            for consumer in consumers
            if engagement_id in (consumer.config.description or "") and consumer.push_bound
        )

    path = f"/v1/engagements/{engagement_id}/stream"

    async def one_bound_consumer() -> bool:
        return await bound_consumers() == 1

    async def no_bound_consumer() -> bool:
        return await bound_consumers() == 0

    async with open_stream(platform, path, platform.auth(Role.MANAGER)):
        # JetStream reports the consumer bound once the server has seen its subscription.
        await wait_until(one_bound_consumer, timeout=10)

    await wait_until(no_bound_consumer, timeout=10)


async def test_keep_alive_comes_while_only_filtered_out_events_arrive(
    nats_client: NatsClient, isolated_events: EventSettings
) -> None:
    js = nats_client.jetstream()
    visible, hidden = uuid.uuid4(), uuid.uuid4()
    feed = await EventFeed.open(
        js,
        isolated_events,
        after_sequence=None,
        accepts=visible_to(Scope(organizations=frozenset({visible}))),
        description="test feed",
        heartbeat_seconds=0.3,
    )

    async def hidden_traffic() -> None:
        # Faster than the heartbeat, for ten heartbeats: the client sees nothing of it.
        for _ in range(30):
            await publish(js, isolated_events, "test.hidden", {"organization_id": str(hidden)})
            await asyncio.sleep(0.1)

    frames = feed.frames()
    traffic = asyncio.create_task(hidden_traffic())
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            keep_alive = await anext(frames)
            kept_alive_during_traffic = not traffic.done()
            await traffic
            shown, sequence = await publish(
                js, isolated_events, "test.shown", {"organization_id": str(visible)}
            )
            [next_event] = await SseClient(lines_of(frames)).events(1)
    finally:
        traffic.cancel()
        await frames.aclose()
        await feed.close()

    assert keep_alive == b": keep-alive\n\n"
    assert kept_alive_during_traffic
    assert next_event.id == str(sequence)
    assert next_event.event == "test.shown"
    assert next_event.cloud_event == shown


async def test_a_dead_letter_is_not_shown_again_to_the_clients(
    platform: Platform, nats_client: NatsClient
) -> None:
    js, events = nats_client.jetstream(), platform.settings.events
    organization_id = await create_settled_org(platform, js, "Frantoio Trevi")
    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    async with open_stream(
        platform, "/v1/stream", headers, {"organization_id": organization_id}
    ) as sse:
        shown, _ = await publish(js, events, "test.shown", {"organization_id": organization_id})
        # What the kernel consumer publishes when it gives up on an event: the event itself,
        # under <prefix>.deadletter.<durable>.
        await js.publish(
            f"{events.subject_prefix}.{DEAD_LETTER_SUBJECT}.listening-mentions",
            shown.model_dump_json().encode(),
            stream=events.stream,
            headers={"Nats-Msg-Id": f"dead-{shown.id}"},
        )
        after, _ = await publish(js, events, "test.after", {"organization_id": organization_id})
        frames = await sse.events(2)

    assert [frame.cloud_event.id for frame in frames] == [shown.id, after.id]

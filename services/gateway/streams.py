"""Live events for project managers: the JetStream stream as Server-Sent Events.

Each connection reads the stream through an ephemeral ordered consumer of its own, so one slow
browser never holds back another and a NATS reconnect resumes without a gap. The consumer's
filter subject names the organisation (``<prefix>.*.*.<organisation>``, see
``shared/events/subjects.py``), so NATS sends the gateway only the events the connection may
show; ``accepts`` then narrows them further (one engagement) and keeps out, whatever the filter,
events of organisations the caller may not see. The SSE ``id`` is the JetStream stream sequence,
which makes ``Last-Event-ID`` an exact resume point.

A connection ends, with a ``stream.*`` control event saying why (its ``data`` a CloudEvent too,
without an ``id``, so ``Last-Event-ID`` stays the last event received), when its NATS client
stops answering (``stream.interrupted``) or its bearer token expires (``stream.token_expired``).
A resume point further back than the replay cap starts at the cap, announced first by
``stream.replay_truncated``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi.sse import EventSourceResponse, format_sse_event
from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from shared.db.scoping import Scope as OrganizationScope
from shared.errors import RETRY_AFTER_SECONDS, ProblemError
from shared.events.envelope import CloudEvent, new_event
from shared.events.subjects import (
    NO_ORGANIZATION,
    all_events_filter,
    organization_filter,
)
from shared.settings import EventSettings

log = logging.getLogger(__name__)

# Below the idle timeouts of common proxies and load balancers (often 30 to 60 seconds).
HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = format_sse_event(comment="keep-alive")
# How often an idle connection looks whether it must end (NATS lost, token expired).
WATCH_SECONDS = 0.5
# What a client waits before reconnecting after a ``stream.interrupted``.
RECONNECT_MILLISECONDS = RETRY_AFTER_SECONDS * 1000
STREAM_SOURCE = "urn:atlantide-engage:gateway"
# NATS 2.10 is the first server to take several filter subjects for one consumer.
MULTI_FILTER_SERVER = (2, 10)

EventFilter = Callable[[CloudEvent], bool]


def organization_of(event: CloudEvent) -> uuid.UUID | None:
    return event.organization_id


def visible_to(scope: OrganizationScope, organization_id: uuid.UUID | None = None) -> EventFilter:
    """Events of the organisations ``scope`` allows (only ``organization_id``'s when given).

    An event that names no organisation is never sent: nothing says who may see it.
    """

    def allows(event: CloudEvent) -> bool:
        owner = organization_of(event)
        if owner is None or not scope.allows(owner):
            return False
        return organization_id is None or owner == organization_id

    return allows


def about_engagement(engagement_id: uuid.UUID, organization_id: uuid.UUID) -> EventFilter:
    """Events of one engagement: its id in ``data.engagement_id`` or as the event's subject."""
    wanted = str(engagement_id)

    def concerns(event: CloudEvent) -> bool:
        if organization_of(event) != organization_id:
            return False
        return str(event.data.get("engagement_id")) == wanted or event.subject == wanted

    return concerns


def filter_subjects(
    prefix: str, scope: OrganizationScope, organization_id: uuid.UUID | None = None
) -> list[str]:
    """The subjects a connection's consumer asks NATS for: one per organisation it may see,
    or every organisation's for agency staff (``*``). Never the dead letters."""
    if organization_id is not None:
        return [organization_filter(prefix, organization_id)]
    if scope.all_organizations:
        return [all_events_filter(prefix)]
    if not scope.organizations:
        # Sees no organisation: asks for the events of none, which ``accepts`` refuses anyway.
        return [f"{prefix}.*.*.{NO_ORGANIZATION}"]
    return [organization_filter(prefix, org) for org in sorted(scope.organizations)]


def control_frame(name: str, data: dict[str, Any], retry: int | None = None) -> bytes:
    """A ``stream.<name>`` event about the connection itself: a CloudEvent, without an ``id``."""
    event = new_event(f"stream.{name}", data, source=STREAM_SOURCE)
    return format_sse_event(event=event.name, data_str=event.model_dump_json(), retry=retry)


class OpenStreams:
    """Counts each principal's open streams in this gateway process, up to ``limit``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def count(self, principal: str) -> int:
        return self._open[principal]

    def claim(self, principal: str) -> Callable[[], None]:
        """Take one of ``principal``'s places (429 when none is left); returns its release."""
        if self._open[principal] >= self.limit:
            raise ProblemError(
                429,
                "too-many-streams",
                f"At most {self.limit} live streams may be open at once per caller; "
                "close one, or try again later.",
                headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                limit=self.limit,
            )
        self._open[principal] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._open[principal] -= 1
            if self._open[principal] <= 0:
                del self._open[principal]

        return release


class EventFeed:
    """One SSE connection's consumer of the stream, rendered as ``text/event-stream`` frames."""

    def __init__(
        self,
        subscription: JetStreamContext.PushSubscription,
        accepts: EventFilter,
        heartbeat_seconds: float,
        *,
        interruption: asyncio.Event | None = None,
        expires_at: datetime | None = None,
        replay: dict[str, int] | None = None,
        on_event: Callable[[], None] | None = None,
    ) -> None:
        self._subscription = subscription
        self._accepts = accepts
        self._heartbeat_seconds = heartbeat_seconds
        self._interruption = interruption or asyncio.Event()
        self._expires_at = expires_at
        self._replay = replay
        self._on_event = on_event
        self.delivered = 0

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        events: EventSettings,
        *,
        after_sequence: int | None,
        accepts: EventFilter,
        description: str,
        subjects: Sequence[str] | None = None,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        interruption: asyncio.Event | None = None,
        expires_at: datetime | None = None,
        max_replay_events: int | None = None,
        on_event: Callable[[], None] | None = None,
    ) -> EventFeed:
        """Subscribe before the response starts, so nothing published from now on is missed.

        ``after_sequence`` is the last stream sequence the client has: it gets everything after
        it, but never more than ``max_replay_events`` stream positions back. Without one, only
        events published from now on. ``subjects``: the filter (every event by default).
        ``on_event`` runs before each event is sent: the gateway empties its read cache there,
        so a page that reads again on an event gets what the event announced, not an answer
        kept from before it.
        """
        wanted = list(subjects or [all_events_filter(events.subject_prefix)])
        config = ConsumerConfig(description=description)
        if len(wanted) > 1:
            if _server_version(js) >= MULTI_FILTER_SERVER:
                config.filter_subjects = wanted
            else:
                # An older server filters on one subject only: every organisation's events come
                # and ``accepts`` keeps the caller's.
                wanted = [all_events_filter(events.subject_prefix)]
        policy = DeliverPolicy.NEW
        replay: dict[str, int] | None = None
        if after_sequence is not None:
            start_after = after_sequence
            if max_replay_events is not None:
                last = (await js.stream_info(events.stream)).state.last_seq
                floor = max(0, last - max_replay_events)
                if after_sequence < floor:
                    start_after = floor
                    replay = {
                        "requested_after": after_sequence,
                        "resumed_after": floor,
                        "max_replay_events": max_replay_events,
                    }
            policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = start_after + 1
        subscription = await js.subscribe(
            wanted[0],
            stream=events.stream,
            ordered_consumer=True,
            deliver_policy=policy,
            config=config,
        )
        return cls(
            subscription,
            accepts,
            heartbeat_seconds,
            interruption=interruption,
            expires_at=expires_at,
            replay=replay,
            on_event=on_event,
        )

    async def consumer_filter(self) -> list[str]:
        """What the server filters on for this connection (its consumer's filter subjects)."""
        info = await self._subscription.consumer_info()
        config = info.config
        return list(config.filter_subjects or [config.filter_subject or ""])

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """Accepted events as SSE frames, and a keep-alive comment whenever nothing was sent
        for a heartbeat (filtered-out events do not count: the client saw nothing)."""
        if self._replay is not None:
            yield control_frame("replay_truncated", self._replay)
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + self._heartbeat_seconds
        while True:
            ending = self._ending()
            if ending is not None:
                yield ending
                return
            wait = min(WATCH_SECONDS, max(0.0, next_heartbeat - loop.time()))
            try:
                msg = await self._subscription.next_msg(timeout=wait)
            except NatsTimeoutError:
                frame = KEEP_ALIVE if loop.time() >= next_heartbeat else None
            except ConnectionClosedError:
                # The client was closed (the gateway stops, or its client was replaced).
                yield self._interrupted("the gateway's NATS connection closed")
                return
            else:
                frame = self._frame_of(msg)
                if frame is not None and self._on_event is not None:
                    self._on_event()
            if frame is not None:
                yield frame
                next_heartbeat = loop.time() + self._heartbeat_seconds

    def _ending(self) -> bytes | None:
        if self._interruption.is_set():
            return self._interrupted("NATS stopped answering the gateway")
        if self._expires_at is not None and datetime.now(UTC) >= self._expires_at:
            return control_frame(
                "token_expired",
                {"expired_at": self._expires_at.isoformat(), "reconnect": "with a new token"},
            )
        return None

    @staticmethod
    def _interrupted(reason: str) -> bytes:
        data = {"reason": reason, "retry_after_seconds": RETRY_AFTER_SECONDS}
        return control_frame("interrupted", data, retry=RECONNECT_MILLISECONDS)

    def _frame_of(self, msg: Msg) -> bytes | None:
        try:
            event = CloudEvent.model_validate_json(msg.data)
            name = event.name
        except (ValidationError, ValueError):
            log.warning("skipping a message that is not an engage CloudEvent on %s", msg.subject)
            return None
        if not self._accepts(event):
            return None
        self.delivered += 1
        return format_sse_event(
            id=str(msg.metadata.sequence.stream), event=name, data_str=event.model_dump_json()
        )

    async def close(self) -> None:
        # The server deletes the ephemeral consumer once nobody listens to it.
        with contextlib.suppress(NatsError):
            await self._subscription.unsubscribe()


def _server_version(js: JetStreamContext) -> tuple[int, int]:
    # The JetStream context keeps its client; no public way to ask it.
    version = js._nc.connected_server_version
    return (version.major, version.minor)


class EventStreamResponse(EventSourceResponse):
    """Streams a feed and always closes its subscription, whatever ends the response."""

    def __init__(self, feed: EventFeed, on_close: Callable[[], None] | None = None) -> None:
        # X-Accel-Buffering: nginx would otherwise hold events back in its buffer.
        super().__init__(
            feed.frames(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._feed = feed
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._on_close is not None:
                self._on_close()
            # Shielded: after a client disconnect the surrounding scope is already cancelled.
            with anyio.CancelScope(shield=True):
                await self._feed.close()

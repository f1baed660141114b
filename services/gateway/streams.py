"""Live events for project managers: the JetStream stream as Server-Sent Events.

Each connection reads the stream through an ephemeral ordered consumer of its own, so one slow
browser never holds back another and a NATS reconnect resumes without a gap. The SSE ``id`` is the
JetStream stream sequence, which makes ``Last-Event-ID`` an exact resume point. Only events whose
``data.organization_id`` passes the connection's filter are sent; everything else is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Callable

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
from shared.events.consumer import DEAD_LETTER_SUBJECT
from shared.events.envelope import CloudEvent
from shared.settings import EventSettings

log = logging.getLogger(__name__)

# Below the idle timeouts of common proxies and load balancers (often 30 to 60 seconds).
HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE = format_sse_event(comment="keep-alive")

EventFilter = Callable[[CloudEvent], bool]


def organization_of(event: CloudEvent) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(event.data.get("organization_id")))
    except ValueError:
        return None


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


class EventFeed:
    """One SSE connection's consumer of the stream, rendered as ``text/event-stream`` frames."""

    def __init__(
        self,
        subscription: JetStreamContext.PushSubscription,
        accepts: EventFilter,
        heartbeat_seconds: float,
    ) -> None:
        self._subscription = subscription
        self._accepts = accepts
        self._heartbeat_seconds = heartbeat_seconds

    @classmethod
    async def open(
        cls,
        js: JetStreamContext,
        events: EventSettings,
        *,
        after_sequence: int | None,
        accepts: EventFilter,
        description: str,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> EventFeed:
        """Subscribe before the response starts, so nothing published from now on is missed.

        ``after_sequence`` is the last stream sequence the client has: it gets everything after
        it. Without one, only events published from now on.
        """
        config = ConsumerConfig(description=description)
        policy = DeliverPolicy.NEW
        if after_sequence is not None:
            policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = after_sequence + 1
        subscription = await js.subscribe(
            f"{events.subject_prefix}.>",
            stream=events.stream,
            ordered_consumer=True,
            deliver_policy=policy,
            config=config,
        )
        return cls(subscription, accepts, heartbeat_seconds)

    async def frames(self) -> AsyncGenerator[bytes, None]:
        """Accepted events as SSE frames, and a keep-alive comment whenever nothing was sent
        for a heartbeat (filtered-out events do not count: the client saw nothing)."""
        loop = asyncio.get_running_loop()
        next_heartbeat = loop.time() + self._heartbeat_seconds
        while True:
            try:
                msg = await self._subscription.next_msg(
                    timeout=max(0.0, next_heartbeat - loop.time())
                )
            except NatsTimeoutError:
                frame: bytes | None = KEEP_ALIVE
            except ConnectionClosedError:
                # The gateway is shutting down; the client reconnects with Last-Event-ID.
                return
            else:
                frame = self._frame_of(msg)
            if frame is not None:
                yield frame
                next_heartbeat = loop.time() + self._heartbeat_seconds

    def _frame_of(self, msg: Msg) -> bytes | None:
        # A dead letter is an event the clients were shown already, kept for the operators.
        if msg.subject.split(".")[1:2] == [DEAD_LETTER_SUBJECT]:
            return None
        try:
            event = CloudEvent.model_validate_json(msg.data)
            name = event.name
        except (ValidationError, ValueError):
            log.warning("skipping a message that is not an engage CloudEvent on %s", msg.subject)
            return None
        if not self._accepts(event):
            return None
        return format_sse_event(
            id=str(msg.metadata.sequence.stream), event=name, data_str=event.model_dump_json()
        )

    async def close(self) -> None:
        # The server deletes the ephemeral consumer once nobody listens to it.
        with contextlib.suppress(NatsError):
            await self._subscription.unsubscribe()


class EventStreamResponse(EventSourceResponse):
    """Streams a feed and always closes its subscription, whatever ends the response."""

    def __init__(self, feed: EventFeed) -> None:
        # X-Accel-Buffering: nginx would otherwise hold events back in its buffer.
        super().__init__(
            feed.frames(), headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        self._feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Shielded: after a client disconnect the surrounding scope is already cancelled.
            with anyio.CancelScope(shield=True):
                await self._feed.close()

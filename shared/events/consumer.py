"""Durable, idempotent JetStream consumers.

A message is acknowledged only after the consumer's own transaction, which records the event id
in ``processed_events`` together with the handler's effects, has committed. A redelivered event
whose id is already recorded is acknowledged without running the handler again. Transient
failures are ``nak``-ed with a delay; messages that can never be handled are terminated.

A subscription with a ``batch_handler`` handles each fetch (up to its batch size) in one
transaction instead: one ``processed_events`` insert, one call of the handler with the events
not handled before, one commit, then every message acked. If the batch fails, each of its
messages is handled on its own by the per-event ``handler``, so one bad message is settled
(nak or term) alone and the others are not held back.

A message whose handling fails is redelivered, but not forever: the delivery that fails for the
``max_deliveries``-th time (JetStream counts deliveries, ``num_delivered``) dead-letters it: the
subscription's ``on_dead_letter`` (when it has one) records it in the service's own tables, in
one transaction with its ``processed_events`` row, the message is published to
``<prefix>.deadletter.<durable>`` with the reason in its headers, and it is terminated. A
``PoisonMessageError`` dead-letters the message at once; a ``TransientError`` is redelivered
until JetStream's own limit (``max_deliver``), whose last delivery dead-letters it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from nats.aio.msg import Msg
from nats.errors import ConnectionClosedError
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from opentelemetry.trace import SpanKind
from pydantic import ValidationError
from sqlalchemy import String, bindparam, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import CloudEvent
from shared.events.outbox import ProcessedEventMixin
from shared.events.subjects import event_filter
from shared.logging_json import CONTEXT_FIELDS, log_context
from shared.metrics import (
    CONSUMER_ACK_PENDING,
    CONSUMER_LAG,
    CONSUMER_MESSAGES,
    CONSUMER_REDELIVERIES,
)
from shared.settings import EventSettings
from shared.telemetry import context_from_headers, trace_links, tracer

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
# How often a consumer asks JetStream how far behind it is.
LAG_SAMPLE_SECONDS = 5.0
# The first NATS server that changes a durable consumer's filter subject in place.
REFILTER_IN_PLACE = (2, 10)

EventHandler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[CloudEvent]], Awaitable[None]]
EventEffect = Callable[[CloudEvent], Awaitable[None]]
# Records a dead-lettered event (with the reason) in the service's own transaction.
DeadLetterHandler = Callable[[AsyncSession, CloudEvent, str], Awaitable[None]]

DEAD_LETTER_SUBJECT = "deadletter"
REASON_HEADER = "Engage-Dead-Letter-Reason"
CONSUMER_HEADER = "Engage-Dead-Letter-Consumer"
DELIVERIES_HEADER = "Engage-Dead-Letter-Deliveries"
# NATS headers are one line each; a reason longer than this is cut.
REASON_HEADER_CHARS = 1000
_TEXTS = ARRAY(String)


class TransientError(Exception):
    """The handler may succeed later (a dependency is away): redeliver after ``delay``."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class PoisonMessageError(Exception):
    """The message can never be handled: stop redelivering it."""


@dataclass(frozen=True)
class ConsumerSpec:
    durable: str
    filter_subject: str
    stream: str
    nak_delay_seconds: float = 2.0
    # JetStream's limit: it delivers a message no more than this often.
    max_deliver: int = 20
    # The delivery whose handling fails for this many times dead-letters the message.
    max_deliveries: int = 5
    ack_wait_seconds: float = 30.0
    # ``NEW``: only events published after the consumer is created.
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    # Messages asked for at each fetch (a batch consumer handles them in one transaction).
    fetch_batch: int = 20
    # Where dead letters are published; ``<prefix>.deadletter.<durable>`` by ``spec_for``.
    dead_letter_subject: str | None = None


def spec_for(
    durable: str, event: str, events: EventSettings, fetch_batch: int = 20
) -> ConsumerSpec:
    """A durable consumer of one event (``<domain>.<event>``) on the configured stream."""
    return ConsumerSpec(
        durable=durable,
        filter_subject=event_filter(events.subject_prefix, event),
        stream=events.stream,
        fetch_batch=fetch_batch,
        dead_letter_subject=dead_letter_subject(events, durable),
    )


def dead_letter_subject(events: EventSettings, durable: str) -> str:
    return f"{events.subject_prefix}.{DEAD_LETTER_SUBJECT}.{durable}"


@dataclass(frozen=True)
class Subscription:
    """One kind of event a service consumes, handled in the service's own transaction."""

    durable: str
    event: str
    handler: EventHandler
    processed_model: type[ProcessedEventMixin]
    # Handles a fetch's events together, in one transaction; ``handler`` then handles an event
    # alone when its batch failed.
    batch_handler: BatchHandler | None = None
    # Records a dead-lettered event where the service's API shows it.
    on_dead_letter: DeadLetterHandler | None = None
    fetch_batch: int = 20

    def consumer(
        self,
        js: JetStreamContext,
        sessions: async_sessionmaker[AsyncSession],
        events: EventSettings,
        spec: ConsumerSpec | None = None,
    ) -> EventConsumer:
        spec = spec or spec_for(self.durable, self.event, events, self.fetch_batch)
        if self.batch_handler is not None:
            return BatchEventConsumer(
                js,
                spec,
                self.handler,
                self.batch_handler,
                sessions,
                self.processed_model,
                self.on_dead_letter,
            )
        return EventConsumer(
            js, spec, self.handler, sessions, self.processed_model, self.on_dead_letter
        )


class _Consumer:
    """A durable pull consumer: fetch, handle each message once, settle it."""

    def __init__(self, js: JetStreamContext, spec: ConsumerSpec) -> None:
        self._js = js
        self.spec = spec
        self._labels = {"consumer": spec.durable}

    def _settled(self, msg: Msg, outcome: str) -> None:
        CONSUMER_MESSAGES.add(1, {**self._labels, "outcome": outcome})
        if (msg.metadata.num_delivered or 1) > 1:
            CONSUMER_REDELIVERIES.add(1, self._labels)

    async def sample_lag(self, subscription: JetStreamContext.PullSubscription) -> None:
        """Record how many messages wait for this consumer and how many it holds unsettled."""
        info = await subscription.consumer_info()
        CONSUMER_LAG.set(info.num_pending or 0, self._labels)
        CONSUMER_ACK_PENDING.set(info.num_ack_pending or 0, self._labels)

    async def _handle_once(self, event: CloudEvent) -> None:
        raise NotImplementedError

    async def _record_dead_letter(self, event: CloudEvent, reason: str) -> None:
        """Keep the dead letter where the service shows it; nothing by default."""

    async def dead_letter(self, msg: Msg, event: CloudEvent | None, reason: str) -> None:
        """Record the dead letter (when the message is an event at all), publish the message to
        the dead-letter subject with its reason, and terminate it.

        Recorded first: when the database is what keeps failing, nothing is published and the
        message is redelivered, so it is stored normally once the database is back. The publish
        is idempotent (its message id is the event's)."""
        key = event.id if event is not None else f"seq-{msg.metadata.sequence.stream}"
        log.error("dead-lettering %s of %s: %s", key, self.spec.durable, reason)
        if event is not None:
            await self._record_dead_letter(event, reason)
        if self.spec.dead_letter_subject is not None:
            await self._js.publish(
                self.spec.dead_letter_subject,
                msg.data,
                stream=self.spec.stream,
                headers={
                    **(msg.headers or {}),
                    "Nats-Msg-Id": f"{self.spec.durable}:deadletter:{key}",
                    REASON_HEADER: " ".join(reason.split())[:REASON_HEADER_CHARS],
                    CONSUMER_HEADER: self.spec.durable,
                    DELIVERIES_HEADER: str(msg.metadata.num_delivered),
                },
            )
        await msg.term()
        self._settled(msg, "term")

    async def _settle_failure(self, msg: Msg, event: CloudEvent, error: Exception) -> None:
        """Redeliver the message later, or dead-letter it at its last allowed delivery."""
        transient = error if isinstance(error, TransientError) else None
        limit = self.spec.max_deliver if transient else self.spec.max_deliveries
        deliveries = msg.metadata.num_delivered or 1
        if deliveries >= limit:
            reason = f"failed {deliveries} times: {type(error).__name__}: {error}"
            await self.dead_letter(msg, event, reason)
            return
        if transient is not None:
            log.warning("event %s will be redelivered: %s", event.id, error)
            await msg.nak(delay=transient.delay or self.spec.nak_delay_seconds)
            self._settled(msg, "nak")
            return
        log.error("event %s failed; it will be redelivered", event.id, exc_info=error)
        await msg.nak(delay=self.spec.nak_delay_seconds)
        self._settled(msg, "nak")

    async def subscribe(self) -> JetStreamContext.PullSubscription:
        spec = self.spec
        await self._refilter()
        return await self._js.pull_subscribe(
            spec.filter_subject,
            durable=spec.durable,
            stream=spec.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=spec.deliver_policy,
                max_deliver=spec.max_deliver,
                ack_wait=spec.ack_wait_seconds,
            ),
        )

    async def _refilter(self) -> None:
        """Bring a durable created with another filter subject (the subjects before the
        organisation was their last token) to the spec's, keeping its place in the stream.

        NATS 2.10 and later update the filter in place. 2.9 accepts the update but then skips
        what the old filter did not match, so there the durable is created again, starting
        after its ack floor: what it had delivered but not acknowledged is delivered again (the
        consumer is idempotent)."""
        spec = self.spec
        try:
            info = await self._js.consumer_info(spec.stream, spec.durable)
        except NotFoundError:
            return
        config = info.config
        if config.filter_subject == spec.filter_subject and not config.filter_subjects:
            return
        log.warning(
            "consumer %s: filter %s becomes %s",
            spec.durable,
            config.filter_subject or config.filter_subjects,
            spec.filter_subject,
        )
        version = self._js._nc.connected_server_version  # the context's client
        if (version.major, version.minor) >= REFILTER_IN_PLACE:
            config.filter_subject = spec.filter_subject
            config.filter_subjects = None
            await self._js.add_consumer(spec.stream, config)
            return
        await self._js.delete_consumer(spec.stream, spec.durable)
        await self._js.add_consumer(
            spec.stream,
            ConsumerConfig(
                durable_name=spec.durable,
                filter_subject=spec.filter_subject,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=(info.ack_floor.stream_seq if info.ack_floor else 0) + 1,
                max_deliver=spec.max_deliver,
                ack_wait=spec.ack_wait_seconds,
            ),
        )

    async def handle(self, msg: Msg) -> None:
        """Handle one message and settle it: ack, nak with delay, or term."""
        try:
            event = CloudEvent.model_validate_json(msg.data)
        except ValidationError as error:
            await self.dead_letter(msg, None, f"not a CloudEvent: {error}")
            return
        with (
            tracer.start_as_current_span(
                f"consume {msg.subject}",
                context=context_from_headers(msg.headers),
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.message.id": event.id,
                    "engage.consumer": self.spec.durable,
                },
            ),
            log_context(**{field: event.data.get(field) for field in CONTEXT_FIELDS}),
        ):
            try:
                await self._handle_once(event)
            except PoisonMessageError as error:
                await self.dead_letter(msg, event, f"poison: {error}")
                return
            except Exception as error:
                await self._settle_failure(msg, event, error)
                return
        await msg.ack()
        self._settled(msg, "ack")

    async def handle_fetched(self, messages: list[Msg]) -> None:
        """Settle what one fetch returned: one message at a time."""
        for msg in messages:
            await self.handle(msg)

    async def run(self, stop: asyncio.Event, batch: int | None = None) -> None:
        batch = batch or self.spec.fetch_batch
        subscription = await self.subscribe()
        lag_sampled_at = float("-inf")
        while not stop.is_set():
            try:
                if time.monotonic() - lag_sampled_at >= LAG_SAMPLE_SECONDS:
                    lag_sampled_at = time.monotonic()
                    await self.sample_lag(subscription)
                messages = await subscription.fetch(batch, timeout=1.0)
                await self.handle_fetched(messages)
            except (NatsTimeoutError, TimeoutError):
                continue
            except ConnectionClosedError:
                # The client was closed (replaced, see ``supervisor.py``): whoever runs this
                # consumer starts it again on the new one.
                raise
            except NatsError as error:
                # NATS is away: the client reconnects by itself, and whatever was not acked is
                # redelivered after ack_wait. The consumer must outlive the outage.
                log.warning("consumer %s: %s; fetching again", self.spec.durable, error)
                await asyncio.sleep(RETRY_SECONDS)
        await subscription.unsubscribe()


class EventConsumer(_Consumer):
    """Records each handled event id with the handler's effects, in one transaction."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        handler: EventHandler,
        session_factory: async_sessionmaker[AsyncSession],
        processed_model: type[ProcessedEventMixin],
        on_dead_letter: DeadLetterHandler | None = None,
    ) -> None:
        super().__init__(js, spec)
        self._handler = handler
        self._sessions = session_factory
        self._processed = processed_model
        self._on_dead_letter = on_dead_letter

    async def _first_time(self, session: AsyncSession, event: CloudEvent) -> bool:
        first_time = (
            await session.execute(
                insert(self._processed)
                .values(consumer=self.spec.durable, event_id=event.id)
                .on_conflict_do_nothing()
                .returning(self._processed.event_id)
            )
        ).first()
        if first_time is None:
            log.info("event %s already handled by %s", event.id, self.spec.durable)
        return first_time is not None

    async def _handle_once(self, event: CloudEvent) -> None:
        async with session_scope(self._sessions, SYSTEM) as session:
            if await self._first_time(session, event):
                await self._handler(session, event)

    async def _record_dead_letter(self, event: CloudEvent, reason: str) -> None:
        """Settled as handled, so a copy of the event is not handled again."""
        async with session_scope(self._sessions, SYSTEM) as session:
            if await self._first_time(session, event) and self._on_dead_letter is not None:
                await self._on_dead_letter(session, event, reason)


class BatchEventConsumer(EventConsumer):
    """Handles each fetch in one transaction; a failed batch is handled again one by one."""

    def __init__(
        self,
        js: JetStreamContext,
        spec: ConsumerSpec,
        handler: EventHandler,
        batch_handler: BatchHandler,
        session_factory: async_sessionmaker[AsyncSession],
        processed_model: type[ProcessedEventMixin],
        on_dead_letter: DeadLetterHandler | None = None,
    ) -> None:
        super().__init__(js, spec, handler, session_factory, processed_model, on_dead_letter)
        self._batch_handler = batch_handler

    async def handle_fetched(self, messages: list[Msg]) -> None:
        readable: list[tuple[Msg, CloudEvent]] = []
        for msg in messages:
            try:
                readable.append((msg, CloudEvent.model_validate_json(msg.data)))
            except ValidationError as error:
                await self.dead_letter(msg, None, f"not a CloudEvent: {error}")
        if not readable:
            return
        # The batch continues the trace of its first event and links every event's own.
        contexts = [context_from_headers(msg.headers) for msg, _ in readable]
        with tracer.start_as_current_span(
            f"consume {self.spec.filter_subject} batch",
            context=contexts[0],
            kind=SpanKind.CONSUMER,
            links=trace_links(contexts),
            attributes={
                "engage.consumer": self.spec.durable,
                "messaging.batch.message_count": len(readable),
            },
        ):
            try:
                await self._handle_batch([event for _, event in readable])
            except Exception as error:
                log.warning(
                    "consumer %s: a batch of %d failed (%s); handling each on its own",
                    self.spec.durable,
                    len(readable),
                    error,
                )
                for msg, _ in readable:
                    await self.handle(msg)
                return
        for msg, _ in readable:
            await msg.ack()
            self._settled(msg, "ack")

    async def _handle_batch(self, events: list[CloudEvent]) -> None:
        async with session_scope(self._sessions, SYSTEM) as session:
            # One array parameter rather than two per event: the statement is compiled once,
            # whatever the size of the batch.
            ids = [event.id for event in events]
            rows = select(
                literal(self.spec.durable, String),
                func.unnest(bindparam("ids", value=ids, type_=_TEXTS)),
            )
            first_time = set(
                (
                    await session.execute(
                        insert(self._processed)
                        .from_select([self._processed.consumer, self._processed.event_id], rows)
                        .on_conflict_do_nothing()
                        .returning(self._processed.event_id)
                    )
                ).scalars()
            )
            # An event fetched twice in one batch (redelivered while in flight) counts once.
            fresh: dict[str, CloudEvent] = {}
            for event in events:
                if event.id in first_time:
                    fresh.setdefault(event.id, event)
            if fresh:
                await self._batch_handler(session, list(fresh.values()))


class EffectConsumer(_Consumer):
    """For an effect that is idempotent by itself (starting a workflow under a fixed id), so
    the consumer needs no database of its own to remember what it handled."""

    def __init__(self, js: JetStreamContext, spec: ConsumerSpec, effect: EventEffect) -> None:
        super().__init__(js, spec)
        self._effect = effect

    async def _handle_once(self, event: CloudEvent) -> None:
        await self._effect(event)

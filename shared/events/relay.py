"""The outbox relay: publishes committed events to JetStream, then marks them sent.

At-least-once towards NATS, exactly-once in the stream: every publish carries
``Nats-Msg-Id`` = event id, so a relay that dies between publishing and marking sent republishes
an event that JetStream then drops as a duplicate. Several relays may run against one table: one
at a time holds the outbox's advisory lock for a batch, so events go out in ``seq`` order, and
the rows are also claimed with ``FOR UPDATE SKIP LOCKED`` (a relay of a version without the lock,
during a rolling upgrade, still never takes the same rows). An idle relay waits for its outbox's
commit notification (``OutboxWakeup``) or, at the latest, its poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from nats.errors import ConnectionClosedError
from nats.js import JetStreamContext
from nats.js.api import PubAck
from opentelemetry.trace import SpanKind
from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    String,
    Text,
    Update,
    any_,
    bindparam,
    cast,
    func,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.outbox import OutboxMixin, outbox_channel
from shared.events.subjects import event_subject
from shared.events.wakeup import OutboxWakeup, wait_for_any
from shared.metrics import OUTBOX_BACKLOG, OUTBOX_OLDEST_PENDING, OUTBOX_PUBLISHED, RELAY_LAG
from shared.settings import EventSettings
from shared.telemetry import context_from_headers, current_trace_headers, tracer

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0
# How often a relay counts what its outbox still holds (one indexed count).
BACKLOG_SAMPLE_SECONDS = 5.0


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        model: type[OutboxMixin],
        js: JetStreamContext,
        events: EventSettings,
        wakeup: OutboxWakeup | None = None,
    ) -> None:
        self._sessions = session_factory
        self._model = model
        self._js = js
        self._events = events
        self._wakeup = wakeup
        self._labels = {"outbox": str(inspect(model).local_table.schema)}
        self._lock_name = f"{outbox_channel(model)}_relay"
        self._backlog_sampled_at = float("-inf")

    async def relay_once(self) -> int:
        """Publish one batch of pending events; returns how many were published."""
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(self._claim, {"batch": self._events.relay_batch_size})
            ).all()
            published: list[int] = []
            acks: list[asyncio.Future[PubAck]] = []
            try:
                # Sent in order on one connection, acknowledged together: a batch costs one
                # round trip to JetStream instead of one per event. The timeout bounds the
                # whole batch, a wait for the client's pending-acks semaphore included (no
                # ``wait_stall``: it waits through a new task per message, which lets the
                # client's flusher write to the socket once per message).
                async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
                    for row in rows:
                        acks.append(await self._send(row))
                    for row, ack in zip(rows, acks, strict=True):
                        if (await ack).duplicate:
                            log.info("event %s was already in the stream", row.event_id)
                        published.append(row.seq)
            finally:
                for ack in acks:
                    ack.cancel()
                # The events acknowledged before a failure are marked; the rest are sent again
                # (JetStream drops those it already has).
                if published:
                    await self._mark_published(session, published)
                now = datetime.now(UTC)
                lags = [(now - row.created_at).total_seconds() for row in rows[: len(published)]]
        # Measured once the marks are committed.
        for lag in lags:
            RELAY_LAG.record(lag, self._labels)
        OUTBOX_PUBLISHED.add(len(lags), self._labels)
        return len(lags)

    @cached_property
    def _claim(self) -> Select[tuple[int, str, str, str, str, dict[str, str], datetime]]:
        # Plain rows, not ORM objects: the envelope comes as the text JSONB stores, published
        # as it is (never decoded and encoded again), with the one field its subject needs.
        # Only the relay holding the outbox's lock claims (one advisory lock per outbox, taken
        # once per batch in the same statement): events go out in ``seq`` order even when
        # several relays run against one table, and the others wait their turn.
        model = self._model
        lock = select(
            func.pg_try_advisory_xact_lock(func.hashtext(literal(self._lock_name, String))).label(
                "held"
            )
        ).cte("relay_lock")
        return (
            select(
                model.seq,
                model.event_id,
                model.name,
                cast(model.envelope, Text).label("envelope"),
                model.envelope["data"]["organization_id"].astext.label("organization_id"),
                model.headers,
                model.created_at,
            )
            .select_from(model)
            .join(lock, lock.c.held)
            .where(model.published_at.is_(None))
            .order_by(model.seq)
            .limit(bindparam("batch"))
            .with_for_update(of=model, skip_locked=True)
        )

    @cached_property
    def _mark(self) -> Update:
        # One statement for the whole batch, the same for any batch size (prepared once).
        model = self._model
        return (
            update(model)
            .where(model.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger))))
            .values(published_at=func.now())
        )

    async def sample_backlog(self) -> None:
        """Count the events still to publish and the age of the oldest one."""
        model = self._model
        async with self._sessions() as session:
            pending, oldest = (
                await session.execute(
                    select(func.count(), func.min(model.created_at)).where(
                        model.published_at.is_(None)
                    )
                )
            ).one()
        OUTBOX_BACKLOG.set(pending, self._labels)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        OUTBOX_OLDEST_PENDING.set(max(age, 0.0), self._labels)
        self._backlog_sampled_at = time.monotonic()

    async def _send(self, row: Row[Any]) -> asyncio.Future[PubAck]:
        subject = event_subject(
            self._events.subject_prefix, row.name, {"organization_id": row.organization_id}
        )
        # The publish continues the trace the row was staged in (its ``headers``), and the
        # message carries the publish's own context, so a consumer's span follows it.
        with tracer.start_as_current_span(
            f"publish {subject}",
            context=context_from_headers(row.headers),
            kind=SpanKind.PRODUCER,
            attributes={"messaging.system": "nats", "messaging.message.id": row.event_id},
        ):
            headers = {**row.headers, **current_trace_headers(), "Nats-Msg-Id": row.event_id}
            return await self._js.publish_async(
                subject,
                row.envelope.encode(),
                stream=self._events.stream,
                headers=headers,
            )

    async def _mark_published(self, session: AsyncSession, seqs: Sequence[int]) -> None:
        await session.execute(self._mark, {"seqs": list(seqs)})

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off while NATS or the database is away."""
        listening = asyncio.create_task(self._wakeup.run(stop)) if self._wakeup else None
        try:
            await self._relay_until(stop)
        finally:
            if listening is not None:
                listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    async def _relay_until(self, stop: asyncio.Event) -> None:
        poll = self._events.relay_poll_seconds
        backoff = poll
        while not stop.is_set():
            if self._wakeup is not None:
                # Cleared before looking: a commit from now on wakes the next wait.
                self._wakeup.signal.clear()
            try:
                if time.monotonic() - self._backlog_sampled_at >= BACKLOG_SAMPLE_SECONDS:
                    await self.sample_backlog()
                published = await self.relay_once()
                backoff = poll
            except ConnectionClosedError:
                # The client was closed (replaced, see ``supervisor.py``): whoever runs the
                # relay starts it again on the new one.
                raise
            except Exception as error:  # keep relaying across outages; nothing is lost
                backoff = min(backoff * 2, 5.0)
                log.warning("outbox relay: %s; retrying in %.1fs", _reason(error), backoff)
                # Commits must not hurry a retry while NATS or the database is away.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)
                continue
            if published == 0:
                wakers = (stop,) if self._wakeup is None else (stop, self._wakeup.signal)
                await wait_for_any(*wakers, at_most=poll)


def _reason(error: Exception) -> str:
    """What went wrong, even for an exception without a message (a bare ``TimeoutError()``)."""
    return str(error) or repr(error)

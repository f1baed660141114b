"""The outbox relay: publishes committed events to JetStream, then marks them sent.

At-least-once towards NATS, exactly-once in the stream: every publish carries
``Nats-Msg-Id`` = event id, so a relay that dies between publishing and marking sent republishes
an event that JetStream then drops as a duplicate. Several relays may run against one table: rows
are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.js import JetStreamContext
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.events.outbox import OutboxMixin
from shared.settings import EventSettings

log = logging.getLogger(__name__)

PUBLISH_TIMEOUT_SECONDS = 5.0


class OutboxRelay:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        model: type[OutboxMixin],
        js: JetStreamContext,
        events: EventSettings,
    ) -> None:
        self._sessions = session_factory
        self._model = model
        self._js = js
        self._events = events

    async def relay_once(self) -> int:
        """Publish one batch of pending events; returns how many were published."""
        model = self._model
        async with self._sessions() as session, session.begin():
            rows = (
                await session.scalars(
                    select(model)
                    .where(model.published_at.is_(None))
                    .order_by(model.seq)
                    .limit(self._events.relay_batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            published: list[int] = []
            try:
                for row in rows:
                    await self._publish(row)
                    published.append(row.seq)
            finally:
                # Whatever reached the stream is marked, even when a later publish failed.
                if published:
                    await self._mark_published(session, published)
            return len(published)

    async def _publish(self, row: OutboxMixin) -> None:
        subject = f"{self._events.subject_prefix}.{row.name}"
        headers = {"Nats-Msg-Id": row.event_id, **row.headers}
        ack = await self._js.publish(
            subject,
            json.dumps(row.envelope, separators=(",", ":")).encode(),
            timeout=PUBLISH_TIMEOUT_SECONDS,
            stream=self._events.stream,
            headers=headers,
        )
        if ack.duplicate:
            log.info("event %s was already in the stream", row.event_id)

    async def _mark_published(self, session: AsyncSession, seqs: Sequence[int]) -> None:
        await session.execute(
            update(self._model)
            .where(self._model.seq.in_(seqs))
            .values(published_at=datetime.now(UTC))
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set, backing off while NATS or the database is away."""
        backoff = self._events.relay_poll_seconds
        while not stop.is_set():
            try:
                published = await self.relay_once()
                backoff = self._events.relay_poll_seconds
            except Exception as error:  # keep relaying across outages; nothing is lost
                log.warning("outbox relay: %s; retrying in %.1fs", error, backoff)
                published = 0
                backoff = min(backoff * 2, 5.0)
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=backoff)

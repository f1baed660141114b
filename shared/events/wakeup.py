"""Wakes an outbox relay when a transaction that staged events commits.

The relay LISTENs on its outbox's PostgreSQL channel (``Outbox.add`` notifies it, delivered at
commit) on a connection of its own: a listening connection cannot go back to the pool. Polling
stays the fallback: while this connection is down, events wait at most one poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from shared.db.tls import plain_tls_default

log = logging.getLogger(__name__)

MAX_RECONNECT_SECONDS = 5.0


def asyncpg_dsn(database_url: str) -> str:
    """The SQLAlchemy URL (``postgresql+asyncpg://``) as a DSN asyncpg connects with."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class OutboxWakeup:
    """Sets ``signal`` on every notification of ``channel``, and whenever it (re)starts
    listening, since commits may have happened while it was not."""

    def __init__(self, database_url: str, channel: str) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._tls = plain_tls_default(database_url)
        self._channel = channel
        self.signal = asyncio.Event()
        self.listening = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set, reconnecting with backoff."""
        backoff = 0.1
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self._dsn, **self._tls)
            except (OSError, asyncpg.PostgresError) as error:
                log.warning("outbox wake-up: %s; polling only, retrying in %.1fs", error, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, MAX_RECONNECT_SECONDS)
                continue
            backoff = 0.1
            try:
                await self._listen(connection, stop)
            finally:
                self.listening.clear()
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)

    async def _listen(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        await connection.add_listener(self._channel, self._notified)
        self.listening.set()
        self.signal.set()
        await wait_for_any(stop, lost)

    def _notified(self, *_: Any) -> None:
        self.signal.set()


async def wait_for_any(*events: asyncio.Event, at_most: float | None = None) -> None:
    """Return when one of ``events`` is set, or after ``at_most`` seconds."""
    waiters = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, timeout=at_most, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

"""What one service process holds: its settings, database sessions and NATS connection.

NATS is connected in the background with retries, so a service starts (and reports not-ready on
``/readyz``) while NATS is away, instead of crashing.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.session import create_engine, create_session_factory
from shared.errors import DependencyUnavailableError
from shared.events.jetstream import connect_nats
from shared.retrying import until_connected
from shared.settings import Settings


class ServiceRuntime:
    def __init__(self, name: str, settings: Settings, *, database: bool = True) -> None:
        self.name = name
        self.settings = settings
        self._engine: AsyncEngine | None = create_engine(settings) if database else None
        self._sessions = create_session_factory(self._engine) if self._engine else None
        self._nats: NatsClient | None = None
        self._connecting: asyncio.Task[None] | None = None

    @property
    def has_database(self) -> bool:
        return self._sessions is not None

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessions is not None, f"{self.name} has no database"
        return self._sessions

    @property
    def nats(self) -> NatsClient:
        if self._nats is None or not self._nats.is_connected:
            raise DependencyUnavailableError("nats")
        return self._nats

    @property
    def js(self) -> JetStreamContext:
        return self.nats.jetstream()

    async def start(self) -> None:
        self._connecting = asyncio.create_task(self._connect_nats())

    async def wait_for_nats(self) -> NatsClient:
        assert self._connecting is not None, "start() first"
        await asyncio.shield(self._connecting)
        return self.nats

    async def _connect_nats(self) -> None:
        self._nats = await until_connected(lambda: connect_nats(self.settings, self.name), "nats")

    async def stop(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._nats is not None and not self._nats.is_closed:
            await self._nats.drain()
        if self._engine is not None:
            await self._engine.dispose()

    async def check_database(self) -> None:
        async with self.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def check_nats(self) -> None:
        await self.nats.flush(timeout=max(1, int(self.settings.dependency_timeout_seconds)))

"""What one service process holds: its settings, database sessions and NATS connection.

NATS is connected in the background with retries, so a service starts (and reports not-ready on
``/readyz``) while NATS is away, instead of crashing; a ``NatsSupervisor`` then probes the client
and replaces it when it is dead.
"""

from __future__ import annotations

import asyncio
import contextlib

from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db.session import create_engine, create_session_factory
from shared.events.jetstream import connect_nats
from shared.events.supervisor import NatsSupervisor
from shared.settings import Settings


class ServiceRuntime:
    def __init__(self, name: str, settings: Settings, *, database: bool = True) -> None:
        self.name = name
        self.settings = settings
        self._engine: AsyncEngine | None = create_engine(settings) if database else None
        self._sessions = create_session_factory(self._engine) if self._engine else None
        self.nats_supervisor = NatsSupervisor(
            lambda: connect_nats(settings, name),
            probe_timeout_seconds=settings.dependency_timeout_seconds,
            probe_interval_seconds=settings.events.nats_probe_interval_seconds,
            replace_after_seconds=settings.events.nats_replace_after_seconds,
        )
        self._stopping = asyncio.Event()
        self._supervising: asyncio.Task[None] | None = None

    @property
    def has_database(self) -> bool:
        return self._sessions is not None

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessions is not None, f"{self.name} has no database"
        return self._sessions

    @property
    def nats(self) -> NatsClient:
        return self.nats_supervisor.client

    @property
    def js(self) -> JetStreamContext:
        return self.nats.jetstream()

    async def start(self) -> None:
        self._supervising = asyncio.create_task(self.nats_supervisor.run(self._stopping))

    async def wait_for_nats(self) -> NatsClient:
        """The current client (a replaced one is closed: its users end and ask again)."""
        assert self._supervising is not None, "start() first"
        return await self.nats_supervisor.wait_for_client()

    async def stop(self) -> None:
        self._stopping.set()
        if self._supervising is not None and not self._supervising.done():
            self._supervising.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervising
        await self.nats_supervisor.close()
        if self._engine is not None:
            await self._engine.dispose()

    async def check_database(self) -> None:
        async with self.sessions() as session:
            await session.execute(text("SELECT 1"))

    async def check_nats(self) -> None:
        # Never a flush of the shared client: see ``shared/events/supervisor.py``.
        await self.nats_supervisor.probe()

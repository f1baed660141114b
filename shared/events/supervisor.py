"""Keeps a process's NATS client honest: probed without harm, replaced when it is dead.

The readiness probe never ``flush``-es the shared client: a flush that times out cancels its
PONG future, and the PONG that arrives later kills the client's read loop with
``InvalidStateError`` (nats-io/nats.py#624): the client then says it is connected while nothing
it receives is read any more. The probe asks JetStream for the account's info instead (a
request: its reply may arrive late without harm), and also looks at the read loop itself.

A background loop probes every ``probe_interval_seconds``. When a probe fails, whatever follows
the stream through the current client (the gateway's live streams) is told, through the event
``interruption()`` returned, and ends so that its client resumes with ``Last-Event-ID``. A
client that is closed, whose read loop died, or that has not answered for
``replace_after_seconds`` is closed and a new one connected in its place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from shared.errors import DependencyUnavailableError
from shared.retrying import until_connected

log = logging.getLogger(__name__)

CLOSE_SECONDS = 2.0


class NatsUnavailableError(DependencyUnavailableError):
    """NATS does not answer through this process's client; ``dead``: the client never will."""

    def __init__(self, reason: str, *, dead: bool = False) -> None:
        super().__init__("nats", f"nats: {reason}")
        self.reason = reason
        self.dead = dead


def read_loop_alive(client: NatsClient) -> bool:
    """Whether the client still reads what the server sends (nats-py keeps no public flag)."""
    if client.is_reconnecting or client.is_connecting:
        return True
    reading: asyncio.Task[None] | None = getattr(client, "_reading_task", None)
    return reading is not None and not reading.done()


class NatsSupervisor:
    def __init__(
        self,
        connect: Callable[[], Awaitable[NatsClient]],
        *,
        probe_timeout_seconds: float,
        probe_interval_seconds: float,
        replace_after_seconds: float,
    ) -> None:
        self._connect = connect
        self._probe_timeout = probe_timeout_seconds
        self._interval = probe_interval_seconds
        self._replace_after = replace_after_seconds
        self._client: NatsClient | None = None
        self._connected = asyncio.Event()
        self._interruption = asyncio.Event()
        self._last_answer = time.monotonic()
        self.healthy = False
        self.replacements = 0
        self.last_replacement: str | None = None

    @property
    def client(self) -> NatsClient:
        """The live client; 503 while there is none or its last probe failed."""
        client = self._client
        if client is None or not client.is_connected:
            raise DependencyUnavailableError("nats")
        if not self.healthy:
            raise DependencyUnavailableError("nats", "nats does not answer; try again shortly")
        return client

    async def wait_for_client(self) -> NatsClient:
        await self._connected.wait()
        assert self._client is not None
        return self._client

    def interruption(self) -> asyncio.Event:
        """Set when the current client next stops answering (or is replaced)."""
        return self._interruption

    async def probe(self) -> None:
        """Raise ``NatsUnavailableError`` unless NATS answers through the client in time."""
        client = self._client
        if client is None:
            raise NatsUnavailableError("not connected yet")
        if client.is_closed:
            raise NatsUnavailableError("client closed", dead=True)
        if not read_loop_alive(client):
            raise NatsUnavailableError("client read loop stopped", dead=True)
        if not client.is_connected:
            raise NatsUnavailableError("reconnecting")
        try:
            await client.jetstream(timeout=self._probe_timeout).account_info()
        except (NatsError, TimeoutError) as error:
            raise NatsUnavailableError(f"no answer ({type(error).__name__})") from error
        self._last_answer = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, then probe until ``stop`` is set, replacing the client when it is dead."""
        self._client = await until_connected(self._connect, "nats")
        self._connected.set()
        self.healthy = True
        self._last_answer = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
            if stop.is_set():
                return
            await self._check()

    async def _check(self) -> None:
        try:
            await self.probe()
        except NatsUnavailableError as error:
            self._interrupt(error.reason)
            silent = time.monotonic() - self._last_answer
            if error.dead or silent >= self._replace_after:
                await self._replace(error.reason)
            return
        if not self.healthy:
            log.info("nats answers again")
            self.healthy = True

    def _interrupt(self, reason: str) -> None:
        if self.healthy:
            log.warning("nats: %s; live streams end, readiness fails", reason)
        self.healthy = False
        self._interruption.set()
        self._interruption = asyncio.Event()

    async def _replace(self, reason: str) -> None:
        old = self._client
        log.error("nats client replaced (%s)", reason)
        self._connected.clear()
        if old is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(old.close(), CLOSE_SECONDS)
        self._client = await until_connected(self._connect, "nats")
        self.replacements += 1
        self.last_replacement = reason
        self._last_answer = time.monotonic()
        self._connected.set()

    async def close(self) -> None:
        client = self._client
        if client is not None and not client.is_closed:
            await client.drain()

"""How long idle HTTP connections between the platform's own processes stay open.

A client that sends a request on a connection the server is closing at that very moment gets a
transport error and no answer (a 503 for the caller, seen on a test run): the client must give up
an idle connection before the server does. uvicorn's own default (5 s) equals httpx's, which
makes that race likely under load.
"""

import asyncio
import ssl

import httpx

SERVER_KEEP_ALIVE_SECONDS = 30
CLIENT_KEEP_ALIVE_SECONDS = 20


def internal_limits(connections: int) -> httpx.Limits:
    """A pool of up to ``connections`` kept-alive connections to the platform's own services."""
    return httpx.Limits(
        max_connections=connections,
        max_keepalive_connections=connections,
        keepalive_expiry=CLIENT_KEEP_ALIVE_SECONDS,
    )


class ConnectionLanes:
    """Kept-alive connections to one service, each an ``httpx.AsyncClient`` of one connection,
    lent to one request at a time: at most ``size`` at once, the most recently returned first
    (its connection is the likeliest still open); a request beyond ``size`` waits for one.

    One client holding all the connections would do the same, but httpcore's pool looks at every
    connection it holds on every request (each one's expiry and socket): with the 64 a service
    needs under load, that was the gateway's largest cost per forwarded read (py-spy, issue 18:
    over 40 % of its CPU).
    """

    def __init__(self, size: int, timeout: float) -> None:
        self._size = size
        self._timeout = timeout
        self._free = asyncio.Semaphore(size)
        self._idle: list[httpx.AsyncClient] = []
        self._opened: list[httpx.AsyncClient] = []
        # Shared by every lane: a client would otherwise load its own CA bundle.
        self._tls = ssl.create_default_context()

    async def acquire(self) -> httpx.AsyncClient:
        """A lane for one request; give it back with ``release`` once its answer is read."""
        await self._free.acquire()
        if self._idle:
            return self._idle.pop()
        lane = httpx.AsyncClient(timeout=self._timeout, verify=self._tls, limits=internal_limits(1))
        self._opened.append(lane)
        return lane

    def release(self, lane: httpx.AsyncClient) -> None:
        self._idle.append(lane)
        self._free.release()

    def detach(self) -> None:
        """The lane just acquired now serves a long answer (a streamed file): it stops counting
        against ``size`` at once, so that an answer never read to its end cannot hold a place
        for ever; ``return_detached`` takes it back once its answer is closed."""
        self._free.release()

    async def return_detached(self, lane: httpx.AsyncClient) -> None:
        if len(self._idle) < self._size:
            self._idle.append(lane)
            return
        self._opened.remove(lane)
        await lane.aclose()

    async def aclose(self) -> None:
        for lane in self._opened:
            await lane.aclose()

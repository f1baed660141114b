"""The demo's people wait when the gateway asks them to: a ``429``'s ``Retry-After`` is honoured
before the request is sent again. The demo writes in bursts (a phase's tasks and deliverables
at once), and a fast platform can take them quicker than a caller's write budget allows."""

from __future__ import annotations

import asyncio

import httpx

# Waits before the gateway's refusal is given to the demo as it came.
MAX_WAITS = 5
# When a 429 names no delay in seconds (it always does: shared/errors.py).
DEFAULT_WAIT_SECONDS = 1.0


class PatientTransport(httpx.AsyncBaseTransport):
    """``inner``, sending a request again after a ``429``'s ``Retry-After``, up to
    ``MAX_WAITS`` times."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(MAX_WAITS):
            response = await self.inner.handle_async_request(request)
            if response.status_code != 429:
                return response
            await response.aread()
            await response.aclose()
            await asyncio.sleep(_seconds(response.headers.get("retry-after")))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def _seconds(retry_after: str | None) -> float:
    """``Retry-After`` as delay-seconds (the gateway's form); anything else waits a second."""
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after.strip())
    return DEFAULT_WAIT_SECONDS

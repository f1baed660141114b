"""The organisation's live events: the Server-Sent Events stream and its frames."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from engage.demo.run import DemoError, Frame


async def sse_frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Parse a ``text/event-stream``: fields until a blank line; comments (keep-alives) skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = fields.get(name, "") + value.removeprefix(" ")
            continue
        if "data" in fields:
            yield Frame(fields.get("id", ""), fields.get("event", ""), json.loads(fields["data"]))
        fields = {}


@asynccontextmanager
async def event_stream(
    client: httpx.AsyncClient, organization_id: str, headers: dict[str, str], last_id: str | None
) -> AsyncIterator[httpx.Response]:
    """The organisation's live events, after ``last_id`` when resuming."""
    resume = {"Last-Event-ID": last_id} if last_id else {}
    async with client.stream(
        "GET",
        "/v1/stream",
        params={"organization_id": organization_id},
        headers={**headers, **resume, "Accept": "text/event-stream"},
        timeout=httpx.Timeout(10, read=None),
    ) as response:
        if response.status_code != 200:
            await response.aread()
            raise DemoError(f"the event stream refused: {response.status_code} {response.text}")
        yield response

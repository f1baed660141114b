"""NATS stalled (SIGSTOP) under the real gateway: readiness probes do not break its client and
tell the truth, open streams end with ``stream.interrupted``, and once NATS is back every stream,
reopened as a client does (``Last-Event-ID``), delivers again within 10 s. A client whose read
loop died (nats-io/nats.py#624, what the old ``flush`` check did) is replaced."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.errors import FlushTimeoutError

from services.gateway.app import build_app
from shared.auth import Role, issue_dev_token
from shared.events.supervisor import NatsSupervisor, read_loop_alive
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.conftest import _serve, free_port, wait_until
from tests.events_helpers import OwnNats, own_nats
from tests.test_streams import Frame, SseClient, publish

CHECK_TIMEOUT_SECONDS = 1.0
STALL_SECONDS = 4 * CHECK_TIMEOUT_SECONDS
BACK_WITHIN_SECONDS = 10.0


@dataclass
class Gateway:
    app: FastAPI
    http: httpx.AsyncClient
    settings: Settings

    @property
    def supervisor(self) -> NatsSupervisor:
        runtime: ServiceRuntime = self.app.state.runtime
        return runtime.nats_supervisor

    def auth(self, role: Role, orgs: list[str]) -> dict[str, str]:
        token = issue_dev_token(self.settings, "stall-tester", [role], orgs)
        return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def gateway_on(nats: OwnNats) -> AsyncIterator[Gateway]:
    """The real gateway, its NATS the test's own server, checked every quarter second."""
    settings = nats.settings.model_copy(
        update={
            "dependency_timeout_seconds": CHECK_TIMEOUT_SECONDS,
            "events": nats.events.model_copy(update={"nats_probe_interval_seconds": 0.25}),
            "ports": nats.settings.ports.model_copy(update={"gateway": free_port()}),
        }
    )
    app = build_app(settings)
    server, task = await _serve(app, settings.ports.gateway)
    http = httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.ports.gateway}", timeout=10, trust_env=False
    )
    try:
        yield Gateway(app, http, settings)
    finally:
        await http.aclose()
        server.should_exit = True
        await task


class OpenStream:
    """One SSE connection, read in the background as a browser would."""

    def __init__(self, stack: AsyncExitStack, response: httpx.Response) -> None:
        self._stack = stack
        self.client = SseClient(response.aiter_lines())

    async def until(self, event: str) -> Frame:
        while True:
            frame = await self.client.next_frame()
            if frame.event == event or frame.cloud_event.id == event:
                return frame


async def open_stream(
    stack: AsyncExitStack, gateway: Gateway, headers: dict[str, str], last_event_id: str | None
) -> OpenStream:
    if last_event_id is not None:
        headers = {**headers, "Last-Event-ID": last_event_id}
    response = await stack.enter_async_context(
        gateway.http.stream("GET", "/v1/stream", headers=headers)
    )
    assert response.status_code == 200, (await response.aread()).decode()
    return OpenStream(stack, response)


async def reopen_until_open(
    stack: AsyncExitStack, gateway: Gateway, headers: dict[str, str], last_event_id: str
) -> OpenStream:
    """What a client does after ``stream.interrupted``: try again until the stream opens
    (a 503 problem while NATS is not answering yet)."""
    while True:
        request = gateway.http.build_request(
            "GET", "/v1/stream", headers={**headers, "Last-Event-ID": last_event_id}
        )
        response = await gateway.http.send(request, stream=True)
        if response.status_code == 200:
            stack.push_async_callback(response.aclose)
            return OpenStream(stack, response)
        body = (await response.aread()).decode()
        await response.aclose()
        assert response.status_code == 503, body
        assert response.headers["content-type"] == "application/problem+json"
        assert "retry-after" in response.headers
        await asyncio.sleep(0.2)


async def readiness(gateway: Gateway) -> tuple[int, str]:
    response = await gateway.http.get("/readyz")
    body = response.json()
    return response.status_code, (body.get("checks") or {}).get("nats", "")


async def stall_while_probing(nats: OwnNats, gateway: Gateway) -> list[tuple[int, str, float]]:
    """SIGSTOP NATS for ``STALL_SECONDS`` while a prober asks ``/readyz`` again and again."""
    seen: list[tuple[int, str, float]] = []
    nats.pause()
    try:
        deadline = time.monotonic() + STALL_SECONDS
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, check = await readiness(gateway)
            seen.append((status, check, time.monotonic() - started))
    finally:
        nats.resume()
    return seen


@pytest.fixture
async def stalled_nats(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[OwnNats, NatsClient]]:
    async with own_nats(settings, tmp_path) as (nats, client):
        yield nats, client


async def test_readiness_during_a_stall_keeps_the_client_and_every_stream_comes_back(
    stalled_nats: tuple[OwnNats, NatsClient],
) -> None:
    nats, client = stalled_nats
    js, events = client.jetstream(), nats.events
    organization_id = str(uuid.uuid4())
    async with gateway_on(nats) as gateway, AsyncExitStack() as stack:
        await wait_until(lambda: readiness_is(gateway, 200, "ok"), timeout=15)
        gateway_client = await gateway.app.state.runtime.wait_for_nats()
        callers = {
            "agency": gateway.auth(Role.MANAGER, ["*"]),
            "client": gateway.auth(Role.CLIENT_VIEWER, [organization_id]),
        }
        streams = {name: await open_stream(stack, gateway, h, None) for name, h in callers.items()}
        before, _ = await publish(js, events, "test.before", {"organization_id": organization_id})
        last_ids = {name: (await s.until(before.id)).id for name, s in streams.items()}

        probes = await stall_while_probing(nats, gateway)
        resumed_at = time.monotonic()

        # Every probe during the stall said so, each within the check's timeout, none hung.
        assert probes
        assert all(status == 503 for status, _, _ in probes), probes
        assert all(check.startswith("unavailable") for _, check, _ in probes), probes
        assert max(took for _, _, took in probes) < CHECK_TIMEOUT_SECONDS + 1.0, probes
        # The open streams said why they ended, so their clients come back.
        for stream in streams.values():
            async with asyncio.timeout(5):
                interrupted = await stream.until("stream.interrupted")
            assert interrupted.id is None
            assert interrupted.cloud_event.type == "engage.stream.interrupted.v1"

        after, _ = await publish(js, events, "test.after", {"organization_id": organization_id})
        async with asyncio.timeout(BACK_WITHIN_SECONDS):
            for name, headers in callers.items():
                reopened = await reopen_until_open(stack, gateway, headers, last_ids[name] or "")
                await reopened.until(after.id)
        back_after = time.monotonic() - resumed_at

        assert await readiness(gateway) == (200, "ok")
        # The probes did not break the client: the same one, still reading.
        assert await gateway.app.state.runtime.wait_for_nats() is gateway_client
        assert read_loop_alive(gateway_client)
        assert gateway.supervisor.replacements == 0
    assert back_after < BACK_WITHIN_SECONDS


async def test_a_client_whose_read_loop_died_is_replaced_and_streams_resume(
    stalled_nats: tuple[OwnNats, NatsClient],
) -> None:
    """The fault probe's failure, made on purpose: a ``flush`` that times out during the stall
    (what ``/readyz`` used to do) kills the client's read loop once NATS answers its PING."""
    nats, client = stalled_nats
    js, events = client.jetstream(), nats.events
    organization_id = str(uuid.uuid4())
    async with gateway_on(nats) as gateway, AsyncExitStack() as stack:
        await wait_until(lambda: readiness_is(gateway, 200, "ok"), timeout=15)
        broken = await gateway.app.state.runtime.wait_for_nats()
        headers = gateway.auth(Role.CLIENT_VIEWER, [organization_id])
        stream = await open_stream(stack, gateway, headers, None)
        before, _ = await publish(js, events, "test.before", {"organization_id": organization_id})
        last_id = (await stream.until(before.id)).id

        nats.pause()
        try:
            with pytest.raises(FlushTimeoutError):
                await broken.flush(timeout=1)
        finally:
            nats.resume()
        resumed_at = time.monotonic()

        async with asyncio.timeout(5):
            await stream.until("stream.interrupted")
        async with asyncio.timeout(BACK_WITHIN_SECONDS):
            await wait_until(lambda: asyncio.sleep(0, result=gateway.supervisor.replacements == 1))
            after, _ = await publish(js, events, "test.after", {"organization_id": organization_id})
            reopened = await reopen_until_open(stack, gateway, headers, last_id or "")
            await reopened.until(after.id)
        back_after = time.monotonic() - resumed_at

        # Replaced for its dead read loop (the stall was far shorter than the silence that
        # replaces a client that still reads).
        assert gateway.supervisor.last_replacement == "client read loop stopped"
        replacement = await gateway.app.state.runtime.wait_for_nats()
        assert replacement is not broken
        assert read_loop_alive(replacement)
        assert await readiness(gateway) == (200, "ok")
    assert back_after < BACK_WITHIN_SECONDS


async def readiness_is(gateway: Gateway, status: int, check: str) -> bool:
    return await readiness(gateway) == (status, check)

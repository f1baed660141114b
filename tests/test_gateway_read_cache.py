"""The gateway's read cache (``services/gateway/read_cache.py``): a service's answer is given back
only to the token it was computed for, for at most ``read_cache_seconds``, and never after a
write through the gateway; identical misses share one call to the service."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
from fastapi import APIRouter, HTTPException
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import BaseModel

from services.gateway.app import build_app as build_gateway
from services.gateway.forwarding import ServiceApi
from services.gateway.read_cache import (
    MAX_ANSWER_BYTES,
    Kept,
    ReadCache,
    cache_key,
)
from services.gateway.streams import EventFeed
from services.listening.app import ROUTERS as LISTENING_ROUTERS
from shared.app import create_service_app
from shared.auth import CurrentPrincipal, Role, issue_dev_token
from shared.events.envelope import CloudEvent, new_event
from shared.permissions import EVERYONE, PERMISSIONS
from shared.runtime import ServiceRuntime
from shared.settings import Settings
from tests.conftest import Platform, _serve, free_port
from tests.engagement_helpers import started_engagement, stored_engagement
from tests.test_gateway_tenancy import new_org
from tests.test_thin_thread import create_org
from workflows.engagement.messages import PAUSE_UPDATE, Actor, ControlOutcome, ControlRequest


class Note(BaseModel):
    name: str
    text: str
    owner: str


class NoteText(BaseModel):
    text: str


class Filler(BaseModel):
    filler: str


@dataclass
class Probe:
    """The notes a probe service holds, each owned by a token subject, and the reads it got."""

    notes: dict[str, Note]
    reads: Counter[str]
    # Held closed, a read of the note "slow" waits for it.
    slow: asyncio.Event


probe = Probe({}, Counter(), asyncio.Event())
probes = APIRouter(prefix="/listening/probes", tags=["listening"])


@probes.get("/notes/{name}", response_model=Note, summary="A note (its owner only)")
async def read_probe_note(name: str, principal: CurrentPrincipal) -> Note:
    probe.reads[name] += 1
    if name == "slow":
        await probe.slow.wait()
    note = probe.notes.get(name)
    # Another owner's note answers as one that does not exist, as the services' do.
    if note is None or note.owner != principal.subject:
        raise HTTPException(404, "no such note")
    return note


@probes.put("/notes/{name}", response_model=Note, summary="Write a note (any role)")
async def write_probe_note(name: str, body: NoteText, principal: CurrentPrincipal) -> Note:
    probe.notes[name] = Note(name=name, text=body.text, owner=principal.subject)
    return probe.notes[name]


@probes.get("/large", response_model=Filler, summary="A large answer (any role)")
async def read_probe_large() -> Filler:
    probe.reads["large"] += 1
    return Filler(filler="x" * MAX_ANSWER_BYTES)


@dataclass
class Servers:
    gateway: httpx.AsyncClient
    service: httpx.AsyncClient
    settings: Settings

    def auth(self, subject: str) -> dict[str, str]:
        token = issue_dev_token(self.settings, subject, [Role.MANAGER], ["*"])
        return {"Authorization": f"Bearer {token}"}


async def probe_servers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, read_cache_seconds: float
) -> AsyncIterator[Servers]:
    for operation in ("readProbeNote", "writeProbeNote", "readProbeLarge"):
        monkeypatch.setitem(PERMISSIONS, operation, EVERYONE)
    probe.notes.clear()
    probe.reads.clear()
    probe.slow = asyncio.Event()
    routers = [*LISTENING_ROUTERS, probes]
    port, gateway_port = free_port(), free_port()
    urls = settings.service_urls.model_copy(update={"listening": f"http://127.0.0.1:{port}"})
    gateway_settings = settings.gateway.model_copy(
        update={"read_cache_seconds": read_cache_seconds}
    )
    scoped = settings.model_copy(update={"service_urls": urls, "gateway": gateway_settings})
    service = create_service_app(
        ServiceRuntime("listening", scoped, database=False), routers, title="listening"
    )
    gateway = build_gateway(scoped, [ServiceApi("listening", routers)])
    servers = [await _serve(service, port), await _serve(gateway, gateway_port)]
    try:
        async with (
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway_port}/v1") as through_gateway,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as direct,
        ):
            yield Servers(through_gateway, direct, scoped)
    finally:
        probe.slow.set()
        for server, task in servers:
            server.should_exit = True
            await task


@pytest.fixture
async def cached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Servers]:
    async for servers in probe_servers(settings, monkeypatch, read_cache_seconds=1.0):
        yield servers


@pytest.fixture
async def uncached(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Servers]:
    async for servers in probe_servers(settings, monkeypatch, read_cache_seconds=0):
        yield servers


async def write(client: httpx.AsyncClient, auth: dict[str, str], name: str, text: str) -> None:
    written = await client.put(f"/listening/probes/notes/{name}", json={"text": text}, headers=auth)
    assert written.status_code == 200, written.text


async def test_a_read_is_answered_again_from_the_cache_to_its_token_only(cached: Servers) -> None:
    anna, bruno = cached.auth("anna"), cached.auth("bruno")
    await write(cached.gateway, anna, "plan", "draft")

    first = await cached.gateway.get("/listening/probes/notes/plan", headers=anna)
    again = await cached.gateway.get("/listening/probes/notes/plan", headers=anna)
    others = await cached.gateway.get("/listening/probes/notes/plan", headers=bruno)

    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    # The same headers as the service's answer, and no more of the gateway's own.
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["content-length"] == first.headers["content-length"]
    assert "age" not in again.headers
    assert others.status_code == 404, others.text
    # Anna's second read was the cache's; Bruno's reached the service, which refused it.
    assert probe.reads["plan"] == 2


async def test_a_write_through_the_gateway_is_read_back_at_once(cached: Servers) -> None:
    anna = cached.auth("anna")
    await write(cached.gateway, anna, "plan", "draft")
    before = await cached.gateway.get("/listening/probes/notes/plan", headers=anna)

    await write(cached.gateway, anna, "plan", "approved")
    after = await cached.gateway.get("/listening/probes/notes/plan", headers=anna)

    assert before.json()["text"] == "draft"
    assert after.json()["text"] == "approved"


async def test_a_change_made_elsewhere_is_visible_within_read_cache_seconds(
    cached: Servers,
) -> None:
    anna = cached.auth("anna")
    max_age = cached.settings.gateway.read_cache_seconds
    await write(cached.gateway, anna, "plan", "draft")
    assert (await cached.gateway.get("/listening/probes/notes/plan", headers=anna)).status_code
    # Written at the service itself: this gateway does not know of it.
    await write(cached.service, anna, "plan", "approved")
    changed_at = time.monotonic()

    stale_sent_at: list[float] = []
    fresh_sent_at: list[float] = []
    while time.monotonic() < changed_at + max_age + 0.3:
        sent_at = time.monotonic()
        text = (await cached.gateway.get("/listening/probes/notes/plan", headers=anna)).json()
        (fresh_sent_at if text["text"] == "approved" else stale_sent_at).append(sent_at)
        await asyncio.sleep(0.02)

    # The kept answer was asked for before the change, so it expires before
    # ``changed_at + max_age``: no stale answer to a read sent after that, and every read sent
    # after it is fresh (the clock is the gateway's own, in this process).
    assert stale_sent_at, "the answer kept before the change was never served"
    assert max(stale_sent_at) < changed_at + max_age
    assert [at for at in fresh_sent_at if at >= changed_at + max_age]
    assert min(fresh_sent_at) <= changed_at + max_age + 0.3


async def test_refusals_and_large_answers_are_not_kept(cached: Servers) -> None:
    anna = cached.auth("anna")
    for _ in range(2):
        missing = await cached.gateway.get("/listening/probes/notes/missing", headers=anna)
        assert missing.status_code == 404
        large = await cached.gateway.get("/listening/probes/large", headers=anna)
        assert large.status_code == 200
        assert len(large.content) > MAX_ANSWER_BYTES

    assert probe.reads["missing"] == 2
    assert probe.reads["large"] == 2


async def test_identical_reads_that_miss_together_make_one_call(cached: Servers) -> None:
    anna = cached.auth("anna")
    # Written at the service: a write through the gateway empties the cache again once it is
    # answered, which may come after the reads below have started (each would then call).
    await write(cached.service, anna, "slow", "held")
    probe.reads.clear()

    reads = [
        asyncio.create_task(cached.gateway.get("/listening/probes/notes/slow", headers=anna))
        for _ in range(10)
    ]
    async with asyncio.timeout(10):
        while probe.reads["slow"] == 0:
            await asyncio.sleep(0.01)
    # While the first call is held, the others wait for it instead of calling the service.
    await asyncio.sleep(0.3)
    assert probe.reads["slow"] == 1
    probe.slow.set()
    answers = await asyncio.gather(*reads)

    assert [answer.status_code for answer in answers] == [200] * 10
    assert {answer.json()["text"] for answer in answers} == {"held"}
    assert probe.reads["slow"] == 1


async def test_with_read_cache_seconds_0_every_read_reaches_the_service(
    uncached: Servers,
) -> None:
    anna = uncached.auth("anna")
    await write(uncached.gateway, anna, "plan", "draft")
    for _ in range(3):
        answer = await uncached.gateway.get("/listening/probes/notes/plan", headers=anna)
        assert answer.status_code == 200

    assert probe.reads["plan"] == 3


async def test_another_organisations_principal_never_gets_a_kept_answer(
    platform: Platform,
) -> None:
    """On the platform: A's forwarded and composed reads, kept, then B's token on A's ids."""
    organization_a, organization_b = (
        await new_org(platform, "Cantina A"),
        await new_org(platform, "Cantina B"),
    )
    engagement_id = await stored_engagement(platform, organization_a)
    # Without the platform client's "no-cache": answers a second old are fine here.
    reader_a = {**platform.auth(Role.CLIENT_VIEWER, orgs=[organization_a]), **MAY_BE_KEPT}
    reader_b = {**platform.auth(Role.CLIENT_VIEWER, orgs=[organization_b]), **MAY_BE_KEPT}

    for path in (f"/v1/organizations/{organization_a}", f"/v1/engagements/{engagement_id}"):
        for _ in range(2):
            answer = await platform.gateway.get(path, headers=reader_a)
            assert answer.status_code == 200, answer.text
        refused = await platform.gateway.get(path, headers=reader_b)
        assert refused.status_code == 404, (path, refused.text)


MAY_BE_KEPT = {"Cache-Control": "max-age=1"}


async def test_a_read_asking_for_no_cache_reaches_the_service(cached: Servers) -> None:
    anna = cached.auth("anna")
    await write(cached.gateway, anna, "plan", "draft")
    probe.reads.clear()
    for _ in range(2):
        answer = await cached.gateway.get("/listening/probes/notes/plan", headers=anna)
        assert answer.status_code == 200, answer.text
    assert probe.reads["plan"] == 1
    fresh = {**anna, "Cache-Control": "no-cache"}
    answer = await cached.gateway.get("/listening/probes/notes/plan", headers=fresh)
    assert answer.status_code == 200, answer.text
    assert probe.reads["plan"] == 2


async def test_the_engagement_detail_is_kept_and_a_change_elsewhere_shows_within_a_second(
    platform: Platform,
) -> None:
    # A gateway of its own that queries the workflow for every detail it composes: an answer
    # older than the change can then only come from the kept composed answer.
    gateway_settings = platform.settings.gateway.model_copy(
        update={"live_state_max_age_seconds": 0, "read_cache_seconds": 1.0}
    )
    port = free_port()
    server, serving = await _serve(
        build_gateway(platform.settings.model_copy(update={"gateway": gateway_settings})), port
    )
    organization_id = await create_org(platform)
    engagement = await started_engagement(platform, organization_id)
    reader = {**platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]), **MAY_BE_KEPT}
    max_age = gateway_settings.read_cache_seconds
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as gateway:

            async def status(**headers: str) -> str:
                answer = await gateway.get(
                    f"/v1/engagements/{engagement['id']}", headers={**reader, **headers}
                )
                assert answer.status_code == 200, answer.text
                state = answer.json()["state"]
                return str(state["status"]) if state is not None else "not started"

            async with asyncio.timeout(30):
                while await status() != "running":
                    await asyncio.sleep(0.1)
            # Paused through Temporal itself: the gateway neither sent nor saw the change.
            staff = Actor(subject="ops", roles=[Role.ADMIN], all_organizations=True)
            await platform.temporal.get_workflow_handle(engagement["workflow_id"]).execute_update(
                PAUSE_UPDATE, ControlRequest(actor=staff), result_type=ControlOutcome
            )
            changed_at = time.monotonic()

            stale_sent_at: list[float] = []
            fresh_sent_at: list[float] = []
            while time.monotonic() < changed_at + max_age + 0.3:
                sent_at = time.monotonic()
                (fresh_sent_at if await status() == "paused" else stale_sent_at).append(sent_at)
                await asyncio.sleep(0.02)
            asked_afresh = await status(**{"Cache-Control": "no-cache"})
    finally:
        server.should_exit = True
        await serving

    # The answer kept from before the change was given again, never once a second had passed
    # since the change, and every read sent after that saw it.
    assert stale_sent_at, "the engagement read before the change was never given again"
    assert max(stale_sent_at) < changed_at + max_age
    assert [at for at in fresh_sent_at if at >= changed_at + max_age]
    assert asked_afresh == "paused"


class _Subscription:
    """A stream's messages one after the other, then silence."""

    def __init__(self, messages: list[SimpleNamespace]) -> None:
        self._messages = messages

    async def next_msg(self, timeout: float) -> SimpleNamespace:
        if self._messages:
            return self._messages.pop(0)
        raise NatsTimeoutError


def _message(sequence: int, event: CloudEvent) -> SimpleNamespace:
    return SimpleNamespace(
        data=event.model_dump_json().encode(),
        subject="engage.strategy.engagement_updated",
        metadata=SimpleNamespace(sequence=SimpleNamespace(stream=sequence)),
    )


async def test_an_event_sent_to_a_live_page_empties_the_cache_before_it_arrives() -> None:
    # A page refreshes what an event announces as soon as the event arrives: an answer kept
    # from before the event would show the old state until the next event.
    cache = ReadCache(1.0)
    emptied_when_sent: list[int] = []
    shown = new_event("strategy.engagement_updated", {"show": True}, source="test")
    hidden = new_event("strategy.engagement_updated", {"show": False}, source="test")
    interruption = asyncio.Event()
    feed = EventFeed(
        _Subscription([_message(1, hidden), _message(2, shown)]),  # type: ignore[arg-type]
        lambda event: bool(event.data["show"]),
        heartbeat_seconds=60,
        interruption=interruption,
        on_event=cache.clear,
    )
    key = cache_key("token", "GET", "/engagements/1")
    kept = Kept(b"{}", (("content-type", "application/json"),))

    async def answer() -> tuple[str, Kept]:
        return "from the service", kept

    await cache.read(key, answer)
    assert len(cache) == 1
    async for frame in feed.frames():
        if b"id: 2" in frame:
            emptied_when_sent.append(len(cache))
            interruption.set()
    assert emptied_when_sent == [0]

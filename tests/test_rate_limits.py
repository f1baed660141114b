"""Per-principal rate limits at the gateway: a token bucket per caller (the verified token's
subject, else the client address) and route class; 429 problem+json with ``Retry-After`` past
it; health probes never limited; a bounded number of buckets whatever the callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from services.gateway.api import SERVICE_APIS, v1_routers
from services.gateway.app import build_app as build_gateway
from services.gateway.forwarding import declared_routes
from services.gateway.rate_limit import RateLimit, TokenBuckets, classify_by_route
from shared.auth import Principal, Role, TokenVerifier, issue_dev_token
from shared.settings import RateLimitSettings, Settings, TokenBucketSettings
from tests.conftest import Platform
from tests.test_content_media import png
from tests.test_errors import assert_problem


async def new_org(platform: Platform, name: str = "Agriturismo La Quercia") -> str:
    """A client organisation, created by an agency admin."""
    created = await platform.gateway.post(
        "/v1/organizations", json={"name": name}, headers=platform.auth(Role.ADMIN)
    )
    assert created.status_code == 201, created.text
    organization_id: str = created.json()["id"]
    return organization_id


GENEROUS = TokenBucketSettings(per_second=1000.0, burst=1000)


def limits(**changes: Any) -> RateLimitSettings:
    return RateLimitSettings(
        **{"read": GENEROUS, "write": GENEROUS, "upload": GENEROUS, "stream": GENEROUS, **changes}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def limited_gateway(
    settings: Settings, rate_limits: RateLimitSettings, clock: Clock | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A gateway of these limits, in process, in front of the platform's services; its buckets
    on ``clock`` when given (the services' answers take what they take on a busy machine)."""
    limited = settings.model_copy(
        update={"gateway": settings.gateway.model_copy(update={"rate_limits": rate_limits})}
    )
    app = build_gateway(limited)
    if clock is not None:
        app.middleware_stack = app.build_middleware_stack()
        rate_limit_of(app).buckets = TokenBuckets(rate_limits.max_buckets, clock=clock)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", timeout=30
    ) as client:
        yield app, client


def bearer(settings: Settings, subject: str, organization_id: str) -> dict[str, str]:
    token = issue_dev_token(settings, subject, [Role.MANAGER], [organization_id])
    return {"Authorization": f"Bearer {token}"}


def rate_limit_of(app: FastAPI) -> RateLimit:
    """The app's rate-limit middleware (Starlette builds the stack on the first request)."""
    layer: Any = app.middleware_stack
    while layer is not None and not isinstance(layer, RateLimit):
        layer = getattr(layer, "app", None)
    assert isinstance(layer, RateLimit)
    return layer


# The buckets, on a clock of the test's own


def test_a_bucket_allows_its_burst_then_refuses_until_it_refills() -> None:
    clock = Clock()
    buckets = TokenBuckets(max_buckets=10, clock=clock)
    policy = TokenBucketSettings(per_second=2.0, burst=3)

    verdicts = [buckets.take(("read", "sub:ada"), policy) for _ in range(4)]

    assert [verdict.allowed for verdict in verdicts] == [True, True, True, False]
    assert verdicts[2].remaining == 0
    assert verdicts[3].retry_after_seconds == 1
    assert buckets.take(("read", "sub:bob"), policy).allowed
    clock.now += 0.5
    assert buckets.take(("read", "sub:ada"), policy).allowed
    assert not buckets.take(("read", "sub:ada"), policy).allowed


def test_a_slow_refill_asks_for_a_whole_number_of_seconds() -> None:
    buckets = TokenBuckets(max_buckets=10, clock=Clock())
    policy = TokenBucketSettings(per_second=0.1, burst=1)

    assert buckets.take(("upload", "addr:198.51.100.1"), policy).allowed
    refused = buckets.take(("upload", "addr:198.51.100.1"), policy)

    assert not refused.allowed
    assert refused.retry_after_seconds == 10
    assert dict(refused.headers())[b"retry-after"] == b"10"


def test_a_flood_of_callers_never_keeps_more_than_max_buckets() -> None:
    clock = Clock()
    buckets = TokenBuckets(max_buckets=100, clock=clock)
    policy = TokenBucketSettings(per_second=1.0, burst=5)

    for caller in range(10_000):
        buckets.take(("read", f"addr:{caller}"), policy)
        assert len(buckets) <= 100
    assert len(buckets) == 100


def test_buckets_that_refilled_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets(max_buckets=100, clock=clock)
    policy = TokenBucketSettings(per_second=1.0, burst=5)
    for caller in range(20):
        buckets.take(("read", f"addr:{caller}"), policy)

    clock.now += 60
    for _ in range(20):
        buckets.take(("read", "sub:active"), policy)

    assert len(buckets) == 1


@pytest.mark.parametrize(
    ("method", "path", "route_class"),
    [
        ("GET", "/v1/stream", "stream"),
        ("GET", "/v1/engagements/7f1c1f4e-0c55-4d2a-9a57-4f3f3c1c2f10/stream", "stream"),
        ("POST", "/v1/media", "upload"),
        ("POST", "/v1/content-items/import", "upload"),
        ("POST", "/v1/listening/sources/7f1c1f4e-0c55-4d2a-9a57-4f3f3c1c2f10/imports", "upload"),
        ("GET", "/v1/media/7f1c1f4e-0c55-4d2a-9a57-4f3f3c1c2f10/content", "read"),
        ("GET", "/v1/engagements", "read"),
        ("POST", "/v1/engagements", "write"),
        ("DELETE", "/v1/media/7f1c1f4e-0c55-4d2a-9a57-4f3f3c1c2f10", "write"),
    ],
)
def test_each_route_falls_in_its_class(method: str, path: str, route_class: str) -> None:
    routes = declared_routes(v1_routers(SERVICE_APIS))
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}

    assert classify_by_route(routes)(scope) == route_class


# The gateway, in front of the platform's services


async def test_a_burst_over_the_limit_is_429_problem_with_retry_after_and_others_go_on(
    platform: Platform,
) -> None:
    organization_id = await new_org(platform)
    ada = bearer(platform.settings, "ada", organization_id)
    bob = bearer(platform.settings, "bob", organization_id)
    read = TokenBucketSettings(per_second=0.5, burst=3)
    async with limited_gateway(platform.settings, limits(read=read), Clock()) as (_, gateway):
        answers = [await gateway.get("/v1/organizations", headers=ada) for _ in range(4)]
        other = await gateway.get("/v1/organizations", headers=bob)
        write = await gateway.post("/v1/organizations", json={"name": "Altro"}, headers=ada)

    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert answers[0].headers["RateLimit-Remaining"] == "2"
    body = assert_problem(answers[3], 429, "rate-limited")
    assert body["route_class"] == "read"
    assert answers[3].headers["Retry-After"].isdigit()
    assert answers[3].headers["Retry-After"] == "2"
    assert answers[3].headers["RateLimit-Remaining"] == "0"
    # Another principal has a bucket of its own; a write is another class (the caller's role
    # decides what becomes of it).
    assert other.status_code == 200, other.text
    assert write.status_code in {201, 403}, write.text


async def test_the_bucket_refills(platform: Platform) -> None:
    organization_id = await new_org(platform)
    ada = bearer(platform.settings, "ada", organization_id)
    read = TokenBucketSettings(per_second=10.0, burst=2)
    clock = Clock()
    async with limited_gateway(platform.settings, limits(read=read), clock) as (_, gateway):
        burst = [(await gateway.get("/v1/organizations", headers=ada)).status_code for _ in "abc"]
        clock.now += 0.1
        refilled = [(await gateway.get("/v1/organizations", headers=ada)).status_code for _ in "ab"]

    assert burst == [200, 200, 429]
    assert refilled == [200, 429]


async def test_health_probes_are_never_limited(platform: Platform) -> None:
    tiny = TokenBucketSettings(per_second=0.01, burst=1)
    async with limited_gateway(platform.settings, limits(read=tiny), Clock()) as (_, gateway):
        probes = [await gateway.get(path) for path in ("/healthz", "/readyz") * 5]
        limited = [await gateway.get("/v1/organizations") for _ in range(2)]

    # (``/readyz`` is 503 here: an in-process gateway without its lifespan has no Temporal.)
    assert {probe.status_code for probe in probes[::2]} == {200}
    assert 429 not in {probe.status_code for probe in probes}
    assert all("RateLimit-Limit" not in probe.headers for probe in probes)
    # Without a token the address is the caller: its second request is over the limit.
    assert [answer.status_code for answer in limited] == [401, 429]


async def test_a_forged_token_is_counted_against_its_address_not_its_subject(
    platform: Platform,
) -> None:
    organization_id = await new_org(platform)
    victim = bearer(platform.settings, "victim", organization_id)
    forged = jwt.encode(
        {"sub": "victim", "roles": ["manager"], "orgs": [organization_id], "exp": 2**31},
        "not-the-secret",
        algorithm="HS256",
    )
    read = TokenBucketSettings(per_second=0.01, burst=2)
    async with limited_gateway(platform.settings, limits(read=read), Clock()) as (_, gateway):
        attacks = [
            await gateway.get("/v1/organizations", headers={"Authorization": f"Bearer {forged}"})
            for _ in range(5)
        ]
        answers = [await gateway.get("/v1/organizations", headers=victim) for _ in range(2)]

    assert [attack.status_code for attack in attacks] == [401, 401, 429, 429, 429]
    assert [answer.status_code for answer in answers] == [200, 200]


async def test_an_expired_token_verified_earlier_in_the_same_context_is_not_reused(
    platform: Platform,
) -> None:
    organization_id = await new_org(platform)
    async with limited_gateway(platform.settings, limits()) as (_, gateway):
        token = issue_dev_token(
            platform.settings, "ada", [Role.MANAGER], [organization_id], ttl=timedelta(seconds=8)
        )
        headers = {"Authorization": f"Bearer {token}"}
        fresh = await gateway.get("/v1/organizations", headers=headers)
        await asyncio.sleep(9)
        expired = await gateway.get("/v1/organizations", headers=headers)

    assert fresh.status_code == 200, fresh.text
    assert expired.status_code == 401, expired.text


async def test_the_gateway_verifies_a_token_once_per_request(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    organization_id = await new_org(platform)
    ada = bearer(platform.settings, "ada", organization_id)
    async with limited_gateway(platform.settings, limits()) as (app, gateway):
        app.middleware_stack = app.build_middleware_stack()
        verifier: TokenVerifier = rate_limit_of(app).verifier
        verified = []
        original = verifier.verify

        async def counting(token: str) -> Principal:
            verified.append(token)
            return await original(token)

        monkeypatch.setattr(verifier, "verify", counting)
        answer = await gateway.get("/v1/organizations", headers=ada)
        composed = await gateway.get(
            "/v1/stream", params={"organization_id": organization_id, "since": "x"}, headers=ada
        )

    assert answer.status_code == 200, answer.text
    assert composed.status_code == 422, composed.text
    assert len(verified) == 2


async def test_a_flood_of_distinct_callers_keeps_the_buckets_bounded(platform: Platform) -> None:
    async with limited_gateway(platform.settings, limits(max_buckets=50)) as (app, _):
        transports = [
            httpx.ASGITransport(app=app, client=(f"198.51.100.{index % 250}", index))
            for index in range(300)
        ]
        for transport in transports:
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                answer = await client.get("/v1/deliverable-kinds")
                assert answer.status_code == 401
        buckets = rate_limit_of(app).buckets

    assert 0 < len(buckets) <= 50


async def test_every_route_documents_the_429(settings: Settings) -> None:
    document = build_gateway(settings).openapi()
    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict) and "responses" in operation
    ]

    undocumented = [
        path
        for path, operation in operations
        if path.startswith("/v1/") and "429" not in operation["responses"]
    ]
    health = [path for path, operation in operations if "429" in operation["responses"]]
    assert undocumented == []
    assert not any(path in {"/healthz", "/readyz"} for path in health)
    answer = document["paths"]["/v1/organizations"]["get"]["responses"]["429"]
    assert "Retry-After" in answer["headers"]


async def test_under_64_concurrent_clients_429s_come_before_any_5xx(platform: Platform) -> None:
    organization_id = await new_org(platform)
    headers = bearer(platform.settings, "dashboard", organization_id)
    read = TokenBucketSettings(per_second=5.0, burst=20)
    statuses: dict[int, int] = {}

    async def hammer(client: httpx.AsyncClient, until: float) -> None:
        while time.monotonic() < until:
            answer = await client.get(
                "/v1/listening/queries",
                params={"organization_id": organization_id},
                headers=headers,
            )
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    async with limited_gateway(platform.settings, limits(read=read)) as (_, gateway):
        started = time.monotonic()
        await asyncio.gather(*(hammer(gateway, started + 3.0) for _ in range(64)))
        elapsed = time.monotonic() - started

    print(f"64 clients, {elapsed:.1f} s: {statuses}")
    assert set(statuses) == {200, 429}, statuses
    # The budget, no more: the burst and what refilled while the clients hammered.
    assert statuses[200] <= 20 + 5 * elapsed + 1
    assert statuses[429] > statuses[200]


async def test_uploads_have_a_budget_of_their_own(platform: Platform) -> None:
    organization_id = await new_org(platform)
    ada = bearer(platform.settings, "ada", organization_id)
    upload = TokenBucketSettings(per_second=0.01, burst=1)
    async with limited_gateway(platform.settings, limits(upload=upload), Clock()) as (_, gateway):
        answers = [
            await gateway.post(
                "/v1/media",
                params={"organization_id": organization_id, "filename": "dot.png"},
                content=png(8, 8),
                headers={**ada, "Content-Type": "image/png"},
            )
            for _ in range(2)
        ]
        write = await gateway.post("/v1/organizations", json={"name": "Altro"}, headers=ada)

    assert answers[0].status_code == 201, answers[0].text
    assert assert_problem(answers[1], 429, "rate-limited")["route_class"] == "upload"
    assert write.status_code in {201, 403}, write.text

"""Two findings of the fault probe: a service's readiness includes its database (an API up while
PostgreSQL is down answers 503, not ready), and the relay's retry warning names what went wrong
even for an exception without a message (it logged ``outbox relay: ; retrying``)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from shared.events.relay import _reason
from shared.health import health_router
from tests.conftest import Platform


async def test_a_data_services_readiness_checks_its_database(platform: Platform) -> None:
    for service in ("strategy", "content", "publisher", "listening", "reporting"):
        answer = await platform.gateway.get(f"{platform.settings.service_url(service)}/readyz")
        assert answer.status_code == 200, answer.text
        assert answer.json()["checks"]["database"] == "ok"


async def test_a_database_that_does_not_answer_makes_the_service_not_ready() -> None:
    async def database() -> None:
        raise ConnectionRefusedError

    async def nats() -> None:
        return None

    app = FastAPI()
    app.include_router(health_router("strategy", {"database": database, "nats": nats}, 1.0))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["checks"] == {
        "database": "unavailable: ConnectionRefusedError",
        "nats": "ok",
    }


def test_the_relays_reason_is_never_empty() -> None:
    assert _reason(TimeoutError()) == "TimeoutError()"
    assert _reason(OSError("connection refused")) == "connection refused"

"""The demo waits as a 429 asks before sending a write again, a bounded number of times."""

from __future__ import annotations

import httpx
import pytest

from engage.demo import patience
from engage.demo.patience import PatientTransport


def waits_recorded(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The demo's waits, recorded instead of slept."""
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr("engage.demo.patience.asyncio.sleep", sleep)
    return waited


async def test_a_429_is_waited_out_and_the_request_sent_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited = waits_recorded(monkeypatch)
    bodies: list[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) < 3:
            return httpx.Response(429, headers={"Retry-After": "2"}, json={"status": 429})
        return httpx.Response(201, json={"id": "a"})

    async with httpx.AsyncClient(
        transport=PatientTransport(httpx.MockTransport(answer)), base_url="http://gateway"
    ) as client:
        created = await client.post("/v1/engagements/e/approvals", json={"gate": "brief"})

    assert created.status_code == 201
    assert waited == [2.0, 2.0]
    assert bodies == [b'{"gate":"brief"}'] * 3


async def test_the_refusal_is_given_back_after_the_last_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waited = waits_recorded(monkeypatch)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "soon"})

    async with httpx.AsyncClient(transport=PatientTransport(httpx.MockTransport(refuse))) as client:
        refused = await client.get("http://gateway/v1/engagements")

    assert refused.status_code == 429
    assert waited == [patience.DEFAULT_WAIT_SECONDS] * patience.MAX_WAITS

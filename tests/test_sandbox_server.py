"""The sandbox platform as a server: labelled everywhere, OAuth offline, state kept across runs.

Also the helpers the other ``test_sandbox_*`` files share: a sandbox served over real HTTP on a
free port, a clock the test moves, and an account connected through the OAuth flow.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from engage.cli import SERVABLE
from services.sandbox.app import build_app, state_file
from services.sandbox.state import Clock, utc_now
from shared.settings import SERVICE_NAMES, SandboxSettings, Settings
from tests.conftest import _serve, free_port, wait_until

REDIRECT_URI = "http://127.0.0.1:9/callback"
ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """The sandbox's notion of now, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def sandbox_settings(data_dir: Path, **sandbox: Any) -> Settings:
    # Generous rate limits unless a test is about them.
    limits = {"rate_limit_per_second": 1000.0, "rate_limit_burst": 1000}
    return Settings(
        environment="test", data_dir=str(data_dir), sandbox=SandboxSettings(**(limits | sandbox))
    )


@asynccontextmanager
async def running_sandbox(settings: Settings, clock: Clock = utc_now) -> AsyncIterator[str]:
    """Serve a sandbox over HTTP on a free port; yields its base URL."""
    port = free_port()
    server, task = await _serve(build_app(settings, clock), port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def sandbox_client(
    settings: Settings, clock: Clock = utc_now
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        running_sandbox(settings, clock) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10, trust_env=False) as client,
    ):
        yield client


@dataclass
class Connected:
    account_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def authorization_code(client: httpx.AsyncClient, account_id: str | None = None) -> str:
    params = {"client_id": "tests", "redirect_uri": REDIRECT_URI, "state": "xyz"}
    if account_id is not None:
        params["account_id"] = account_id
    response = await client.get("/oauth/authorize", params=params)
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert query["state"] == ["xyz"]
    return query["code"][0]


async def connect(client: httpx.AsyncClient, name: str = "Agriturismo La Quercia") -> Connected:
    """Sign up an account and connect it with the authorization-code flow."""
    created = await client.post("/v1/accounts", json={"name": name})
    assert created.status_code == 201, created.text
    code = await authorization_code(client, created.json()["id"])
    tokens = await client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["account_id"] == created.json()["id"]
    return Connected(body["account_id"], body["access_token"], body["refresh_token"])


async def test_every_answer_is_labelled_as_a_simulation(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        root = await client.get("/")
        assert root.json()["sandbox"] is True
        assert "simulation" in root.json()["description"]
        assert "not a real network" in root.json()["description"]
        answers = [
            root,
            await client.get("/readyz"),
            await client.get("/v1/posts/post-000001"),  # 401: no token
            await client.get("/v1/nowhere"),  # 404
            await client.post("/v1/accounts", json={"name": ""}),  # 422
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 401, 404, 422]
        assert all(answer.headers["X-Sandbox"] == "true" for answer in answers)
        assert answers[2].headers["content-type"] == "application/problem+json"
        assert "SANDBOX" in (await client.get("/openapi.json")).json()["info"]["title"]


async def test_oauth_flow_runs_offline_and_codes_are_single_use(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        connected = await connect(client)
        account = await client.get(
            f"/v1/accounts/{connected.account_id}", headers=connected.headers
        )
        assert account.status_code == 200
        assert account.json()["followers"] > 0

        code = await authorization_code(client, connected.account_id)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        assert (await client.post("/oauth/token", data=form)).status_code == 200
        reused = await client.post("/oauth/token", data=form)
        assert reused.status_code == 400
        assert reused.json()["error"] == "invalid_grant"

        wrong_redirect = {**form, "code": await authorization_code(client), "redirect_uri": "x"}
        assert (await client.post("/oauth/token", data=wrong_redirect)).status_code == 400
        missing_code = await client.post("/oauth/token", data={"grant_type": "authorization_code"})
        assert missing_code.status_code == 422


async def test_authorize_without_an_account_signs_one_up(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        code = await authorization_code(client)
        tokens = await client.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        )
        accounts = (await client.get("/v1/accounts")).json()
        assert [account["id"] for account in accounts] == [tokens.json()["account_id"]]


async def test_accounts_get_unique_handles(tmp_path: Path) -> None:
    async with sandbox_client(sandbox_settings(tmp_path)) as client:
        handles = [
            (await client.post("/v1/accounts", json={"name": "Pro Loco Lucca"})).json()["handle"]
            for _ in range(2)
        ]
        assert handles == ["pro_loco_lucca", "pro_loco_lucca2"]
        taken = await client.post("/v1/accounts", json={"name": "X", "handle": "pro_loco_lucca"})
        assert taken.status_code == 409


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path)
    body = {"text": "Buongiorno dalla Toscana"}
    async with sandbox_client(settings) as client:
        connected = await connect(client)
        path = f"/v1/accounts/{connected.account_id}/posts"
        headers = {**connected.headers, "Idempotency-Key": "variant-1"}
        first = await client.post(path, json=body, headers=headers)
        assert first.status_code == 201
    saved = state_file(settings).read_text()
    assert first.json()["id"] in saved
    assert connected.access_token not in saved  # tokens are kept only as digests

    async with sandbox_client(settings) as client:
        replay = await client.post(path, json=body, headers=headers)
        assert replay.status_code == 200
        assert replay.json()["id"] == first.json()["id"]
        listed = await client.get(path, headers=connected.headers)
        assert [post["id"] for post in listed.json()["data"]] == [first.json()["id"]]
        another = await client.post(path, json={"text": "Di nuovo"}, headers=connected.headers)
        assert another.json()["id"] != first.json()["id"]


async def test_engage_serve_sandbox_runs_the_app_and_saves_on_sigterm(tmp_path: Path) -> None:
    assert "sandbox" in SERVABLE
    assert "sandbox" not in SERVICE_NAMES  # served, but no data service: no worker, no schema
    port = free_port()
    environment = {
        **os.environ,
        "ENGAGE_PORTS__SANDBOX": str(port),
        "ENGAGE_DATA_DIR": str(tmp_path),
        "ENGAGE_HOST": "127.0.0.1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "engage", "serve", "sandbox"),
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", trust_env=False
        ) as client:

            async def ready() -> bool:
                try:
                    return (await client.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            await wait_until(ready, timeout=30, interval=0.2)
            created = await client.post("/v1/accounts", json={"name": "Comune di Lucca"})
            assert created.status_code == 201
    finally:
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert await asyncio.wait_for(process.wait(), 20) in (0, -signal.SIGTERM)
    saved = (tmp_path / "sandbox" / "state.json").read_text()
    assert created.json()["id"] in saved

"""The sandbox side of the ``publish`` benchmark (``benchmarks/publish.py``): the sandbox in a
process of its own with a real platform's rate limits, its accounts, the ceiling it accepts when
posts are sent straight to it, and the posts it holds in the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from services.publisher.connectors.base import Credentials
from services.publisher.connectors.sandbox import SandboxConnector
from shared.settings import Settings

# What a real platform allows one account: sustained posts per second and burst.
RATE_LIMIT_PER_SECOND = 50.0
RATE_LIMIT_BURST = 100
# Senders over all accounts when measuring the ceiling (at least two an account), and their pause
# after a 429. More than about 100 connections at once time out on a loaded machine.
SENDERS = 40
BACKOFF_SECONDS = 0.01
REDIRECT_URI = "https://bench.atlantide.example/callback"


@dataclass(frozen=True)
class Account:
    account_id: str
    credentials: Credentials


def bench_settings(settings: Settings, data_dir: Path, port: int, temporal: str) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": str(data_dir),
            "ports": settings.ports.model_copy(update={"sandbox": port}),
            "temporal": settings.temporal.model_copy(
                update={"address": temporal, "task_queue_prefix": f"bench-{uuid.uuid4().hex[:8]}-"}
            ),
            "sandbox": settings.sandbox.model_copy(
                update={
                    "rate_limit_per_second": RATE_LIMIT_PER_SECOND,
                    "rate_limit_burst": RATE_LIMIT_BURST,
                    "failure_rate": 0.0,
                }
            ),
            "publisher": settings.publisher.model_copy(
                update={"api_base_urls": {"sandbox": f"http://127.0.0.1:{port}"}}
            ),
        }
    )


@dataclass(frozen=True)
class Sandbox:
    client: httpx.AsyncClient
    pid: int


@contextlib.asynccontextmanager
async def sandbox_process(settings: Settings) -> AsyncIterator[Sandbox]:
    """The sandbox platform in a process of its own, configured through the environment."""
    env = {
        **os.environ,
        "ENGAGE_DATA_DIR": settings.data_dir,
        "ENGAGE_PORTS__SANDBOX": str(settings.ports.sandbox),
        "ENGAGE_SANDBOX__RATE_LIMIT_PER_SECOND": str(RATE_LIMIT_PER_SECOND),
        "ENGAGE_SANDBOX__RATE_LIMIT_BURST": str(RATE_LIMIT_BURST),
        "ENGAGE_SANDBOX__FAILURE_RATE": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", "services.sandbox.main:app", "--no-access-log"),
        *("--port", str(settings.ports.sandbox), "--log-level", "warning"),
        env=env,
    )
    base_url = f"http://127.0.0.1:{settings.ports.sandbox}"
    try:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client:
            await _wait_for(client)
            yield Sandbox(client, process.pid)
    finally:
        process.terminate()
        await process.wait()


async def _wait_for(client: httpx.AsyncClient) -> None:
    # Importing the sandbox takes over 30 s on a loaded 2-core machine.
    async with asyncio.timeout(180):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def sign_up(sandbox: httpx.AsyncClient, connector: SandboxConnector, name: str) -> Account:
    created = await sandbox.post("/v1/accounts", json={"name": name})
    created.raise_for_status()
    redirect = await sandbox.get(
        connector.authorize_url(REDIRECT_URI, "bench-state", created.json()["id"])
    )
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    account_id, credentials = await connector.exchange_code(code, REDIRECT_URI)
    return Account(account_id, credentials)


async def measure_ceiling(
    sandbox: httpx.AsyncClient, accounts: list[Account], posts: int
) -> tuple[float, list[float]]:
    """Posts per second the sandbox accepts when pushed over kept-alive connections, and how long
    after the start each was accepted."""
    accepted: list[float] = []
    started = time.perf_counter()

    async def send(account: Account) -> None:
        headers = {"Authorization": f"Bearer {account.credentials.access_token}"}
        while len(accepted) < posts:
            try:
                answer = await sandbox.post(
                    f"/v1/accounts/{account.account_id}/posts",
                    json={"text": "Ceiling probe", "media": [], "tags": []},
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                )
            except httpx.TransportError:
                # A connection refused or timed out by a saturated machine: try again.
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            if answer.status_code == 429:
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            answer.raise_for_status()
            accepted.append(time.perf_counter() - started)

    senders = max(2, SENDERS / len(accounts))
    await asyncio.gather(*(send(account) for account in accounts for _ in range(int(senders))))
    return len(accepted) / (time.perf_counter() - started), accepted


async def posts_per_key(sandbox: httpx.AsyncClient, accounts: list[Account]) -> Counter[str]:
    """How many live posts the sandbox holds for each idempotency key, over every account."""
    counts: Counter[str] = Counter()
    for account in accounts:
        cursor: str | None = None
        while cursor != "":
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = await sandbox.get(
                f"/v1/accounts/{account.account_id}/posts",
                params=params,
                headers={"Authorization": f"Bearer {account.credentials.access_token}"},
            )
            if page.status_code == 429:
                await asyncio.sleep(float(page.headers.get("Retry-After", "1")))
                continue
            page.raise_for_status()
            body = page.json()
            counts.update(post["idempotency_key"] for post in body["data"])
            cursor = body.get("next_cursor") or ""
    return counts

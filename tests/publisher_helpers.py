"""Connecting a sandbox account and scheduling posts of approved content through the gateway,
for publisher tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from services.publisher.connectors.sandbox import SandboxConnector
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.publisher_content_helpers import approved_variant

REDIRECT_URI = "https://app.atlantide.example/oauth/callback"


@dataclass
class SandboxAccount:
    organization_id: str
    connection_id: str
    account_id: str
    access_token: str
    sandbox: httpx.AsyncClient
    # An approved sandbox variant of the organisation, written when a test first schedules a
    # post without naming one; every post differs by its due time.
    variant_id: str | None = None
    _writing_variant: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def approved_variant(self, platform: Platform) -> str:
        async with self._writing_variant:
            if self.variant_id is None:
                self.variant_id = await approved_variant(platform, self.organization_id)
        return self.variant_id

    async def posts(self, idempotency_key: str | None = None) -> list[dict[str, Any]]:
        listed = await self.sandbox.get(
            f"/v1/accounts/{self.account_id}/posts",
            params={"limit": 100},
            headers={"Authorization": f"Bearer {self.access_token}"},
        )
        assert listed.status_code == 200, listed.text
        posts: list[dict[str, Any]] = listed.json()["data"]
        if idempotency_key is None:
            return posts
        return [post for post in posts if post["idempotency_key"] == idempotency_key]

    async def faults(self, **body: Any) -> None:
        answer = await self.sandbox.post("/sandbox/faults", json=body)
        assert answer.status_code == 200, answer.text


async def connect_sandbox(
    platform: Platform, sandbox: httpx.AsyncClient, organization_id: str
) -> SandboxAccount:
    account = await sandbox.post("/v1/accounts", json={"name": "Agriturismo La Quercia"})
    assert account.status_code == 201, account.text
    connector = SandboxConnector.from_settings(platform.settings)
    authorize = connector.authorize_url(REDIRECT_URI, "state-1", account.json()["id"])
    redirect = await sandbox.get(authorize)
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    account_id, credentials = await connector.exchange_code(code, REDIRECT_URI)
    connected = await platform.gateway.post(
        "/v1/connections",
        json={
            "organization_id": organization_id,
            "channel": "sandbox",
            "account_id": account_id,
            "display_name": "La Quercia (sandbox)",
            "access_token": credentials.access_token,
            "refresh_token": credentials.refresh_token,
            "expires_at": credentials.expires_at.isoformat() if credentials.expires_at else None,
        },
        headers=platform.auth(Role.MANAGER),
    )
    assert connected.status_code == 201, connected.text
    return SandboxAccount(
        organization_id=organization_id,
        connection_id=connected.json()["id"],
        account_id=account_id,
        access_token=credentials.access_token,
        sandbox=sandbox,
    )


async def schedule(
    platform: Platform, account: SandboxAccount, in_seconds: float = 1.0, **fields: Any
) -> dict[str, Any]:
    body = {
        "organization_id": account.organization_id,
        "connection_id": account.connection_id,
        "due_at": (datetime.now(UTC) + timedelta(seconds=in_seconds)).isoformat(),
        **fields,
    }
    body.setdefault("variant_id", await account.approved_variant(platform))
    created = await platform.gateway.post(
        "/v1/publications", json=body, headers=platform.auth(Role.EDITOR)
    )
    assert created.status_code == 201, created.text
    publication: dict[str, Any] = created.json()
    return publication


async def settled(platform: Platform, publication_id: str, timeout: float = 30) -> dict[str, Any]:
    """Wait until the publication leaves the waiting and publishing states."""
    found: dict[str, Any] = {}

    async def done() -> bool:
        read = await platform.gateway.get(
            f"/v1/publications/{publication_id}", headers=platform.auth(Role.MANAGER)
        )
        found.update(read.json())
        return found["status"] in {"published", "failed", "cancelled"}

    await wait_until(done, timeout=timeout, interval=0.2)
    return found

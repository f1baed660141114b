"""The sandbox connector against a real sandbox over HTTP: every failure lands in its class."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.publisher.connectors import sandbox as sandbox_connector
from services.publisher.connectors.base import (
    AuthError,
    ContentRejectedError,
    Credentials,
    MediaRef,
    PublishRequest,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.sandbox import SandboxConnector
from shared.domain import Channel
from tests.conftest import free_port
from tests.test_sandbox_server import REDIRECT_URI, running_sandbox, sandbox_settings


@dataclass
class Rig:
    """A running sandbox, a connector pointed at it, and a connected account."""

    connector: SandboxConnector
    admin: httpx.AsyncClient
    account_id: str
    credentials: Credentials

    def request(self, key: str = "variant-1:sandbox:slot-1", **fields: Any) -> PublishRequest:
        body = {"text": "Aperitivo al tramonto", **fields}
        return PublishRequest(
            idempotency_key=key, channel=Channel.SANDBOX, account_id=self.account_id, **body
        )

    async def faults(self, **body: Any) -> None:
        answer = await self.admin.post("/sandbox/faults", json=body)
        assert answer.status_code == 200, answer.text

    async def posts_with_key(self, key: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.credentials.access_token}"}
        listed = await self.admin.get(f"/v1/accounts/{self.account_id}/posts", headers=headers)
        return [post for post in listed.json()["data"] if post["idempotency_key"] == key]


@asynccontextmanager
async def rig(tmp_path: Path, timeout_seconds: float = 5.0, **sandbox: Any) -> AsyncIterator[Rig]:
    settings = sandbox_settings(tmp_path, **sandbox)
    async with (
        running_sandbox(settings) as base_url,
        httpx.AsyncClient(base_url=base_url, trust_env=False) as admin,
    ):
        connector = SandboxConnector(base_url, timeout_seconds=timeout_seconds)
        account = await admin.post("/v1/accounts", json={"name": "Trattoria Da Nello"})
        authorize = connector.authorize_url(REDIRECT_URI, "s1", account.json()["id"])
        redirect = await admin.get(authorize)
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        account_id, credentials = await connector.exchange_code(code, REDIRECT_URI)
        assert account_id == account.json()["id"]
        yield Rig(connector, admin, account_id, credentials)


async def test_publish_and_read_metrics(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        request = r.request(
            media=[MediaRef(url="https://example.org/a.mp4", mime_type="video/mp4", size_bytes=10)]
        )
        result = await r.connector.publish(r.credentials, request)
        assert result.state == "published"
        assert result.url is not None
        assert (await r.admin.get(result.url)).status_code == 200

        metrics = await r.connector.post_metrics(r.credentials, result.platform_post_id)
        assert metrics.impressions is not None
        assert metrics.reach is not None
        assert metrics.impressions >= metrics.reach
        assert metrics.video_views is not None  # a video post
        followers = await r.connector.account_metrics(r.credentials, r.account_id)
        assert followers.followers is not None
        assert followers.followers >= 300


async def test_a_post_over_the_sandbox_limits_is_rejected_content(tmp_path: Path) -> None:
    async with rig(tmp_path, max_text_length=10) as r:
        with pytest.raises(ContentRejectedError) as rejected:
            await r.connector.publish(r.credentials, r.request(text="x" * 11))
        assert rejected.value.status == 422
        assert "max_text_length" in str(rejected.value)


async def test_republishing_the_same_key_returns_the_same_post(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        first = await r.connector.publish(r.credentials, r.request())
        second = await r.connector.publish(r.credentials, r.request())
        assert first.platform_post_id == second.platform_post_id
        assert len(await r.posts_with_key(r.request().idempotency_key)) == 1


@pytest.mark.parametrize("mode", ["delay", "malformed"])
async def test_accepted_then_lost_answer_is_unknown_then_found_exactly_once(
    tmp_path: Path, mode: str
) -> None:
    async with rig(tmp_path, timeout_seconds=0.5) as r:
        await r.faults(accept_then_timeout={"count": 1, "mode": mode, "delay_seconds": 5})
        request = r.request()
        with pytest.raises(UnknownOutcomeError):
            await r.connector.publish(r.credentials, request)

        status = await r.connector.check_status(r.credentials, request)
        assert status.state == "published"
        on_platform = await r.posts_with_key(request.idempotency_key)
        assert [post["id"] for post in on_platform] == [status.platform_post_id]
        stats = (await r.admin.get("/sandbox/stats")).json()
        assert stats["accepted_posts"] == 1
        assert stats["accept_then_timeout_applied"] == 1


async def test_check_status_pages_through_and_reports_not_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox_connector, "PAGE_SIZE", 2)
    async with rig(tmp_path) as r:
        oldest = r.request(key="slot-0")
        published = await r.connector.publish(r.credentials, oldest)
        for slot in range(1, 6):
            await r.connector.publish(r.credentials, r.request(key=f"slot-{slot}", text=str(slot)))
        found = await r.connector.check_status(r.credentials, oldest)
        assert (found.state, found.platform_post_id) == ("published", published.platform_post_id)
        missing = await r.connector.check_status(r.credentials, r.request(key="never-sent"))
        assert missing.state == "not_found"


async def test_rate_limit_and_injected_failures_are_retryable(tmp_path: Path) -> None:
    async with rig(tmp_path, rate_limit_per_second=0.5, rate_limit_burst=1) as r:
        await r.connector.publish(r.credentials, r.request(key="a"))
        with pytest.raises(RetryableError) as limited:
            await r.connector.publish(r.credentials, r.request(key="b"))
        assert limited.value.status == 429
        assert limited.value.retry_after == 2.0
        assert (await r.admin.get("/sandbox/stats")).json()["accepted_posts"] == 1

        await r.faults(rate_limit_burst=100, failure_rate=1.0)
        with pytest.raises(RetryableError) as failed:
            await r.connector.publish(r.credentials, r.request(key="c"))
        assert failed.value.status == 503
        assert failed.value.retry_after == 1.0


async def test_expired_token_refreshes_and_revoked_one_needs_reauth(tmp_path: Path) -> None:
    async with rig(tmp_path) as r:
        await r.admin.post(f"/sandbox/accounts/{r.account_id}/expire-tokens")
        with pytest.raises(AuthError) as expired:
            await r.connector.publish(r.credentials, r.request())
        assert expired.value.status == 401

        refreshed = await r.connector.refresh(r.credentials)
        assert refreshed.access_token != r.credentials.access_token
        assert refreshed.expires_at is not None
        assert (await r.connector.publish(refreshed, r.request())).platform_post_id

        await r.admin.post(f"/sandbox/accounts/{r.account_id}/revoke-tokens")
        with pytest.raises(AuthError):
            await r.connector.post_metrics(refreshed, "post-000001")
        with pytest.raises(AuthError):
            await r.connector.refresh(refreshed)
        with pytest.raises(AuthError):
            await r.connector.refresh(refreshed.model_copy(update={"refresh_token": None}))


async def test_unreachable_sandbox_is_retryable() -> None:
    connector = SandboxConnector(f"http://127.0.0.1:{free_port()}", timeout_seconds=1)
    credentials = Credentials(access_token="unused")
    request = PublishRequest(
        idempotency_key="k", channel=Channel.SANDBOX, account_id="acct-0001", text="ciao"
    )
    with pytest.raises(RetryableError):
        await connector.publish(credentials, request)
    with pytest.raises(RetryableError):
        await connector.check_status(credentials, request)


async def test_from_settings_points_at_the_configured_sandbox(tmp_path: Path) -> None:
    settings = sandbox_settings(tmp_path)
    connector = SandboxConnector.from_settings(settings)
    assert connector.base_url == f"http://127.0.0.1:{settings.ports.sandbox}"
    assert connector.timeout_seconds == settings.publisher.request_timeout_seconds
    elsewhere = settings.model_copy(
        update={
            "publisher": settings.publisher.model_copy(
                update={"api_base_urls": {"sandbox": "http://sandbox.demo:8010/"}}
            )
        }
    )
    assert SandboxConnector.from_settings(elsewhere).base_url == "http://sandbox.demo:8010"

"""Connector for the built-in sandbox platform (``services/sandbox``, README "Sandbox platform").

The sandbox is a local simulation, not a real network; its API is documented by its own OpenAPI
(``/docs`` on its port) and its schemas module, which this connector reads responses with.
Requests go through ``http.py`` like every platform's, and failures are classified as it reads a
status, with the sandbox's own meanings: 403 (a token of another account) needs
re-authorisation, and its 503 is answered before anything is done, so it is retryable even for a
write. A write whose answer is lost or garbled has an unknown outcome, to be checked with
``check_status``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectorError,
    Credentials,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    RetryableError,
)
from services.publisher.connectors.http import (
    Classifier,
    Model,
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
)
from services.sandbox.schemas import (
    AccountOut,
    PostMetricsOut,
    PostOut,
    PostPage,
    TokenResponse,
    Violation,
)
from shared.domain import Channel
from shared.rate_limits import retry_after_seconds
from shared.settings import Settings

PAGE_SIZE = 100


class Problem(BaseModel):
    """The sandbox's problem+json answer; a refused post lists the limits it broke."""

    title: str | None = None
    detail: str | None = None
    violations: list[Violation] = []


def classify_sandbox(response: httpx.Response, write: bool) -> ConnectorError:
    status = response.status_code
    detail = f"sandbox answered {status}: {_detail(response)}"
    if status == 403:
        return AuthError(detail, status=status)
    if status == 404:
        # An unknown account or post: none of the four classes, the caller decides.
        return ConnectorError(detail, status=status)
    if status == 503:
        return RetryableError(
            detail, status=status, retry_after=retry_after_seconds(response.headers)
        )
    return classify_by_status(response, write, detail)


def classify_token_grant(response: httpx.Response, write: bool) -> ConnectorError:
    if response.status_code in (400, 401):
        return AuthError("the sandbox refused the grant", status=response.status_code)
    return classify_sandbox(response, write)


def _detail(response: httpx.Response) -> str:
    problem = error_body(response, Problem)
    if problem is None:
        return response.reason_phrase
    text = problem.detail or problem.title or response.reason_phrase
    if not problem.violations:
        return text
    return f"{text} {[violation.model_dump() for violation in problem.violations]}"


class SandboxConnector:
    channel = Channel.SANDBOX

    def __init__(
        self,
        base_url: str,
        *,
        timeout_seconds: float = 15.0,
        client_id: str = "atlantide-engage",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.client_id = client_id

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> SandboxConnector:
        configured = settings.publisher.api_base_urls.get(Channel.SANDBOX.value)
        return cls(
            configured or f"http://127.0.0.1:{settings.ports.sandbox}",
            timeout_seconds=settings.publisher.request_timeout_seconds,
            http=http,
        )

    # --- the Connector protocol -------------------------------------------------------------

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        post = await self._call(
            "POST",
            f"/v1/accounts/{request.account_id}/posts",
            PostOut,
            credentials,
            write=True,
            json=_post_body(request),
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return PublishResult(platform_post_id=post.id, url=post.url)

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        """Look for the post carrying the request's idempotency key among the account's posts."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        while True:
            page = await self._call(
                "GET",
                f"/v1/accounts/{request.account_id}/posts",
                PostPage,
                credentials,
                params=params,
            )
            for post in page.data:
                if post.idempotency_key == request.idempotency_key:
                    return PublishStatus(state="published", platform_post_id=post.id)
            if page.next_cursor is None:
                return PublishStatus(state="not_found")
            params["cursor"] = page.next_cursor

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        figures = await self._call(
            "GET", f"/v1/posts/{platform_post_id}/metrics", PostMetricsOut, credentials
        )
        return PostMetrics(
            impressions=figures.impressions,
            reach=figures.reach,
            likes=figures.likes,
            comments=figures.comments,
            shares=figures.shares,
            saves=figures.saves,
            video_views=figures.views,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        account = await self._call("GET", f"/v1/accounts/{account_id}", AccountOut, credentials)
        return AccountMetrics(followers=account.followers)

    async def refresh(self, credentials: Credentials) -> Credentials:
        if not credentials.refresh_token:
            raise AuthError("no refresh token: the sandbox account must be connected again")
        tokens = await self._token_grant(
            {"grant_type": "refresh_token", "refresh_token": credentials.refresh_token}
        )
        return _credentials(tokens, extra=credentials.extra)

    # --- the OAuth flow, for connecting an account ------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str, account_id: str | None = None) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        if account_id is not None:
            query["account_id"] = account_id
        return f"{self.base_url}/oauth/authorize?{urlencode(query)}"

    async def exchange_code(self, code: str, redirect_uri: str) -> tuple[str, Credentials]:
        """The connected account's id and its first credentials."""
        tokens = await self._token_grant(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        return tokens.account_id, _credentials(tokens, extra={})

    # --- HTTP -------------------------------------------------------------------------------

    async def _token_grant(self, form: dict[str, str]) -> TokenResponse:
        async with self._api(classify_token_grant) as api:
            return await api.fetch(
                "POST",
                "/oauth/token",
                TokenResponse,
                write=False,
                data=form | {"client_id": self.client_id},
                timeout=self.timeout_seconds,
            )

    async def _call(
        self,
        method: str,
        path: str,
        model: type[Model],
        credentials: Credentials,
        *,
        write: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Model:
        async with self._api(classify_sandbox) as api:
            return await api.fetch(
                method,
                path,
                model,
                write=write,
                headers=bearer(credentials.access_token) | (headers or {}),
                timeout=self.timeout_seconds,
                **kwargs,
            )

    @asynccontextmanager
    async def _api(self, classify: Classifier) -> AsyncIterator[PlatformApi]:
        """The sandbox's API on the worker's pooled client (a new connection per call costs more
        than the call), or on a client of its own for one call when there is none."""
        if self._http is not None:
            yield PlatformApi(self._http, self.base_url, classify, name="sandbox")
            return
        async with httpx.AsyncClient(trust_env=False) as http:
            yield PlatformApi(http, self.base_url, classify, name="sandbox")


def _post_body(request: PublishRequest) -> dict[str, Any]:
    return {
        "text": request.text,
        "title": request.title,
        "link": request.link,
        "media": [{"url": m.url, "mime_type": m.mime_type} for m in request.media],
        "tags": request.tags,
    }


def _credentials(tokens: TokenResponse, *, extra: dict[str, str]) -> Credentials:
    return Credentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=datetime.now(UTC) + timedelta(seconds=tokens.expires_in),
        extra=extra,
    )

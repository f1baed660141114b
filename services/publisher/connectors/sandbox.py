"""Connector for the built-in sandbox platform (``services/sandbox``, README "Sandbox platform").

The sandbox is a local simulation, not a real network; its API is documented by its own OpenAPI
(``/docs`` on its port) and its schemas module, which this connector reads responses with.
Failures are classified as ``base.py`` says: 429 and the sandbox's 503 (answered before anything
is done) are retryable, 401/403 mean re-authorisation, 409/422 are rejected content, and a write
whose answer is lost or garbled has an unknown outcome, to be checked with ``check_status``.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ValidationError

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectorError,
    ContentRejectedError,
    Credentials,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    RetryableError,
    UnknownOutcomeError,
    Violation,
)
from services.sandbox.limits import content_violations
from services.sandbox.schemas import (
    AccountOut,
    PostCreate,
    PostMetricsOut,
    PostOut,
    PostPage,
    TokenResponse,
)
from shared.domain import Channel
from shared.settings import Settings

Model = TypeVar("Model", bound=BaseModel)
# Requests that never reached the sandbox: safe to retry whatever they were.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
PAGE_SIZE = 100
NOT_FOUND = 404


class SandboxConnector:
    channel = Channel.SANDBOX

    def __init__(
        self,
        base_url: str,
        *,
        max_text_length: int,
        max_media: int,
        timeout_seconds: float = 15.0,
        client_id: str = "atlantide-engage",
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.max_text_length = max_text_length
        self.max_media = max_media
        self.timeout_seconds = timeout_seconds
        self.client_id = client_id

    @classmethod
    def from_settings(
        cls, settings: Settings, http: httpx.AsyncClient | None = None
    ) -> SandboxConnector:
        configured = settings.publisher.api_base_urls.get(Channel.SANDBOX.value)
        return cls(
            configured or f"http://127.0.0.1:{settings.ports.sandbox}",
            max_text_length=settings.sandbox.max_text_length,
            max_media=settings.sandbox.max_media,
            timeout_seconds=settings.publisher.request_timeout_seconds,
            http=http,
        )

    # --- the Connector protocol -------------------------------------------------------------

    def validate(self, request: PublishRequest) -> list[Violation]:
        """The sandbox's own rules (one version of them), checked before anything is sent."""
        try:
            post = PostCreate.model_validate(_post_body(request))
        except ValidationError as error:
            return [
                Violation(
                    rule=item["type"],
                    field=".".join(str(part) for part in item["loc"]),
                    limit=item["msg"],
                    actual=str(item["input"])[:100],
                )
                for item in error.errors()
            ]
        found = content_violations(post, self.max_text_length, self.max_media)
        return [Violation(**violation.model_dump()) for violation in found]

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        response = await self._call(
            "POST",
            f"/v1/accounts/{request.account_id}/posts",
            credentials,
            write=True,
            json=_post_body(request),
            headers={"Idempotency-Key": request.idempotency_key},
        )
        post = _parse(response, PostOut, write=True)
        return PublishResult(platform_post_id=post.id, url=post.url)

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        """Look for the post carrying the request's idempotency key among the account's posts."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        while True:
            response = await self._call(
                "GET", f"/v1/accounts/{request.account_id}/posts", credentials, params=params
            )
            page = _parse(response, PostPage, write=False)
            for post in page.data:
                if post.idempotency_key == request.idempotency_key:
                    return PublishStatus(state="published", platform_post_id=post.id)
            if page.next_cursor is None:
                return PublishStatus(state="not_found")
            params["cursor"] = page.next_cursor

    async def withdraw(self, credentials: Credentials, platform_post_id: str) -> None:
        """Deleting a post that is already gone is done, not an error."""
        try:
            await self._call("DELETE", f"/v1/posts/{platform_post_id}", credentials, write=True)
        except ConnectorError as error:
            if error.status != NOT_FOUND:
                raise

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        response = await self._call("GET", f"/v1/posts/{platform_post_id}/metrics", credentials)
        figures = _parse(response, PostMetricsOut, write=False)
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
        response = await self._call("GET", f"/v1/accounts/{account_id}", credentials)
        return AccountMetrics(followers=_parse(response, AccountOut, write=False).followers)

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
        try:
            response = await self._send(
                "POST", "/oauth/token", data={**form, "client_id": self.client_id}
            )
        except httpx.TransportError as error:
            message = f"sandbox token endpoint unreachable: {type(error).__name__}"
            raise RetryableError(message) from None
        if response.status_code in (400, 401):
            raise AuthError("the sandbox refused the grant", status=response.status_code)
        _raise_for_status(response, write=False)
        return _parse(response, TokenResponse, write=False)

    async def _call(
        self,
        method: str,
        path: str,
        credentials: Credentials,
        *,
        write: bool = False,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        authorization = {"Authorization": f"Bearer {credentials.access_token}"}
        try:
            response = await self._send(
                method, path, headers={**authorization, **(headers or {})}, **kwargs
            )
        except NOT_SENT as error:
            raise RetryableError(f"sandbox unreachable: {type(error).__name__}") from None
        except httpx.TransportError as error:
            message = f"{method} {path}: no complete answer ({type(error).__name__})"
            if write:
                raise UnknownOutcomeError(message) from None
            raise RetryableError(message) from None
        _raise_for_status(response, write=write)
        return response

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._http is not None:
            # The worker's pooled client: a new connection per call costs more than the call.
            return await self._http.request(
                method, self.base_url + path, timeout=self.timeout_seconds, **kwargs
            )
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout_seconds, trust_env=False
        ) as client:
            return await client.request(method, path, **kwargs)


def _post_body(request: PublishRequest) -> dict[str, Any]:
    return {
        "text": request.text,
        "title": request.title,
        "link": request.link,
        "media": [{"url": m.url, "mime_type": m.mime_type} for m in request.media],
        "tags": request.tags,
    }


def _raise_for_status(response: httpx.Response, *, write: bool) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = _detail(response)
    if status in (401, 403):
        raise AuthError(f"sandbox refused the token: {detail}", status=status)
    if status == NOT_FOUND:
        raise ConnectorError(f"not found: {detail}", status=status)
    if status in (409, 422):
        raise ContentRejectedError(f"sandbox rejected the post: {detail}", status=status)
    # The sandbox answers 503 before doing anything; another 5xx on a write may come after.
    known_not_done = status == 429 or status == 503 or (status >= 500 and not write)
    if known_not_done:
        raise RetryableError(
            f"sandbox answered {status}: {detail}",
            status=status,
            retry_after=retry_after_seconds(response),
        )
    if status >= 500:
        raise UnknownOutcomeError(f"sandbox answered {status} to a write: {detail}", status=status)
    raise ContentRejectedError(f"sandbox answered {status}: {detail}", status=status)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        violations = body.get("violations")
        text = str(body.get("detail") or body.get("title") or response.reason_phrase)
        return f"{text} {violations}" if violations else text
    return response.reason_phrase


def _parse(response: httpx.Response, model: type[Model], *, write: bool) -> Model:
    try:
        return model.model_validate_json(response.content)
    except ValidationError:
        message = f"malformed {model.__name__} from the sandbox (HTTP {response.status_code})"
        if write:
            raise UnknownOutcomeError(message, status=response.status_code) from None
        raise RetryableError(message, status=response.status_code) from None


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` (seconds or an HTTP date), else the rate limit's reset time."""
    value = response.headers.get("Retry-After")
    if value is not None:
        if value.strip().isdigit():
            return float(value)
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())
    reset = response.headers.get("X-RateLimit-Reset")
    if reset is not None and reset.isdigit():
        return max(0.0, math.ceil(int(reset) - time.time()))
    return None


def _credentials(tokens: TokenResponse, *, extra: dict[str, str]) -> Credentials:
    return Credentials(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=datetime.now(UTC) + timedelta(seconds=tokens.expires_in),
        extra=extra,
    )

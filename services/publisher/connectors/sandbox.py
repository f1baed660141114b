"""Connector for the built-in sandbox platform (``services/sandbox``, README "Sandbox platform").

The sandbox is a local simulation, not a real network; its API is documented by its own OpenAPI
(``/docs`` on its port) and its schemas module, which this connector reads responses with.
Requests go through ``http.py`` like every platform's, and failures are classified as it reads a
status, with the sandbox's own meanings: 403 (a token of another account) needs
re-authorisation, and its 503 is answered before anything is done, so it is retryable even for a
write. A write whose answer is lost or garbled has an unknown outcome, to be checked with
``check_status``.

It also reads the conversations of the connected account (the optional ``ConversationReader``
capability): the comments on its recent posts and the mentions of it, each list paged after
``since`` on its own, then merged oldest first; and it answers them (``ConversationReplier``):
``POST /v1/conversations/{id}/replies`` with an ``Idempotency-Key``, which the sandbox keeps for
good, so a lost answer is checked by finding the key among the conversation's replies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
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
    ReplyRequest,
    ReplyResult,
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
from services.publisher.contracts import ConversationsRead, PlatformConversation
from services.sandbox.schemas import (
    AccountOut,
    Conversation,
    ConversationPage,
    PostMetricsOut,
    PostOut,
    PostPage,
    ReplyOut,
    ReplyPage,
    TokenResponse,
    Violation,
)
from shared.domain import Channel
from shared.rate_limits import retry_after_seconds
from shared.settings import Settings

PAGE_SIZE = 100
# Comments are read on the account's recent posts only: those of the last ``RECENT_POST_DAYS``,
# at most ``RECENT_POSTS`` of them. The sandbox's audience comments within a simulated day or
# two, and a read of that many posts stays within its default burst of requests.
RECENT_POST_DAYS = 30
RECENT_POSTS = 15
THROTTLED = 429
EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)


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

    # --- the ConversationReader capability --------------------------------------------------

    async def read_conversations(
        self, credentials: Credentials, account_id: str, since: datetime | None, limit: int
    ) -> ConversationsRead:
        """The mentions of the account and the comments on its recent posts after ``since``,
        oldest first, at most ``limit``; each list is read up to ``limit`` items so that the
        merge misses nothing older than the last one returned.

        Throttled part way (429), it answers what it read up to the point every list was read
        to, with ``retry_after``; throttled before that point, it raises the ``RetryableError``.
        """
        account = await self._call("GET", f"/v1/accounts/{account_id}", AccountOut, credentials)
        recent = await self._call(
            "GET",
            f"/v1/accounts/{account_id}/posts",
            PostPage,
            credentials,
            params={
                "since": (datetime.now(UTC) - timedelta(days=RECENT_POST_DAYS)).isoformat(),
                "limit": RECENT_POSTS,
            },
        )
        # Mentions first, then posts oldest first: a list not read yet holds nothing older than
        # its post, so a throttled read still answers what came before the oldest one left.
        streams = [_Stream(f"/v1/accounts/{account_id}/mentions", "mention", opens_at=None)]
        streams += [
            _Stream(f"/v1/posts/{post.id}/comments", "comment", opens_at=post.created_at)
            for post in reversed(recent.data)
        ]
        retry_after = None
        try:
            for stream in streams:
                await self._read_stream(credentials, stream, since, limit)
        except RetryableError as error:
            if error.status != THROTTLED:
                raise
            retry_after = error.retry_after
            conversations, newest = _merged(streams, since, limit)
            if not conversations:
                raise
        else:
            conversations, newest = _merged(streams, since, limit)
        return ConversationsRead(
            channel=self.channel.value,
            account_handle=account.handle,
            conversations=conversations,
            newest=newest,
            retry_after=retry_after,
        )

    async def _read_stream(
        self, credentials: Credentials, stream: _Stream, since: datetime | None, limit: int
    ) -> None:
        """Page through one list after ``since`` until ``limit`` items or its end."""
        after = since
        while not stream.finished and len(stream.read) < limit:
            size = min(PAGE_SIZE, limit - len(stream.read))
            params: dict[str, str | int] = {"limit": size}
            if after is not None:
                params["since"] = after.isoformat()
            try:
                page = await self._call(
                    "GET", stream.path, ConversationPage, credentials, params=params
                )
            except ConnectorError as error:
                if error.status != 404:
                    raise
                # The post was deleted since it was listed: its comments are gone with it.
                stream.finished = True
                return
            stream.read += [_conversation(item, stream.kind) for item in page.data]
            stream.finished = len(page.data) < size
            if page.data:
                after = page.data[-1].created_at

    # --- the ConversationReplier capability -------------------------------------------------

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        reply = await self._call(
            "POST",
            f"/v1/conversations/{request.in_reply_to}/replies",
            ReplyOut,
            credentials,
            write=True,
            json={"text": request.text},
            headers={"Idempotency-Key": request.idempotency_key},
        )
        return ReplyResult(platform_reply_id=reply.id, url=reply.url)

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        """The conversation's reply carrying the request's idempotency key, if any."""
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        while True:
            page = await self._call(
                "GET",
                f"/v1/conversations/{request.in_reply_to}/replies",
                ReplyPage,
                credentials,
                params=params,
            )
            for reply in page.data:
                if (reply.account_id, reply.idempotency_key) == (
                    request.account_id,
                    request.idempotency_key,
                ):
                    return ReplyResult(platform_reply_id=reply.id, url=reply.url)
            if page.next_cursor is None:
                return None
            params["cursor"] = page.next_cursor

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


@dataclass
class _Stream:
    """One list the sandbox pages through after ``since``: the account's mentions, or one
    post's comments (none older than the post)."""

    path: str
    kind: Literal["comment", "mention"]
    opens_at: datetime | None
    read: list[PlatformConversation] = field(default_factory=list)
    finished: bool = False

    def read_through(self, since: datetime | None) -> datetime:
        """Nothing in this list created up to this instant is left unread."""
        if self.finished:
            return LATEST
        if self.read:
            return self.read[-1].created_at
        return max(since or EARLIEST, self.opens_at or EARLIEST)


def _merged(
    streams: list[_Stream], since: datetime | None, limit: int
) -> tuple[list[PlatformConversation], datetime | None]:
    """What the lists read hold up to the instant all of them were read through, oldest first,
    cut at ``limit``; and the newest instant returned (``since`` when nothing is)."""
    read_through = min(stream.read_through(since) for stream in streams)
    found = sorted(
        (item for stream in streams for item in stream.read if item.created_at <= read_through),
        key=lambda item: (item.created_at, item.external_id),
    )
    kept = found[:limit]
    if len(found) > limit:
        # The next read starts after the last instant returned: one cut between items of the
        # same instant would lose the rest, so the cut moves before that instant when it can.
        cut_at = found[limit].created_at
        before = [item for item in kept if item.created_at < cut_at]
        kept = before or kept
    return kept, kept[-1].created_at if kept else since


def _conversation(item: Conversation, kind: Literal["comment", "mention"]) -> PlatformConversation:
    """The conversation as a real platform would give it: the sandbox's simulated sentiment
    label is a testing aid and stays behind."""
    return PlatformConversation(
        external_id=item.id,
        kind=kind,
        post_external_id=item.post_id,
        author_id=item.author.id,
        author_handle=item.author.handle,
        author_name=item.author.name,
        text=item.text,
        language=item.language,
        created_at=item.created_at,
        latitude=item.place.latitude if item.place else None,
        longitude=item.place.longitude if item.place else None,
        place_name=item.place.name if item.place else None,
    )

"""Mastodon through its REST API, on the account's own instance.

Implements:

- statuses: https://docs.joinmastodon.org/methods/statuses/ (``POST /api/v1/statuses`` with
  ``status``, ``media_ids``, ``visibility`` and the ``Idempotency-Key`` header;
  ``GET /api/v1/statuses/:id`` with ``favourites_count``, ``reblogs_count``,
  ``replies_count``)
- media: https://docs.joinmastodon.org/methods/media/ (``POST /api/v2/media``: 200 when
  processed, 202 when still processing; ``GET /api/v1/media/:id`` answers 206 until it is done)
- accounts: https://docs.joinmastodon.org/methods/accounts/ (``GET /api/v1/accounts/:id`` with
  ``followers_count``; ``GET /api/v1/accounts/:id/statuses`` to find a status whose outcome was
  lost; ``GET /api/v1/accounts/verify_credentials``)
- replies: the same ``POST /api/v1/statuses`` with ``in_reply_to_id``, and
  ``GET /api/v1/statuses/:id/context`` (``descendants``) to find a reply whose outcome was lost
- rate limits: https://docs.joinmastodon.org/api/rate-limits/ (``X-RateLimit-Reset``, ISO 8601)
- errors: https://docs.joinmastodon.org/entities/Error/ (``{"error": ...}``)

Idempotency: Mastodon remembers an ``Idempotency-Key`` for one hour and answers a repeated
request with the status it already created, so a retry inside that hour cannot duplicate. The
connector still reports a lost answer as unknown and ``check_status`` looks the status up, because
a retry after the hour would post twice. A reply is kept the same way, and ``find_reply`` looks
for the account's answer to the status saying the same text among the status's descendants.

The instance is ``credentials.extra["instance_url"]`` (a base URL given to the constructor, as
in tests, takes precedence). Tokens do not expire; ``refresh`` checks the token still works.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, RootModel

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectorError,
    Credentials,
    MediaRef,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    ReplyRequest,
    ReplyResult,
    RetryableError,
)
from services.publisher.connectors.http import (
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
    found_by_text,
    media_bytes,
    nothing_published_yet,
    parse,
    poll,
    same_text,
    text_with_link,
)
from services.publisher.connectors.oauth import OAuthApp
from shared.domain import Channel

_VISIBILITY = {"public": "public", "unlisted": "unlisted", "private": "private"}


class MastodonError(BaseModel):
    error: str


def classify_mastodon(response: httpx.Response, write: bool) -> ConnectorError:
    error = error_body(response, MastodonError)
    detail = error_detail(response) if error is None else f"{response.status_code} {error.error}"
    return classify_by_status(response, write, detail)


class Author(BaseModel):
    id: str


class Status(BaseModel):
    id: str
    url: str | None = None
    content: str = ""
    in_reply_to_id: str | None = None
    account: Author | None = None
    favourites_count: int = 0
    reblogs_count: int = 0
    replies_count: int = 0


class Statuses(RootModel[list[Status]]):
    pass


class Context(BaseModel):
    """``GET /api/v1/statuses/:id/context``: the thread around a status."""

    ancestors: list[Status] = []
    descendants: list[Status] = []


class Attachment(BaseModel):
    id: str
    url: str | None = None


class Account(BaseModel):
    id: str
    followers_count: int | None = None


class MastodonConnector:
    channel = Channel.MASTODON

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        media_poll_attempts: int = 30,
        media_poll_interval: float = 2.0,
    ) -> None:
        # ``app`` is not needed: Mastodon tokens never expire, so there is nothing to renew.
        self._http = http
        self._base_url = base_url
        self._media_poll_attempts = media_poll_attempts
        self._media_poll_interval = media_poll_interval

    def _api(self, credentials: Credentials) -> PlatformApi:
        instance = self._base_url or credentials.extra.get("instance_url")
        if not instance:
            raise AuthError("the Mastodon connection does not name its instance_url")
        return PlatformApi(self._http, instance, classify_mastodon, name="mastodon")

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        api = self._api(credentials)
        with nothing_published_yet("media upload"):
            media_ids = [await self._upload(api, credentials, media) for media in request.media]
        body: dict[str, Any] = {
            "status": text_with_link(request),
            "visibility": _VISIBILITY[request.privacy],
        }
        if media_ids:
            body["media_ids"] = media_ids
        status = await api.fetch(
            "POST",
            "/api/v1/statuses",
            Status,
            write=True,
            json=body,
            headers=bearer(credentials.access_token) | {"Idempotency-Key": request.idempotency_key},
        )
        return PublishResult(platform_post_id=status.id, url=status.url)

    async def _upload(self, api: PlatformApi, credentials: Credentials, media: MediaRef) -> str:
        content = await media_bytes(self._http, media)
        filename = media.url.rpartition("/")[2] or "media"
        response = await api.send(
            "POST",
            "/api/v2/media",
            write=True,
            files={"file": (filename, content, media.mime_type)},
            headers=bearer(credentials.access_token),
        )
        attachment = parse(response, Attachment, write=True, platform="mastodon")
        if response.status_code == 202:
            await self._wait_for_processing(api, credentials, attachment.id)
        return attachment.id

    async def _wait_for_processing(
        self, api: PlatformApi, credentials: Credentials, media_id: str
    ) -> None:
        async def processed() -> bool | None:
            response = await api.send(
                "GET",
                f"/api/v1/media/{media_id}",
                write=False,
                headers=bearer(credentials.access_token),
            )
            return True if response.status_code == 200 else None

        done = await poll(
            processed, attempts=self._media_poll_attempts, interval=self._media_poll_interval
        )
        if done is None:
            raise RetryableError(f"Mastodon is still processing media {media_id}")

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        recent = await self._api(credentials).get(
            f"/api/v1/accounts/{request.account_id}/statuses",
            Statuses,
            credentials.access_token,
            params={"limit": 40, "exclude_replies": "true", "exclude_reblogs": "true"},
        )
        return found_by_text(((s.id, s.content) for s in recent.root), text_with_link(request))

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        status = await self._api(credentials).get(
            f"/api/v1/statuses/{platform_post_id}", Status, credentials.access_token
        )
        return PostMetrics(
            likes=status.favourites_count,
            shares=status.reblogs_count,
            comments=status.replies_count,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        account = await self._api(credentials).get(
            f"/api/v1/accounts/{account_id}", Account, credentials.access_token
        )
        return AccountMetrics(followers=account.followers_count)

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        status = await self._api(credentials).fetch(
            "POST",
            "/api/v1/statuses",
            Status,
            write=True,
            json={"status": request.text, "in_reply_to_id": request.in_reply_to},
            headers=bearer(credentials.access_token) | {"Idempotency-Key": request.idempotency_key},
        )
        return ReplyResult(platform_reply_id=status.id, url=status.url)

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        thread = await self._api(credentials).get(
            f"/api/v1/statuses/{request.in_reply_to}/context", Context, credentials.access_token
        )
        for status in thread.descendants:
            if (
                status.in_reply_to_id == request.in_reply_to
                and status.account is not None
                and status.account.id == request.account_id
                and same_text(status.content, request.text)
            ):
                return ReplyResult(platform_reply_id=status.id, url=status.url)
        return None

    async def refresh(self, credentials: Credentials) -> Credentials:
        """Mastodon tokens do not expire: check the token still works (AuthError when revoked)."""
        await self._api(credentials).get(
            "/api/v1/accounts/verify_credentials", Account, credentials.access_token
        )
        return credentials

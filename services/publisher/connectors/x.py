"""X (formerly Twitter) through the X API v2.

Implements:

- posts: https://docs.x.com/x-api/posts/create-post (``POST /2/tweets`` with ``text`` and
  ``media.media_ids``; 201 ``{"data": {"id", "text"}}``)
- replies: the same ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id``; a reply whose
  outcome was lost is found among the user's recent posts by its ``referenced_tweets``
  (``replied_to``) and its text, since X keeps no idempotency key
- chunked media upload on the v2 endpoints:
  https://docs.x.com/x-api/media/quickstart/media-upload-chunked
  (``POST /2/media/upload/initialize``, ``POST /2/media/upload/:id/append`` with
  ``segment_index``, ``POST /2/media/upload/:id/finalize``, then
  ``GET /2/media/upload?command=STATUS`` while ``processing_info`` says so)
- metrics: https://docs.x.com/x-api/fundamentals/metrics (``tweet.fields=public_metrics``,
  ``user.fields=public_metrics``)
- a user's recent posts: https://docs.x.com/x-api/users/get-posts
  (``GET /2/users/:id/tweets`` with ``start_time``), to find a post whose outcome was lost
- rate limits: https://docs.x.com/x-api/fundamentals/rate-limits (``x-rate-limit-reset`` in epoch
  seconds; the per-user daily posting limit in ``x-user-limit-24hour-*``)
- errors: https://docs.x.com/x-api/fundamentals/response-codes-and-errors (problem objects with
  ``title``, ``detail``, ``type``)

X has no link field: a link goes at the end of the text, as people write it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectorError,
    ContentRejectedError,
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
    found_by_text,
    media_chunks,
    nothing_published_yet,
    same_text,
    text_with_link,
)
from services.publisher.connectors.oauth import ENDPOINTS, OAuthApp, refresh_access_token
from shared.domain import Channel
from shared.rate_limits import parse_reset

API_HOST = "https://api.x.com"
_AUTH_PROBLEMS = ("client-forbidden", "unsupported-authentication")


class Problem(BaseModel):
    title: str = ""
    detail: str = ""
    type: str = ""


def classify_x(response: httpx.Response, write: bool) -> ConnectorError:
    problem = error_body(response, Problem) or Problem(detail=response.text[:300])
    detail = f"{response.status_code} {problem.title}: {problem.detail}"
    status = response.status_code
    if status == 403 and problem.type.endswith(_AUTH_PROBLEMS):
        return AuthError(detail, status=status)
    if status == 429 and response.headers.get("x-user-limit-24hour-remaining") == "0":
        reset = parse_reset(response.headers.get("x-user-limit-24hour-reset", ""), _now())
        return RetryableError(detail, status=status, retry_after=reset)
    return classify_by_status(response, write, detail)


def _now() -> datetime:
    return datetime.now(UTC)


class TweetId(BaseModel):
    id: str
    text: str = ""


class Created(BaseModel):
    data: TweetId


class PublicMetrics(BaseModel):
    retweet_count: int = 0
    reply_count: int = 0
    like_count: int = 0
    quote_count: int = 0
    bookmark_count: int | None = None
    impression_count: int | None = None


class TweetWithMetrics(BaseModel):
    id: str
    public_metrics: PublicMetrics


class TweetLookup(BaseModel):
    data: TweetWithMetrics | None = None


class Timeline(BaseModel):
    data: list[TweetId] = []


class ReferencedTweet(BaseModel):
    type: str
    id: str


class TimelineTweet(BaseModel):
    id: str
    text: str = ""
    referenced_tweets: list[ReferencedTweet] = []


class RepliesTimeline(BaseModel):
    data: list[TimelineTweet] = []


class UserMetrics(BaseModel):
    followers_count: int | None = None


class User(BaseModel):
    public_metrics: UserMetrics


class UserLookup(BaseModel):
    data: User


class ProcessingError(BaseModel):
    message: str = ""


class ProcessingInfo(BaseModel):
    state: str
    check_after_secs: float = 1.0
    error: ProcessingError | None = None


class UploadedMedia(BaseModel):
    id: str
    processing_info: ProcessingInfo | None = None


class UploadAnswer(BaseModel):
    data: UploadedMedia


class XConnector:
    channel = Channel.X

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        lookback: timedelta = timedelta(days=2),
        chunk_size: int = 4 * 1024 * 1024,
        max_processing_checks: int = 60,
    ) -> None:
        self._api = PlatformApi(http, base_url or API_HOST, classify_x, name="x")
        self._app = app
        self._oauth = ENDPOINTS[Channel.X].rebased(base_url) if base_url else ENDPOINTS[Channel.X]
        self._lookback = lookback
        self._chunk_size = chunk_size
        self._max_processing_checks = max_processing_checks

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        with nothing_published_yet("media upload"):
            media_ids = [await self._upload(credentials, media) for media in request.media]
        body: dict[str, Any] = {"text": text_with_link(request)}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        created = await self._api.fetch(
            "POST",
            "/2/tweets",
            Created,
            write=True,
            json=body,
            headers=bearer(credentials.access_token),
        )
        post_id = created.data.id
        return PublishResult(platform_post_id=post_id, url=f"https://x.com/i/web/status/{post_id}")

    async def _upload(self, credentials: Credentials, media: MediaRef) -> str:
        auth = bearer(credentials.access_token)
        started = await self._api.fetch(
            "POST",
            "/2/media/upload/initialize",
            UploadAnswer,
            write=True,
            headers=auth,
            json={
                "media_type": media.mime_type,
                "total_bytes": media.size_bytes,
                "media_category": _category(media),
            },
        )
        media_id = started.data.id
        index = 0
        async for chunk in media_chunks(self._api.http, media, self._chunk_size):
            await self._api.send(
                "POST",
                f"/2/media/upload/{media_id}/append",
                write=True,
                headers=auth,
                data={"segment_index": str(index)},
                files={"media": ("chunk", chunk)},
            )
            index += 1
        finished = await self._api.fetch(
            "POST", f"/2/media/upload/{media_id}/finalize", UploadAnswer, write=True, headers=auth
        )
        await self._wait_for_processing(credentials, finished.data)
        return media_id

    async def _wait_for_processing(self, credentials: Credentials, media: UploadedMedia) -> None:
        for _ in range(self._max_processing_checks):
            info = media.processing_info
            if info is None or info.state == "succeeded":
                return
            if info.state == "failed":
                reason = info.error.message if info.error else "no reason given"
                raise ContentRejectedError(f"X could not process media {media.id}: {reason}")
            await asyncio.sleep(info.check_after_secs)
            status = await self._api.get(
                "/2/media/upload",
                UploadAnswer,
                credentials.access_token,
                params={"command": "STATUS", "media_id": media.id},
            )
            media = status.data
        raise RetryableError(f"X is still processing media {media.id}")

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        start = (_now() - self._lookback).strftime("%Y-%m-%dT%H:%M:%SZ")
        timeline = await self._api.get(
            f"/2/users/{request.account_id}/tweets",
            Timeline,
            credentials.access_token,
            params={"max_results": 100, "start_time": start, "tweet.fields": "created_at"},
        )
        return found_by_text(((t.id, t.text) for t in timeline.data), text_with_link(request))

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        created = await self._api.fetch(
            "POST",
            "/2/tweets",
            Created,
            write=True,
            json={"text": request.text, "reply": {"in_reply_to_tweet_id": request.in_reply_to}},
            headers=bearer(credentials.access_token),
        )
        reply_id = created.data.id
        return ReplyResult(platform_reply_id=reply_id, url=f"https://x.com/i/web/status/{reply_id}")

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        start = (_now() - self._lookback).strftime("%Y-%m-%dT%H:%M:%SZ")
        timeline = await self._api.get(
            f"/2/users/{request.account_id}/tweets",
            RepliesTimeline,
            credentials.access_token,
            params={
                "max_results": 100,
                "start_time": start,
                "tweet.fields": "created_at,referenced_tweets",
            },
        )
        for tweet in timeline.data:
            answers = any(
                ref.type == "replied_to" and ref.id == request.in_reply_to
                for ref in tweet.referenced_tweets
            )
            if answers and same_text(tweet.text, request.text):
                return ReplyResult(
                    platform_reply_id=tweet.id, url=f"https://x.com/i/web/status/{tweet.id}"
                )
        return None

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        lookup = await self._api.get(
            f"/2/tweets/{platform_post_id}",
            TweetLookup,
            credentials.access_token,
            params={"tweet.fields": "public_metrics"},
        )
        if lookup.data is None:
            # X answers 200 with only ``errors`` for a deleted post.
            raise ContentRejectedError(f"post {platform_post_id} no longer exists on X")
        figures = lookup.data.public_metrics
        return PostMetrics(
            impressions=figures.impression_count,
            likes=figures.like_count,
            comments=figures.reply_count,
            shares=figures.retweet_count + figures.quote_count,
            saves=figures.bookmark_count,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        user = await self._api.get(
            f"/2/users/{account_id}",
            UserLookup,
            credentials.access_token,
            params={"user.fields": "public_metrics"},
        )
        return AccountMetrics(followers=user.data.public_metrics.followers_count)

    async def refresh(self, credentials: Credentials) -> Credentials:
        if self._app is None:
            raise AuthError("no X app is configured to renew the token")
        return await refresh_access_token(self._api.http, self._oauth, self._app, credentials)


def _category(media: MediaRef) -> str:
    if media.mime_type == "image/gif":
        return "tweet_gif"
    return "tweet_image" if media.mime_type.startswith("image/") else "tweet_video"

"""YouTube through the YouTube Data API v3.

Implements:

- resumable upload: https://developers.google.com/youtube/v3/guides/using_resumable_upload_protocol
  (``POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status`` with the video
  resource, ``X-Upload-Content-Length`` and ``-Type`` → ``Location``; ``PUT`` chunks with
  ``Content-Range``, ``308 Resume Incomplete`` + ``Range`` until ``200/201`` with the video; an
  interrupted upload is resumed after asking ``Content-Range: bytes */total``)
- the video resource (``snippet.title``, ``description``, ``tags``; ``status.privacyStatus``):
  https://developers.google.com/youtube/v3/docs/videos
- ``videos.list?part=statistics|status``:
  https://developers.google.com/youtube/v3/docs/videos/list
- ``channels.list?part=statistics|contentDetails`` and the uploads playlist
  (``playlistItems.list``) to find an upload whose outcome was lost:
  https://developers.google.com/youtube/v3/docs/channels/list,
  https://developers.google.com/youtube/v3/docs/playlistItems/list
- replies to comments: ``comments.insert`` (``POST /youtube/v3/comments?part=snippet`` with
  ``snippet.parentId`` and ``snippet.textOriginal``):
  https://developers.google.com/youtube/v3/docs/comments/insert; a reply whose outcome was lost
  is the channel's reply to the comment saying the same text among ``comments.list``
  (``parentId``, ``textFormat=plainText``):
  https://developers.google.com/youtube/v3/docs/comments/list. The API keeps no idempotency key.
- errors: https://developers.google.com/youtube/v3/docs/errors (``{"error": {"code", "errors":
  [{"reason"}]}}``; ``quotaExceeded`` lasts until the daily quota resets at midnight Pacific Time:
  https://developers.google.com/youtube/v3/getting-started#quota)

A video is created only when its last byte arrives, so everything before that is safe to retry.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

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
    ReplyRequest,
    ReplyResult,
    RetryableError,
)
from services.publisher.connectors.http import (
    Model,
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
    media_chunks,
    nothing_published_yet,
    parse,
    same_text,
    text_with_link,
    upload_resumably,
)
from services.publisher.connectors.oauth import ENDPOINTS, OAuthApp, refresh_access_token
from shared.domain import Channel
from shared.rate_limits import seconds_until_quota_reset

GOOGLE_HOST = "https://www.googleapis.com"
API = "/youtube/v3"
# Resumable chunks must be multiples of 256 KiB (except the last).
CHUNK_QUANTUM = 256 * 1024
_DAILY_LIMIT_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"})
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_AUTH_REASONS = frozenset({"authError", "insufficientPermissions", "youtubeSignupRequired"})


class ErrorItem(BaseModel):
    reason: str = ""
    message: str = ""


class GoogleError(BaseModel):
    code: int
    message: str = ""
    errors: list[ErrorItem] = []


class GoogleErrorBody(BaseModel):
    error: GoogleError


def classify_youtube(response: httpx.Response, write: bool) -> ConnectorError:
    body = error_body(response, GoogleErrorBody)
    if body is None:
        return classify_by_status(response, write, error_detail(response))
    error = body.error
    reasons = {item.reason for item in error.errors}
    detail = f"{response.status_code} {sorted(reasons)}: {error.message}"
    status = response.status_code
    if reasons & _AUTH_REASONS:
        return AuthError(detail, status=status)
    if reasons & _DAILY_LIMIT_REASONS:
        return RetryableError(detail, status=status, retry_after=seconds_until_quota_reset())
    if reasons & _RATE_REASONS:
        return RetryableError(detail, status=status)
    return classify_by_status(response, write, detail)


class Camel(BaseModel):
    """The API's camelCase fields under Python names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class UploadState(Camel):
    upload_status: str = "uploaded"


class Video(Camel):
    id: str
    status: UploadState = UploadState()


class ChannelRef(Camel):
    value: str


class CommentSnippet(Camel):
    text_display: str = ""
    author_channel_id: ChannelRef | None = None
    parent_id: str | None = None


class Comment(Camel):
    id: str
    snippet: CommentSnippet = CommentSnippet()


class CommentList(Camel):
    items: list[Comment] = []


class VideoStatistics(Camel):
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None


class VideoItem(Camel):
    id: str
    statistics: VideoStatistics = VideoStatistics()
    status: UploadState = UploadState()


class VideoList(Camel):
    items: list[VideoItem]


class ChannelStatistics(Camel):
    subscriber_count: int | None = None


class ChannelContent(Camel):
    related_playlists: dict[str, str] = {}


class ChannelItem(Camel):
    statistics: ChannelStatistics = ChannelStatistics()
    content_details: ChannelContent = ChannelContent()


class ChannelList(Camel):
    items: list[ChannelItem]


class PlaylistSnippet(Camel):
    title: str = ""
    description: str = ""
    resource_id: dict[str, str]


class PlaylistItem(Camel):
    snippet: PlaylistSnippet


class PlaylistItems(Camel):
    items: list[PlaylistItem]


class ResumableUpload:
    """One upload session (its ``Location`` URL): sends chunks, asks what arrived."""

    def __init__(self, api: PlatformApi, url: str, total: int, token: str) -> None:
        self._api = api
        self._url = url
        self._total = total
        self._token = token
        self.video: Video | None = None

    async def send(self, offset: int, data: bytes) -> int:
        span = f"bytes {offset}-{offset + len(data) - 1}/{self._total}"
        return await self._put(data, span)

    async def received(self) -> int:
        return await self._put(b"", f"bytes */{self._total}")

    async def _put(self, data: bytes, content_range: str) -> int:
        try:
            response = await self._api.send(
                "PUT",
                self._url,
                write=True,
                content=data,
                accept=lambda answer: answer.status_code == 308,
                headers=bearer(self._token) | {"Content-Range": content_range},
            )
        except ContentRejectedError as error:
            if error.status in (404, 410):
                # The session expired: no video exists, the upload starts over.
                raise RetryableError("the YouTube upload session expired") from error
            raise
        if response.status_code == 308:
            held = response.headers.get("range")
            return int(held.rpartition("-")[2]) + 1 if held else 0
        self.video = parse(response, Video, write=True, platform="youtube")
        return self._total


class YouTubeConnector:
    channel = Channel.YOUTUBE

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        chunk_size: int = 32 * CHUNK_QUANTUM,
    ) -> None:
        if chunk_size % CHUNK_QUANTUM:
            raise ValueError(f"chunk_size must be a multiple of {CHUNK_QUANTUM}")
        self._api = PlatformApi(http, base_url or GOOGLE_HOST, classify_youtube, name="youtube")
        self._app = app
        endpoints = ENDPOINTS[Channel.YOUTUBE]
        self._oauth = endpoints.rebased(base_url) if base_url else endpoints
        self._chunk_size = chunk_size

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        media = request.media[0]
        with nothing_published_yet("starting the upload"):
            started = await self._api.send(
                "POST",
                "/upload/youtube/v3/videos",
                write=True,
                params={"uploadType": "resumable", "part": "snippet,status"},
                json=_video_resource(request),
                headers=bearer(credentials.access_token)
                | {
                    "X-Upload-Content-Length": str(media.size_bytes),
                    "X-Upload-Content-Type": media.mime_type,
                },
            )
        location = started.headers.get("location")
        if location is None:
            raise RetryableError("YouTube started an upload without a Location")
        session = ResumableUpload(self._api, location, media.size_bytes, credentials.access_token)
        await upload_resumably(media_chunks(self._api.http, media, self._chunk_size), session)
        if session.video is None:
            raise RetryableError("the upload ended without YouTube confirming the video")
        state = "published" if session.video.status.upload_status == "processed" else "processing"
        return PublishResult(
            platform_post_id=session.video.id,
            url=f"https://www.youtube.com/watch?v={session.video.id}",
            state=state,
        )

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        channels = await self._get(
            credentials, "/channels", ChannelList, part="contentDetails", id=request.account_id
        )
        uploads = next(
            (c.content_details.related_playlists.get("uploads") for c in channels.items), None
        )
        if uploads is None:
            return PublishStatus(state="not_found", detail="the channel has no uploads playlist")
        recent = await self._get(
            credentials,
            "/playlistItems",
            PlaylistItems,
            part="snippet",
            playlistId=uploads,
            maxResults=50,
        )
        for item in recent.items:
            if item.snippet.title == request.title and same_text(
                item.snippet.description, text_with_link(request)
            ):
                return await self._video_status(credentials, item.snippet.resource_id["videoId"])
        return PublishStatus(state="not_found")

    async def _video_status(self, credentials: Credentials, video_id: str) -> PublishStatus:
        videos = await self._get(credentials, "/videos", VideoList, part="status", id=video_id)
        upload = videos.items[0].status.upload_status if videos.items else "uploaded"
        if upload in ("failed", "rejected", "deleted"):
            return PublishStatus(state="failed", platform_post_id=video_id, detail=upload)
        state = "published" if upload == "processed" else "processing"
        return PublishStatus(state=state, platform_post_id=video_id)

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        videos = await self._get(
            credentials, "/videos", VideoList, part="statistics", id=platform_post_id
        )
        if not videos.items:
            raise ContentRejectedError(f"video {platform_post_id} no longer exists on YouTube")
        figures = videos.items[0].statistics
        return PostMetrics(
            likes=figures.like_count, comments=figures.comment_count, video_views=figures.view_count
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        channels = await self._get(
            credentials, "/channels", ChannelList, part="statistics", id=account_id
        )
        followers = channels.items[0].statistics.subscriber_count if channels.items else None
        return AccountMetrics(followers=followers)

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult:
        comment = await self._api.fetch(
            "POST",
            f"{API}/comments",
            Comment,
            write=True,
            params={"part": "snippet"},
            json={"snippet": {"parentId": request.in_reply_to, "textOriginal": request.text}},
            headers=bearer(credentials.access_token),
        )
        return ReplyResult(platform_reply_id=comment.id)

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None:
        replies = await self._get(
            credentials,
            "/comments",
            CommentList,
            part="snippet",
            parentId=request.in_reply_to,
            maxResults=100,
            textFormat="plainText",
        )
        for comment in replies.items:
            author = comment.snippet.author_channel_id
            if (
                author is not None
                and author.value == request.account_id
                and same_text(comment.snippet.text_display, request.text)
            ):
                return ReplyResult(platform_reply_id=comment.id)
        return None

    async def refresh(self, credentials: Credentials) -> Credentials:
        if self._app is None:
            raise AuthError("no Google app is configured to renew the token")
        return await refresh_access_token(self._api.http, self._oauth, self._app, credentials)

    async def _get(
        self, credentials: Credentials, resource: str, model: type[Model], **params: str | int
    ) -> Model:
        return await self._api.get(
            f"{API}{resource}", model, credentials.access_token, params=params
        )


def _video_resource(request: PublishRequest) -> dict[str, object]:
    return {
        "snippet": {
            "title": request.title,
            "description": text_with_link(request),
            "tags": request.tags,
        },
        "status": {"privacyStatus": request.privacy},
    }

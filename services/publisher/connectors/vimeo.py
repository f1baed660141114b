"""Vimeo through the Vimeo API (version 3.4).

Implements:

- resumable upload with tus: https://developer.vimeo.com/api/upload/videos#resumable-approach
  (``POST /me/videos`` with ``upload.approach=tus`` and ``upload.size`` → ``upload.upload_link``;
  ``PATCH`` with ``Upload-Offset`` and ``Tus-Resumable: 1.0.0``; ``HEAD`` for the offset the
  server holds, per https://tus.io/protocols/resumable-upload)
- videos: https://developer.vimeo.com/api/reference/videos (``name``, ``description``,
  ``privacy.view``; ``DELETE /videos/{id}``; ``GET /videos/{id}`` with ``fields=stats`` and
  like/comment totals; ``GET /me/videos`` to find a video whose outcome was lost)
- the account: ``GET /me?fields=metadata.connections.followers.total``
- errors and limits: https://developer.vimeo.com/api/guides/error-codes,
  https://developer.vimeo.com/api/guides/rate-limiting (``X-RateLimit-Reset``)
- tokens do not expire; ``GET /oauth/verify`` tells whether one still works:
  https://developer.vimeo.com/api/authentication

``POST /me/videos`` creates the video, so a failed upload deletes it again before reporting.
"""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AccountMetrics,
    ConnectorError,
    ContentRejectedError,
    Credentials,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.http import (
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
    media_chunks,
    same_text,
    text_with_link,
    upload_resumably,
)
from services.publisher.connectors.oauth import OAuthApp
from shared.domain import Channel

API_HOST = "https://api.vimeo.com"
_VERSION_HEADER = {"Accept": "application/vnd.vimeo.*+json;version=3.4"}
TUS_VERSION = "1.0.0"
MAX_NAME = 128
_PRIVACY = {"public": "anybody", "unlisted": "unlisted", "private": "nobody"}


class VimeoError(BaseModel):
    error: str = ""
    developer_message: str = ""
    error_code: int | None = None


def classify_vimeo(response: httpx.Response, write: bool) -> ConnectorError:
    error = error_body(response, VimeoError)
    if error is None:
        return classify_by_status(response, write, error_detail(response))
    detail = f"{response.status_code} {error.error_code}: {error.error} {error.developer_message}"
    return classify_by_status(response, write, detail)


class Upload(BaseModel):
    upload_link: str


class CreatedVideo(BaseModel):
    uri: str
    link: str | None = None
    upload: Upload


class Progress(BaseModel):
    status: str | None = None


class VideoSummary(BaseModel):
    uri: str
    name: str | None = None
    description: str | None = None
    upload: Progress = Progress()
    transcode: Progress = Progress()


class VideoPage(BaseModel):
    data: list[VideoSummary]


class Total(BaseModel):
    total: int | None = None


class Connections(BaseModel):
    likes: Total = Total()
    comments: Total = Total()
    followers: Total = Total()


class Metadata(BaseModel):
    connections: Connections = Connections()


class Stats(BaseModel):
    plays: int | None = None


class VideoFigures(BaseModel):
    stats: Stats = Stats()
    metadata: Metadata = Metadata()


class Me(BaseModel):
    metadata: Metadata = Metadata()


class Verified(BaseModel):
    scope: str = ""


class TusUpload:
    """The tus endpoint Vimeo handed out; the link itself authorises, so no token is sent."""

    def __init__(self, api: PlatformApi, link: str) -> None:
        self._api = api
        self._link = link

    async def send(self, offset: int, data: bytes) -> int:
        headers = {
            "Tus-Resumable": TUS_VERSION,
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
        }
        try:
            response = await self._api.send(
                "PATCH", self._link, write=True, content=data, headers=headers
            )
        except ContentRejectedError as error:
            if error.status == 409:
                # Our offset is not the server's: ask, then continue from its offset.
                raise UnknownOutcomeError("tus offset conflict", status=409) from error
            raise
        return _offset(response)

    async def received(self) -> int:
        response = await self._api.send(
            "HEAD", self._link, write=False, headers={"Tus-Resumable": TUS_VERSION}
        )
        return _offset(response)


def _offset(response: httpx.Response) -> int:
    value = response.headers.get("upload-offset", "")
    if not (value.isascii() and value.isdigit()):
        raise UnknownOutcomeError(f"tus answered {response.status_code} without Upload-Offset")
    return int(value)


class VimeoConnector:
    channel = Channel.VIMEO

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str | None = None,
        app: OAuthApp | None = None,
        chunk_size: int = 8 * 1024 * 1024,
    ) -> None:
        # ``app`` is not needed: Vimeo tokens never expire, so there is nothing to renew.
        self._api = PlatformApi(http, base_url or API_HOST, classify_vimeo, name="vimeo")
        self._chunk_size = chunk_size

    def _headers(self, credentials: Credentials) -> dict[str, str]:
        return bearer(credentials.access_token) | _VERSION_HEADER

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        media = request.media[0]
        created = await self._api.fetch(
            "POST",
            "/me/videos",
            CreatedVideo,
            write=True,
            json={
                "upload": {"approach": "tus", "size": media.size_bytes},
                "name": request.title or request.text[:MAX_NAME],
                "description": text_with_link(request),
                "privacy": {"view": _PRIVACY[request.privacy]},
            },
            headers=self._headers(credentials),
        )
        video_id = created.uri.rpartition("/")[2]
        try:
            chunks = media_chunks(self._api.http, media, self._chunk_size)
            await upload_resumably(chunks, TusUpload(self._api, created.upload.upload_link))
        except ConnectorError as error:
            raise await self._abandon(credentials, video_id, error) from error
        return PublishResult(platform_post_id=video_id, url=created.link, state="processing")

    async def _abandon(
        self, credentials: Credentials, video_id: str, cause: ConnectorError
    ) -> ConnectorError:
        """Delete the half-uploaded video, so that the post either exists whole or not at all."""
        try:
            await self._delete(credentials, video_id)
        except ConnectorError:
            return UnknownOutcomeError(
                f"upload of video {video_id} failed ({cause}) and it remains"
            )
        if isinstance(cause, UnknownOutcomeError):
            return RetryableError(f"upload of video {video_id} failed and it was deleted: {cause}")
        return cause

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        page = await self._api.get(
            "/me/videos",
            VideoPage,
            credentials.access_token,
            params={
                "fields": "uri,name,description,upload.status,transcode.status",
                "per_page": 25,
                "sort": "date",
                "direction": "desc",
            },
            headers=_VERSION_HEADER,
        )
        name = request.title or request.text[:MAX_NAME]
        for video in page.data:
            if video.name == name and same_text(video.description, text_with_link(request)):
                return await self._settle(credentials, video)
        return PublishStatus(state="not_found")

    async def _settle(self, credentials: Credentials, video: VideoSummary) -> PublishStatus:
        """A video whose upload never completed belongs to an attempt that is over: its bytes
        will not come. Delete it, so that publishing again leaves exactly one video."""
        video_id = video.uri.rpartition("/")[2]
        if video.upload.status == "complete":
            return _status(video_id, video.transcode.status)
        await self._delete(credentials, video_id)
        return PublishStatus(state="not_found", detail=f"deleted incomplete upload {video_id}")

    async def _delete(self, credentials: Credentials, video_id: str) -> None:
        """Delete a video of ours; one already gone (404) is as good as deleted."""
        await self._api.send(
            "DELETE",
            f"/videos/{video_id}",
            write=True,
            accept=lambda response: response.status_code == 404,
            headers=self._headers(credentials),
        )

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        video = await self._api.get(
            f"/videos/{platform_post_id}",
            VideoFigures,
            credentials.access_token,
            params={"fields": "stats,metadata.connections.likes,metadata.connections.comments"},
            headers=_VERSION_HEADER,
        )
        connections = video.metadata.connections
        return PostMetrics(
            video_views=video.stats.plays,
            likes=connections.likes.total,
            comments=connections.comments.total,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        me = await self._api.get(
            "/me",
            Me,
            credentials.access_token,
            params={"fields": "metadata.connections.followers.total"},
            headers=_VERSION_HEADER,
        )
        return AccountMetrics(followers=me.metadata.connections.followers.total)

    async def refresh(self, credentials: Credentials) -> Credentials:
        """Vimeo tokens do not expire: check the token still works (AuthError when revoked)."""
        await self._api.get(
            "/oauth/verify", Verified, credentials.access_token, headers=_VERSION_HEADER
        )
        return credentials


def _status(video_id: str, transcode: str | None) -> PublishStatus:
    state: Literal["published", "processing", "failed"] = "processing"
    if transcode == "complete":
        state = "published"
    elif transcode == "error":
        state = "failed"
    return PublishStatus(state=state, platform_post_id=video_id, detail=f"transcode {transcode}")

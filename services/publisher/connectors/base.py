"""The one interface every platform connector implements.

A connector speaks one platform's documented HTTP API and nothing else: it holds no state of its
own, takes credentials per call, and reports failures as one of four classes so that the publisher
can decide what to do: retry later, ask for re-authorisation, give up, or check before retrying.

What each platform accepts (lengths, media, required fields) is the content service's one table
of rules (``services/content/platform_rules.py``), checked when a variant is saved; a connector
does not check it again, it reports the platform's refusal as ``ContentRejectedError``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from services.publisher.contracts import ConversationsRead
from shared.domain import Channel


class MediaRef(BaseModel):
    """A media file the connector uploads: fetched by URL or read from local storage."""

    url: str
    mime_type: str
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_seconds: float | None = None
    # A medium of the content store: its ``url`` is a signed, expiring link, which the publisher
    # replaces with a fresh one before each attempt (``services/publisher/fresh_media.py``).
    media_id: uuid.UUID | None = None


class PublishRequest(BaseModel):
    # One per (variant, channel, slot): the same key always means the same post.
    idempotency_key: str
    channel: Channel
    account_id: str = Field(description="The platform's id of the page, profile or board")
    text: str = ""
    title: str | None = None
    link: str | None = None
    media: list[MediaRef] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    privacy: Literal["public", "unlisted", "private"] = "public"


class PublishResult(BaseModel):
    platform_post_id: str
    url: str | None = None
    # "processing": accepted, but the platform is still working on it (e.g. a video).
    state: Literal["published", "processing"] = "published"


class PublishStatus(BaseModel):
    """What the platform says about a publish whose outcome was unknown."""

    state: Literal["published", "processing", "not_found", "failed"]
    platform_post_id: str | None = None
    detail: str | None = None


class ReplyRequest(BaseModel):
    """An answer to one comment or mention, sent as the connected account."""

    # One per reply: the same key always means the same reply.
    idempotency_key: str
    channel: Channel
    account_id: str = Field(description="The platform's id of the account that answers")
    # The platform's id of the comment or mention answered, and of the post it is under.
    in_reply_to: str
    post_external_id: str | None = None
    text: str


class ReplyResult(BaseModel):
    platform_reply_id: str
    url: str | None = None


class PostMetrics(BaseModel):
    """Whatever the platform offers; absent figures stay None."""

    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    video_views: int | None = None


class AccountMetrics(BaseModel):
    followers: int | None = None


class Credentials(BaseModel):
    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    # Platform specifics, e.g. a page access token or an app id.
    extra: dict[str, str] = Field(default_factory=dict)


class ConnectedAccount(BaseModel):
    """What an authorisation connects: the account posts go to, its name on the platform when
    known, and the credentials to keep."""

    account_id: str
    display_name: str | None = None
    credentials: Credentials


class ConnectorError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryableError(ConnectorError):
    """Known not to have happened (429, 5xx before acceptance): safe to retry after a delay."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    """The token is expired or revoked: the connection needs re-authorisation."""


class ContentRejectedError(ConnectorError):
    """The platform refused the content itself: retrying cannot help."""


class UnknownOutcomeError(ConnectorError):
    """The request may have been applied (timeout after sending, malformed answer): check the
    status before any retry, never retry blindly."""


class Connector(Protocol):
    channel: Channel

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult: ...

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus: ...

    async def post_metrics(
        self, credentials: Credentials, platform_post_id: str
    ) -> PostMetrics: ...

    async def account_metrics(
        self, credentials: Credentials, account_id: str
    ) -> AccountMetrics: ...

    async def refresh(self, credentials: Credentials) -> Credentials: ...


@runtime_checkable
class ConversationReader(Connector, Protocol):
    """Optional: a connector that can also read the comments on an account's posts and the
    mentions of the account (for listening). Connectors without it cannot be listened to
    through the publisher.

    The answer is oldest first, at most ``limit``, and ``newest`` is a point up to which nothing
    is left unread, so a read from it misses nothing; when the platform throttles part way, the
    answer holds what is safe to return with ``retry_after`` set, or the ``RetryableError`` is
    raised when nothing is."""

    async def read_conversations(
        self, credentials: Credentials, account_id: str, since: datetime | None, limit: int
    ) -> ConversationsRead: ...


@runtime_checkable
class ConversationReplier(Connector, Protocol):
    """Optional: a connector that can answer a comment or a mention as the connected account.

    ``reply`` fails like ``publish`` (a lost answer is ``UnknownOutcomeError``); ``find_reply``
    is how a reply whose outcome was unknown is checked before anything is sent again: the
    reply the platform holds for the request (by its idempotency key where the platform keeps
    one, else the account's answer to the same comment saying the same text), or None when the
    platform has none."""

    async def reply(self, credentials: Credentials, request: ReplyRequest) -> ReplyResult: ...

    async def find_reply(
        self, credentials: Credentials, request: ReplyRequest
    ) -> ReplyResult | None: ...

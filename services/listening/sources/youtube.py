"""Comments on the organisation's YouTube videos, through the YouTube Data API v3.

Implements:

- ``commentThreads.list``: https://developers.google.com/youtube/v3/docs/commentThreads/list
  (``part=snippet``, ``allThreadsRelatedToChannelId`` or ``videoId``, ``order=time``: newest
  first, ``maxResults`` up to 100, ``pageToken``/``nextPageToken``, ``textFormat=plainText``)
- the comment resource (``snippet.textDisplay``, ``authorDisplayName``, ``authorChannelId.value``,
  ``publishedAt``, ``videoId``): https://developers.google.com/youtube/v3/docs/comments
- an API key, sent in the ``X-Goog-Api-Key`` header rather than the ``key`` query parameter, so
  that it never appears in a URL (HTTP client logs, proxies, reasons):
  https://cloud.google.com/docs/authentication/api-keys-use#using-with-rest
- errors: https://developers.google.com/youtube/v3/docs/errors (``{"error": {"code", "errors":
  [{"reason"}]}}``); ``quotaExceeded`` lasts until the daily quota resets at midnight Pacific
  Time: https://developers.google.com/youtube/v3/getting-started#quota

The API has no "since" parameter: a poll walks the pages, newest first, down to the newest
comment the previous poll delivered (its ``publishedAt`` and the ids at that second, since many
comments share one), and returns what is newer, oldest first. When more than
``MAX_MENTIONS_PER_POLL`` are new, it keeps the oldest of them and the next poll walks down again
for the rest: nothing is skipped, at the price of one quota unit per page walked.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from services.listening.contracts import RawAuthor, RawMention, SourceKind
from services.listening.sources.readers import (
    DEFAULT_RATE_LIMIT_WAIT,
    MAX_MENTIONS_PER_POLL,
    Cursor,
    Page,
    RateLimited,
    SourceError,
    SourceMalformed,
    SourceRefused,
    SourceScope,
    http_failure,
    transport_failure,
)
from shared.rate_limits import retry_after_seconds, seconds_until_quota_reset

GOOGLE_HOST = "https://www.googleapis.com"
COMMENT_THREADS = "/youtube/v3/commentThreads"
PAGE_SIZE = 100
# The day's quota is spent: nothing is answered before midnight Pacific Time.
_DAILY_LIMIT_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
# Too many requests in a short time: a short wait.
_RATE_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_WHAT = "YouTube commentThreads"
_CHANNEL_STREAM = "channel"
_HASHTAG = re.compile(r"(?<![\w&])#(\w{1,199})")
_ACCOUNT = re.compile(r"(?<![\w@])@([\w.-]{1,199})")

YouTubeId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class YouTubeCommentsSettings(BaseModel):
    """Either every comment on a channel's videos, or the comments on some videos."""

    model_config = ConfigDict(extra="forbid")

    channel_id: YouTubeId | None = None
    video_ids: list[YouTubeId] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.channel_id is None) == (not self.video_ids):
            raise ValueError("give either channel_id or video_ids")
        return self


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel)


class AuthorChannel(Camel):
    value: str


class CommentSnippet(Camel):
    text_display: str | None = None
    text_original: str | None = None
    author_display_name: str | None = None
    author_channel_id: AuthorChannel | None = None
    published_at: AwareDatetime
    video_id: str | None = None


class Comment(Camel):
    id: str
    snippet: CommentSnippet


class ThreadSnippet(Camel):
    video_id: str | None = None
    top_level_comment: Comment


class Thread(Camel):
    id: str
    snippet: ThreadSnippet


class ThreadList(Camel):
    items: list[Thread] = []
    next_page_token: str | None = None


class ErrorItem(BaseModel):
    reason: str = ""


class GoogleError(BaseModel):
    errors: list[ErrorItem] = []


class GoogleErrorBody(BaseModel):
    error: GoogleError


class Watermark(BaseModel):
    """The newest comment delivered: its second, and the ids delivered at that second."""

    published_at: AwareDatetime
    ids: list[str] = []

    def covers(self, comment: Comment) -> bool:
        at = comment.snippet.published_at
        return at < self.published_at or (at == self.published_at and comment.id in self.ids)


def youtube_failure(response: httpx.Response) -> SourceError | RateLimited:
    """A failed answer: the spent daily quota waits for midnight Pacific, a short-term limit for
    what the headers say; the reason names the error reasons, never the key."""
    try:
        errors = GoogleErrorBody.model_validate_json(response.content).error.errors
    except ValidationError:
        errors = []
    reasons = sorted({item.reason[:60] for item in errors if item.reason})
    if _DAILY_LIMIT_REASONS.intersection(reasons):
        return RateLimited(seconds_until_quota_reset())
    if _RATE_REASONS.intersection(reasons):
        return RateLimited(retry_after_seconds(response.headers) or DEFAULT_RATE_LIMIT_WAIT)
    return http_failure(response, _WHAT, ", ".join(reasons))


class YouTubeCommentsReader:
    kind: ClassVar[SourceKind] = SourceKind.YOUTUBE
    Settings: ClassVar[type[BaseModel]] = YouTubeCommentsSettings
    needs_credentials: ClassVar[bool] = True

    def __init__(self, http: httpx.AsyncClient, base_url: str | None) -> None:
        self._http = http
        self._base_url = (base_url or GOOGLE_HOST).rstrip("/")

    async def read(
        self,
        scope: SourceScope,
        settings: BaseModel,
        credentials: SecretStr | None,
        cursor: Cursor,
        since: datetime,
    ) -> Page:
        config = _settings(settings)
        if credentials is None:
            raise SourceRefused("a YouTube source needs an API key")
        streams = _streams(cursor)
        mentions: list[RawMention] = []
        for stream, target in _targets(config):
            budget = MAX_MENTIONS_PER_POLL - len(mentions)
            if budget <= 0:
                break
            floor = _watermark(streams.get(stream), since)
            try:
                comments = await self._new_comments(target, credentials, floor, budget)
            except RateLimited as limited:
                if mentions:
                    limited.page = Page(mentions=mentions, cursor={"streams": streams})
                raise
            if comments:
                mentions.extend(_mentions(scope, comments))
                streams[stream] = _advanced(floor, comments).model_dump(mode="json")
        return Page(mentions=mentions, cursor={"streams": streams})

    async def _new_comments(
        self, target: dict[str, str], credentials: SecretStr, floor: Watermark, budget: int
    ) -> list[Comment]:
        """The oldest ``budget`` comments newer than ``floor``, oldest first."""
        kept: deque[Comment] = deque(maxlen=budget)
        page_token: str | None = None
        while True:
            threads = await self._page(target, credentials, page_token)
            for thread in threads.items:
                comment = thread.snippet.top_level_comment
                if comment.snippet.published_at < floor.published_at:
                    return list(reversed(kept))
                if not floor.covers(comment):
                    # Newest first: when full, the newest kept one drops and is read next poll.
                    kept.append(comment)
            page_token = threads.next_page_token
            if not page_token or not threads.items:
                return list(reversed(kept))

    async def _page(
        self, target: dict[str, str], credentials: SecretStr, page_token: str | None
    ) -> ThreadList:
        params = {
            "part": "snippet",
            "order": "time",
            "maxResults": str(PAGE_SIZE),
            "textFormat": "plainText",
            **target,
        }
        if page_token:
            params["pageToken"] = page_token
        headers = {"X-Goog-Api-Key": credentials.get_secret_value()}
        try:
            response = await self._http.get(
                f"{self._base_url}{COMMENT_THREADS}", params=params, headers=headers
            )
        except httpx.HTTPError as error:
            raise transport_failure(error, _WHAT) from None
        if response.status_code != 200:
            raise youtube_failure(response)
        try:
            return ThreadList.model_validate_json(response.content)
        except ValidationError:
            raise SourceMalformed(f"{_WHAT}: not a comment thread list") from None


def _targets(config: YouTubeCommentsSettings) -> Iterator[tuple[str, dict[str, str]]]:
    """Each list of threads to walk, with the name its watermark is kept under."""
    if config.channel_id is not None:
        yield _CHANNEL_STREAM, {"allThreadsRelatedToChannelId": config.channel_id}
    for video_id in config.video_ids:
        yield f"video:{video_id}", {"videoId": video_id}


def _streams(cursor: Cursor) -> dict[str, Any]:
    """Each walked list's watermark, by the name ``_targets`` gives it."""
    streams = cursor.get("streams", {})
    if not isinstance(streams, dict):
        raise SourceMalformed("the YouTube source's cursor is unreadable")
    return dict(streams)


def _watermark(stored: Any, since: datetime) -> Watermark:
    if stored is None:
        # A first read delivers what was published after ``since``.
        return Watermark(published_at=since, ids=[])
    try:
        return Watermark.model_validate(stored)
    except ValidationError:
        raise SourceMalformed("the YouTube source's cursor is unreadable") from None


def _advanced(floor: Watermark, comments: list[Comment]) -> Watermark:
    newest = comments[-1].snippet.published_at
    ids = [c.id for c in comments if c.snippet.published_at == newest]
    if newest == floor.published_at:
        ids = floor.ids + ids
    return Watermark(published_at=newest, ids=ids)


def _mentions(scope: SourceScope, comments: list[Comment]) -> list[RawMention]:
    try:
        return [_mention(scope, comment) for comment in comments]
    except ValidationError:
        raise SourceMalformed(f"{_WHAT}: a comment is not a mention") from None


def _mention(scope: SourceScope, comment: Comment) -> RawMention:
    snippet = comment.snippet
    text = snippet.text_display or snippet.text_original or ""
    channel = snippet.author_channel_id.value if snippet.author_channel_id else None
    name = (snippet.author_display_name or "").strip()
    # YouTube shows an author's @handle as their display name.
    handle = name if name.startswith("@") or channel is None else channel
    url = None
    if snippet.video_id:
        url = f"https://www.youtube.com/watch?v={snippet.video_id}&lc={comment.id}"
    return RawMention(
        organization_id=uuid.UUID(scope.organization_id),
        source=SourceKind.YOUTUBE,
        external_id=comment.id,
        author=RawAuthor(handle=handle[:200] or "unknown", display_name=name[:300] or None),
        text=text[:20_000],
        url=url,
        published_at=snippet.published_at,
        hashtags=list(dict.fromkeys(_HASHTAG.findall(text)))[:100],
        accounts=list(dict.fromkeys(_ACCOUNT.findall(text)))[:100],
        engagement_id=uuid.UUID(scope.engagement_id) if scope.engagement_id else None,
    )


def _settings(settings: BaseModel) -> YouTubeCommentsSettings:
    if isinstance(settings, YouTubeCommentsSettings):
        return settings
    try:
        return YouTubeCommentsSettings.model_validate(settings.model_dump())
    except ValidationError:
        raise SourceRefused("the YouTube source's settings are not valid") from None

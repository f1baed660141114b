"""Posts matching a search on X, through the X API v2 recent search.

Implements:

- recent search: https://docs.x.com/x-api/posts/recent-search (``GET /2/tweets/search/recent``
  with ``query`` up to 512 characters, ``since_id``, ``until_id``, ``start_time``: the last 7
  days only, ``max_results`` 10 to 100, ``next_token``; newest first, ``meta.newest_id``)
- fields and expansions: https://docs.x.com/x-api/fundamentals/fields and
  https://docs.x.com/x-api/fundamentals/expansions (``tweet.fields=created_at,lang,geo,
  entities,author_id``, ``expansions=author_id``, ``user.fields=username,name,location``;
  ``geo.coordinates`` is a GeoJSON point, ``[longitude, latitude]``)
- the app's bearer token: https://docs.x.com/fundamentals/authentication/oauth-2-0/application-only
- rate limits: https://docs.x.com/x-api/fundamentals/rate-limits (``x-rate-limit-remaining``,
  ``x-rate-limit-reset`` in epoch seconds; 429 when spent)
- errors: https://docs.x.com/x-api/fundamentals/response-codes-and-errors (problem objects
  with ``title``)

The cursor is the newest post delivered (``newest_id``), asked back as ``since_id``. When a poll
stops before the oldest new post (``MAX_MENTIONS_PER_POLL`` read, or the rate limit spent), it
delivers the newest ones it read and keeps the rest as a ``hole``: ``until_id`` the oldest
delivered, bounded below by the previous ``since_id`` (or ``start_time``); the next polls read
the hole before anything newer, so every post is read once and none is skipped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, ClassVar

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
)

from services.listening.contracts import Coordinates, RawAuthor, RawMention, SourceKind
from services.listening.sources.readers import (
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
from shared.rate_limits import retry_after_seconds

API_HOST = "https://api.x.com"
RECENT_SEARCH = "/2/tweets/search/recent"
PAGE_SIZE = 100
# Recent search reaches 7 days back; a minute's margin keeps a slow clock from asking for more.
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=1)
_WHAT = "X recent search"
# Post ids are Snowflakes: milliseconds since this epoch, shifted past 22 bits of sequence.
# https://docs.x.com/resources/fundamentals/x-ids
_SNOWFLAKE_EPOCH_MS = 1_288_834_974_657
PostId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,30}$")]
# Languages X gives to posts that have none (undetermined, media only, hashtags only, ...).
_NO_LANGUAGE = frozenset({"und", "zxx", "art", "qam", "qct", "qht", "qme", "qst"})


class XSearchSettings(BaseModel):
    """A recent-search query, as X reads it: ``@quercia OR #vendemmia -is:retweet``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=512)


class Hashtag(BaseModel):
    tag: str


class MentionedAccount(BaseModel):
    username: str


class Entities(BaseModel):
    hashtags: list[Hashtag] = []
    mentions: list[MentionedAccount] = []


class Point(BaseModel):
    type: str
    coordinates: list[float]


class Geo(BaseModel):
    coordinates: Point | None = None


class Post(BaseModel):
    id: PostId
    text: str
    created_at: AwareDatetime
    author_id: str | None = None
    lang: str | None = None
    entities: Entities | None = None
    geo: Geo | None = None


class User(BaseModel):
    id: str
    username: str
    name: str | None = None
    location: str | None = None


class Includes(BaseModel):
    users: list[User] = []


class Meta(BaseModel):
    newest_id: str | None = None
    next_token: str | None = None


class SearchPage(BaseModel):
    data: list[Post] = []
    includes: Includes = Includes()
    meta: Meta = Meta()


class Problem(BaseModel):
    title: str = ""


class Hole(BaseModel):
    """Posts not read yet: older than ``until_id``, newer than ``since_id`` (or, on the first
    read, published at or after ``start_time``). With no ``until_id``, up to the newest."""

    until_id: PostId | None = None
    since_id: PostId | None = None
    start_time: AwareDatetime | None = None


class XCursor(BaseModel):
    newest_id: PostId | None = None
    hole: Hole | None = None


def x_failure(response: httpx.Response) -> SourceError | RateLimited:
    """``http_failure``, with the problem's title (never its detail, which may quote the query)."""
    try:
        title = Problem.model_validate_json(response.content).title
    except ValidationError:
        title = ""
    return http_failure(response, _WHAT, title[:100])


class XSearchReader:
    kind: ClassVar[SourceKind] = SourceKind.X
    Settings: ClassVar[type[BaseModel]] = XSearchSettings
    needs_credentials: ClassVar[bool] = True

    def __init__(self, http: httpx.AsyncClient, base_url: str | None) -> None:
        self._http = http
        self._base_url = (base_url or API_HOST).rstrip("/")

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
            raise SourceRefused("an X source needs the app's bearer token")
        try:
            state = XCursor.model_validate(cursor)
        except ValidationError:
            raise SourceMalformed("the X source's cursor is unreadable") from None
        hole_end = state.hole.until_id if state.hole else None
        if hole_end is not None and _beyond_reach(hole_end):
            # What was left to read has aged out of recent search.
            state = XCursor(newest_id=state.newest_id)
        hole = state.hole or Hole(since_id=state.newest_id, start_time=since)
        posts: list[Post] = []
        users: dict[str, User] = {}
        newest_id: str | None = None
        next_token: str | None = None
        wait: float | None = None
        while True:
            try:
                page, wait = await self._page(config.query, credentials, hole, next_token)
            except RateLimited as limited:
                if posts:
                    limited.page = _page(
                        scope, posts, users, _stopped(state, hole, newest_id, posts)
                    )
                raise
            newest_id = newest_id or page.meta.newest_id
            posts.extend(page.data)
            users.update((user.id, user) for user in page.includes.users)
            next_token = page.meta.next_token
            if not next_token or not page.data:
                return _page(scope, posts, users, _finished(state, newest_id), wait)
            if wait is not None or len(posts) + PAGE_SIZE > MAX_MENTIONS_PER_POLL:
                return _page(scope, posts, users, _stopped(state, hole, newest_id, posts), wait)

    async def _page(
        self, query: str, credentials: SecretStr, hole: Hole, next_token: str | None
    ) -> tuple[SearchPage, float | None]:
        """One page, and how long to wait when it spent the rate limit."""
        params = {
            "query": query,
            "max_results": str(PAGE_SIZE),
            "tweet.fields": "created_at,lang,geo,entities,author_id",
            "expansions": "author_id",
            "user.fields": "username,name,location",
        }
        if hole.since_id and not _beyond_reach(hole.since_id):
            params["since_id"] = hole.since_id
        else:
            # X refuses a ``since_id`` older than the window: ask from the window's start.
            start = max(hole.start_time or _window_start(), _window_start())
            params["start_time"] = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if hole.until_id:
            params["until_id"] = hole.until_id
        if next_token:
            params["next_token"] = next_token
        headers = {"Authorization": f"Bearer {credentials.get_secret_value()}"}
        try:
            response = await self._http.get(
                f"{self._base_url}{RECENT_SEARCH}", params=params, headers=headers
            )
        except httpx.HTTPError as error:
            raise transport_failure(error, _WHAT) from None
        if response.status_code != 200:
            raise x_failure(response)
        try:
            page = SearchPage.model_validate_json(response.content)
        except ValidationError:
            raise SourceMalformed(f"{_WHAT}: not a search result") from None
        wait = None
        if response.headers.get("x-rate-limit-remaining", "").strip() == "0":
            wait = retry_after_seconds(response.headers)
        return page, wait


def _window_start() -> datetime:
    return datetime.now(UTC) - SEARCH_WINDOW


def _beyond_reach(post_id: str) -> bool:
    milliseconds = (int(post_id) >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(milliseconds / 1000, UTC) < _window_start()


def _finished(state: XCursor, newest_id: str | None) -> XCursor:
    """Everything down to the bound was read: a hole is closed, or the top moves up."""
    if state.hole is not None:
        return XCursor(newest_id=state.newest_id)
    return XCursor(newest_id=newest_id or state.newest_id)


def _stopped(state: XCursor, hole: Hole, newest_id: str | None, posts: list[Post]) -> XCursor:
    """Stopped above the bound: what is between it and the oldest post read is the hole."""
    oldest = min((post.id for post in posts), key=int)
    narrowed = hole.model_copy(update={"until_id": oldest})
    top = state.newest_id if state.hole is not None else newest_id or state.newest_id
    return XCursor(newest_id=top, hole=narrowed)


def _page(
    scope: SourceScope,
    posts: list[Post],
    users: dict[str, User],
    cursor: XCursor,
    wait: float | None = None,
) -> Page:
    oldest_first = sorted(posts, key=lambda post: (post.created_at, int(post.id)))
    try:
        mentions = [_mention(scope, post, users.get(post.author_id or "")) for post in oldest_first]
    except ValidationError:
        raise SourceMalformed(f"{_WHAT}: a post is not a mention") from None
    return Page(mentions=mentions, cursor=cursor.model_dump(mode="json"), wait_seconds=wait)


def _mention(scope: SourceScope, post: Post, author: User | None) -> RawMention:
    entities = post.entities or Entities()
    handle = author.username if author else post.author_id or "unknown"
    url = f"https://x.com/{author.username if author else 'i/web'}/status/{post.id}"
    return RawMention(
        organization_id=uuid.UUID(scope.organization_id),
        source=SourceKind.X,
        external_id=post.id,
        author=RawAuthor(
            handle=handle,
            display_name=author.name[:300] if author and author.name else None,
            profile_location=author.location[:300] if author and author.location else None,
        ),
        text=post.text,
        url=url,
        published_at=post.created_at,
        coordinates=_coordinates(post.geo),
        language=None if post.lang in _NO_LANGUAGE else post.lang,
        hashtags=list(dict.fromkeys(tag.tag for tag in entities.hashtags))[:100],
        accounts=list(dict.fromkeys(m.username for m in entities.mentions))[:100],
        engagement_id=uuid.UUID(scope.engagement_id) if scope.engagement_id else None,
    )


def _coordinates(geo: Geo | None) -> Coordinates | None:
    point = geo.coordinates if geo else None
    if point is None or point.type != "Point" or len(point.coordinates) != 2:
        return None
    longitude, latitude = point.coordinates
    return Coordinates(latitude=latitude, longitude=longitude)


def _settings(settings: BaseModel) -> XSearchSettings:
    if isinstance(settings, XSearchSettings):
        return settings
    try:
        return XSearchSettings.model_validate(settings.model_dump())
    except ValidationError:
        raise SourceRefused("the X source's settings are not valid") from None

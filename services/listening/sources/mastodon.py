"""Public statuses with some hashtags, and the mentions of the token's account, on a Mastodon
instance.

Implements:

- hashtag timelines: https://docs.joinmastodon.org/methods/timelines/#tag
  (``GET /api/v1/timelines/tag/:hashtag`` with ``max_id``, ``min_id``, ``limit`` up to 40;
  newest first)
- mentions: https://docs.joinmastodon.org/methods/notifications/#get
  (``GET /api/v1/notifications?types[]=mention``, each notification with its ``status``)
- paging: https://docs.joinmastodon.org/api/guidelines/#pagination (``min_id`` reads the page
  just after an id, ``max_id`` the page just before it; the ``Link`` header names the same ids
  as the page's first and last items, which are read instead)
- the status entity: https://docs.joinmastodon.org/entities/Status/ (``id``, ``uri``,
  ``created_at``, ``content`` in HTML, ``spoiler_text``, ``language``, ``url``,
  ``account{acct, display_name}``, ``tags[{name}]``, ``mentions[{acct}]``)
- rate limits: https://docs.joinmastodon.org/api/rate-limits/ (``X-RateLimit-Remaining``,
  ``X-RateLimit-Reset`` in ISO 8601; 429 when spent)

Each timeline (one per hashtag, one for the mentions) keeps in the cursor the newest id it
delivered. A poll reads forward from it with ``min_id``, oldest page first, so whatever was
posted between two polls is read however long the gap; a timeline with no cursor yet reads
backwards with ``max_id`` down to ``since``. The mentions a poll may return are shared between
the timelines; a timeline that reaches its share stops at the newest id it delivered (forward)
or at the oldest (``backfill_before``, backwards), and the next poll goes on from there.

The instance is the user's: it is asked only through ``shared.safe_fetch`` (which sends the
token to the instance's origin only, never to a redirect elsewhere). The token is sent in the
``Authorization`` header and is never in a URL or a reason. A status is identified by its
``uri``, the same on every instance, so two sources on two instances read it as one mention.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar, Self
from urllib.parse import quote

import httpx
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from services.listening.contracts import RawAuthor, RawMention, SourceKind
from services.listening.sources.fetching import fetch_checked
from services.listening.sources.html_text import html_to_text
from services.listening.sources.readers import (
    DEFAULT_RATE_LIMIT_WAIT,
    MAX_MENTIONS_PER_POLL,
    Cursor,
    Page,
    RateLimited,
    SourceMalformed,
    SourceRefused,
    SourceScope,
)
from shared.rate_limits import retry_after_seconds
from shared.safe_fetch import FetchLimits

PAGE_SIZE = 40
MAX_HASHTAGS = 20
INSTANCE_LIMITS = FetchLimits(max_bytes=5 * 1024 * 1024, seconds=15.0)
NOTIFICATIONS = "notifications"
_USER_AGENT = "AtlantideEngage-Listening/1.0 (+https://atlantide.example/bot)"
_MAX_ID = 300
_MAX_TEXT = 20_000

Hashtag = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^#?[\w\u00b7]{1,100}$")]


class MastodonSettings(BaseModel):
    """An instance, and what to read there: hashtags' timelines, the account's mentions, or
    both."""

    model_config = ConfigDict(extra="forbid")

    instance_url: HttpUrl = Field(
        description="The instance's address, e.g. https://mastodon.social"
    )
    hashtags: list[Hashtag] = Field(
        default_factory=list,
        max_length=MAX_HASHTAGS,
        description="Hashtags whose public timelines are read, with or without #",
    )
    mentions_of_account: bool = Field(
        False, description="Read the statuses that mention the token's account"
    )

    @field_validator("hashtags")
    @classmethod
    def _without_marks(cls, hashtags: list[str]) -> list[str]:
        # Mastodon's hashtags ignore case: #Vendemmia and #vendemmia are one timeline.
        return list(dict.fromkeys(tag.removeprefix("#").lower() for tag in hashtags))

    @model_validator(mode="after")
    def _something_to_read(self) -> Self:
        if not self.hashtags and not self.mentions_of_account:
            raise ValueError("name hashtags, or set mentions_of_account, or both")
        return self


class _Account(BaseModel):
    acct: str = Field(min_length=1)
    display_name: str = ""


class _Tag(BaseModel):
    name: str


class _Mentioned(BaseModel):
    acct: str


class _Status(BaseModel):
    id: str = Field(min_length=1)
    uri: str = Field(min_length=1)
    created_at: AwareDatetime
    content: str = ""
    spoiler_text: str = ""
    language: str | None = None
    url: str | None = None
    account: _Account
    tags: list[_Tag] = Field(default_factory=list)
    mentions: list[_Mentioned] = Field(default_factory=list)


class _Notification(BaseModel):
    id: str = Field(min_length=1)
    type: str
    # None when the status was deleted since.
    status: _Status | None = None


_STATUSES = TypeAdapter(list[_Status])
_NOTIFICATIONS = TypeAdapter(list[_Notification])


@dataclass(frozen=True)
class _Timeline:
    key: str
    path: str
    what: str
    params: dict[str, str] = field(default_factory=dict)

    def items(self, body: Any) -> list[tuple[str, _Status | None]]:
        """Each item's paging id, and its status (None for a notification without one)."""
        if self.key == NOTIFICATIONS:
            return [(n.id, n.status) for n in _NOTIFICATIONS.validate_python(body)]
        return [(s.id, s) for s in _STATUSES.validate_python(body)]


def _id_order(identifier: str) -> tuple[int, str]:
    """Mastodon's ids are numbers in strings: a longer one is larger."""
    return len(identifier), identifier


class _Exhausted(Exception):
    """The instance said no request is left until its reset: stop asking in this poll."""


@dataclass
class _Poll:
    """What a poll has read so far: a page that is right whenever the poll stops."""

    mentions: dict[str, RawMention] = field(default_factory=dict)
    cursor: Cursor = field(default_factory=dict)
    wait_seconds: float | None = None

    def page(self) -> Page:
        ordered = sorted(self.mentions.values(), key=lambda m: (m.published_at, m.external_id))
        return Page(mentions=ordered, cursor=self.cursor, wait_seconds=self.wait_seconds)


class MastodonReader:
    """Reads with the token of an account on the instance; ``base_url``, when set, replaces
    every source's instance (tests and fakes)."""

    kind: ClassVar[SourceKind] = SourceKind.MASTODON
    Settings: ClassVar[type[BaseModel]] = MastodonSettings
    needs_credentials: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str | None,
        *,
        allow_loopback: bool = False,
        limits: FetchLimits = INSTANCE_LIMITS,
    ) -> None:
        # ``http`` is not used: safe_fetch opens its connections itself, to the address it
        # checked. A base URL is the operator's (settings), not a user's: a local fake is
        # allowed.
        self._base_url = base_url.rstrip("/") if base_url else None
        self._allow_loopback = allow_loopback or base_url is not None
        self._limits = limits

    async def read(
        self,
        scope: SourceScope,
        settings: BaseModel,
        credentials: SecretStr | None,
        cursor: Cursor,
        since: datetime,
    ) -> Page:
        config = MastodonSettings.model_validate(settings.model_dump())
        if credentials is None or not credentials.get_secret_value():
            raise SourceRefused("Mastodon: the source has no access token")
        timelines = _timelines(config)
        share = MAX_MENTIONS_PER_POLL // len(timelines)
        instance = self._base_url or str(config.instance_url).rstrip("/")
        to_mention = _MentionMaker(scope, httpx.URL(str(config.instance_url)).host)
        poll = _Poll(cursor={t.key: dict(cursor.get(t.key) or {}) for t in timelines})
        fetch = _Fetcher(instance, credentials, poll, self._allow_loopback, self._limits)
        try:
            for timeline in timelines:
                await _read_timeline(fetch, timeline, poll, since, share, to_mention)
        except _Exhausted:
            pass
        except RateLimited as limited:
            raise RateLimited(limited.retry_after, poll.page()) from None
        return poll.page()


@dataclass
class _MentionMaker:
    scope: SourceScope
    instance_host: str

    def __call__(self, status: _Status) -> RawMention:
        acct = status.account.acct
        handle = acct if "@" in acct else f"{acct}@{self.instance_host}"
        text = html_to_text(status.content)
        if status.spoiler_text:
            text = f"{status.spoiler_text}\n\n{text}"
        uri = status.uri
        if len(uri) > _MAX_ID:
            uri = "sha256:" + hashlib.sha256(uri.encode()).hexdigest()
        url = status.url or status.uri
        return RawMention(
            organization_id=uuid.UUID(self.scope.organization_id),
            source=SourceKind.MASTODON,
            external_id=uri,
            author=RawAuthor(
                handle=handle[:200], display_name=status.account.display_name[:300] or None
            ),
            text=text[:_MAX_TEXT],
            url=url if url.startswith(("http://", "https://")) and len(url) <= 2_000 else None,
            published_at=status.created_at,
            language=status.language[:16] if status.language else None,
            hashtags=[tag.name for tag in status.tags][:100],
            accounts=[mentioned.acct for mentioned in status.mentions][:100],
            engagement_id=uuid.UUID(self.scope.engagement_id) if self.scope.engagement_id else None,
        )


@dataclass
class _Fetcher:
    instance: str
    credentials: SecretStr
    poll: _Poll
    allow_loopback: bool
    limits: FetchLimits

    async def page(self, timeline: _Timeline, paging: dict[str, str]) -> Any:
        url = str(httpx.URL(self.instance + timeline.path, params={**timeline.params, **paging}))
        headers = {
            "Authorization": f"Bearer {self.credentials.get_secret_value()}",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        fetched = await fetch_checked(
            url,
            what=timeline.what,
            headers=headers,
            limits=self.limits,
            allow_loopback=self.allow_loopback,
        )
        if fetched.status != 200:
            raise SourceMalformed(f"{timeline.what}: HTTP {fetched.status}", status=fetched.status)
        try:
            body = json.loads(fetched.body)
        except ValueError as error:
            raise SourceMalformed(f"{timeline.what}: the answer is not JSON") from error
        if fetched.headers.get("x-ratelimit-remaining", "").strip() == "0":
            self.poll.wait_seconds = retry_after_seconds(fetched.headers) or DEFAULT_RATE_LIMIT_WAIT
        return body


def _timelines(config: MastodonSettings) -> list[_Timeline]:
    timelines = [
        _Timeline(f"tag:{tag}", f"/api/v1/timelines/tag/{quote(tag, safe='')}", f"#{tag} timeline")
        for tag in config.hashtags
    ]
    if config.mentions_of_account:
        timelines.append(
            _Timeline(NOTIFICATIONS, "/api/v1/notifications", "mentions", {"types[]": "mention"})
        )
    return timelines


async def _read_timeline(
    fetch: _Fetcher,
    timeline: _Timeline,
    poll: _Poll,
    since: datetime,
    share: int,
    to_mention: Callable[[_Status], RawMention],
) -> None:
    """Forward from the newest id delivered, then backwards while a backfill is under way."""
    state = poll.cursor[timeline.key]
    left = share

    async def items(paging: dict[str, str], limit: int) -> list[tuple[str, _Status | None]]:
        if poll.wait_seconds is not None:
            raise _Exhausted
        body = await fetch.page(timeline, {**paging, "limit": str(limit)})
        try:
            return timeline.items(body)
        except ValidationError as error:
            raise SourceMalformed(f"{timeline.what}: not what the API documents") from error

    def take(found: list[tuple[str, _Status | None]]) -> bool:
        """Keep the statuses from ``since`` on; True when some were older."""
        older = False
        for _, status in found:
            if status is None:
                continue
            if status.created_at < since:
                older = True
                continue
            mention = to_mention(status)
            poll.mentions.setdefault(mention.external_id, mention)
        return older

    backfilling = "newest" not in state or "backfill_before" in state
    while "newest" in state and left > 0:
        limit = min(PAGE_SIZE, left)
        found = await items({"min_id": state["newest"]}, limit)
        if not found:
            break
        left -= len(found)
        take(found)
        state["newest"] = max((identifier for identifier, _ in found), key=_id_order)
        # A short page is most likely the last; if the instance only filtered some out, the
        # next poll goes on from the cursor, so stopping early loses nothing.
        if len(found) < limit:
            break
    while backfilling and left > 0:
        limit = min(PAGE_SIZE, left)
        paging = {"max_id": state["backfill_before"]} if "backfill_before" in state else {}
        found = await items(paging, limit)
        if "newest" not in state and found:
            state["newest"] = max((identifier for identifier, _ in found), key=_id_order)
        left -= len(found)
        reached_since = take(found)
        # Backwards, a short page does not end the backfill: the instance may have filtered
        # some statuses out of it (blocked or muted accounts), and older ones may follow.
        if not found or reached_since:
            state.pop("backfill_before", None)
            break
        state["backfill_before"] = min((identifier for identifier, _ in found), key=_id_order)

"""Entries of an RSS or Atom feed, each read once.

Implements:

- RSS 2.0: https://www.rssboard.org/rss-specification (``item``: ``guid``, ``link``,
  ``title``, ``description``, ``pubDate``, ``author``; ``channel``: ``language``) and Atom,
  RFC 4287 (``entry``: ``id``, ``link``, ``title``, ``summary``/``content``, ``published``,
  ``updated``, ``author``; ``xml:lang``), both parsed by ``feedparser``;
- conditional GET, RFC 9110 sections 13.1.2 and 13.1.3: ``If-None-Match`` with the last
  ``ETag``, ``If-Modified-Since`` with the last ``Last-Modified``; a 304 means nothing changed.

The feed URL is the user's: it is fetched only through ``shared.safe_fetch``, which refuses
private and metadata addresses on every redirect. The worker's HTTP client is not used for it.

The cursor keeps the validators of the last answer and the newest publication time delivered,
with the ids delivered at that time (many entries share one). An entry is new when it was
published after that time, or at that time under another id, and not before ``since``. An entry
with neither a publication nor an update date is skipped: it could not be placed after the cursor
(a feed dates every entry or none, and one dated by the fetch would come back every poll). An
entry dated later than it appears in the feed (backdated) is older than the cursor and is not
read.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser  # type: ignore[import-untyped]
import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from services.listening.contracts import RawAuthor, RawMention, SourceKind
from services.listening.sources.fetching import fetch_checked
from services.listening.sources.html_text import html_to_text
from services.listening.sources.readers import (
    MAX_MENTIONS_PER_POLL,
    Cursor,
    Page,
    SourceMalformed,
    SourceScope,
)
from shared.safe_fetch import FetchLimits

_WHAT = "feed"
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8, */*;q=0.1"
)
_USER_AGENT = "AtlantideEngage-Listening/1.0 (+https://atlantide.example/bot)"
# A feed is a few hundred kilobytes; a podcast's with years of episodes, a few megabytes.
FEED_LIMITS = FetchLimits(max_bytes=10 * 1024 * 1024, seconds=15.0)
_MAX_ID = 300
_MAX_URL = 2_000
_MAX_TEXT = 20_000
_EMAIL_AND_NAME = re.compile(r"^\S+@\S+\s+\((.+)\)$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*$")


class RssSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="The RSS or Atom feed's address (http or https)")


class RssReader:
    """One feed per source; no credentials (a private feed's key, when any, is in its URL)."""

    kind: ClassVar[SourceKind] = SourceKind.RSS
    Settings: ClassVar[type[BaseModel]] = RssSettings
    needs_credentials: ClassVar[bool] = False

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str | None,
        *,
        allow_loopback: bool = False,
        limits: FetchLimits = FEED_LIMITS,
    ) -> None:
        """A feed has no API host: ``base_url`` is not used. ``allow_loopback`` is for tests
        whose fake feeds listen on 127.0.0.1."""
        self._allow_loopback = allow_loopback
        self._limits = limits

    async def read(
        self,
        scope: SourceScope,
        settings: BaseModel,
        credentials: SecretStr | None,
        cursor: Cursor,
        since: datetime,
    ) -> Page:
        feed = RssSettings.model_validate(settings.model_dump())
        status, headers, body = await self._fetch(str(feed.url), cursor)
        if status == 304:
            return Page(cursor=cursor)
        parsed = _parse(body, headers, str(feed.url))
        newest = _cursor_time(cursor)
        delivered_at_newest = set(cursor.get("ids_at_newest", []))
        fresh = sorted(
            (
                (published, mention)
                for published, mention in _entries(parsed, scope, str(feed.url)).values()
                if published >= since
                and (
                    newest is None
                    or published > newest
                    or (published == newest and mention.external_id not in delivered_at_newest)
                )
            ),
            key=lambda entry: entry[0],
        )
        kept = fresh[:MAX_MENTIONS_PER_POLL]
        return Page(
            mentions=[mention for _, mention in kept],
            cursor=_next_cursor(cursor, headers, kept, complete=len(kept) == len(fresh)),
        )

    async def _fetch(self, url: str, cursor: Cursor) -> tuple[int, httpx.Headers, bytes]:
        headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT}
        if etag := cursor.get("etag"):
            headers["If-None-Match"] = etag
        if last_modified := cursor.get("last_modified"):
            headers["If-Modified-Since"] = last_modified
        fetched = await fetch_checked(
            url,
            what=_WHAT,
            headers=headers,
            limits=self._limits,
            allow_loopback=self._allow_loopback,
        )
        if fetched.status not in (200, 304):
            raise SourceMalformed(f"{_WHAT}: HTTP {fetched.status}", status=fetched.status)
        return fetched.status, fetched.headers, fetched.body


def _parse(body: bytes, headers: httpx.Headers, url: str) -> Any:
    # A stream, never bytes or a string: given those, feedparser first tries to open a file of
    # that name (or fetch that URL), and a feed's body must never name what the worker reads.
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers={
            "content-type": headers.get("content-type", "application/xml"),
            "content-location": url,
        },
    )
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        problem = type(parsed.get("bozo_exception")).__name__ if parsed.bozo else "no feed"
        raise SourceMalformed(f"{_WHAT}: not an RSS or Atom document ({problem})")
    return parsed


def _entries(parsed: Any, scope: SourceScope, url: str) -> dict[str, tuple[datetime, RawMention]]:
    """The feed's dated entries by id (an id repeated in one document is read once)."""
    channel = parsed.feed
    feed_language = channel.get("language")
    host = httpx.URL(url).host
    organization_id = uuid.UUID(scope.organization_id)
    engagement_id = uuid.UUID(scope.engagement_id) if scope.engagement_id else None
    found: dict[str, tuple[datetime, RawMention]] = {}
    for entry in parsed.entries:
        published = _published(entry)
        if published is None:
            continue
        external_id = _external_id(entry)
        if external_id in found:
            continue
        found[external_id] = (
            published,
            RawMention(
                organization_id=organization_id,
                source=SourceKind.RSS,
                external_id=external_id,
                author=_author(entry, channel, host),
                text=_text(entry),
                url=_link(entry),
                published_at=published,
                language=_language(entry, feed_language),
                engagement_id=engagement_id,
            ),
        )
    return found


def _published(entry: Any) -> datetime | None:
    moment: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if moment is None:
        return None
    return datetime.fromtimestamp(calendar.timegm(moment), UTC)


def _external_id(entry: Any) -> str:
    """The entry's id (RSS ``guid``, Atom ``id``), else its link; a digest of it when it is
    longer than a mention's id, or of the title and date when the entry has neither."""
    identifier = str(entry.get("id") or entry.get("link") or "").strip()
    if identifier and len(identifier) <= _MAX_ID:
        return identifier
    seed = identifier or f"{entry.get('title', '')}\n{entry.get('published', '')}"
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _author(entry: Any, channel: Any, host: str) -> RawAuthor:
    """The entry's author, else the feed's, else the feed's host (named by the feed's title)."""
    name = html_to_text(str(entry.get("author") or channel.get("author") or "")).strip()
    # RSS 2.0's <author> is an e-mail address, often with the name in parentheses.
    if named := _EMAIL_AND_NAME.match(name):
        name = named.group(1).strip()
    if name:
        return RawAuthor(handle=name[:200], display_name=name[:300])
    title = html_to_text(str(channel.get("title") or "")).strip()
    return RawAuthor(handle=host[:200] or "feed", display_name=title[:300] or None)


def _text(entry: Any) -> str:
    title = html_to_text(str(entry.get("title") or ""))
    contents = entry.get("content") or []
    body = entry.get("summary") or (contents[0].get("value") if contents else "") or ""
    summary = html_to_text(str(body))
    # A summary that opens with the title (microblogs' feeds title items so) is not said twice.
    if title and summary.startswith(title):
        return summary[:_MAX_TEXT]
    return "\n\n".join(part for part in (title, summary) if part)[:_MAX_TEXT]


def _link(entry: Any) -> str | None:
    link = str(entry.get("link") or "")
    return link if link.startswith(("http://", "https://")) and len(link) <= _MAX_URL else None


def _language(entry: Any, feed_language: str | None) -> str | None:
    """The entry's ``xml:lang`` when it has one, else the feed's ``language``/``xml:lang``."""
    for detail in ("summary_detail", "title_detail"):
        language = (entry.get(detail) or {}).get("language")
        if language:
            break
    else:
        language = feed_language
    if not language or not _LANGUAGE.match(str(language)):
        return None
    return str(language)[:16]


def _cursor_time(cursor: Cursor) -> datetime | None:
    newest = cursor.get("newest_published_at")
    return datetime.fromisoformat(newest) if newest else None


def _next_cursor(
    cursor: Cursor,
    headers: httpx.Headers,
    kept: list[tuple[datetime, RawMention]],
    *,
    complete: bool,
) -> Cursor:
    """Where the next poll starts. The answer's validators are kept only when every new entry
    was delivered: otherwise the next poll would be answered 304 and never see the rest."""
    following: Cursor = {}
    if complete:
        if etag := headers.get("etag"):
            following["etag"] = etag
        if last_modified := headers.get("last-modified"):
            following["last_modified"] = last_modified
    newest = _cursor_time(cursor)
    ids_at_newest = list(cursor.get("ids_at_newest", []))
    if kept:
        latest = kept[-1][0]
        at_latest = [mention.external_id for published, mention in kept if published == latest]
        ids_at_newest = at_latest + ids_at_newest if latest == newest else at_latest
        newest = latest
    if newest is not None:
        following["newest_published_at"] = newest.isoformat()
        following["ids_at_newest"] = ids_at_newest
    return following

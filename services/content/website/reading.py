"""Reading a watched site: its feed or sitemap (which pages are new) and a page's Open Graph data.

Implements:

- RSS 2.0 (https://www.rssboard.org/rss-specification) and Atom (RFC 4287), parsed by
  ``feedparser``: an entry's ``link`` and its ``published`` (else ``updated``) date;
- the sitemaps protocol, https://www.sitemaps.org/protocol.html: ``urlset/url`` with ``loc``
  and ``lastmod`` (W3C datetime: a date, or a date and time); a sitemap index is refused with
  its first sitemaps named, so the agency watches the one that lists the articles;
- conditional GET (RFC 9110, 13.1.2 and 13.1.3): ``If-None-Match`` with the last ``ETag``,
  ``If-Modified-Since`` with the last ``Last-Modified``; a 304 means nothing changed;
- The Open Graph protocol, https://ogp.me/: ``og:title``, ``og:description``, ``og:image``
  (falling back to ``<title>`` and ``<meta name="description">``).

Every URL is the client's: fetched only through ``shared.safe_fetch`` (no private or metadata
address, on every redirect; bounded size and time). A page is new when it is dated after the
cursor's newest date (or at it under another URL) and not before the site was first watched; an
undated page is never drafted, since nothing places it after the cursor.
"""

from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, ParseError, fromstring

import feedparser  # type: ignore[import-untyped]
import httpx

from shared.safe_fetch import Fetched, FetchLimits, UrlRefusedError, safe_fetch

USER_AGENT = "AtlantideEngage-Website/1.0 (+https://atlantide.example/bot)"
# A feed or a sitemap of 50,000 URLs (the protocol's limit) is under 10 MB.
SITE_LIMITS = FetchLimits(max_bytes=10 * 1024 * 1024, seconds=15.0)
# Open Graph tags are in the page's head: the first megabyte holds them.
PAGE_LIMITS = FetchLimits(max_bytes=1024 * 1024, seconds=10.0)
MAX_URL = 2048
MAX_TITLE = 300
MAX_DESCRIPTION = 2000
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
# A sitemap has no document type; one with a DTD could declare entities that expand without end.
DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)

Cursor = dict[str, Any]


class SiteFailure(Exception):
    """Why a site could not be read, in words for the agency (never the URL's query)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:500]


@dataclass(frozen=True)
class SitePage:
    url: str
    published_at: datetime
    title: str | None = None


@dataclass(frozen=True)
class OpenGraph:
    title: str | None = None
    description: str | None = None
    image: str | None = None


@dataclass(frozen=True)
class SiteRead:
    """What a poll found: the new pages, oldest first, and the cursor once they are drafted."""

    pages: list[SitePage]
    unchanged: bool
    etag: str | None = None
    last_modified: str | None = None


async def fetch(url: str, headers: dict[str, str], limits: FetchLimits, loopback: bool) -> Fetched:
    """The answer below 400, or the failure that says why not."""
    try:
        fetched = await safe_fetch(
            url,
            headers={"User-Agent": USER_AGENT, **headers},
            limits=limits,
            allow_loopback=loopback,
        )
    except UrlRefusedError as refused:
        raise SiteFailure(f"refused ({refused.extensions.get('reason', 'refused')})") from refused
    except httpx.HTTPError as error:
        raise SiteFailure(f"unreachable ({type(error).__name__})") from error
    if fetched.status >= 400:
        raise SiteFailure(f"HTTP {fetched.status}")
    return fetched


async def read_site(
    url: str, cursor: Cursor, watched_since: datetime, *, loopback: bool = False
) -> SiteRead:
    headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml, */*;q=0.1"}
    if etag := cursor.get("etag"):
        headers["If-None-Match"] = etag
    if last_modified := cursor.get("last_modified"):
        headers["If-Modified-Since"] = last_modified
    fetched = await fetch(url, headers, SITE_LIMITS, loopback)
    if fetched.status == 304:
        return SiteRead(pages=[], unchanged=True)
    pages = _sitemap_pages(fetched.body)
    if pages is None:
        pages = _feed_pages(fetched)
    return SiteRead(
        pages=new_pages(pages, cursor, watched_since),
        unchanged=False,
        etag=fetched.headers.get("etag"),
        last_modified=fetched.headers.get("last-modified"),
    )


def new_pages(pages: list[SitePage], cursor: Cursor, watched_since: datetime) -> list[SitePage]:
    newest = _newest(cursor)
    at_newest = set(cursor.get("urls_at_newest", []))
    fresh = {
        page.url: page
        for page in pages
        if page.published_at >= watched_since
        and (
            newest is None
            or page.published_at > newest
            or (page.published_at == newest and page.url not in at_newest)
        )
    }
    return sorted(fresh.values(), key=lambda page: (page.published_at, page.url))


def next_cursor(cursor: Cursor, read: SiteRead, drafted: list[SitePage]) -> Cursor:
    """Where the next poll starts, ``drafted`` the new pages drafted (now or by an earlier poll),
    oldest first. The answer's validators are kept only when every new page was drafted:
    otherwise the next poll would be answered 304 and never see the rest."""
    if read.unchanged:
        return dict(cursor)
    following: Cursor = {}
    if len(drafted) == len(read.pages):
        if read.etag:
            following["etag"] = read.etag
        if read.last_modified:
            following["last_modified"] = read.last_modified
    newest = _newest(cursor)
    urls_at_newest = list(cursor.get("urls_at_newest", []))
    if drafted:
        latest = drafted[-1].published_at
        at_latest = [page.url for page in drafted if page.published_at == latest]
        urls_at_newest = at_latest + urls_at_newest if latest == newest else at_latest
        newest = latest
    if newest is not None:
        following["newest"] = newest.isoformat()
        following["urls_at_newest"] = urls_at_newest[:200]
    return following


def _newest(cursor: Cursor) -> datetime | None:
    newest = cursor.get("newest")
    return datetime.fromisoformat(newest) if isinstance(newest, str) else None


def _web_url(text: str | None) -> str | None:
    url = (text or "").strip()
    return url if url.startswith(("http://", "https://")) and len(url) <= MAX_URL else None


# --- sitemaps ---------------------------------------------------------------------------------


def _sitemap_pages(body: bytes) -> list[SitePage] | None:
    """The sitemap's dated pages, or None when the body is not a sitemap (a feed, then)."""
    head = body[:2048].lstrip()
    if b"<urlset" not in head and b"<sitemapindex" not in head:
        return None
    if DOCTYPE.search(body):
        raise SiteFailure("not a sitemap (it declares a document type)")
    try:
        root: Element = fromstring(body)  # noqa: S314 - no DTD (refused above), no entities
    except ParseError as error:
        raise SiteFailure(f"not a sitemap ({type(error).__name__})") from error
    if root.tag == f"{SITEMAP_NS}sitemapindex":
        listed = [loc.text or "" for loc in root.iter(f"{SITEMAP_NS}loc")][:3]
        raise SiteFailure("a sitemap index: watch one of its sitemaps, " + ", ".join(listed))
    if root.tag != f"{SITEMAP_NS}urlset":
        raise SiteFailure("not a sitemap (no urlset)")
    pages = []
    for entry in root.iter(f"{SITEMAP_NS}url"):
        url = _web_url(entry.findtext(f"{SITEMAP_NS}loc"))
        modified = _w3c_datetime(entry.findtext(f"{SITEMAP_NS}lastmod"))
        if url and modified:
            pages.append(SitePage(url=url, published_at=modified))
    return pages


def _w3c_datetime(text: str | None) -> datetime | None:
    value = (text or "").strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(), UTC)
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- feeds ------------------------------------------------------------------------------------


def _feed_pages(fetched: Fetched) -> list[SitePage]:
    # A stream, never bytes or a string: given those, feedparser may open a file or a URL.
    parsed = feedparser.parse(
        io.BytesIO(fetched.body),
        response_headers={
            "content-type": fetched.headers.get("content-type", "application/xml"),
            "content-location": fetched.url,
        },
    )
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise SiteFailure("neither a feed (RSS, Atom) nor a sitemap")
    pages = []
    for entry in parsed.entries:
        url = _web_url(entry.get("link"))
        moment = entry.get("published_parsed") or entry.get("updated_parsed")
        if url is None or moment is None:
            continue
        published = datetime.fromtimestamp(calendar.timegm(moment), UTC)
        title = str(entry.get("title") or "").strip()[:MAX_TITLE] or None
        pages.append(SitePage(url=url, published_at=published, title=title))
    return pages


# --- Open Graph -------------------------------------------------------------------------------


class _MetaTags(HTMLParser):
    """The page's ``<meta>`` properties and its ``<title>``, up to the end of ``<head>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "body":
            self.done = True
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            named = dict(attrs)
            key = (named.get("property") or named.get("name") or "").strip().lower()
            content = named.get("content")
            if key and content is not None and key not in self.meta:
                self.meta[key] = content.strip()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done:
            self.title += data


def open_graph(html: str, page_url: str) -> OpenGraph:
    tags = _MetaTags()
    tags.feed(html)
    tags.close()
    title = tags.meta.get("og:title") or " ".join(tags.title.split())
    description = tags.meta.get("og:description") or tags.meta.get("description")
    image = tags.meta.get("og:image") or tags.meta.get("og:image:url")
    if image:
        try:
            image = _web_url(str(httpx.URL(page_url).join(image)))
        except httpx.InvalidURL:
            image = None
    return OpenGraph(
        title=title[:MAX_TITLE] or None,
        description=(description or "")[:MAX_DESCRIPTION] or None,
        image=image or None,
    )


async def read_open_graph(page_url: str, *, loopback: bool = False) -> OpenGraph:
    """The page's Open Graph data; a page that cannot be read has none (its draft uses the
    feed's title), since one unreadable page must not stop the site's other pages."""
    try:
        fetched = await fetch(page_url, {"Accept": "text/html"}, PAGE_LIMITS, loopback)
    except SiteFailure:
        return OpenGraph()
    charset = httpx.Headers(fetched.headers).get("content-type", "")
    encoding = charset.partition("charset=")[2].strip() or "utf-8"
    try:
        text = fetched.body.decode(encoding, errors="replace")
    except LookupError:
        text = fetched.body.decode("utf-8", errors="replace")
    return open_graph(text, fetched.url)

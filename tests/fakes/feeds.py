"""Fake feed host: one RSS 2.0 and one Atom feed of the same entries, served with ``ETag`` and
``Last-Modified`` and answering conditional GETs with 304, as the specifications say (RSS 2.0
https://www.rssboard.org/rss-specification, Atom RFC 4287, conditional requests RFC 9110).

``/broken.xml`` is not XML; ``/status/{code}`` answers that status."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape

from fastapi import FastAPI, Request, Response


@dataclass
class Entry:
    id: str
    title: str
    # HTML, as feeds carry it.
    summary: str
    published: datetime | None
    link: str | None = None
    author: str | None = None


@dataclass
class FeedRequest:
    path: str
    headers: dict[str, str]


@dataclass
class FakeFeeds:
    title: str = "Agriturismo La Quercia"
    language: str = "it-IT"
    entries: list[Entry] = field(default_factory=list)
    seen: list[FeedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.add_api_route("/rss.xml", self.rss, methods=["GET"])
        self.app.add_api_route("/atom.xml", self.atom, methods=["GET"])
        self.app.add_api_route("/broken.xml", self.broken, methods=["GET"])
        self.app.add_api_route("/status/{code}", self.status, methods=["GET"])

    def add(self, entry: Entry) -> None:
        self.entries.append(entry)

    def _record(self, request: Request) -> None:
        headers = {key.lower(): value for key, value in request.headers.items()}
        self.seen.append(FeedRequest(request.url.path, headers))

    def _modified(self) -> datetime | None:
        dates = [entry.published for entry in self.entries if entry.published is not None]
        return max(dates) if dates else None

    def _answer(self, request: Request, document: str, media_type: str) -> Response:
        """The document, or 304 when the request's validators still match it."""
        body = document.encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag}
        modified = self._modified()
        if modified is not None:
            headers["Last-Modified"] = format_datetime(modified, usegmt=True)
        # If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None and if_none_match == etag:
            return Response(status_code=304, headers=headers)
        if (
            if_none_match is None
            and request.headers.get("if-modified-since") == headers.get("Last-Modified")
            and modified is not None
        ):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type=media_type, headers=headers)

    async def rss(self, request: Request) -> Response:
        self._record(request)
        items = "".join(_rss_item(entry) for entry in self.entries)
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{escape(self.title)}</title><link>https://laquercia.example/</link>"
            f"<description>News</description><language>{self.language}</language>"
            f"{items}</channel></rss>"
        )
        return self._answer(request, document, "application/rss+xml")

    async def atom(self, request: Request) -> Response:
        self._record(request)
        entries = "".join(_atom_entry(entry) for entry in self.entries)
        updated = self._modified()
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{self.language}">'
            f"<title>{escape(self.title)}</title><id>urn:uuid:laquercia-feed</id>"
            f"<updated>{(updated.isoformat() if updated else '2026-01-01T00:00:00+00:00')}"
            "</updated><author><name>La Quercia</name></author>"
            f"{entries}</feed>"
        )
        return self._answer(request, document, "application/atom+xml")

    async def broken(self, request: Request) -> Response:
        self._record(request)
        return Response(
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut &nbsp; off</chan',
            media_type="application/rss+xml",
        )

    async def status(self, code: int, request: Request) -> Response:
        self._record(request)
        headers = {"Retry-After": "120"} if code == 429 else {}
        return Response(b"no", status_code=code, headers=headers)


def _rss_item(entry: Entry) -> str:
    parts = [
        f'<guid isPermaLink="false">{escape(entry.id)}</guid>',
        f"<title>{escape(entry.title)}</title>",
        f"<description>{escape(entry.summary)}</description>",
    ]
    if entry.link:
        parts.append(f"<link>{escape(entry.link)}</link>")
    if entry.published:
        parts.append(f"<pubDate>{format_datetime(entry.published, usegmt=True)}</pubDate>")
    if entry.author:
        parts.append(f"<author>{escape(entry.author)}</author>")
    return "<item>" + "".join(parts) + "</item>"


def _atom_entry(entry: Entry) -> str:
    parts = [
        f"<id>{escape(entry.id)}</id>",
        f"<title>{escape(entry.title)}</title>",
        f'<summary type="html">{escape(entry.summary)}</summary>',
    ]
    if entry.link:
        parts.append(f'<link rel="alternate" href="{escape(entry.link)}"/>')
    if entry.published:
        parts.append(f"<published>{entry.published.isoformat()}</published>")
        parts.append(f"<updated>{entry.published.isoformat()}</updated>")
    if entry.author:
        parts.append(f"<author><name>{escape(entry.author)}</name></author>")
    return "<entry>" + "".join(parts) + "</entry>"

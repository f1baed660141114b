"""The RSS/Atom reader against a local feed host (tests/fakes/feeds.py), fetched through
safe_fetch over real HTTP on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import ValidationError

from services.listening.contracts import SourceKind
from services.listening.sources import rss
from services.listening.sources.readers import (
    Cursor,
    Page,
    RateLimited,
    SourceMalformed,
    SourceRefused,
    SourceScope,
    SourceUnavailable,
)
from services.listening.sources.registry import READERS
from services.listening.sources.rss import RssReader, RssSettings
from tests.fakes.common import serve
from tests.fakes.feeds import Entry, FakeFeeds

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
VALIDATORS = ("etag", "last_modified")


@dataclass
class Feeds:
    fake: FakeFeeds
    base_url: str
    reader: RssReader
    scope: SourceScope

    async def read(
        self, path: str, cursor: Cursor | None = None, since: datetime = LONG_AGO
    ) -> Page:
        settings = RssSettings.model_validate({"url": f"{self.base_url}{path}"})
        return await self.reader.read(self.scope, settings, None, cursor or {}, since)


@asynccontextmanager
async def feeds(*entries: Entry) -> AsyncIterator[Feeds]:
    fake = FakeFeeds(entries=list(entries))
    async with serve(fake.app) as base_url, httpx.AsyncClient() as http:
        scope = SourceScope(source_id=str(uuid.uuid4()), organization_id=str(uuid.uuid4()))
        yield Feeds(fake, base_url, RssReader(http, None, allow_loopback=True), scope)


def entry(number: int, at: datetime, **fields: str) -> Entry:
    return Entry(
        id=f"urn:laquercia:{number}",
        title=fields.get("title", f"Vendemmia {number}"),
        summary=fields.get("summary", f"<p>Giorno <b>{number}</b> &amp; festa</p>"),
        published=at,
        link=f"https://laquercia.example/news/{number}",
        author=fields.get("author"),
    )


@pytest.mark.parametrize("path", ["/rss.xml", "/atom.xml"])
async def test_entries_become_mentions_oldest_first(path: str) -> None:
    newer = entry(2, T0 + timedelta(hours=1), author="giulia@laquercia.example (Giulia Rossi)")
    older = entry(1, T0)
    async with feeds(newer, older) as case:
        page = await case.read(path)

    assert [m.external_id for m in page.mentions] == ["urn:laquercia:1", "urn:laquercia:2"]
    first, second = page.mentions
    assert first.source is SourceKind.RSS
    assert str(first.organization_id) == case.scope.organization_id
    assert first.text == "Vendemmia 1\n\nGiorno 1 & festa"
    assert first.url == "https://laquercia.example/news/1"
    assert first.published_at == T0
    assert first.language == "it-IT"
    assert second.author.handle == "Giulia Rossi"
    assert page.wait_seconds is None


async def test_an_entry_without_an_author_is_the_feeds_host() -> None:
    async with feeds(entry(1, T0)) as case:
        [mention] = (await case.read("/rss.xml")).mentions
    assert mention.author.handle == "127.0.0.1"
    assert mention.author.display_name == "Agriturismo La Quercia"


async def test_a_second_read_is_conditional_and_a_304_reads_nothing() -> None:
    async with feeds(entry(1, T0)) as case:
        first = await case.read("/rss.xml")
        second = await case.read("/rss.xml", first.cursor)

        [_, conditional] = case.fake.seen
    assert conditional.headers["if-none-match"] == first.cursor["etag"]
    assert conditional.headers["if-modified-since"] == first.cursor["last_modified"]
    assert second.mentions == []
    assert second.cursor == first.cursor


async def test_later_entries_are_read_once_even_at_the_same_second() -> None:
    async with feeds(entry(1, T0), entry(2, T0 + timedelta(minutes=5))) as case:
        first = await case.read("/atom.xml")
        case.fake.add(entry(3, T0 + timedelta(minutes=5)))
        case.fake.add(entry(4, T0 + timedelta(minutes=9)))
        second = await case.read("/atom.xml", first.cursor)
        unconditional = {k: v for k, v in second.cursor.items() if k not in VALIDATORS}
        third = await case.read("/atom.xml", unconditional)

    assert [m.external_id for m in first.mentions] == ["urn:laquercia:1", "urn:laquercia:2"]
    assert [m.external_id for m in second.mentions] == ["urn:laquercia:3", "urn:laquercia:4"]
    assert third.mentions == []


async def test_entries_published_before_the_backfill_start_are_skipped() -> None:
    async with feeds(entry(1, T0 - timedelta(days=3)), entry(2, T0)) as case:
        page = await case.read("/rss.xml", since=T0 - timedelta(days=1))
    assert [m.external_id for m in page.mentions] == ["urn:laquercia:2"]


async def test_an_undated_entry_is_skipped() -> None:
    undated = Entry(id="urn:undated", title="Senza data", summary="x", published=None)
    async with feeds(undated, entry(1, T0)) as case:
        page = await case.read("/rss.xml")
    assert [m.external_id for m in page.mentions] == ["urn:laquercia:1"]


async def test_more_new_entries_than_a_poll_takes_are_read_over_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rss, "MAX_MENTIONS_PER_POLL", 3)
    async with feeds(*(entry(n, T0 + timedelta(minutes=n)) for n in range(5))) as case:
        first = await case.read("/rss.xml")
        second = await case.read("/rss.xml", first.cursor)

    assert [m.external_id[-1] for m in first.mentions] == ["0", "1", "2"]
    # Not conditional: a 304 would hide the two left.
    assert "etag" not in first.cursor
    assert [m.external_id[-1] for m in second.mentions] == ["3", "4"]
    assert "etag" in second.cursor


async def test_a_document_that_is_not_a_feed_is_malformed() -> None:
    async with feeds() as case:
        with pytest.raises(SourceMalformed, match="not an RSS or Atom document"):
            await case.read("/broken.xml")


async def test_a_feed_with_no_entries_reads_nothing() -> None:
    async with feeds() as case:
        page = await case.read("/rss.xml")
    assert page.mentions == []
    assert "etag" in page.cursor


@pytest.mark.parametrize(
    ("code", "failure"),
    [
        (404, SourceRefused),
        (410, SourceRefused),
        (500, SourceUnavailable),
        (503, SourceUnavailable),
    ],
)
async def test_failed_answers_are_classified(code: int, failure: type[Exception]) -> None:
    async with feeds() as case:
        with pytest.raises(failure) as failed:
            await case.read(f"/status/{code}")
    assert str(failed.value) == f"feed: HTTP {code}"


async def test_a_429_asks_to_wait_as_long_as_retry_after_says() -> None:
    async with feeds() as case:
        with pytest.raises(RateLimited) as limited:
            await case.read("/status/429")
    assert limited.value.retry_after == 120


async def test_an_unreachable_host_is_unavailable() -> None:
    async with feeds() as case:
        pass
    # The host has stopped listening: the connection is refused.
    with pytest.raises(SourceUnavailable, match="ConnectError"):
        await case.read("/rss.xml")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://10.0.0.1/rss.xml", "private"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://127.0.0.1:9/rss.xml", "loopback"),
    ],
)
async def test_a_private_address_is_refused_with_the_reason(url: str, reason: str) -> None:
    async with httpx.AsyncClient() as http:
        reader = RssReader(http, None)
        scope = SourceScope(source_id="s", organization_id=str(uuid.uuid4()))
        settings = RssSettings.model_validate({"url": url})
        with pytest.raises(SourceRefused) as refused:
            await reader.read(scope, settings, None, {}, LONG_AGO)
    assert refused.value.reason == f"feed: the URL is refused ({reason})"


def test_settings_take_only_http_and_https_urls() -> None:
    with pytest.raises(ValidationError):
        RssSettings.model_validate({"url": "ftp://laquercia.example/rss.xml"})
    with pytest.raises(ValidationError):
        RssSettings.model_validate({"url": "https://laquercia.example/rss", "extra": 1})


def test_the_registry_polls_rss_sources_with_this_reader() -> None:
    assert READERS[SourceKind.RSS] is RssReader
    assert not RssReader.needs_credentials

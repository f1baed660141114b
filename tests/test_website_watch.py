"""Website coordination (coordinamento con sito web): a client's feed or sitemap watched, each new
page drafted once as a link item with its Open Graph data, a UTM-tagged variant per channel, into
review. The site is a local fake (tests/fakes/feeds.py, plus a sitemap and article pages) read
over real HTTP through safe_fetch; the poll runs as the content worker's activity does, with the
test-only loopback allowance the listening RSS tests use."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi import Request, Response
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.content.storage import media_storage
from services.content.website.activities import ROUND_EVERY, ensure_poll_schedule
from services.content.website.contracts import (
    WEBSITE_POLL_SCHEDULE_ID,
    WEBSITE_POLL_WORKFLOW,
    WebsitePollInput,
    WebsitePollSummary,
)
from services.content.website.models import WatchedSite
from services.content.website.service import SitePoller
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.fakes.common import serve
from tests.fakes.feeds import Entry, FakeFeeds
from tests.test_content_media import png
from tests.test_thin_thread import create_org

Json = dict[str, Any]
CHANNELS = ["facebook", "x", "instagram"]


class FakeSite(FakeFeeds):
    """The feeds of ``FakeFeeds``, a sitemap of the same entries (same validators, same 304),
    each entry's article page with Open Graph tags, and the images put in ``images`` (name ->
    body and Content-Type; any other is 404). An article's ``og:image`` is
    ``/images/<number>.jpg`` unless ``og_images`` names another path."""

    base_url = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.images: dict[str, tuple[bytes, str]] = {}
        self.og_images: dict[int, str] = {}
        self.app.add_api_route("/sitemap.xml", self.sitemap, methods=["GET"])
        self.app.add_api_route("/news/{number}", self.page, methods=["GET"])
        self.app.add_api_route("/images/{name}", self.image, methods=["GET"])

    def article(self, number: int, published: datetime) -> Entry:
        return Entry(
            id=f"urn:laquercia:{number}",
            title=f"Vendemmia {number}",
            summary="<p>La raccolta</p>",
            published=published,
            link=f"{self.base_url}/news/{number}",
        )

    async def sitemap(self, request: Request) -> Response:
        self._record(request)
        urls = "".join(
            f"<url><loc>{entry.link}</loc>"
            f"<lastmod>{entry.published.isoformat() if entry.published else ''}</lastmod></url>"
            for entry in self.entries
        )
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )
        return self._answer(request, document, "application/xml")

    async def page(self, number: int, request: Request) -> Response:
        self._record(request)
        image = self.og_images.get(number, f"/images/{number}.jpg")
        html = (
            "<!doctype html><html><head><title>Fallback</title>"
            f'<meta property="og:title" content="La vendemmia n. {number} &amp; la festa">'
            '<meta property="og:description" content="Due giorni tra i filari della Quercia.">'
            f'<meta property="og:image" content="{image}">'
            "</head><body><h1>ignored</h1></body></html>"
        )
        return Response(html, media_type="text/html; charset=utf-8")

    async def image(self, name: str, request: Request) -> Response:
        self._record(request)
        if name not in self.images:
            return Response(b"not found", status_code=404)
        body, content_type = self.images[name]
        return Response(body, media_type=content_type)


@pytest.fixture
async def site() -> AsyncIterator[FakeSite]:
    fake = FakeSite()
    async with serve(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


@pytest.fixture
async def client(platform: Platform) -> tuple[str, str]:
    organization_id = await create_org(platform)
    return organization_id, await stored_engagement(platform, organization_id)


def sites_path(engagement_id: str, site_id: str = "") -> str:
    path = f"/v1/engagements/{engagement_id}/watched-sites"
    return f"{path}/{site_id}" if site_id else path


async def watch(platform: Platform, engagement_id: str, url: str, **fields: object) -> Json:
    created = await platform.gateway.post(
        sites_path(engagement_id),
        json={"url": url, "channels": CHANNELS, "utm_campaign": "vendemmia-2026", **fields},
        headers=platform.auth(Role.MANAGER),
    )
    assert created.status_code == 201, created.text
    site: Json = created.json()
    return site


async def due_now(sessions: async_sessionmaker[AsyncSession], site_id: str) -> None:
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(WatchedSite)
            .where(WatchedSite.id == uuid.UUID(site_id))
            .values(next_poll_at=datetime.now(UTC))
        )


async def drafts(
    platform: Platform, engagement_id: str, site_id: str, role: Role = Role.EDITOR
) -> list[Json]:
    read = await platform.gateway.get(
        sites_path(engagement_id, site_id) + "/drafts", headers=platform.auth(role)
    )
    assert read.status_code == 200, read.text
    found: list[Json] = read.json()
    return found


async def read_item(platform: Platform, item_id: str) -> Json:
    read = await platform.gateway.get(
        f"/v1/content-items/{item_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    item: Json = read.json()
    return item


@pytest.mark.parametrize("path", ["/rss.xml", "/sitemap.xml"])
async def test_a_new_article_is_drafted_once_with_its_open_graph_into_review(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FakeSite,
    client: tuple[str, str],
    path: str,
) -> None:
    organization_id, engagement_id = client
    now = datetime.now(UTC).replace(microsecond=0)
    site.add(site.article(1, now - timedelta(days=3)))
    watched = await watch(platform, engagement_id, site.base_url + path)
    site.add(site.article(2, now + timedelta(minutes=1)))
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)

    first = await poller.poll(uuid.UUID(watched["id"]))
    await due_now(sessions, watched["id"])
    second = await poller.poll(uuid.UUID(watched["id"]))

    assert (first.outcome, first.drafted) == ("drafted", 1)
    assert (second.outcome, second.drafted) == ("unchanged", 0)
    conditional = [seen for seen in site.seen if seen.path == path][-1]
    assert conditional.headers["if-none-match"].startswith('"')
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    listed = await platform.gateway.get(
        sites_path(engagement_id, watched["id"]) + "/drafts", headers=viewer
    )
    [draft] = listed.json()
    assert draft["page_url"] == f"{site.base_url}/news/2"
    assert draft["og_title"] == "La vendemmia n. 2 & la festa"
    assert draft["og_description"] == "Due giorni tra i filari della Quercia."
    assert draft["og_image"] == f"{site.base_url}/images/2.jpg"
    assert set(draft["skipped_channels"]) == {"instagram"}

    read = await platform.gateway.get(
        f"/v1/content-items/{draft['item_id']}", headers=platform.auth(Role.MANAGER)
    )
    item = read.json()
    assert (item["kind"], item["status"], item["link"]) == ("link", "in_review", draft["page_url"])
    assert item["title"] == "La vendemmia n. 2 & la festa"
    assert [variant["channel"] for variant in item["variants"]] == ["facebook", "x"]
    for variant in item["variants"]:
        link = urlsplit(variant["link"])
        assert link.path == "/news/2"
        assert dict(parse_qsl(link.query)) == {
            "utm_source": variant["channel"],
            "utm_medium": "social",
            "utm_campaign": "vendemmia-2026",
        }
        assert variant["text"].startswith("La vendemmia n. 2 & la festa\n\nDue giorni")


async def test_later_articles_follow_the_cursor_and_none_is_drafted_twice(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FakeSite,
    client: tuple[str, str],
) -> None:
    _, engagement_id = client
    now = datetime.now(UTC).replace(microsecond=0)
    watched = await watch(platform, engagement_id, site.base_url + "/atom.xml")
    site_id = uuid.UUID(watched["id"])
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)
    site.add(site.article(1, now + timedelta(minutes=1)))
    await poller.poll(site_id)

    site.add(site.article(2, now + timedelta(minutes=1)))
    site.add(site.article(3, now + timedelta(minutes=2)))
    await due_now(sessions, watched["id"])
    later = await poller.poll(site_id)
    # A cursor lost (the validators and the newest date forgotten): the drafts still say which
    # pages were drafted.
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(WatchedSite).where(WatchedSite.id == site_id).values(cursor={})
        )
    await due_now(sessions, watched["id"])
    again = await poller.poll(site_id)

    assert later.drafted == 2
    assert again.drafted == 0
    pages = [draft["page_url"] for draft in await drafts(platform, engagement_id, watched["id"])]
    assert sorted(pages) == [f"{site.base_url}/news/{n}" for n in (1, 2, 3)]


async def test_a_failing_site_is_marked_with_its_reason_and_does_not_stop_another(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FakeSite,
    client: tuple[str, str],
) -> None:
    _, engagement_id = client
    broken = await watch(platform, engagement_id, site.base_url + "/status/500")
    private = await watch(platform, engagement_id, "http://10.1.2.3/feed.xml")
    healthy = await watch(platform, engagement_id, site.base_url + "/rss.xml")
    site.add(site.article(1, datetime.now(UTC) + timedelta(minutes=1)))
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)

    results = [await poller.poll(uuid.UUID(s["id"])) for s in (broken, private, healthy)]

    assert [result.outcome for result in results] == ["failing", "failing", "drafted"]
    assert results[1].reason == "refused (private)"
    read = await platform.gateway.get(
        sites_path(engagement_id, broken["id"]), headers=platform.auth(Role.EDITOR)
    )
    failing = read.json()
    assert (failing["status"], failing["failure"]) == ("failing", "HTTP 500")
    assert failing["consecutive_failures"] == 1
    retry_at = datetime.fromisoformat(failing["next_poll_at"])
    assert retry_at > datetime.now(UTC) + timedelta(minutes=4)

    # Asked to poll now, it is due at once, and read again when the site answers.
    polled = await platform.gateway.post(
        sites_path(engagement_id, broken["id"]) + "/poll", headers=platform.auth(Role.MANAGER)
    )
    assert polled.status_code == 202, polled.text
    assert datetime.fromisoformat(polled.json()["next_poll_at"]) <= datetime.now(UTC)
    site.app.router.routes = [r for r in site.app.router.routes if "status" not in str(r)]
    again = await poller.poll(uuid.UUID(broken["id"]))
    assert again.outcome == "failing"
    assert again.reason == "HTTP 404"


async def test_loopback_is_refused_outside_tests(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FakeSite,
    client: tuple[str, str],
) -> None:
    _, engagement_id = client
    watched = await watch(platform, engagement_id, site.base_url + "/rss.xml")

    result = await SitePoller(sessions, media_storage(platform.settings)).poll(
        uuid.UUID(watched["id"])
    )

    assert (result.outcome, result.reason) == ("failing", "refused (loopback)")
    assert site.seen == []


async def test_watched_sites_answer_bad_input_other_clients_and_roles(
    platform: Platform, client: tuple[str, str]
) -> None:
    organization_id, engagement_id = client
    manager = platform.auth(Role.MANAGER)
    first = await watch(platform, engagement_id, "https://laquercia.example/feed.xml")
    await watch(platform, engagement_id, "https://laquercia.example/sitemap.xml")
    outsider = platform.auth(Role.MANAGER, orgs=[str(uuid.uuid4())])

    invalid = await platform.gateway.post(
        sites_path(engagement_id),
        json={"url": "ftp://laquercia.example/", "channels": ["x", "x"]},
        headers=manager,
    )
    twice = await platform.gateway.post(
        sites_path(engagement_id),
        json={"url": "https://laquercia.example/feed.xml", "channels": ["x"]},
        headers=manager,
    )
    viewer = await platform.gateway.post(
        sites_path(engagement_id),
        json={"url": "https://laquercia.example/other.xml", "channels": ["x"]},
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    hidden = await platform.gateway.get(sites_path(engagement_id, first["id"]), headers=outsider)
    hidden_list = await platform.gateway.get(sites_path(engagement_id), headers=outsider)
    page = await platform.gateway.get(sites_path(engagement_id) + "?limit=1", headers=manager)
    following = page.headers["link"].split(">")[0].lstrip("<")
    rest = await platform.gateway.get(following, headers=manager)
    removed = await platform.gateway.delete(sites_path(engagement_id, first["id"]), headers=manager)
    gone = await platform.gateway.get(sites_path(engagement_id, first["id"]), headers=manager)

    assert invalid.status_code == 422
    fields = {error["field"] for error in invalid.json()["errors"]}
    assert {"body.url", "body.channels"} <= fields
    assert twice.status_code == 409
    assert viewer.status_code == 403
    assert (hidden.status_code, hidden_list.status_code) == (404, 404)
    assert [site["id"] for site in page.json()] == [first["id"]]
    assert len(rest.json()) == 1
    assert rest.json()[0]["id"] != first["id"]
    assert first["utm_campaign"] == "vendemmia-2026"
    assert (removed.status_code, gone.status_code) == (204, 404)


def test_the_sitemap_date_forms_and_the_default_campaign() -> None:
    from services.content.website.reading import _w3c_datetime
    from services.content.website.service import default_campaign

    assert _w3c_datetime("2026-12-03") == datetime(2026, 12, 3, tzinfo=UTC)
    assert _w3c_datetime("2026-12-03T10:00:00+01:00") == datetime(2026, 12, 3, 9, tzinfo=UTC)
    assert _w3c_datetime("yesterday") is None
    assert default_campaign("https://www.laquercia.example/feed") == "laquercia-example"


async def test_the_schedule_polls_due_sites_each_in_its_own_activity(
    platform: Platform, client: tuple[str, str]
) -> None:
    _, engagement_id = client
    private = await watch(platform, engagement_id, "http://10.9.8.7/feed.xml")
    await ensure_poll_schedule(platform.temporal, platform.settings)
    prefix = platform.settings.temporal.task_queue_prefix

    described = await platform.temporal.get_schedule_handle(
        f"{prefix}{WEBSITE_POLL_SCHEDULE_ID}"
    ).describe()
    summary: WebsitePollSummary = await platform.temporal.execute_workflow(
        WEBSITE_POLL_WORKFLOW,
        WebsitePollInput(task_queue_prefix=prefix),
        id=f"website-poll-test-{uuid.uuid4()}",
        task_queue=platform.settings.task_queue(task_queues.WORKFLOWS),
        result_type=WebsitePollSummary,
    )

    assert [interval.every for interval in described.schedule.spec.intervals] == [ROUND_EVERY]
    [polled] = [result for result in summary.polled if str(result.site_id) == private["id"]]
    assert (polled.outcome, polled.reason) == ("failing", "refused (private)")
    read = await platform.gateway.get(
        sites_path(engagement_id, private["id"]), headers=platform.auth(Role.MANAGER)
    )
    assert read.json()["status"] == "failing"


async def test_a_pages_og_image_becomes_the_items_medium_and_a_broken_one_is_left_out(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    site: FakeSite,
    client: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, engagement_id = client
    now = datetime.now(UTC).replace(microsecond=0)
    picture = png(1200, 630)
    site.images["vendemmia.png"] = (picture, "image/png")
    site.images["broken.png"] = (b"<html>not an image</html>", "image/png")
    site.og_images = {1: "/images/vendemmia.png", 2: "/images/broken.png"}
    watched = await watch(platform, engagement_id, site.base_url + "/rss.xml")
    site.add(site.article(1, now + timedelta(minutes=1)))
    site.add(site.article(2, now + timedelta(minutes=2)))
    poller = SitePoller(sessions, media_storage(platform.settings), loopback=True)

    with caplog.at_level(logging.WARNING, logger="services.content.website.images"):
        polled = await poller.poll(uuid.UUID(watched["id"]))

    assert (polled.outcome, polled.drafted) == ("drafted", 2)
    manager = platform.auth(Role.MANAGER)
    by_page = {
        draft["page_url"]: draft for draft in await drafts(platform, engagement_id, watched["id"])
    }
    pictured = by_page[f"{site.base_url}/news/1"]
    item = (
        await platform.gateway.get(f"/v1/content-items/{pictured['item_id']}", headers=manager)
    ).json()
    [media_id] = item["media_ids"]
    assert {v["channel"]: v["media_ids"] for v in item["variants"]} == {
        "facebook": [media_id],
        "x": [media_id],
    }
    # Instagram takes JPEG only, and a post there needs a medium: left out with the rule.
    assert set(pictured["skipped_channels"]) == {"instagram"}
    media = (await platform.gateway.get(f"/v1/media/{media_id}", headers=manager)).json()
    assert (media["mime_type"], media["width"], media["height"]) == ("image/png", 1200, 630)
    assert (media["size_bytes"], media["filename"]) == (len(picture), "vendemmia.png")
    content = await platform.gateway.get(f"/v1/media/{media_id}/content", headers=manager)
    assert content.content == picture

    broken = by_page[f"{site.base_url}/news/2"]
    assert broken["og_image"] == f"{site.base_url}/images/broken.png"
    item = (
        await platform.gateway.get(f"/v1/content-items/{broken['item_id']}", headers=manager)
    ).json()
    assert item["status"] == "in_review"
    assert item["media_ids"] == []
    assert all(variant["media_ids"] == [] for variant in item["variants"])
    [logged] = [record.getMessage() for record in caplog.records]
    assert f"{site.base_url}/news/2" in logged
    assert "not an image (not recognised)" in logged

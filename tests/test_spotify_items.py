"""A Spotify show or episode drafted as a link item through the gateway, its metadata read with
the Spotify catalog client from a fake of the documented Web API (tests/fakes/spotify.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.content.app import build_app as build_content
from services.gateway.app import build_app as build_gateway
from services.publisher.connectors.spotify import AppToken, AppTokens
from shared.auth import Role
from shared.settings import OAuthAppSettings
from tests.conftest import Platform, as_role
from tests.engagement_helpers import stored_engagement
from tests.fakes import spotify
from tests.fakes.common import Fault, serve
from tests.test_thin_thread import create_org

Json = dict[str, Any]
PATH = "/v1/content-items/spotify"


@dataclass
class Gateway:
    """A gateway in front of a content service whose settings name the agency's Spotify app
    and the fake's address (the platform's other services behind it as they are)."""

    http: httpx.AsyncClient
    fake: spotify.FakeSpotify


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[Gateway]:
    fake = spotify.FakeSpotify()
    base = platform.settings
    async with serve(fake.app) as fake_url:
        publisher = base.publisher.model_copy(
            update={
                "api_base_urls": {**base.publisher.api_base_urls, "spotify": fake_url},
                "oauth_apps": {
                    "spotify": OAuthAppSettings(
                        client_id=spotify.CLIENT_ID, client_secret=spotify.CLIENT_SECRET
                    )
                },
            }
        )
        settings = base.model_copy(update={"publisher": publisher})
        async with serve(build_content(as_role(settings, "content"))) as content_url:
            port = int(content_url.rsplit(":", 1)[1])
            ports = base.ports.model_copy(update={"content": port})
            fronted = build_gateway(settings.model_copy(update={"ports": ports}))
            async with (
                serve(fronted) as url,
                httpx.AsyncClient(base_url=url, timeout=30) as http,
            ):
                yield Gateway(http, fake)


async def test_an_episode_becomes_a_link_item_with_its_metadata(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)

    created = await gateway.http.post(
        PATH,
        json={
            "organization_id": organization_id,
            "engagement_id": engagement_id,
            "reference": f"https://open.spotify.com/intl-it/episode/{spotify.EPISODE_ID}?si=abc",
            "channels": ["facebook", "x"],
        },
        headers=platform.auth(Role.EDITOR),
    )

    assert created.status_code == 201, created.text
    answer = created.json()
    link = f"https://open.spotify.com/episode/{spotify.EPISODE_ID}"
    assert answer["spotify"] == {
        "type": "episode",
        "id": spotify.EPISODE_ID,
        "title": "La vendemmia",
        "publisher": "Voci dalla Val d'Orcia",
        "description": "Come si raccoglie l'uva a mano.",
        "link": link,
        "image_url": "https://i.scdn.co/image/episode",
        "duration_seconds": 1860.0,
        "release_date": "2026-09-15",
        "show_id": spotify.SHOW_ID,
    }
    item = answer["item"]
    assert (item["kind"], item["status"], item["link"]) == ("link", "draft", link)
    assert (item["title"], item["body"]) == ("La vendemmia", "Come si raccoglie l'uva a mano.")
    assert item["engagement_id"] == engagement_id
    assert [(v["channel"], v["link"]) for v in item["variants"]] == [
        ("facebook", link),
        ("x", link),
    ]
    read = await platform.gateway.get(
        f"/v1/content-items/{item['id']}", headers=platform.auth(Role.MANAGER)
    )
    assert read.json()["link"] == link


async def test_a_show_by_uri_or_by_id_with_its_type(platform: Platform, gateway: Gateway) -> None:
    organization_id = await create_org(platform)
    editor = platform.auth(Role.EDITOR)

    by_uri = await gateway.http.post(
        PATH,
        json={"organization_id": organization_id, "reference": f"spotify:show:{spotify.SHOW_ID}"},
        headers=editor,
    )
    by_id = await gateway.http.post(
        PATH,
        json={"organization_id": organization_id, "reference": spotify.SHOW_ID, "type": "show"},
        headers=editor,
    )

    assert (by_uri.status_code, by_id.status_code) == (201, 201), by_uri.text
    show = by_uri.json()["spotify"]
    assert (show["title"], show["publisher"]) == (
        "Voci dalla Val d'Orcia",
        "Agriturismo La Quercia",
    )
    assert show["duration_seconds"] is None
    assert by_id.json()["spotify"] == show
    reads = gateway.fake.requests("read")
    assert [seen.path for seen in reads] == [f"/v1/shows/{spotify.SHOW_ID}"] * 2
    assert {seen.query["market"] for seen in reads} == {"IT"}


async def test_bad_references_unknown_ids_other_clients_and_failures(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)
    editor = platform.auth(Role.EDITOR)

    async def create(headers: dict[str, str] = editor, **fields: object) -> httpx.Response:
        body = {"organization_id": organization_id, "reference": spotify.SHOW_ID, "type": "show"}
        return await gateway.http.post(PATH, json={**body, **fields}, headers=headers)

    not_spotify = await create(reference="https://example.com/show/" + spotify.SHOW_ID)
    bare = await create(type=None)
    unknown = await create(reference="A" * 22)
    outsider = await create(headers=platform.auth(Role.EDITOR, orgs=[str(uuid.uuid4())]))
    viewer = await create(headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]))
    foreign_engagement = await create(
        engagement_id=await stored_engagement(platform, await create_org(platform, "Cantina"))
    )
    gateway.fake.fail_next("read", Fault.SERVER_ERROR)
    down = await create()
    unconfigured = await platform.gateway.post(
        PATH,
        json={"organization_id": organization_id, "reference": f"spotify:show:{spotify.SHOW_ID}"},
        headers=editor,
    )

    assert (not_spotify.status_code, bare.status_code) == (422, 422)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "body.reference"
    assert outsider.status_code == 404
    assert viewer.status_code == 403
    assert foreign_engagement.status_code == 422
    assert down.status_code == 503
    assert unconfigured.status_code == 409
    assert unconfigured.json()["integration"] in ("spotify", "foursquare")
    listed = await platform.gateway.get(
        f"/v1/content-items?organization_id={organization_id}", headers=editor
    )
    assert listed.json() == []


async def create_show_item(gateway: Gateway, platform: Platform, organization_id: str) -> None:
    created = await gateway.http.post(
        PATH,
        json={"organization_id": organization_id, "reference": f"spotify:show:{spotify.SHOW_ID}"},
        headers=platform.auth(Role.EDITOR),
    )
    assert created.status_code == 201, created.text


async def test_items_in_a_row_or_at_once_share_one_app_token(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)

    await create_show_item(gateway, platform, organization_id)
    await create_show_item(gateway, platform, organization_id)
    await asyncio.gather(*(create_show_item(gateway, platform, organization_id) for _ in range(3)))

    assert len(gateway.fake.requests("token")) == 1
    assert len(gateway.fake.requests("read")) == 5


async def test_an_expired_or_refused_app_token_is_replaced(
    platform: Platform, gateway: Gateway
) -> None:
    organization_id = await create_org(platform)
    # Kept until a minute before Spotify's expiry: this one is used for a second.
    gateway.fake.expires_in = 61

    await create_show_item(gateway, platform, organization_id)
    await asyncio.sleep(1.2)
    gateway.fake.expires_in = 3600
    await create_show_item(gateway, platform, organization_id)
    expired = len(gateway.fake.requests("token"))
    await create_show_item(gateway, platform, organization_id)
    # Spotify ends the token early: the request fetches another, and the next reuses it.
    gateway.fake.fail_next("read", Fault.EXPIRED_TOKEN)
    await create_show_item(gateway, platform, organization_id)
    await create_show_item(gateway, platform, organization_id)

    assert expired == 2
    assert len(gateway.fake.requests("token")) == 3
    assert len(gateway.fake.requests("read")) == 6


def test_the_token_cache_keeps_the_apps_used_last() -> None:
    tokens = AppTokens(max_apps=2)
    fetched: list[str] = []
    later = datetime.now(UTC) + timedelta(hours=1)

    def fetch(value: str) -> Callable[[], Awaitable[AppToken]]:
        async def fresh() -> AppToken:
            fetched.append(value)
            return AppToken(value, later)

        return fresh

    async def run() -> list[str]:
        return [
            await tokens.token(("a", "1"), fetch("a1")),
            await tokens.token(("b", "1"), fetch("b1")),
            await tokens.token(("a", "1"), fetch("a1-again")),
            await tokens.token(("c", "1"), fetch("c1")),
            await tokens.token(("b", "1"), fetch("b1-again")),
            await tokens.token(("c", "1"), fetch("c1-again")),
            await tokens.token(("a", "1"), fetch("a1-third")),
        ]

    served = asyncio.run(run())

    # b was the least recently used when c came, then a when b came back.
    assert served == ["a1", "b1", "a1", "c1", "b1-again", "c1", "a1-third"]
    assert fetched == ["a1", "b1", "c1", "b1-again", "a1-third"]

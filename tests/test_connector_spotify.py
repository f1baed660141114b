"""Spotify show and episode metadata against the fake Web API (tests/fakes/spotify.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from services.publisher.connectors.base import AuthError, RetryableError
from services.publisher.connectors.spotify import SpotifyCatalog
from tests.fakes import spotify
from tests.fakes.common import Fault, serve

Fake = tuple[spotify.FakeSpotify, SpotifyCatalog]


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    platform = spotify.FakeSpotify()
    async with serve(platform.app) as base_url, httpx.AsyncClient(timeout=2) as http:
        catalog = SpotifyCatalog(
            http, spotify.CLIENT_ID, SecretStr(spotify.CLIENT_SECRET), base_url=base_url
        )
        yield platform, catalog


async def test_an_episode_comes_with_its_link_and_show(fake: Fake) -> None:
    platform, catalog = fake
    episode = await catalog.episode(spotify.EPISODE_ID)

    assert episode.name == "La vendemmia"
    assert episode.link == f"https://open.spotify.com/episode/{spotify.EPISODE_ID}"
    assert episode.show is not None
    assert episode.show.id == spotify.SHOW_ID
    assert (episode.duration_ms, episode.release_date) == (1_860_000, "2026-09-15")
    [seen] = platform.requests("read")
    assert seen.query == {"market": "IT"}


async def test_the_app_token_is_fetched_once_with_client_credentials(fake: Fake) -> None:
    platform, catalog = fake
    show = await catalog.show(spotify.SHOW_ID)
    await catalog.episode(spotify.EPISODE_ID)

    assert (show.publisher, show.total_episodes) == ("Agriturismo La Quercia", 12)
    assert show.link == f"https://open.spotify.com/show/{spotify.SHOW_ID}"
    [token] = platform.requests("token")
    assert token.payload == {"grant_type": "client_credentials"}
    assert token.headers["authorization"].startswith("Basic ")


async def test_a_token_ended_early_is_replaced_once(fake: Fake) -> None:
    platform, catalog = fake
    await catalog.show(spotify.SHOW_ID)
    platform.fail_next("read", Fault.EXPIRED_TOKEN)
    await catalog.show(spotify.SHOW_ID)

    assert len(platform.requests("token")) == 2


async def test_wrong_app_credentials_are_an_auth_error() -> None:
    platform = spotify.FakeSpotify()
    async with serve(platform.app) as base_url, httpx.AsyncClient(timeout=2) as http:
        catalog = SpotifyCatalog(http, "someone-else", SecretStr("wrong"), base_url=base_url)
        with pytest.raises(AuthError):
            await catalog.show(spotify.SHOW_ID)


async def test_a_rate_limit_is_retryable_after_retry_after(fake: Fake) -> None:
    platform, catalog = fake
    platform.fail_next("read", Fault.RATE_LIMITED)
    with pytest.raises(RetryableError) as raised:
        await catalog.show(spotify.SHOW_ID)
    assert raised.value.retry_after == 4

"""The registry: one connector per publishing channel, base-URL overrides from the settings,
and no publishing connector for the channels without a publishing API."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from services.publisher.connectors.facebook import FacebookConnector
from services.publisher.connectors.instagram import InstagramConnector
from services.publisher.connectors.mastodon import MastodonConnector
from services.publisher.connectors.pinterest import PinterestConnector
from services.publisher.connectors.registry import (
    NoPublishingApiError,
    connector_for,
    foursquare_places,
    spotify_catalog,
)
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.connectors.vimeo import VimeoConnector
from services.publisher.connectors.x import XConnector
from services.publisher.connectors.youtube import YouTubeConnector
from shared.domain import Channel
from shared.settings import PublisherSettings, Settings
from tests.fakes import foursquare, spotify, x
from tests.fakes.cases import open_case
from tests.fakes.common import serve


def settings_with(base_urls: dict[str, str]) -> Settings:
    return Settings().model_copy(update={"publisher": PublisherSettings(api_base_urls=base_urls)})


@pytest.mark.parametrize(
    ("channel", "kind"),
    [
        (Channel.FACEBOOK, FacebookConnector),
        (Channel.INSTAGRAM, InstagramConnector),
        (Channel.X, XConnector),
        (Channel.YOUTUBE, YouTubeConnector),
        (Channel.PINTEREST, PinterestConnector),
        (Channel.VIMEO, VimeoConnector),
        (Channel.MASTODON, MastodonConnector),
        (Channel.SANDBOX, SandboxConnector),
    ],
)
async def test_each_publishing_channel_has_its_connector(channel: Channel, kind: type) -> None:
    async with httpx.AsyncClient() as http:
        connector = connector_for(channel, http, settings_with({}))
    assert isinstance(connector, kind)
    assert connector.channel is channel


@pytest.mark.parametrize("channel", [Channel.FOURSQUARE, Channel.SPOTIFY])
async def test_channels_without_a_publishing_api_have_no_connector(channel: Channel) -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(NoPublishingApiError, match="no public publishing API"):
            connector_for(channel, http, settings_with({}))


async def test_the_settings_base_url_sends_a_connector_to_another_host() -> None:
    async with open_case("x") as case:
        connector = connector_for(Channel.X, case.http, settings_with({"x": case.base_url}))
        metrics = await connector.account_metrics(case.credentials, x.USER_ID)
    assert metrics.followers == x.FOLLOWERS


async def test_the_read_clients_honour_the_base_urls_too() -> None:
    places, catalog = foursquare.FakeFoursquare(), spotify.FakeSpotify()
    async with (
        serve(places.app) as places_url,
        serve(catalog.app) as catalog_url,
        httpx.AsyncClient(timeout=2) as http,
    ):
        settings = settings_with({"foursquare": places_url, "spotify": catalog_url})
        place = await foursquare_places(http, settings, SecretStr(foursquare.API_KEY)).place(
            foursquare.PLACE_ID
        )
        client = spotify_catalog(
            http, settings, spotify.CLIENT_ID, SecretStr(spotify.CLIENT_SECRET)
        )
        show = await client.show(spotify.SHOW_ID)
    assert place.fsq_id == foursquare.PLACE_ID
    assert show.id == spotify.SHOW_ID

"""Which connector serves which channel, built with the settings' base-URL overrides.

Foursquare and Spotify have no public publishing API: asking for their publishing connector
raises ``NoPublishingApiError`` (a ``ContentRejectedError``, so a publish attempt fails
permanently and visibly), and their read clients are offered by ``foursquare_places`` and
``spotify_catalog`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import httpx
from pydantic import SecretStr

from services.publisher.connectors.base import Connector, ContentRejectedError
from services.publisher.connectors.facebook import FacebookConnector
from services.publisher.connectors.foursquare import FoursquarePlaces
from services.publisher.connectors.instagram import InstagramConnector
from services.publisher.connectors.mastodon import MastodonConnector
from services.publisher.connectors.oauth import OAuthApp
from services.publisher.connectors.pinterest import PinterestConnector
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.connectors.spotify import SpotifyCatalog
from services.publisher.connectors.vimeo import VimeoConnector
from services.publisher.connectors.x import XConnector
from services.publisher.connectors.youtube import YouTubeConnector
from shared.domain import Channel
from shared.settings import Settings


class ConnectorFactory(Protocol):
    def __call__(
        self, http: httpx.AsyncClient, *, base_url: str | None = None, app: OAuthApp | None = None
    ) -> Connector: ...


PLATFORM_CONNECTORS: Mapping[Channel, ConnectorFactory] = {
    Channel.FACEBOOK: FacebookConnector,
    Channel.INSTAGRAM: InstagramConnector,
    Channel.X: XConnector,
    Channel.YOUTUBE: YouTubeConnector,
    Channel.PINTEREST: PinterestConnector,
    Channel.VIMEO: VimeoConnector,
    Channel.MASTODON: MastodonConnector,
}

NO_PUBLISHING_API: Mapping[Channel, str] = {
    Channel.FOURSQUARE: "Foursquare has no public publishing API; place details are available "
    "for analysis",
    Channel.SPOTIFY: "Spotify has no public publishing API; show and episode metadata are "
    "available for linking episodes in posts",
}


class NoPublishingApiError(ContentRejectedError):
    """The channel cannot be published to through any public API."""


def connector_for(
    channel: Channel,
    http: httpx.AsyncClient,
    settings: Settings,
    *,
    apps: Mapping[Channel, OAuthApp] | None = None,
) -> Connector:
    """The publishing connector of ``channel``; ``apps`` are the agency's OAuth apps, needed to
    renew tokens on the platforms that expire them."""
    if channel in NO_PUBLISHING_API:
        raise NoPublishingApiError(NO_PUBLISHING_API[channel])
    if channel is Channel.SANDBOX:
        return SandboxConnector.from_settings(settings, http)
    factory = PLATFORM_CONNECTORS[channel]
    return factory(http, base_url=_base_url(settings, channel), app=(apps or {}).get(channel))


def foursquare_places(
    http: httpx.AsyncClient, settings: Settings, api_key: SecretStr
) -> FoursquarePlaces:
    return FoursquarePlaces(http, api_key, base_url=_base_url(settings, Channel.FOURSQUARE))


def spotify_catalog(
    http: httpx.AsyncClient, settings: Settings, client_id: str, client_secret: SecretStr
) -> SpotifyCatalog:
    return SpotifyCatalog(
        http, client_id, client_secret, base_url=_base_url(settings, Channel.SPOTIFY)
    )


def _base_url(settings: Settings, channel: Channel) -> str | None:
    return settings.publisher.api_base_urls.get(channel.value) or None

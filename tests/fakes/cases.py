"""One ready-to-use contract case per publishing connector: its fake served over HTTP, the
connector pointed at it, valid credentials and a request the platform accepts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
from pydantic import SecretStr

from services.publisher.connectors.base import Connector, Credentials, MediaRef, PublishRequest
from services.publisher.connectors.facebook import FacebookConnector
from services.publisher.connectors.instagram import InstagramConnector
from services.publisher.connectors.mastodon import MastodonConnector
from services.publisher.connectors.oauth import OAuthApp
from services.publisher.connectors.pinterest import PinterestConnector
from services.publisher.connectors.vimeo import VimeoConnector
from services.publisher.connectors.x import XConnector
from services.publisher.connectors.youtube import CHUNK_QUANTUM, YouTubeConnector
from shared.domain import Channel
from tests.fakes import facebook, graph, instagram, mastodon, pinterest, vimeo, x, youtube
from tests.fakes.common import VALID_TOKEN, FakePlatform, serve

# Below the fakes' SLOW_SECONDS, so a slow answer is a client timeout; well above what a fake
# takes on a loaded machine (0.5 s was seen exceeded: a rate-limit answer lost to a timeout).
CLIENT_TIMEOUT = 2.5
REDIRECT_URI = "https://engage.example/oauth/callback"
TEXT = "Vendemmia 2026: prenotate la visita in cantina! https://laquercia.example/vendemmia"


@dataclass
class Case:
    name: str
    fake: FakePlatform
    connector: Connector
    credentials: Credentials
    request: PublishRequest
    followers: int
    # The operation of the request that creates the post, and the delay its fake's rate-limited
    # answer promises (seconds).
    publishing_operation: str = "publish"
    rate_limit_delay: float = 0.0
    # Where the fake listens and the client the connector uses, to build variants of it.
    base_url: str = field(init=False)
    http: httpx.AsyncClient = field(init=False)


def app(client_id: str, secret: str) -> OAuthApp:
    return OAuthApp(client_id, SecretStr(secret), REDIRECT_URI)


def request_for(channel: Channel, account_id: str, **fields: object) -> PublishRequest:
    return PublishRequest.model_validate(
        {
            "idempotency_key": f"variant-7:{channel}:slot-3",
            "channel": channel,
            "account_id": account_id,
            "text": TEXT,
            **fields,
        }
    )


def media(fake: FakePlatform, base_url: str, name: str, mime_type: str, size: int) -> MediaRef:
    fake.media[name] = bytes(index % 251 for index in range(size))
    return MediaRef(url=f"{base_url}/media/{name}", mime_type=mime_type, size_bytes=size)


def _facebook(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = FacebookConnector(http, base_url=base_url, app=app(graph.APP_ID, graph.APP_SECRET))
    return Case(
        "facebook",
        fake,
        connector,
        Credentials(access_token=VALID_TOKEN),
        request_for(Channel.FACEBOOK, facebook.PAGE_ID),
        facebook.FOLLOWERS,
        rate_limit_delay=graph.REGAIN_MINUTES * 60,
    )


def _instagram(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = InstagramConnector(
        http, base_url=base_url, app=app(graph.APP_ID, graph.APP_SECRET), poll_interval=0.01
    )
    photo = media(fake, base_url, "photo.jpg", "image/jpeg", 2048)
    return Case(
        "instagram",
        fake,
        connector,
        Credentials(access_token=VALID_TOKEN),
        request_for(Channel.INSTAGRAM, instagram.IG_USER_ID, media=[photo]),
        instagram.FOLLOWERS,
        rate_limit_delay=graph.REGAIN_MINUTES * 60,
    )


def _x(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = XConnector(http, base_url=base_url, app=app(x.CLIENT_ID, x.CLIENT_SECRET))
    credentials = Credentials(access_token=VALID_TOKEN, refresh_token=x.REFRESH_TOKEN)
    return Case(
        "x",
        fake,
        connector,
        credentials,
        request_for(Channel.X, x.USER_ID),
        x.FOLLOWERS,
        rate_limit_delay=x.RESET_IN_SECONDS,
    )


def _youtube(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = YouTubeConnector(
        http,
        base_url=base_url,
        app=app(youtube.CLIENT_ID, youtube.CLIENT_SECRET),
        chunk_size=CHUNK_QUANTUM,
    )
    clip = media(fake, base_url, "clip.mp4", "video/mp4", 2 * CHUNK_QUANTUM + 1000)
    request = request_for(
        Channel.YOUTUBE,
        youtube.CHANNEL_ID,
        title="La vendemmia",
        media=[clip],
        tags=["vino", "Val d'Orcia"],
        privacy="unlisted",
    )
    credentials = Credentials(access_token=VALID_TOKEN, refresh_token=youtube.REFRESH_TOKEN)
    return Case(
        "youtube",
        fake,
        connector,
        credentials,
        request,
        youtube.SUBSCRIBERS,
        publishing_operation="upload",
    )


def _pinterest(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = PinterestConnector(
        http, base_url=base_url, app=app(pinterest.CLIENT_ID, pinterest.CLIENT_SECRET)
    )
    photo = media(fake, base_url, "pin.jpg", "image/jpeg", 4096)
    request = request_for(
        Channel.PINTEREST,
        pinterest.BOARD_ID,
        title="Vendemmia 2026",
        link="https://laquercia.example/vendemmia",
        media=[photo],
    )
    credentials = Credentials(access_token=VALID_TOKEN, refresh_token=pinterest.REFRESH_TOKEN)
    return Case(
        "pinterest",
        fake,
        connector,
        credentials,
        request,
        pinterest.FOLLOWERS,
        rate_limit_delay=pinterest.RETRY_IN_SECONDS,
    )


def _vimeo(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = VimeoConnector(http, base_url=base_url, chunk_size=100_000)
    clip = media(fake, base_url, "clip.mp4", "video/mp4", 250_000)
    request = request_for(Channel.VIMEO, "me", title="La vendemmia", media=[clip])
    return Case(
        "vimeo",
        fake,
        connector,
        Credentials(access_token=VALID_TOKEN),
        request,
        vimeo.FOLLOWERS,
        rate_limit_delay=vimeo.RESET_IN_SECONDS,
    )


def _mastodon(fake: FakePlatform, base_url: str, http: httpx.AsyncClient) -> Case:
    connector = MastodonConnector(http, media_poll_interval=0.01)
    credentials = Credentials(access_token=VALID_TOKEN, extra={"instance_url": base_url})
    return Case(
        "mastodon",
        fake,
        connector,
        credentials,
        request_for(Channel.MASTODON, mastodon.ACCOUNT_ID),
        mastodon.FOLLOWERS,
        rate_limit_delay=mastodon.RESET_IN_SECONDS,
    )


Builder = Callable[[FakePlatform, str, httpx.AsyncClient], Case]

PLATFORMS: dict[str, tuple[Callable[[], FakePlatform], Builder]] = {
    "facebook": (facebook.FakeFacebook, _facebook),
    "instagram": (instagram.FakeInstagram, _instagram),
    "x": (x.FakeX, _x),
    "youtube": (youtube.FakeYouTube, _youtube),
    "pinterest": (pinterest.FakePinterest, _pinterest),
    "vimeo": (vimeo.FakeVimeo, _vimeo),
    "mastodon": (mastodon.FakeMastodon, _mastodon),
}


@contextlib.asynccontextmanager
async def open_case(name: str) -> AsyncIterator[Case]:
    """The platform's fake, served on a free port, and its connector on a client of its own."""
    make_fake, build = PLATFORMS[name]
    fake = make_fake()
    async with serve(fake.app) as base_url, httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        case = build(fake, base_url, http)
        case.base_url, case.http = base_url, http
        yield case

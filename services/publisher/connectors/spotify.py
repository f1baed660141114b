"""Spotify: show and episode metadata, so that posts can link episodes. Spotify has no public
publishing API (podcasts reach Spotify through the creator's hosting service, not the Web API).

Implements:

- the client-credentials flow: https://developer.spotify.com/documentation/web-api/tutorials/client-credentials-flow
  (``POST https://accounts.spotify.com/api/token`` with HTTP Basic client authentication)
- https://developer.spotify.com/documentation/web-api/reference/get-a-show (``GET /v1/shows/{id}``)
- https://developer.spotify.com/documentation/web-api/reference/get-an-episode
  (``GET /v1/episodes/{id}``; with an app token the ``market`` parameter is required, or the
  episode is reported missing)
- errors ``{"error": {"status", "message"}}``: https://developer.spotify.com/documentation/web-api/concepts/api-calls

It is not a ``Connector``; the registry offers it instead (README "Connectors").
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from pydantic import BaseModel, SecretStr

from services.publisher.connectors.base import AuthError, ConnectorError
from services.publisher.connectors.http import (
    Model,
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
)
from services.publisher.connectors.oauth import classify_token_error

API_HOST = "https://api.spotify.com"
ACCOUNTS_HOST = "https://accounts.spotify.com"
# Renew the app token a little before Spotify says it expires.
_EXPIRY_MARGIN = timedelta(seconds=60)


class SpotifyErrorDetail(BaseModel):
    status: int
    message: str = ""


class SpotifyError(BaseModel):
    error: SpotifyErrorDetail


def classify_spotify(response: httpx.Response, write: bool) -> ConnectorError:
    body = error_body(response, SpotifyError)
    detail = error_detail(response) if body is None else f"{body.error.status} {body.error.message}"
    return classify_by_status(response, write, detail)


class Image(BaseModel):
    url: str
    width: int | None = None
    height: int | None = None


class Linkable(BaseModel):
    id: str
    name: str
    description: str = ""
    external_urls: dict[str, str] = {}
    images: list[Image] = []

    @property
    def link(self) -> str | None:
        """The open.spotify.com address to put in a post."""
        return self.external_urls.get("spotify")


class Show(Linkable):
    publisher: str = ""
    total_episodes: int | None = None
    languages: list[str] = []


class ShowRef(BaseModel):
    id: str
    name: str


class Episode(Linkable):
    release_date: str | None = None
    duration_ms: int | None = None
    show: ShowRef | None = None


class TokenGranted(BaseModel):
    """The token endpoint's answer to the client-credentials grant."""

    access_token: str
    expires_in: int


# Which app's token: the token endpoint's base URL and the app's client id.
AppKey = tuple[str, str]


@dataclass(frozen=True)
class AppToken:
    value: str
    # When it stops being used: ``_EXPIRY_MARGIN`` before Spotify's ``expires_in``.
    expires_at: datetime


class AppTokens:
    """App tokens by app, for at most ``max_apps`` apps (the least recently used forgotten
    first). A token is reused until its ``expires_at``; while one request fetches an app's token,
    the others for that app wait for it rather than each fetching their own. A catalog keeps its
    own unless it is given one to share (a process's, so requests reuse the token)."""

    def __init__(self, max_apps: int = 1) -> None:
        self._max_apps = max_apps
        self._tokens: OrderedDict[AppKey, AppToken] = OrderedDict()
        self._locks: dict[AppKey, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}

    def _lock(self, key: AppKey) -> asyncio.Lock:
        # A lock belongs to the event loop it first waited on (a test run starts several).
        loop = asyncio.get_running_loop()
        held = self._locks.get(key)
        if held is None or held[0] is not loop:
            held = self._locks[key] = (loop, asyncio.Lock())
        return held[1]

    async def token(self, key: AppKey, fetch: Callable[[], Awaitable[AppToken]]) -> str:
        async with self._lock(key):
            held = self._tokens.get(key)
            if held is None or held.expires_at <= datetime.now(UTC):
                held = await fetch()
            self._tokens[key] = held
            self._tokens.move_to_end(key)
            while len(self._tokens) > self._max_apps:
                forgotten, _ = self._tokens.popitem(last=False)
                lock = self._locks.get(forgotten)
                if lock is not None and not lock[1].locked():
                    del self._locks[forgotten]
            return held.value

    def refused(self, key: AppKey, value: str) -> None:
        """Spotify refused ``value`` before its time: the next request fetches another (unless
        one was fetched meanwhile)."""
        held = self._tokens.get(key)
        if held is not None and held.value == value:
            del self._tokens[key]


class SpotifyCatalog:
    def __init__(
        self,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: SecretStr,
        *,
        base_url: str | None = None,
        market: str = "IT",
        tokens: AppTokens | None = None,
    ) -> None:
        self._api = PlatformApi(http, base_url or API_HOST, classify_spotify, name="spotify")
        self._accounts = PlatformApi(
            http, base_url or ACCOUNTS_HOST, classify_token_error, name="spotify accounts"
        )
        self._client = httpx.BasicAuth(client_id, client_secret.get_secret_value())
        self._market = market
        self._tokens = tokens or AppTokens()
        self._key: AppKey = (base_url or ACCOUNTS_HOST, client_id)
        # The token this catalog last sent, to tell the store which one Spotify refused.
        self._served: str | None = None

    async def show(self, show_id: str) -> Show:
        return await self._get(f"/v1/shows/{show_id}", Show)

    async def episode(self, episode_id: str) -> Episode:
        return await self._get(f"/v1/episodes/{episode_id}", Episode)

    async def _get(self, path: str, model: type[Model]) -> Model:
        try:
            return await self._fetch(path, model)
        except AuthError:
            # Spotify may end an app token early: fetch a new one, once.
            if self._served is not None:
                self._tokens.refused(self._key, self._served)
            return await self._fetch(path, model)

    async def _fetch(self, path: str, model: type[Model]) -> Model:
        return await self._api.fetch(
            "GET",
            path,
            model,
            write=False,
            params={"market": self._market},
            headers=bearer(await self._app_token()),
        )

    async def _app_token(self) -> str:
        self._served = await self._tokens.token(self._key, self._new_token)
        return self._served

    async def _new_token(self) -> AppToken:
        now = datetime.now(UTC)
        granted = await self._accounts.fetch(
            "POST",
            "/api/token",
            TokenGranted,
            # Asking for an app token changes nothing: safe to repeat.
            write=False,
            data={"grant_type": "client_credentials"},
            auth=self._client,
        )
        return AppToken(
            granted.access_token, now + timedelta(seconds=granted.expires_in) - _EXPIRY_MARGIN
        )

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


class AppToken(BaseModel):
    access_token: str
    expires_in: int


@dataclass
class _CachedToken:
    value: str
    expires_at: datetime


class SpotifyCatalog:
    def __init__(
        self,
        http: httpx.AsyncClient,
        client_id: str,
        client_secret: SecretStr,
        *,
        base_url: str | None = None,
        market: str = "IT",
    ) -> None:
        self._api = PlatformApi(http, base_url or API_HOST, classify_spotify, name="spotify")
        self._accounts = PlatformApi(
            http, base_url or ACCOUNTS_HOST, classify_token_error, name="spotify accounts"
        )
        self._client = httpx.BasicAuth(client_id, client_secret.get_secret_value())
        self._market = market
        self._token: _CachedToken | None = None

    async def show(self, show_id: str) -> Show:
        return await self._get(f"/v1/shows/{show_id}", Show)

    async def episode(self, episode_id: str) -> Episode:
        return await self._get(f"/v1/episodes/{episode_id}", Episode)

    async def _get(self, path: str, model: type[Model]) -> Model:
        try:
            return await self._fetch(path, model)
        except AuthError:
            # Spotify may end an app token early: fetch a new one, once.
            self._token = None
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
        now = datetime.now(UTC)
        if self._token is None or self._token.expires_at <= now:
            token = await self._accounts.fetch(
                "POST",
                "/api/token",
                AppToken,
                # Asking for an app token changes nothing: safe to repeat.
                write=False,
                data={"grant_type": "client_credentials"},
                auth=self._client,
            )
            expires_at = now + timedelta(seconds=token.expires_in) - _EXPIRY_MARGIN
            self._token = _CachedToken(token.access_token, expires_at)
        return self._token.value

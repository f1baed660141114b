"""Pinterest through the Pinterest API v5.

Implements:

- pins: https://developers.pinterest.com/docs/api/v5/pins-create (``POST /v5/pins`` with
  ``board_id``, ``title``, ``description``, ``link`` and ``media_source`` of ``source_type``
  ``image_url`` or, for a carousel, ``multiple_image_urls``) and
  https://developers.pinterest.com/docs/api/v5/pins-get (``pin_metrics=true``)
- a board's pins, to find a pin whose outcome was lost:
  https://developers.pinterest.com/docs/api/v5/boards-list_pins
- the account: https://developers.pinterest.com/docs/api/v5/user_account-get (``follower_count``)
- errors ``{"code", "message"}`` and limits: https://developers.pinterest.com/docs/reference/rate-limits/
- tokens: https://developers.pinterest.com/docs/getting-started/authentication-and-scopes/

The request's ``account_id`` is the board the pin goes to. Images only: video pins need
Pinterest's separate media-upload flow, which this connector does not implement.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel

from services.publisher.connectors.base import (
    AccountMetrics,
    AuthError,
    ConnectorError,
    Credentials,
    PostMetrics,
    PublishRequest,
    PublishResult,
    PublishStatus,
)
from services.publisher.connectors.http import (
    PlatformApi,
    bearer,
    classify_by_status,
    error_body,
    error_detail,
    found_by_text,
)
from services.publisher.connectors.oauth import ENDPOINTS, OAuthApp, refresh_access_token
from shared.domain import Channel

API_HOST = "https://api.pinterest.com"


class PinterestError(BaseModel):
    code: int = 0
    message: str = ""


def classify_pinterest(response: httpx.Response, write: bool) -> ConnectorError:
    error = error_body(response, PinterestError)
    if error is None:
        return classify_by_status(response, write, error_detail(response))
    detail = f"{response.status_code} code {error.code}: {error.message}"
    return classify_by_status(response, write, detail)


class Pin(BaseModel):
    id: str
    title: str | None = None
    description: str | None = None


class BoardPins(BaseModel):
    items: list[Pin]


class LifetimeMetrics(BaseModel):
    impression: int | None = None
    save: int | None = None
    reaction: int | None = None
    comment: int | None = None


class PinMetrics(BaseModel):
    lifetime_metrics: LifetimeMetrics = LifetimeMetrics()


class PinWithMetrics(BaseModel):
    id: str
    pin_metrics: PinMetrics | None = None


class UserAccount(BaseModel):
    follower_count: int | None = None


class PinterestConnector:
    channel = Channel.PINTEREST

    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str | None = None, app: OAuthApp | None = None
    ) -> None:
        self._api = PlatformApi(http, base_url or API_HOST, classify_pinterest, name="pinterest")
        self._app = app
        endpoints = ENDPOINTS[Channel.PINTEREST]
        self._oauth = endpoints.rebased(base_url) if base_url else endpoints

    async def publish(self, credentials: Credentials, request: PublishRequest) -> PublishResult:
        pin = await self._api.fetch(
            "POST",
            "/v5/pins",
            Pin,
            write=True,
            json=_pin_body(request),
            headers=bearer(credentials.access_token),
        )
        return PublishResult(
            platform_post_id=pin.id, url=f"https://www.pinterest.com/pin/{pin.id}/"
        )

    async def check_status(
        self, credentials: Credentials, request: PublishRequest
    ) -> PublishStatus:
        pins = await self._api.get(
            f"/v5/boards/{request.account_id}/pins",
            BoardPins,
            credentials.access_token,
            params={"page_size": 50},
        )
        # Pinterest answers an empty title for a pin without one.
        titled = [(p.id, p.description) for p in pins.items if (p.title or None) == request.title]
        return found_by_text(titled, request.text)

    async def post_metrics(self, credentials: Credentials, platform_post_id: str) -> PostMetrics:
        pin = await self._api.get(
            f"/v5/pins/{platform_post_id}",
            PinWithMetrics,
            credentials.access_token,
            params={"pin_metrics": "true"},
        )
        lifetime = (pin.pin_metrics or PinMetrics()).lifetime_metrics
        return PostMetrics(
            impressions=lifetime.impression,
            saves=lifetime.save,
            likes=lifetime.reaction,
            comments=lifetime.comment,
        )

    async def account_metrics(self, credentials: Credentials, account_id: str) -> AccountMetrics:
        # Followers belong to the user account, whichever board ``account_id`` names.
        account = await self._api.get("/v5/user_account", UserAccount, credentials.access_token)
        return AccountMetrics(followers=account.follower_count)

    async def refresh(self, credentials: Credentials) -> Credentials:
        if self._app is None:
            raise AuthError("no Pinterest app is configured to renew the token")
        return await refresh_access_token(self._api.http, self._oauth, self._app, credentials)


def _pin_body(request: PublishRequest) -> dict[str, Any]:
    if len(request.media) == 1:
        source: dict[str, Any] = {"source_type": "image_url", "url": request.media[0].url}
    else:
        items = [{"url": media.url} for media in request.media]
        source = {"source_type": "multiple_image_urls", "items": items}
    body: dict[str, Any] = {
        "board_id": request.account_id,
        "description": request.text,
        "media_source": source,
    }
    if request.title:
        body["title"] = request.title
    if request.link:
        body["link"] = request.link
    return body

"""Spotify shows and episodes as link items: ``POST /content-items/spotify`` reads the show or
episode from Spotify's catalog (``services.publisher.connectors.spotify``, a pure HTTP client
with no database code) and drafts a link item with its title, description and link; the answer
carries the rest of the metadata (publisher, image, duration, release date).

The catalog is reached with the agency's Spotify app (client credentials):
``ENGAGE_PUBLISHER__OAUTH_APPS__SPOTIFY__CLIENT_ID`` and ``…__CLIENT_SECRET``, at the API base
``publisher.api_base_urls["spotify"]`` when set (a fake in tests). Its app token is kept per
process (``APP_TOKENS``, the connector's ``AppTokens``): every request reuses it until shortly
before it expires, instead of asking Spotify's token endpoint each time.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

import httpx
from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.content import service as items
from services.content.models import engagements
from services.content.schemas import ContentItemCreate, ContentItemOut, VariantSpec
from services.publisher.connectors.base import ConnectorError, ContentRejectedError
from services.publisher.connectors.spotify import AppTokens, Episode, Show, SpotifyCatalog
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.domain import Channel, ContentKind
from shared.errors import (
    ConflictError,
    DependencyUnavailableError,
    FieldError,
    validation_problem,
)
from shared.settings import Settings

router = APIRouter(tags=["content items"])

SpotifyKind = Literal["show", "episode"]
# open.spotify.com/show/<id>, /episode/<id> (optionally /intl-it/…), or spotify:episode:<id>.
_URL = re.compile(
    r"^https://open\.spotify\.com/(?:intl-[a-z]{2}(?:-[A-Za-z]{2})?/)?"
    r"(?P<kind>show|episode)/(?P<id>[A-Za-z0-9]{22})(?:[/?#].*)?$"
)
_URI = re.compile(r"^spotify:(?P<kind>show|episode):(?P<id>[A-Za-z0-9]{22})$")
_ID = re.compile(r"^[A-Za-z0-9]{22}$")
CATALOG_SECONDS = 10.0
TITLE_LENGTH = 300
# Apps whose token a process keeps (the agency has one; a test run makes one per fake).
MAX_CACHED_APPS = 16


class SpotifyItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    reference: Annotated[str, StringConstraints(strip_whitespace=True, max_length=300)] = Field(
        description="An open.spotify.com show or episode URL, a spotify:show: or "
        "spotify:episode: URI, or a bare id with `type`"
    )
    type: SpotifyKind | None = Field(None, description="show or episode, for a bare id")
    channels: list[Channel] = Field(
        default_factory=list, max_length=len(Channel), description="One variant per channel"
    )

    @model_validator(mode="after")
    def _known_reference(self) -> SpotifyItemCreate:
        self.target()
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must not repeat")
        return self

    def target(self) -> tuple[SpotifyKind, str]:
        for pattern in (_URL, _URI):
            if found := pattern.match(self.reference):
                kind: SpotifyKind = "show" if found["kind"] == "show" else "episode"
                return kind, found["id"]
        if _ID.match(self.reference) and self.type is not None:
            return self.type, self.reference
        raise ValueError(
            "reference: a Spotify show or episode URL or URI, or a 22-character id with type"
        )


class SpotifyMetadata(BaseModel):
    type: SpotifyKind
    id: str
    title: str
    publisher: str | None = Field(description="The show's publisher (an episode's show's name)")
    description: str
    link: str
    image_url: str | None
    duration_seconds: float | None = Field(description="An episode's length")
    release_date: str | None
    show_id: str | None


class SpotifyItemOut(BaseModel):
    item: ContentItemOut
    spotify: SpotifyMetadata


# The process's app tokens: every request reuses the token until shortly before it expires.
APP_TOKENS = AppTokens(max_apps=MAX_CACHED_APPS)


def catalog(http: httpx.AsyncClient, settings: Settings) -> SpotifyCatalog:
    app = settings.publisher.oauth_apps.get(Channel.SPOTIFY.value)
    if app is None:
        # The agency's setup, not an outage: nothing to retry until an administrator sets it.
        raise ConflictError("no Spotify app is configured for the agency", integration="spotify")
    base_url = settings.publisher.api_base_urls.get(Channel.SPOTIFY.value) or None
    return SpotifyCatalog(
        http, app.client_id, app.client_secret, base_url=base_url, tokens=APP_TOKENS
    )


def metadata(kind: SpotifyKind, found: Show | Episode) -> SpotifyMetadata:
    image = max(found.images, key=lambda image: image.width or 0, default=None)
    link = found.link or f"https://open.spotify.com/{kind}/{found.id}"
    if isinstance(found, Episode):
        publisher = found.show.name if found.show else None
        duration = found.duration_ms / 1000 if found.duration_ms is not None else None
        return SpotifyMetadata(
            type=kind,
            id=found.id,
            title=found.name,
            publisher=publisher,
            description=found.description,
            link=link,
            image_url=image.url if image else None,
            duration_seconds=duration,
            release_date=found.release_date,
            show_id=found.show.id if found.show else None,
        )
    return SpotifyMetadata(
        type=kind,
        id=found.id,
        title=found.name,
        publisher=found.publisher or None,
        description=found.description,
        link=link,
        image_url=image.url if image else None,
        duration_seconds=None,
        release_date=None,
        show_id=found.id,
    )


async def read_catalog(settings: Settings, kind: SpotifyKind, spotify_id: str) -> SpotifyMetadata:
    async with httpx.AsyncClient(timeout=CATALOG_SECONDS) as http:
        spotify = catalog(http, settings)
        try:
            found: Show | Episode = await (
                spotify.show(spotify_id) if kind == "show" else spotify.episode(spotify_id)
            )
        except ContentRejectedError as refused:
            if refused.status in (400, 404):
                problem = FieldError(
                    field="body.reference",
                    message=f"Spotify has no {kind} {spotify_id}",
                    type="not_on_spotify",
                )
                raise validation_problem([problem]) from refused
            raise DependencyUnavailableError("spotify", str(refused)) from refused
        except (ConnectorError, httpx.HTTPError) as failure:
            raise DependencyUnavailableError("spotify", "Spotify did not answer") from failure
    return metadata(kind, found)


@router.post(
    "/content-items/spotify",
    status_code=status.HTTP_201_CREATED,
    response_model=SpotifyItemOut,
    dependencies=[AUTHORIZED],
    summary="Draft a link item from a Spotify show or episode, with its title, description and "
    "link, and its publisher, image and duration beside it (admin, manager, editor)",
)
async def create_spotify_item(
    body: SpotifyItemCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> SpotifyItemOut:
    principal.require_organization(body.organization_id)
    if body.engagement_id is not None:
        # Refused before Spotify is asked: an engagement the caller may not see is a 404
        # whether or not the catalogue is configured or answers.
        await engagements.require(session, body.engagement_id, body.organization_id)
    kind, spotify_id = body.target()
    found = await read_catalog(settings, kind, spotify_id)
    title = found.title[:TITLE_LENGTH]
    text = f"{title}\n\n{found.publisher}" if found.publisher else title
    item = await items.create_item(
        session,
        principal,
        ContentItemCreate(
            organization_id=body.organization_id,
            engagement_id=body.engagement_id,
            kind=ContentKind.LINK,
            title=title,
            body=found.description,
            link=found.link,
            variants=[
                VariantSpec(channel=channel, text=text, link=found.link)
                for channel in body.channels
            ],
        ),
    )
    return SpotifyItemOut(item=ContentItemOut.model_validate(item), spotify=found)

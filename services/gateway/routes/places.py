"""``/v1/engagements/{id}/place-evidence/{fsq_id}``: a venue's presence on Foursquare as an
analysis evidence (*evidenza*) of kind ``place``, for the agency to cite in the engagement's
analysis deliverable (*analisi dello stato dell'arte*).

The gateway composes it: the strategy service says whether the caller may see the engagement
(404 otherwise), and the Foursquare Places client (``services.publisher.connectors.foursquare``,
a pure HTTP client with no database code, which any service may import) reads the venue. The
agency's Places API key is the ``client_secret`` of the ``foursquare`` app in the publisher's
settings (``ENGAGE_PUBLISHER__OAUTH_APPS__FOURSQUARE__CLIENT_SECRET``); the API base is
``publisher.api_base_urls["foursquare"]`` when set (a fake in tests).
"""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from services.gateway.deps import EngagementDep
from services.gateway.forwarding import API_PREFIX
from services.publisher.connectors.base import ConnectorError, ContentRejectedError
from services.publisher.connectors.foursquare import FoursquarePlaces, Place
from services.strategy.deliverables.kinds import Evidence
from shared.auth import current_principal
from shared.domain import Channel
from shared.errors import ConflictError, DependencyUnavailableError, NotFoundError
from shared.settings import Settings

router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(current_principal)], tags=["analysis"])

PLACES_SECONDS = 10.0
FsqId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A Foursquare place id")]


class PlacePresence(BaseModel):
    """What Foursquare shows of the venue."""

    fsq_id: str
    name: str
    categories: list[str]
    address: str | None
    website: str | None
    rating: float | None = Field(description="0-10; only some venues have one")
    total_ratings: int | None
    total_tips: int | None = Field(description="Visitors' tips (consigli) left on the venue")
    total_photos: int | None
    popularity: float | None = Field(description="0-1, relative to places nearby")


class PlaceEvidence(BaseModel):
    evidence: Evidence = Field(description="To put in a finding of the analysis deliverable")
    place: PlacePresence


def presence(place: Place) -> PlacePresence:
    return PlacePresence(
        fsq_id=place.fsq_id,
        name=place.name,
        categories=[category.name for category in place.categories],
        address=place.location.formatted_address,
        website=place.website,
        rating=place.rating,
        total_ratings=place.stats.total_ratings,
        total_tips=place.stats.total_tips,
        total_photos=place.stats.total_photos,
        popularity=place.popularity,
    )


def note(found: PlacePresence) -> str:
    """``Foursquare: Agriturismo La Quercia (Bed and Breakfast); rating 8.7/10 from 120
    ratings; 31 tips; 88 photos``: what is known, nothing guessed for what is not."""
    parts = [f"Foursquare: {found.name}"]
    if found.categories:
        parts[0] += f" ({', '.join(found.categories)})"
    if found.rating is not None:
        rated = f"rating {found.rating:g}/10"
        if found.total_ratings is not None:
            rated += f" from {found.total_ratings} ratings"
        parts.append(rated)
    else:
        parts.append("no rating")
    if found.total_tips is not None:
        parts.append(f"{found.total_tips} tips")
    if found.total_photos is not None:
        parts.append(f"{found.total_photos} photos")
    return "; ".join(parts)[:2000]


def places_client(http: httpx.AsyncClient, settings: Settings) -> FoursquarePlaces:
    app = settings.publisher.oauth_apps.get(Channel.FOURSQUARE.value)
    if app is None:
        # The agency's setup, not an outage: nothing to retry until an administrator sets it.
        raise ConflictError("no Foursquare Places API key is configured", integration="foursquare")
    base_url = settings.publisher.api_base_urls.get(Channel.FOURSQUARE.value) or None
    return FoursquarePlaces(http, app.client_secret, base_url=base_url)


@router.get(
    "/engagements/{engagement_id}/place-evidence/{fsq_id}",
    response_model=PlaceEvidence,
    summary="A venue's presence on Foursquare (category, rating, tips) as an analysis evidence "
    "of kind place (admin, manager, editor)",
)
async def get_place_evidence(
    fsq_id: FsqId, engagement: EngagementDep, request: Request
) -> PlaceEvidence:
    settings: Settings = request.app.state.settings
    async with httpx.AsyncClient(timeout=PLACES_SECONDS) as http:
        try:
            place = await places_client(http, settings).place(fsq_id)
        except ContentRejectedError as refused:
            if refused.status in (400, 404):
                raise NotFoundError("Foursquare place", fsq_id) from refused
            raise DependencyUnavailableError("foursquare", str(refused)) from refused
        except (ConnectorError, httpx.HTTPError) as failure:
            raise DependencyUnavailableError("foursquare", "Foursquare did not answer") from failure
    found = presence(place)
    return PlaceEvidence(
        evidence=Evidence(kind="place", ref=found.fsq_id, note=note(found)), place=found
    )

"""Foursquare: place details for the analysis phase. Foursquare has no public publishing API.

Implements the Places API place details endpoint,
https://docs.foursquare.com/developer/reference/place-details (``GET /v3/places/{fsq_id}`` with
the ``fields`` to return, authorised by the project's API key in the ``Authorization`` header),
with the response fields of https://docs.foursquare.com/data-products/docs/places-data-schema.

It is not a ``Connector``: there is nothing to publish or refresh, so the registry
offers this client instead of a publishing connector (README "Connectors").
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, SecretStr

from services.publisher.connectors.base import ConnectorError
from services.publisher.connectors.http import (
    PlatformApi,
    classify_by_status,
    error_body,
    error_detail,
)

API_HOST = "https://api.foursquare.com"
FIELDS = "fsq_id,name,categories,location,geocodes,website,tel,rating,stats,popularity"


class FoursquareError(BaseModel):
    message: str


def classify_foursquare(response: httpx.Response, write: bool) -> ConnectorError:
    error = error_body(response, FoursquareError)
    detail = error_detail(response) if error is None else f"{response.status_code} {error.message}"
    return classify_by_status(response, write, detail)


class Category(BaseModel):
    id: int
    name: str


class Location(BaseModel):
    formatted_address: str | None = None
    locality: str | None = None
    region: str | None = None
    country: str | None = None


class Point(BaseModel):
    latitude: float
    longitude: float


class Geocodes(BaseModel):
    main: Point | None = None


class Stats(BaseModel):
    total_ratings: int | None = None
    total_tips: int | None = None
    total_photos: int | None = None


class Place(BaseModel):
    """A venue as Foursquare describes it: an asset the analysis phase can weigh."""

    fsq_id: str
    name: str
    categories: list[Category] = []
    location: Location = Location()
    geocodes: Geocodes = Geocodes()
    website: str | None = None
    tel: str | None = None
    # 0-10; only some venues have one.
    rating: float | None = None
    # 0-1, relative to places nearby.
    popularity: float | None = None
    stats: Stats = Stats()


class FoursquarePlaces:
    def __init__(
        self, http: httpx.AsyncClient, api_key: SecretStr, *, base_url: str | None = None
    ) -> None:
        self._api = PlatformApi(http, base_url or API_HOST, classify_foursquare, name="foursquare")
        self._api_key = api_key

    async def place(self, fsq_id: str) -> Place:
        return await self._api.fetch(
            "GET",
            f"/v3/places/{fsq_id}",
            Place,
            write=False,
            params={"fields": FIELDS},
            # The Places API takes the key itself, without a scheme.
            headers={
                "Authorization": self._api_key.get_secret_value(),
                "Accept": "application/json",
            },
        )

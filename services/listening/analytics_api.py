"""HTTP routes of the listening analytics: an engagement's mention figures, for any member of
its organisation (as its mentions are)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from services.listening import analytics
from services.listening.schemas import (
    AuthorRank,
    MapFeatureCollection,
    MapFilters,
    MapPictureFilters,
    PlaceRank,
    PlaceRankFilters,
    RankFilters,
    VolumeFilters,
    VolumeOut,
)
from shared.app import SessionDep

GEOJSON_MEDIA_TYPE = "application/geo+json"
PNG_MEDIA_TYPE = "image/png"

analytics_router = APIRouter(prefix="/listening", tags=["listening"])


class GeoJSONResponse(JSONResponse):
    media_type = GEOJSON_MEDIA_TYPE


@analytics_router.get(
    "/engagements/{engagement_id}/volume",
    response_model=VolumeOut,
    summary="An engagement's mentions over time: counts per hour, day or week (days and weeks "
    "of the tz time zone, Europe/Rome by default) with sentiment; at most 2000 buckets",
)
async def get_mention_volume(
    engagement_id: uuid.UUID,
    filters: Annotated[VolumeFilters, Query()],
    session: SessionDep,
) -> VolumeOut:
    return await analytics.volume(session, engagement_id, filters, datetime.now(UTC))


@analytics_router.get(
    "/engagements/{engagement_id}/top-authors",
    response_model=list[AuthorRank],
    summary="The authors with most of an engagement's mentions (a handle on a source), with "
    "sentiment",
)
async def list_top_authors(
    engagement_id: uuid.UUID,
    filters: Annotated[RankFilters, Query()],
    session: SessionDep,
) -> list[AuthorRank]:
    return await analytics.top_authors(session, engagement_id, filters)


@analytics_router.get(
    "/engagements/{engagement_id}/top-places",
    response_model=list[PlaceRank],
    summary="The places (comuni, provinces, regions or countries) with most of an engagement's "
    "mentions, with sentiment",
)
async def list_top_places(
    engagement_id: uuid.UUID,
    filters: Annotated[PlaceRankFilters, Query()],
    session: SessionDep,
) -> list[PlaceRank]:
    return await analytics.top_places(session, engagement_id, filters)


@analytics_router.get(
    "/engagements/{engagement_id}/map",
    response_model=MapFeatureCollection,
    response_class=GeoJSONResponse,
    summary="An engagement's mentions per comune, province or region as GeoJSON: a feature per "
    "place with mentions, its outline (a comune's centroid) and its counts",
)
async def get_mention_map(
    engagement_id: uuid.UUID,
    filters: Annotated[MapFilters, Query()],
    session: SessionDep,
) -> Any:
    # Answered as built: the features follow the documented model, and checking thousands of
    # coordinates again would only cost time.
    return GeoJSONResponse(await analytics.place_map(session, engagement_id, filters))


@analytics_router.get(
    "/engagements/{engagement_id}/map.png",
    response_model=None,
    response_class=Response,
    responses={
        200: {
            "description": "A PNG choropleth of Italy, `width` by 4/5 of it",
            "content": {PNG_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    },
    summary="A PNG map of Italy for reports: regions or provinces coloured by an engagement's "
    "mention counts, with a title, a legend and the most mentioned places",
)
async def get_mention_map_picture(
    engagement_id: uuid.UUID,
    filters: Annotated[MapPictureFilters, Query()],
    session: SessionDep,
) -> Response:
    picture = await analytics.map_picture(session, engagement_id, filters)
    return Response(picture, media_type=PNG_MEDIA_TYPE)

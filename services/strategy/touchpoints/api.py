"""HTTP routes of touchpoints: an engagement's, for its agency leads to record and everyone
scoped to read; and the public redirect of their tracked links, for anyone with the link."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.strategy.service import require_engagement
from services.strategy.touchpoints import links, repository, service
from services.strategy.touchpoints.schemas import (
    EngagementScanSummary,
    Medium,
    TouchpointChange,
    TouchpointCreate,
    TouchpointOut,
    TouchpointScans,
)
from shared.app import Runtime, SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.paging import PageQuery, page_of
from shared.settings import Settings

router = APIRouter(prefix="/engagements/{engagement_id}", tags=["touchpoints"])
public_router = APIRouter(tags=["tracked links"])

TOUCHPOINTS = "/touchpoints"
ONE = TOUCHPOINTS + "/{touchpoint_id}"
SVG_MEDIA_TYPE = "image/svg+xml"
PNG_MEDIA_TYPE = "image/png"
QrPixels = Annotated[
    int,
    Query(
        ge=links.MIN_QR_PIXELS,
        le=links.MAX_QR_PIXELS,
        description="Largest width and height in pixels, quiet zone included",
    ),
]


class TouchpointFilters(PageQuery):
    archived: bool = Field(False, description="Archived touchpoints too")


class ScanPeriod(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    since: date | None = Field(
        None, alias="from", description="First day (default: 89 days before `to`)"
    )
    until: date | None = Field(
        None, alias="to", description="Last day, inclusive (default: today, the client's)"
    )


def _base_url(settings: Settings) -> str:
    # Where the internet reaches the gateway, which serves the short links.
    return settings.reporting.public_base_url


@router.post(
    TOUCHPOINTS,
    status_code=status.HTTP_201_CREATED,
    response_model=TouchpointOut,
    dependencies=[AUTHORIZED],
    summary="Record a touchpoint of the real world (event, shop, signage, printed material) "
    "with its tracked link, for the engagement's channels and objectives (admin, manager)",
)
async def create_touchpoint(
    engagement_id: uuid.UUID,
    body: TouchpointCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    settings: SettingsDep,
) -> TouchpointOut:
    touchpoint = await service.create_touchpoint(session, principal, engagement_id, body)
    return service.answer(touchpoint, _base_url(settings))


@router.get(
    TOUCHPOINTS,
    response_model=list[TouchpointOut],
    summary="The engagement's touchpoints, oldest first; a Link header names the next page "
    "(any role, own organisations)",
)
async def list_touchpoints(
    engagement_id: uuid.UUID,
    filters: Annotated[TouchpointFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> list[TouchpointOut]:
    await require_engagement(session, engagement_id)
    found = await repository.page(session, engagement_id, filters, filters.archived)
    held = page_of(found, repository.TOUCHPOINT_ORDER, filters, request, response)
    return [service.answer(touchpoint, _base_url(settings)) for touchpoint in held]


@router.get(
    ONE,
    response_model=TouchpointOut,
    summary="One touchpoint, with its tracked link (any role, own organisations)",
)
async def get_touchpoint(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
) -> TouchpointOut:
    touchpoint = await service.require_touchpoint(session, engagement_id, touchpoint_id)
    return service.answer(touchpoint, _base_url(settings))


@router.patch(
    ONE,
    response_model=TouchpointOut,
    dependencies=[AUTHORIZED],
    summary="Change a touchpoint; its tracked link stays the same, so printed codes follow "
    "(admin, manager; 409 once archived)",
)
async def update_touchpoint(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    body: TouchpointChange,
    session: SessionDep,
    settings: SettingsDep,
) -> TouchpointOut:
    touchpoint = await service.change_touchpoint(session, engagement_id, touchpoint_id, body)
    return service.answer(touchpoint, _base_url(settings))


@router.delete(
    ONE,
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Archive a touchpoint: its link keeps leading and counting, its counts stay "
    "(admin, manager)",
)
async def archive_touchpoint(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await service.archive_touchpoint(session, principal, engagement_id, touchpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _qr_content(
    session: AsyncSession, settings: Settings, engagement_id: uuid.UUID, touchpoint_id: uuid.UUID
) -> str:
    """What the touchpoint's QR code holds: its ``qr_link``."""
    touchpoint = await service.require_touchpoint(session, engagement_id, touchpoint_id)
    return links.qr_link(_base_url(settings), touchpoint.code)


def _qr_responses(media_type: str, what: str) -> dict[int | str, dict[str, object]]:
    return {
        200: {
            "description": f"{what} of the QR code holding the touchpoint's `qr_link`",
            "content": {media_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    }


@router.get(
    ONE + "/qr.svg",
    response_class=Response,
    responses=_qr_responses(SVG_MEDIA_TYPE, "An SVG"),
    summary="The touchpoint's QR code as SVG, for print (any role, own organisations)",
)
async def get_touchpoint_qr_code_svg(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    size: QrPixels = links.DEFAULT_QR_PIXELS,
) -> Response:
    content = await _qr_content(session, settings, engagement_id, touchpoint_id)
    return Response(links.qr_svg(content, size), media_type=SVG_MEDIA_TYPE)


@router.get(
    ONE + "/qr.png",
    response_class=Response,
    responses=_qr_responses(PNG_MEDIA_TYPE, "A PNG"),
    summary="The touchpoint's QR code as PNG (any role, own organisations)",
)
async def get_touchpoint_qr_code_png(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    size: QrPixels = links.DEFAULT_QR_PIXELS,
) -> Response:
    content = await _qr_content(session, settings, engagement_id, touchpoint_id)
    return Response(links.qr_png(content, size), media_type=PNG_MEDIA_TYPE)


@router.get(
    ONE + "/scans",
    response_model=TouchpointScans,
    summary="A touchpoint's scans and clicks per day, counts only (any role, own organisations)",
)
async def list_touchpoint_scans(
    engagement_id: uuid.UUID,
    touchpoint_id: uuid.UUID,
    period: Annotated[ScanPeriod, Query()],
    session: SessionDep,
) -> TouchpointScans:
    touchpoint = await service.require_touchpoint(session, engagement_id, touchpoint_id)
    return await service.scans_of(session, touchpoint, period.since, period.until)


@router.get(
    "/touchpoint-scans",
    response_model=EngagementScanSummary,
    summary="Scans and clicks of each of the engagement's touchpoints in a period, most "
    "followed first (any role, own organisations)",
)
async def summarize_touchpoint_scans(
    engagement_id: uuid.UUID, period: Annotated[ScanPeriod, Query()], session: SessionDep
) -> EngagementScanSummary:
    return await service.engagement_summary(session, engagement_id, period.since, period.until)


@public_router.get(
    links.PATH + "/{code}",
    status_code=status.HTTP_302_FOUND,
    response_class=Response,
    responses={
        302: {
            "description": "To the touchpoint's destination, tagged with its UTM parameters",
            "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
        },
    },
    summary="Follow a touchpoint's tracked link (no bearer token): counts one scan or click "
    "for the day, and keeps nothing about who followed it",
)
async def follow_tracked_link(
    code: Annotated[str, Path(max_length=64)],
    runtime: Runtime,
    via: Annotated[Medium, Query(description="`qr` when the QR code was scanned")] = Medium.LINK,
) -> Response:
    # Anyone may follow a link: the session is the system's, and the code is the credential.
    async with session_scope(runtime.sessions, SYSTEM) as session:
        destination = await service.follow(session, code, via)
    # Not cached, so that every scan reaches the counter.
    return Response(
        status_code=status.HTTP_302_FOUND,
        headers={"Location": destination, "Cache-Control": "no-store"},
    )

"""Strategy deliverables: an organisation's assets, an engagement's versioned deliverables
(analysis, channel mix, brief, objectives, editorial rules, graphic line) and their approval."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import TypeAdapter

from services.gateway.clients import query_params
from services.gateway.deps import ServicesDep
from services.strategy.assets.schemas import AssetDetails, AssetKind, AssetOut
from services.strategy.channel_mix.schemas import ChannelMixInputs
from services.strategy.deliverables.kinds import AuthoredKind, DeliverableKind, DeliverableStatus
from services.strategy.deliverables.schemas import (
    Approval,
    BriefFormat,
    DeliverableBody,
    DeliverableKindOut,
    DeliverableOut,
    DeliverableSummary,
)

router = APIRouter()

_ASSETS = TypeAdapter(list[AssetOut])
_KINDS = TypeAdapter(list[DeliverableKindOut])
_SUMMARIES = TypeAdapter(list[DeliverableSummary])
_VERSIONS = TypeAdapter(list[DeliverableOut])

ASSETS = "/organizations/{organization_id}/assets"
DELIVERABLES = "/engagements/{engagement_id}/deliverables"
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
StatusFilter = Annotated[
    DeliverableStatus | None, Query(alias="status", description="Only versions in this status")
]
UNCHANGED: dict[int | str, dict[str, Any]] = {
    200: {"model": DeliverableOut, "description": "Unchanged: the latest version"}
}


async def _new_version(
    request: Request, services: ServicesDep, path: str, response: Response
) -> DeliverableOut:
    """Forward a save and keep the service's status: 201 new version, 200 unchanged.

    The route's body parameter is checked here for its shape, but goes on as received: the
    service validates it against the kind's schema and names the failing field, while
    re-encoding it here would fail on values (NaN) that the service must refuse with a 422.
    """
    upstream = await services.strategy.raw(
        request,
        request.method,
        path,
        content=await request.body(),
        content_type="application/json",
    )
    response.status_code = upstream.status_code
    return DeliverableOut.model_validate_json(upstream.content)


# --- assets -----------------------------------------------------------------------------------


@router.post(
    ASSETS,
    status_code=status.HTTP_201_CREATED,
    response_model=AssetOut,
    tags=["assets"],
    summary="Record an asset of the client: account, website, newsletter, event or offline "
    "touchpoint (admin, manager, editor)",
)
async def record_asset(
    organization_id: uuid.UUID, body: AssetDetails, request: Request, services: ServicesDep
) -> AssetOut:
    return await services.strategy.call(
        request, "POST", f"/organizations/{organization_id}/assets", AssetOut, body=body
    )


@router.get(
    ASSETS,
    response_model=list[AssetOut],
    tags=["assets"],
    summary="The organisation's assets, optionally of one kind (any role, own organisations)",
)
async def list_assets(
    organization_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    kind: AssetKind | None = None,
) -> list[AssetOut]:
    return await services.strategy.call(
        request,
        "GET",
        f"/organizations/{organization_id}/assets",
        _ASSETS,
        params=query_params(kind=kind),
    )


@router.get(
    ASSETS + "/{asset_id}",
    response_model=AssetOut,
    tags=["assets"],
    summary="One asset (any role, own organisations)",
)
async def get_asset(
    organization_id: uuid.UUID, asset_id: uuid.UUID, request: Request, services: ServicesDep
) -> AssetOut:
    return await services.strategy.call(
        request, "GET", f"/organizations/{organization_id}/assets/{asset_id}", AssetOut
    )


@router.put(
    ASSETS + "/{asset_id}",
    response_model=AssetOut,
    tags=["assets"],
    summary="Replace an asset's details (admin, manager, editor)",
)
async def replace_asset(
    organization_id: uuid.UUID,
    asset_id: uuid.UUID,
    body: AssetDetails,
    request: Request,
    services: ServicesDep,
) -> AssetOut:
    return await services.strategy.call(
        request, "PUT", f"/organizations/{organization_id}/assets/{asset_id}", AssetOut, body=body
    )


@router.delete(
    ASSETS + "/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["assets"],
    summary="Remove an asset (admin, manager, editor)",
)
async def remove_asset(
    organization_id: uuid.UUID, asset_id: uuid.UUID, request: Request, services: ServicesDep
) -> Response:
    await services.strategy.raw(
        request, "DELETE", f"/organizations/{organization_id}/assets/{asset_id}"
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- deliverables -----------------------------------------------------------------------------


@router.get(
    "/deliverable-kinds",
    response_model=list[DeliverableKindOut],
    tags=["deliverables"],
    summary="Every deliverable kind: its body's JSON Schema, how it is written, who approves it "
    "(any role)",
)
async def list_kinds(request: Request, services: ServicesDep) -> list[DeliverableKindOut]:
    return await services.strategy.call(request, "GET", "/deliverable-kinds", _KINDS)


@router.get(
    DELIVERABLES,
    response_model=list[DeliverableSummary],
    tags=["deliverables"],
    summary="The engagement's deliverables: latest and approved version of each kind "
    "(any role, own organisations)",
)
async def list_deliverables(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep
) -> list[DeliverableSummary]:
    return await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}/deliverables", _SUMMARIES
    )


@router.put(
    DELIVERABLES + "/{kind}",
    response_model=DeliverableOut,
    status_code=status.HTTP_201_CREATED,
    responses=UNCHANGED,
    tags=["deliverables"],
    summary="Save a new draft version of an authored deliverable; the body follows the kind's "
    "schema (admin, manager, editor)",
)
async def save_version(
    engagement_id: uuid.UUID,
    kind: AuthoredKind,
    body: DeliverableBody,
    request: Request,
    services: ServicesDep,
    response: Response,
) -> DeliverableOut:
    path = f"/engagements/{engagement_id}/deliverables/{kind}"
    return await _new_version(request, services, path, response)


@router.post(
    "/engagements/{engagement_id}/channel-mix",
    response_model=DeliverableOut,
    status_code=status.HTTP_201_CREATED,
    responses=UNCHANGED,
    tags=["deliverables"],
    summary="Score every channel for the personas, objectives, producible content and effort; "
    "store the result as a channel_mix version (admin, manager, editor)",
)
async def score_channel_mix(
    engagement_id: uuid.UUID,
    body: ChannelMixInputs,
    request: Request,
    services: ServicesDep,
    response: Response,
) -> DeliverableOut:
    path = f"/engagements/{engagement_id}/channel-mix"
    return await _new_version(request, services, path, response)


@router.get(
    DELIVERABLES + "/brief/render",
    response_class=Response,
    responses={200: {"content": {"text/markdown": {}, "text/html": {}}}},
    tags=["deliverables"],
    summary="The brief as Markdown or as an HTML page (any role, own organisations)",
)
async def render_brief(
    engagement_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    output: Annotated[BriefFormat, Query(alias="format")] = BriefFormat.MARKDOWN,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    wanted: StatusFilter = None,
) -> Response:
    upstream = await services.strategy.raw(
        request,
        "GET",
        f"/engagements/{engagement_id}/deliverables/brief/render",
        params=query_params(format=output.value, version=version, status=wanted),
    )
    return Response(upstream.content, media_type=upstream.headers["content-type"])


@router.get(
    DELIVERABLES + "/{kind}",
    response_model=DeliverableOut,
    tags=["deliverables"],
    summary="The latest version of a deliverable, or the latest approved one with "
    "?status=approved (any role, own organisations)",
)
async def get_latest(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    request: Request,
    services: ServicesDep,
    wanted: StatusFilter = None,
) -> DeliverableOut:
    return await services.strategy.call(
        request,
        "GET",
        f"/engagements/{engagement_id}/deliverables/{kind}",
        DeliverableOut,
        params=query_params(status=wanted),
    )


@router.get(
    DELIVERABLES + "/{kind}/versions",
    response_model=list[DeliverableOut],
    tags=["deliverables"],
    summary="Every version of a deliverable, oldest first (any role, own organisations)",
)
async def list_versions(
    engagement_id: uuid.UUID, kind: DeliverableKind, request: Request, services: ServicesDep
) -> list[DeliverableOut]:
    return await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}/deliverables/{kind}/versions", _VERSIONS
    )


@router.get(
    DELIVERABLES + "/{kind}/versions/{version}",
    response_model=DeliverableOut,
    tags=["deliverables"],
    summary="One version of a deliverable (any role, own organisations)",
)
async def get_version(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    version: VersionNumber,
    request: Request,
    services: ServicesDep,
) -> DeliverableOut:
    return await services.strategy.call(
        request,
        "GET",
        f"/engagements/{engagement_id}/deliverables/{kind}/versions/{version}",
        DeliverableOut,
    )


@router.post(
    DELIVERABLES + "/{kind}/versions/{version}/approve",
    response_model=DeliverableOut,
    tags=["deliverables"],
    summary="Approve the latest version; approved versions are immutable (admin, manager; "
    "client_approver for brief, objectives, editorial_rules, graphic_line)",
)
async def approve_version(
    engagement_id: uuid.UUID,
    kind: DeliverableKind,
    version: VersionNumber,
    body: Approval,
    request: Request,
    services: ServicesDep,
) -> DeliverableOut:
    return await services.strategy.call(
        request,
        "POST",
        f"/engagements/{engagement_id}/deliverables/{kind}/versions/{version}/approve",
        DeliverableOut,
        body=body,
    )

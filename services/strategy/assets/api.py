"""HTTP routes for an organisation's assets; the agency records them, everyone scoped reads."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from services.strategy.assets import repository, service
from services.strategy.assets.schemas import AssetDetails, AssetKind, AssetOut
from services.strategy.service import require_organization
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

router = APIRouter(prefix="/organizations/{organization_id}/assets", tags=["assets"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=AssetOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Record an asset of the client: account, website, newsletter, event or offline "
        "touchpoint (admin, manager, editor)"
    ),
)
async def record_asset(
    organization_id: uuid.UUID,
    body: AssetDetails,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AssetOut:
    asset = await service.record_asset(session, principal, organization_id, body)
    return AssetOut.model_validate(asset)


@router.get(
    "",
    response_model=list[AssetOut],
    summary="The organisation's assets, optionally of one kind, by kind then oldest first, a "
    "page at a time (any role, own organisations)",
)
async def list_assets(
    organization_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
    kind: AssetKind | None = None,
) -> list[AssetOut]:
    await require_organization(session, principal, organization_id)
    found = await repository.page_of_assets(session, organization_id, kind, page)
    held = page_of(found, repository.ASSET_ORDER, page, request, response)
    return [AssetOut.model_validate(asset) for asset in held]


@router.get(
    "/{asset_id}", response_model=AssetOut, summary="One asset (any role, own organisations)"
)
async def get_asset(
    organization_id: uuid.UUID,
    asset_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AssetOut:
    asset = await service.require_asset(session, principal, organization_id, asset_id)
    return AssetOut.model_validate(asset)


@router.put(
    "/{asset_id}",
    response_model=AssetOut,
    dependencies=[AUTHORIZED],
    summary="Replace an asset's details (admin, manager, editor)",
)
async def replace_asset(
    organization_id: uuid.UUID,
    asset_id: uuid.UUID,
    body: AssetDetails,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> AssetOut:
    asset = await service.replace_asset(session, principal, organization_id, asset_id, body)
    return AssetOut.model_validate(asset)


@router.delete(
    "/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Remove an asset (admin, manager, editor)",
)
async def remove_asset(
    organization_id: uuid.UUID,
    asset_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    await service.remove_asset(session, principal, organization_id, asset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""``/v1/organizations``: the agency's clients."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import TypeAdapter

from services.gateway.deps import ServicesDep
from services.strategy.schemas import OrganizationCreate, OrganizationOut

router = APIRouter(prefix="/organizations", tags=["organizations"])

_ORGANIZATIONS = TypeAdapter(list[OrganizationOut])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    summary="Register a client organisation (admin, manager)",
)
async def create_organization(
    body: OrganizationCreate, request: Request, services: ServicesDep
) -> OrganizationOut:
    return await services.strategy.call(
        request, "POST", "/organizations", OrganizationOut, body=body
    )


@router.get("", response_model=list[OrganizationOut], summary="Organisations the caller may see")
async def list_organizations(request: Request, services: ServicesDep) -> list[OrganizationOut]:
    return await services.strategy.call(request, "GET", "/organizations", _ORGANIZATIONS)


@router.get("/{organization_id}", response_model=OrganizationOut, summary="One organisation")
async def get_organization(
    organization_id: uuid.UUID, request: Request, services: ServicesDep
) -> OrganizationOut:
    return await services.strategy.call(
        request, "GET", f"/organizations/{organization_id}", OrganizationOut
    )

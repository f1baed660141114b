"""HTTP routes of the strategy service; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.strategy import repository, service
from services.strategy.lifecycle.schemas import (
    EngagementFilters,
    EngagementListed,
    EngagementSummaryOut,
)
from services.strategy.schemas import (
    EngagementCreate,
    EngagementOut,
    OrganizationCreate,
    OrganizationOut,
)
from shared.app import ReadSessionDep, Runtime, SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, encode_cursor, page_of, set_next_link

router = APIRouter(tags=["strategy"])


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    dependencies=[AUTHORIZED],
    summary="Register a client organisation (admin, in every organisation)",
)
async def create_organization(
    body: OrganizationCreate, session: SessionDep, principal: CurrentPrincipal
) -> OrganizationOut:
    organization = await service.create_organization(session, principal, body)
    return OrganizationOut.model_validate(organization)


@router.get(
    "/organizations",
    response_model=list[OrganizationOut],
    summary="Organisations the caller may see, by name, a page at a time",
)
async def list_organizations(
    page: PageDep, request: Request, response: Response, session: ReadSessionDep
) -> list[OrganizationOut]:
    found = await repository.list_organizations(session, page)
    held = page_of(found, repository.ORGANIZATION_ORDER, page, request, response)
    return [OrganizationOut.model_validate(organization) for organization in held]


@router.get(
    "/organizations/{organization_id}", response_model=OrganizationOut, summary="One organisation"
)
async def get_organization(
    organization_id: uuid.UUID, session: ReadSessionDep, principal: CurrentPrincipal
) -> OrganizationOut:
    organization = await service.require_organization(session, principal, organization_id)
    return OrganizationOut.model_validate(organization)


@router.post(
    "/engagements",
    status_code=status.HTTP_201_CREATED,
    response_model=EngagementOut,
    dependencies=[AUTHORIZED],
    summary="Store an engagement; its engagement_created event starts its lifecycle "
    "(admin, manager)",
)
async def create_engagement(
    body: EngagementCreate, session: SessionDep, principal: CurrentPrincipal, runtime: Runtime
) -> EngagementOut:
    environment = runtime.settings.environment
    engagement = await service.create_engagement(session, principal, body, environment)
    return EngagementOut.model_validate(engagement)


@router.get(
    "/engagements",
    response_model=list[EngagementListed],
    summary="Engagements the caller may see, newest first, with their summaries, a page at a "
    "time (any role)",
)
async def list_engagements(
    filters: Annotated[EngagementFilters, Query()],
    request: Request,
    response: Response,
    session: ReadSessionDep,
    principal: CurrentPrincipal,
) -> list[EngagementListed]:
    found = await repository.list_engagements(session, filters, principal)
    held = found[: filters.limit]
    if len(found) > filters.limit:
        last, _ = held[-1]
        cursor = encode_cursor(repository.ENGAGEMENT_ORDER.key_of(last))
        set_next_link(request, response, cursor)
    return [
        EngagementListed(
            **EngagementOut.model_validate(engagement).model_dump(),
            state=EngagementSummaryOut.model_validate(summary) if summary is not None else None,
        )
        for engagement, summary in held
    ]


@router.get(
    "/engagements/{engagement_id}",
    response_model=EngagementOut,
    summary="One engagement as stored (any role, own organisations)",
)
async def get_engagement(engagement_id: uuid.UUID, session: ReadSessionDep) -> EngagementOut:
    return EngagementOut.model_validate(await service.require_engagement(session, engagement_id))

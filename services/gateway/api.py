"""The ``/v1`` API that the internal web frontends call."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from services.gateway.clients import StrategyClient
from services.gateway.engagements import EngagementControl
from services.gateway.schemas import EngagementView
from services.strategy.schemas import EngagementCreate, OrganizationCreate, OrganizationOut
from shared.auth import current_principal

router = APIRouter(prefix="/v1", dependencies=[Depends(current_principal)])


def _strategy(request: Request) -> StrategyClient:
    client: StrategyClient = request.app.state.strategy
    return client


def _engagements(request: Request) -> EngagementControl:
    control: EngagementControl = request.app.state.engagements
    return control


Strategy = Annotated[StrategyClient, Depends(_strategy)]
Engagements = Annotated[EngagementControl, Depends(_engagements)]


@router.post(
    "/organizations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganizationOut,
    tags=["organizations"],
    summary="Register a client organisation (admin, manager)",
)
async def create_organization(
    body: OrganizationCreate, request: Request, strategy: Strategy
) -> OrganizationOut:
    return await strategy.create_organization(request, body)


@router.get(
    "/organizations",
    response_model=list[OrganizationOut],
    tags=["organizations"],
    summary="Organisations the caller may see",
)
async def list_organizations(request: Request, strategy: Strategy) -> list[OrganizationOut]:
    return await strategy.list_organizations(request)


@router.get(
    "/organizations/{organization_id}", response_model=OrganizationOut, tags=["organizations"]
)
async def get_organization(
    organization_id: uuid.UUID, request: Request, strategy: Strategy
) -> OrganizationOut:
    return await strategy.get_organization(request, organization_id)


@router.post(
    "/engagements",
    status_code=status.HTTP_201_CREATED,
    response_model=EngagementView,
    tags=["engagements"],
    summary="Start an engagement: stored by strategy, run by EngagementWorkflow (admin, manager)",
)
async def create_engagement(
    body: EngagementCreate, request: Request, strategy: Strategy, engagements: Engagements
) -> EngagementView:
    # Fail before writing anything when Temporal is away, rather than store an engagement
    # whose workflow cannot start.
    engagements.client  # noqa: B018
    engagement = await strategy.create_engagement(request, body)
    await engagements.start(engagement)
    return EngagementView(**engagement.model_dump(), state=await engagements.state(engagement))


@router.get(
    "/engagements",
    response_model=list[EngagementView],
    tags=["engagements"],
    summary="Engagements the caller may see, with their live state",
)
async def list_engagements(
    request: Request,
    strategy: Strategy,
    engagements: Engagements,
    organization_id: uuid.UUID | None = None,
) -> list[EngagementView]:
    found = await strategy.list_engagements(request, organization_id)
    return [
        EngagementView(**engagement.model_dump(), state=await engagements.state(engagement))
        for engagement in found
    ]


@router.get(
    "/engagements/{engagement_id}",
    response_model=EngagementView,
    tags=["engagements"],
    summary="One engagement with its live workflow state",
)
async def get_engagement(
    engagement_id: uuid.UUID, request: Request, strategy: Strategy, engagements: Engagements
) -> EngagementView:
    engagement = await strategy.get_engagement(request, engagement_id)
    return EngagementView(**engagement.model_dump(), state=await engagements.state(engagement))

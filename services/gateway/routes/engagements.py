"""``/v1/engagements``: engagements and their live workflow state."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status
from pydantic import TypeAdapter

from services.gateway.deps import EngagementsDep, ServicesDep
from services.gateway.engagements import EngagementControl
from services.gateway.schemas import EngagementView
from services.strategy.schemas import EngagementCreate, EngagementOut

router = APIRouter(prefix="/engagements", tags=["engagements"])

_ENGAGEMENTS = TypeAdapter(list[EngagementOut])


async def _view(engagements: EngagementControl, engagement: EngagementOut) -> EngagementView:
    return EngagementView(**engagement.model_dump(), state=await engagements.state(engagement))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EngagementView,
    summary="Start an engagement: stored by strategy, run by EngagementWorkflow (admin, manager)",
)
async def create_engagement(
    body: EngagementCreate, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> EngagementView:
    # Refuse before writing anything when Temporal is away, rather than store an engagement
    # whose workflow cannot start.
    engagements.require_connection()
    engagement = await services.strategy.call(
        request, "POST", "/engagements", EngagementOut, body=body
    )
    await engagements.start(engagement)
    return await _view(engagements, engagement)


@router.get(
    "",
    response_model=list[EngagementView],
    summary="Engagements the caller may see, with their live state",
)
async def list_engagements(
    request: Request,
    services: ServicesDep,
    engagements: EngagementsDep,
    organization_id: uuid.UUID | None = None,
) -> list[EngagementView]:
    params = {"organization_id": str(organization_id)} if organization_id else None
    found = await services.strategy.call(
        request, "GET", "/engagements", _ENGAGEMENTS, params=params
    )
    return [await _view(engagements, engagement) for engagement in found]


@router.get(
    "/{engagement_id}",
    response_model=EngagementView,
    summary="One engagement with its live workflow state",
)
async def get_engagement(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> EngagementView:
    engagement = await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )
    return await _view(engagements, engagement)

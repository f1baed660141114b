"""``/v1/engagements``: engagements, their live workflow state and their timeline."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Query, Request, status
from pydantic import TypeAdapter

from services.gateway.deps import EngagementsDep, ServicesDep
from services.gateway.engagements import EngagementControl
from services.gateway.schemas import EngagementStart, EngagementView, LiveState
from services.strategy.lifecycle.schemas import TimelineEntry
from services.strategy.schemas import EngagementCreate, EngagementOut
from shared.auth import CurrentPrincipal
from shared.domain import Phase
from workflows.engagement.messages import EngagementStatus

router = APIRouter(prefix="/engagements", tags=["engagements"])

_ENGAGEMENTS = TypeAdapter(list[EngagementOut])
_TIMELINE = TypeAdapter(list[TimelineEntry])


async def view(engagements: EngagementControl, engagement: EngagementOut) -> EngagementView:
    state = await engagements.state(engagement)
    return EngagementView(
        **engagement.model_dump(), state=LiveState.of(state) if state is not None else None
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EngagementView,
    summary="Start an engagement: stored by strategy, run by EngagementWorkflow (admin, manager)",
)
async def create_engagement(
    body: EngagementStart, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> EngagementView:
    # Refuse before writing anything when the timing is refused or Temporal is away, rather
    # than store an engagement whose workflow cannot start.
    timing = engagements.timing(body.time_scale)
    engagements.require_connection()
    stored = EngagementCreate(**body.model_dump(exclude={"time_scale"}))
    engagement = await services.strategy.call(
        request, "POST", "/engagements", EngagementOut, body=stored
    )
    await engagements.start(engagement, timing)
    return await view(engagements, engagement)


@router.get(
    "",
    response_model=list[EngagementView],
    summary="Engagements the caller may see, with their live state (any role)",
)
async def list_engagements(
    request: Request,
    services: ServicesDep,
    engagements: EngagementsDep,
    principal: CurrentPrincipal,
    organization_id: uuid.UUID | None = None,
    status: EngagementStatus | None = None,
    phase: Phase | None = None,
    waiting_for_me: bool = Query(
        False, description="Only those with an approval or open task the caller's roles can act on"
    ),
) -> list[EngagementView]:
    params = {"organization_id": str(organization_id)} if organization_id else None
    found = await services.strategy.call(
        request, "GET", "/engagements", _ENGAGEMENTS, params=params
    )
    views = await asyncio.gather(*(view(engagements, engagement) for engagement in found))
    return [
        item
        for item in views
        if (status is None or (item.state is not None and item.state.status is status))
        and (phase is None or (item.state is not None and item.state.phase is phase))
        and (not waiting_for_me or (item.state is not None and item.state.waits_for(principal)))
    ]


@router.get(
    "/{engagement_id}",
    response_model=EngagementView,
    summary="One engagement with its live workflow state (any role, own organisations)",
)
async def get_engagement(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> EngagementView:
    engagement = await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )
    return await view(engagements, engagement)


@router.get(
    "/{engagement_id}/timeline",
    response_model=list[TimelineEntry],
    summary="What happened, in order: event, phase, who, when (any role, own organisations)",
)
async def get_timeline(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep
) -> list[TimelineEntry]:
    return await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}/timeline", _TIMELINE
    )

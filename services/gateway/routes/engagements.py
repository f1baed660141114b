"""``/v1/engagements``: engagements, their live workflow state and their timeline.

The list reads the summaries the strategy service keeps from the lifecycle's facts (one query,
paged); one engagement's view asks its workflow for the live state."""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import TypeAdapter

from services.gateway.deps import EngagementsDep, ServicesDep
from services.gateway.engagements import EngagementControl
from services.gateway.schemas import (
    EngagementListItem,
    EngagementStart,
    EngagementView,
    LiveState,
)
from services.strategy.lifecycle.schemas import TimelineEntry
from services.strategy.schemas import EngagementCreate, EngagementOut
from shared.domain import Phase
from workflows.engagement.messages import EngagementStatus

router = APIRouter(prefix="/engagements", tags=["engagements"])

_LISTED = TypeAdapter(list[EngagementListItem])
DEFAULT_PAGE = 100
MAX_PAGE = 200
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
    response_model=list[EngagementListItem],
    summary="Engagements the caller may see, newest first, with their summaries (any role)",
)
async def list_engagements(
    request: Request,
    response: Response,
    services: ServicesDep,
    organization_id: uuid.UUID | None = None,
    status: EngagementStatus | None = None,
    phase: Phase | None = None,
    waiting_for_me: bool = Query(
        False,
        description="Only those with an approval one of the caller's roles can give, or an "
        "open task assigned to one of them",
    ),
    limit: int = Query(DEFAULT_PAGE, ge=1, le=MAX_PAGE, description="Engagements per page"),
    offset: int = Query(0, ge=0, description="Engagements skipped (the `Link` header's next)"),
) -> list[EngagementListItem]:
    # One more than the page: whether a next page exists, in the same query.
    params = {"limit": str(limit + 1), "offset": str(offset)}
    if organization_id is not None:
        params["organization_id"] = str(organization_id)
    if status is not None:
        params["status"] = status.value
    if phase is not None:
        params["phase"] = phase.value
    if waiting_for_me:
        params["waiting_for_me"] = "true"
    found = await services.strategy.call(request, "GET", "/engagements", _LISTED, params=params)
    if len(found) > limit:
        following = urlencode({**request.query_params, "limit": limit, "offset": offset + limit})
        response.headers["Link"] = f'<{request.url.path}?{following}>; rel="next"'
    return found[:limit]


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

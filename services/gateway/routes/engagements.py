"""``/v1/engagements``: starting an engagement, and one engagement with its live workflow state.

The list and the timeline are the strategy service's own routes, forwarded."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from services.gateway.deps import EngagementsDep, ServicesDep
from services.gateway.engagements import EngagementControl
from services.gateway.forwarding import KeptComposedRoute
from services.gateway.schemas import EngagementView, LiveState
from services.strategy.schemas import EngagementCreate, EngagementOut

router = APIRouter(prefix="/engagements", tags=["engagements"])


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
    body: EngagementCreate, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> EngagementView:
    # Refuse before writing anything when Temporal is away, rather than store an engagement
    # whose lifecycle would only start once it is back.
    engagements.require_connection()
    engagement = await services.strategy.call(
        request, "POST", "/engagements", EngagementOut, body=body
    )
    # Started here so the answer carries the live state; strategy's engagement_created starts
    # it too if this process stops before (workflows/lifecycle_start.py).
    await engagements.start(engagement, body.time_scale)
    return await view(engagements, engagement)


async def get_engagement(
    engagement_id: uuid.UUID, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> Response:
    # A dashboard polls this read more than any other: the composed answer is kept like a
    # forwarded read's (the caller's own, at most a second old counted from its oldest part),
    # so its parts are read afresh when it is composed.
    async def compose() -> tuple[EngagementView, float | None]:
        engagement = await services.strategy.call(
            request, "GET", f"/engagements/{engagement_id}", EngagementOut, cached=False
        )
        live = await engagements.read_state(engagement)
        # An engagement whose workflow is starting shows its state as soon as it has one.
        as_of = live.queried_at if live.state is not None else None
        state = LiveState.of(live.state) if live.state is not None else None
        return EngagementView(**engagement.model_dump(), state=state), as_of

    return await services.composed_read(request, compose)


router.add_api_route(
    "/{engagement_id}",
    get_engagement,
    methods=["GET"],
    response_model=EngagementView,
    summary="One engagement with its live workflow state (any role, own organisations)",
    route_class_override=KeptComposedRoute,
)

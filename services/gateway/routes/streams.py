"""``/v1/stream`` and ``/v1/engagements/{id}/stream``: live events as Server-Sent Events."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from services.gateway.deps import EngagementDep, ServicesDep
from services.gateway.streams import (
    EventFeed,
    EventFilter,
    EventStreamResponse,
    about_engagement,
    visible_to,
)
from services.strategy.schemas import OrganizationOut
from shared.app import Runtime
from shared.auth import CurrentPrincipal

router = APIRouter(tags=["live events"])

# JetStream sequences are unsigned 64-bit; anything above cannot name an event.
_MAX_SEQUENCE = 2**63 - 1

_STREAM_DESCRIPTION = (
    "`text/event-stream`: per event `id:` (the JetStream stream sequence), `event:` (the "
    "CloudEvent name, e.g. `lifecycle.phase_started`) and `data:` (the CloudEvent JSON); a "
    "`: keep-alive` comment every 15 s of silence."
)
_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": _STREAM_DESCRIPTION,
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _resume_point(
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=_MAX_SEQUENCE,
            description="Resume after this event (sent by EventSource when it reconnects)",
        ),
    ] = None,
    since: Annotated[
        int | None,
        Query(
            ge=0,
            le=_MAX_SEQUENCE,
            description="Events after this stream sequence (0: from the start of the stream)",
        ),
    ] = None,
) -> int | None:
    """The last sequence the client has; ``None``: only events published from now on."""
    # The header wins: a reconnecting EventSource repeats the URL with its original ``since``.
    return last_event_id if last_event_id is not None else since


ResumePoint = Annotated[int | None, Depends(_resume_point)]


async def _stream(
    runtime: Runtime, after_sequence: int | None, accepts: EventFilter, description: str
) -> EventStreamResponse:
    feed = await EventFeed.open(
        runtime.js,
        runtime.settings.events,
        after_sequence=after_sequence,
        accepts=accepts,
        description=f"gateway SSE: {description}",
    )
    return EventStreamResponse(feed)


@router.get(
    "/stream",
    response_class=Response,
    responses=_STREAM_RESPONSES,
    summary="Live events of the organisations the caller may see (any role)",
)
async def stream_organizations(
    request: Request,
    principal: CurrentPrincipal,
    services: ServicesDep,
    runtime: Runtime,
    resume: ResumePoint,
    organization_id: uuid.UUID | None = None,
) -> EventStreamResponse:
    if organization_id is not None:
        # 404 for an unknown organisation, or one the caller may not see.
        await services.strategy.call(
            request, "GET", f"/organizations/{organization_id}", OrganizationOut
        )
    description = f"organization {organization_id or 'any visible'} for {principal.subject}"
    return await _stream(runtime, resume, visible_to(principal.scope, organization_id), description)


@router.get(
    "/engagements/{engagement_id}/stream",
    response_class=Response,
    responses=_STREAM_RESPONSES,
    summary="Live events of one engagement (any role, own organisations)",
)
async def stream_engagement(
    engagement: EngagementDep, principal: CurrentPrincipal, runtime: Runtime, resume: ResumePoint
) -> EventStreamResponse:
    accepts = about_engagement(engagement.id, engagement.organization_id)
    description = f"engagement {engagement.id} for {principal.subject}"
    return await _stream(runtime, resume, accepts, description)

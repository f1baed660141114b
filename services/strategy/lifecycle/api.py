"""HTTP routes of the lifecycle's records; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from services.strategy.lifecycle import repository, service
from services.strategy.lifecycle.schemas import TimelineEntry
from shared.app import SessionDep
from shared.paging import PageDep, set_next_link

router = APIRouter(tags=["lifecycle"])


@router.get(
    "/engagements/{engagement_id}/timeline",
    response_model=list[TimelineEntry],
    summary="What happened, in order: event, phase, who, when; a page at a time (any role, own "
    "organisations)",
)
async def get_engagement_timeline(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
) -> list[TimelineEntry]:
    found = await service.timeline(session, engagement_id, page)
    held = found[: page.limit]
    if len(found) > page.limit:
        set_next_link(request, response, repository.timeline_cursor(held[-1]))
    return [TimelineEntry.model_validate(entry) for entry in held]

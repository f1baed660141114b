"""HTTP routes of the lifecycle's records; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.strategy.lifecycle import service
from services.strategy.lifecycle.schemas import TimelineEntry
from shared.app import SessionDep

router = APIRouter(tags=["lifecycle"])


@router.get(
    "/engagements/{engagement_id}/timeline",
    response_model=list[TimelineEntry],
    summary="What happened, in order: event, phase, who, when (any role, own organisations)",
)
async def get_engagement_timeline(
    engagement_id: uuid.UUID, session: SessionDep
) -> list[TimelineEntry]:
    return [
        TimelineEntry.model_validate(entry)
        for entry in await service.timeline(session, engagement_id)
    ]

"""HTTP route that scores the channel mix and stores it as a ``channel_mix`` version."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.strategy.channel_mix import scoring
from services.strategy.channel_mix.schemas import ChannelMixInputs
from services.strategy.deliverables import service
from services.strategy.deliverables.api import saved_response
from services.strategy.deliverables.kinds import DeliverableKind
from services.strategy.deliverables.schemas import DeliverableOut
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal

router = APIRouter(tags=["deliverables"])


@router.post(
    "/engagements/{engagement_id}/channel-mix",
    response_model=DeliverableOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": DeliverableOut, "description": "Unchanged: the latest version"}},
    dependencies=[AUTHORIZED],
    summary=(
        "Score every channel for the personas, objectives, producible content and effort; "
        "store the result as a channel_mix version (admin, manager, editor)"
    ),
)
async def score_channel_mix(
    engagement_id: uuid.UUID,
    body: ChannelMixInputs,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> DeliverableOut:
    mix = scoring.score_channel_mix(body)
    saved = await service.save_version(
        session, engagement_id, DeliverableKind.CHANNEL_MIX, mix, principal.subject
    )
    return saved_response(saved, response)

"""Routes of sentiment corrections and of the models trained on an organisation's corrections."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from services.listening import corrections, sentiment_training
from services.listening.mentions import mention_view
from services.listening.schemas import MentionOut
from services.listening.sentiment_schemas import (
    SentimentCorrectionIn,
    SentimentModelFilters,
    SentimentModelOut,
    SentimentModelRequest,
    SentimentTrainingOut,
)
from services.listening.training_runs import TrainingRuns
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import page_of

router = APIRouter(prefix="/listening", tags=["listening"])

# The agency's people who read mentions closely (there is no analyst role): a client's people
# see mentions but do not relabel them.


@router.post(
    "/mentions/{mention_id}/sentiment",
    response_model=MentionOut,
    dependencies=[AUTHORIZED],
    summary="Correct a mention's sentiment (admin, manager, editor): the mention reads as "
    "corrected (model version manual) and the correction trains the organisation's model",
)
async def correct_mention_sentiment(
    mention_id: uuid.UUID,
    body: SentimentCorrectionIn,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> MentionOut:
    return mention_view(await corrections.relabel(session, principal, mention_id, body.label))


@router.post(
    "/sentiment-models",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SentimentTrainingOut,
    dependencies=[AUTHORIZED],
    summary="Train the organisation's sentiment model on its corrections (admin, manager): "
    "starts TrainOrganizationSentimentModel; 409 with too few corrections",
)
async def train_sentiment_model(
    body: SentimentModelRequest, request: Request, session: SessionDep, principal: CurrentPrincipal
) -> SentimentTrainingOut:
    principal.require_organization(body.organization_id)
    runs: TrainingRuns = request.app.state.training_runs
    # Refuse before recording anything when Temporal is away.
    runs.require_connection()
    training_id = await sentiment_training.request_training(
        session, body.organization_id, principal.subject
    )
    workflow_id = await runs.start(body.organization_id, training_id, principal.subject)
    return SentimentTrainingOut(
        training_id=training_id, organization_id=body.organization_id, workflow_id=workflow_id
    )


@router.get(
    "/sentiment-models",
    response_model=list[SentimentModelOut],
    summary="The organisation's sentiment models, newest first, with trainings running or "
    "failed; a Link header names the next page",
)
async def list_sentiment_models(
    filters: Annotated[SentimentModelFilters, Query()],
    request: Request,
    response: Response,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> list[SentimentModelOut]:
    principal.require_organization(filters.organization_id)
    found = await sentiment_training.list_models(session, filters)
    held = page_of(found, sentiment_training.MODEL_ORDER, filters, request, response)
    current = await sentiment_training.current_training(session, filters.organization_id)
    return [
        SentimentModelOut.model_validate(model).model_copy(
            update={"current": model.training_id == current}
        )
        for model in held
    ]

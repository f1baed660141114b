"""``/v1/contests/{id}/draw`` and ``/claims``: what the gateway adds to the content service's
contest routes. The content service keeps the records and enforces the roles; the draw and the
claim deadlines run in ``ContestClaimWorkflow``, which these routes start and signal through
Temporal. Every other contest route is the content service's own, forwarded.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter, Request, status
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from services.content.contests.schemas import ClaimCreate, ContestOut, EntryOut
from services.gateway.deps import EngagementsDep, ServicesDep
from shared import task_queues
from shared.errors import ProblemError
from shared.settings import Settings
from workflows.contest.messages import (
    CLAIM_SIGNAL,
    WORKFLOW_NAME,
    ClaimSignal,
    ContestClaimInput,
    workflow_id,
)

log = logging.getLogger(__name__)

router = APIRouter(tags=["contests"])


@router.post(
    "/contests/{contest_id}/draw",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContestOut,
    summary="Draw the winners of a closed contest: starts ContestClaimWorkflow, which draws, "
    "waits for claims and publishes the result (admin, manager)",
)
async def draw_contest(
    contest_id: uuid.UUID, request: Request, services: ServicesDep, engagements: EngagementsDep
) -> ContestOut:
    # Refuse before changing anything when Temporal is away: no contest left waiting for a draw.
    client = engagements.require_connection()
    contest = await services.content.call(
        request, "POST", f"/contests/{contest_id}/draw", ContestOut
    )
    settings: Settings = request.app.state.settings
    try:
        await client.start_workflow(
            WORKFLOW_NAME,
            ContestClaimInput(
                contest_id=contest.id,
                winners=contest.winners,
                reserves=contest.reserves,
                task_queue_prefix=settings.temporal.task_queue_prefix,
            ),
            id=contest.workflow_id,
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
            # A failed run may be started again (its draw is kept); a finished one may not.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        log.info("workflow %s was already started", contest.workflow_id)
    return contest


@router.post(
    "/contests/{contest_id}/claims",
    response_model=EntryOut,
    summary="Record a winner's claim before its deadline (admin, manager, editor)",
)
async def record_prize_claim(
    contest_id: uuid.UUID,
    body: ClaimCreate,
    request: Request,
    services: ServicesDep,
    engagements: EngagementsDep,
) -> EntryOut:
    entry = await services.content.call(
        request, "POST", f"/contests/{contest_id}/claims", EntryOut, body=body
    )
    try:
        handle = engagements.require_connection().get_workflow_handle(workflow_id(contest_id))
        await handle.signal(CLAIM_SIGNAL, ClaimSignal(entry_id=entry.id))
    except (ProblemError, RPCError) as error:
        # The claim is recorded; without the signal the workflow still reads it at the deadline.
        log.warning("claim of %s recorded but not signalled: %s", entry.id, error)
    return entry

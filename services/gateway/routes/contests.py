"""``/v1/contests`` and ``/v1/engagements/{id}/contests``: contests, draws, claims and results.

The content service keeps the records and enforces the roles; the draw and the claim deadlines
run in ``ContestClaimWorkflow``, which this module starts and signals through Temporal.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import TypeAdapter
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from services.content.contests.domain import ContestStatus, EntryStatus
from services.content.contests.schemas import (
    ClaimCreate,
    ContestCreate,
    ContestOut,
    ContestResult,
    ContestRules,
    DrawOut,
    DrawVerification,
    EntryOut,
    EntrySubmission,
)
from services.gateway.deps import EngagementsDep, ServicesDep
from services.strategy.schemas import EngagementOut
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

_CONTESTS = TypeAdapter(list[ContestOut])
_ENTRIES = TypeAdapter(list[EntryOut])
_DRAWS = TypeAdapter(list[DrawOut])


async def _engagement(
    request: Request, services: ServicesDep, engagement_id: uuid.UUID
) -> EngagementOut:
    return await services.strategy.call(
        request, "GET", f"/engagements/{engagement_id}", EngagementOut
    )


@router.post(
    "/engagements/{engagement_id}/contests",
    status_code=status.HTTP_201_CREATED,
    response_model=ContestOut,
    summary="Create a draft contest for the engagement's organisation (admin, manager, editor)",
)
async def create_contest(
    engagement_id: uuid.UUID, body: ContestRules, request: Request, services: ServicesDep
) -> ContestOut:
    engagement = await _engagement(request, services, engagement_id)
    contest = ContestCreate(
        **body.model_dump(),
        engagement_id=engagement.id,
        organization_id=engagement.organization_id,
    )
    return await services.content.call(request, "POST", "/contests", ContestOut, body=contest)


@router.get(
    "/engagements/{engagement_id}/contests",
    response_model=list[ContestOut],
    summary="The engagement's contests (any role, own organisations)",
)
async def list_contests(
    engagement_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    contest_status: Annotated[ContestStatus | None, Query(alias="status")] = None,
) -> list[ContestOut]:
    await _engagement(request, services, engagement_id)
    params = {"engagement_id": str(engagement_id)}
    if contest_status is not None:
        params["status"] = contest_status.value
    return await services.content.call(request, "GET", "/contests", _CONTESTS, params=params)


@router.get(
    "/contests/{contest_id}",
    response_model=ContestOut,
    summary="One contest (any role, own organisations)",
)
async def get_contest(contest_id: uuid.UUID, request: Request, services: ServicesDep) -> ContestOut:
    return await services.content.call(request, "GET", f"/contests/{contest_id}", ContestOut)


@router.put(
    "/contests/{contest_id}",
    response_model=ContestOut,
    summary="Replace a draft contest's rules; 409 once it is open (admin, manager, editor)",
)
async def update_contest(
    contest_id: uuid.UUID, body: ContestRules, request: Request, services: ServicesDep
) -> ContestOut:
    return await services.content.call(
        request, "PUT", f"/contests/{contest_id}", ContestOut, body=body
    )


@router.post(
    "/contests/{contest_id}/open",
    response_model=ContestOut,
    summary="Open a draft contest to entries (admin, manager)",
)
async def open_contest(
    contest_id: uuid.UUID, request: Request, services: ServicesDep
) -> ContestOut:
    return await services.content.call(request, "POST", f"/contests/{contest_id}/open", ContestOut)


@router.post(
    "/contests/{contest_id}/close",
    response_model=ContestOut,
    summary="Close an open contest; late mentions dated within it still count until the draw "
    "(admin, manager)",
)
async def close_contest(
    contest_id: uuid.UUID, request: Request, services: ServicesDep
) -> ContestOut:
    return await services.content.call(request, "POST", f"/contests/{contest_id}/close", ContestOut)


@router.post(
    "/contests/{contest_id}/entries",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    responses={200: {"model": EntryOut, "description": "This mention was already recorded"}},
    summary="Record an entry, accepted or rejected with its reason (admin, manager, editor)",
)
async def submit_entry(
    contest_id: uuid.UUID,
    body: EntrySubmission,
    request: Request,
    response: Response,
    services: ServicesDep,
) -> EntryOut:
    answer = await services.content.raw(
        request, "POST", f"/contests/{contest_id}/entries", body=body
    )
    response.status_code = answer.status_code
    return EntryOut.model_validate_json(answer.content)


@router.get(
    "/contests/{contest_id}/entries",
    response_model=list[EntryOut],
    summary="The contest's entries, with rejection reasons and awards (any role, own "
    "organisations)",
)
async def list_entries(
    contest_id: uuid.UUID,
    request: Request,
    services: ServicesDep,
    entry_status: Annotated[EntryStatus | None, Query(alias="status")] = None,
) -> list[EntryOut]:
    params = {"status": entry_status.value} if entry_status is not None else None
    return await services.content.call(
        request, "GET", f"/contests/{contest_id}/entries", _ENTRIES, params=params
    )


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


@router.get(
    "/contests/{contest_id}/draws",
    response_model=list[DrawOut],
    summary="The contest's draws: seed, entries hash, winners and reserves (any role, own "
    "organisations)",
)
async def list_draws(
    contest_id: uuid.UUID, request: Request, services: ServicesDep
) -> list[DrawOut]:
    return await services.content.call(request, "GET", f"/contests/{contest_id}/draws", _DRAWS)


@router.get(
    "/contests/{contest_id}/draws/{number}/verification",
    response_model=DrawVerification,
    summary="Everything needed to recompute a draw, and the service's own check (any role, "
    "own organisations)",
)
async def verify_draw(
    contest_id: uuid.UUID, number: int, request: Request, services: ServicesDep
) -> DrawVerification:
    return await services.content.call(
        request, "GET", f"/contests/{contest_id}/draws/{number}/verification", DrawVerification
    )


@router.post(
    "/contests/{contest_id}/claims",
    response_model=EntryOut,
    summary="Record a winner's claim before its deadline (admin, manager, editor)",
)
async def record_claim(
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


@router.get(
    "/contests/{contest_id}/result",
    response_model=ContestResult,
    summary="The published result: winners' public handles and where to verify each draw; 404 "
    "until published (any role, own organisations)",
)
async def get_result(
    contest_id: uuid.UUID, request: Request, services: ServicesDep
) -> ContestResult:
    return await services.content.call(
        request, "GET", f"/contests/{contest_id}/result", ContestResult
    )

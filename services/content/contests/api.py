"""HTTP routes of contests; the gateway calls them with the caller's own token."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response, status

from services.content.contests import awards, repository, service
from services.content.contests.domain import ContestStatus, EntryStatus
from services.content.contests.schemas import (
    ClaimCreate,
    ContestOut,
    ContestResult,
    ContestRules,
    DrawOut,
    DrawVerification,
    EntryOut,
    EntrySubmission,
)
from services.content.models import engagements
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

router = APIRouter(prefix="/contests", tags=["contests"])
engagement_router = APIRouter(prefix="/engagements/{engagement_id}/contests", tags=["contests"])

# A contest's draws are numbered from 1 in a PostgreSQL integer.
DrawNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


@engagement_router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ContestOut,
    dependencies=[AUTHORIZED],
    summary="Create a draft contest for the engagement's organisation (admin, manager, editor)",
)
async def create_contest(
    engagement_id: uuid.UUID, body: ContestRules, session: SessionDep, principal: CurrentPrincipal
) -> ContestOut:
    contest = await service.create_contest(session, principal, engagement_id, body)
    return ContestOut.model_validate(contest)


@engagement_router.get(
    "",
    response_model=list[ContestOut],
    summary="The engagement's contests, by start, a page at a time (any role, own organisations)",
)
async def list_contests(
    engagement_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    contest_status: Annotated[ContestStatus | None, Query(alias="status")] = None,
) -> list[ContestOut]:
    await engagements.require(session, engagement_id)
    found = await repository.list_contests(session, engagement_id, contest_status, page)
    held = page_of(found, repository.CONTEST_ORDER, page, request, response)
    return [ContestOut.model_validate(contest) for contest in held]


@router.get(
    "/{contest_id}", response_model=ContestOut, summary="One contest (any role, own organisations)"
)
async def get_contest(contest_id: uuid.UUID, session: SessionDep) -> ContestOut:
    return ContestOut.model_validate(await service.require_contest(session, contest_id))


@router.put(
    "/{contest_id}",
    response_model=ContestOut,
    dependencies=[AUTHORIZED],
    summary="Replace a draft contest's rules; 409 once it is open (admin, manager, editor)",
)
async def update_contest(
    contest_id: uuid.UUID, body: ContestRules, session: SessionDep
) -> ContestOut:
    return ContestOut.model_validate(await service.update_contest(session, contest_id, body))


@router.post(
    "/{contest_id}/open",
    response_model=ContestOut,
    dependencies=[AUTHORIZED],
    summary="Open a draft contest to entries (admin, manager)",
)
async def open_contest(contest_id: uuid.UUID, session: SessionDep) -> ContestOut:
    contest = await service.open_contest(session, contest_id, datetime.now(UTC))
    return ContestOut.model_validate(contest)


@router.post(
    "/{contest_id}/close",
    response_model=ContestOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Close an open contest; late mentions dated within it still count until the draw "
        "(admin, manager)"
    ),
)
async def close_contest(contest_id: uuid.UUID, session: SessionDep) -> ContestOut:
    return ContestOut.model_validate(await service.close_contest(session, contest_id))


@router.post(
    "/{contest_id}/entries",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    dependencies=[AUTHORIZED],
    responses={200: {"model": EntryOut, "description": "This mention was already recorded"}},
    summary="Record an entry, accepted or rejected with its reason (admin, manager, editor)",
)
async def submit_contest_entry(
    contest_id: uuid.UUID, body: EntrySubmission, session: SessionDep, response: Response
) -> EntryOut:
    entry, created = await service.submit_entry(session, contest_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    return EntryOut.model_validate(entry)


@router.get(
    "/{contest_id}/entries",
    response_model=list[EntryOut],
    summary=(
        "The contest's entries, with rejection reasons and awards; oldest first, a page at a "
        "time (any role, own organisations)"
    ),
)
async def list_contest_entries(
    contest_id: uuid.UUID,
    page: PageDep,
    request: Request,
    response: Response,
    session: SessionDep,
    entry_status: Annotated[EntryStatus | None, Query(alias="status")] = None,
) -> list[EntryOut]:
    await service.require_contest(session, contest_id)
    found = await repository.list_entries(session, contest_id, entry_status, page)
    held = page_of(found, repository.ENTRY_ORDER, page, request, response)
    return [EntryOut.model_validate(entry) for entry in held]


@router.post(
    "/{contest_id}/draw",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContestOut,
    dependencies=[AUTHORIZED],
    summary=(
        "Draw the winners of a closed contest: starts ContestClaimWorkflow, which draws, "
        "waits for claims and publishes the result (admin, manager)"
    ),
)
async def request_draw(
    contest_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ContestOut:
    return ContestOut.model_validate(await awards.request_draw(session, principal, contest_id))


@router.get(
    "/{contest_id}/draws",
    response_model=list[DrawOut],
    summary=(
        "The contest's draws: seed, entries hash, winners and reserves; in draw order, a page "
        "at a time (any role, own organisations)"
    ),
)
async def list_contest_draws(
    contest_id: uuid.UUID, page: PageDep, request: Request, response: Response, session: SessionDep
) -> list[DrawOut]:
    await service.require_contest(session, contest_id)
    found = await repository.page_of_draws(session, contest_id, page)
    held = page_of(found, repository.DRAW_ORDER, page, request, response)
    return [awards.draw_view(record) for record in held]


@router.get(
    "/{contest_id}/draws/{number}/verification",
    response_model=DrawVerification,
    summary=(
        "Everything needed to recompute a draw, and the service's own check (any role, "
        "own organisations)"
    ),
)
async def verify_contest_draw(
    contest_id: uuid.UUID, number: DrawNumber, session: SessionDep
) -> DrawVerification:
    return await awards.verify_draw(session, contest_id, number)


@router.post(
    "/{contest_id}/claims",
    response_model=EntryOut,
    dependencies=[AUTHORIZED],
    summary="Record a winner's claim before its deadline (admin, manager, editor)",
)
async def record_prize_claim(
    contest_id: uuid.UUID, body: ClaimCreate, session: SessionDep
) -> EntryOut:
    entry = await awards.record_claim(session, contest_id, body.entry_id, datetime.now(UTC))
    return EntryOut.model_validate(entry)


@router.get(
    "/{contest_id}/result",
    response_model=ContestResult,
    summary=(
        "The published result: winners' public handles and where to verify each draw; 404 "
        "until published (any role, own organisations)"
    ),
)
async def get_contest_result(contest_id: uuid.UUID, session: SessionDep) -> ContestResult:
    return await awards.published_result(session, contest_id)

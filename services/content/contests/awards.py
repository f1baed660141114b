"""Rules of the prizes: the draw request, draws, claims, unclaimed prizes and the result.

``ContestClaimWorkflow`` drives these through activities; the records here are what counts, so
a workflow that asks twice (a retried activity) gets the same answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.content.contests import draw, events, repository
from services.content.contests.contracts import (
    ClaimStanding,
    ContestResultPublished,
    DrawContest,
    DrawReason,
    PendingWinner,
    PublishContestResult,
    SettleContestClaims,
)
from services.content.contests.domain import Award, ContestStatus
from services.content.contests.models import Contest, ContestDraw, ContestEntry
from services.content.contests.schemas import (
    ContestResult,
    DrawOut,
    DrawVerification,
    PublicWinner,
)
from services.content.contests.service import contest_event, require_contest, require_status
from services.content.models import outbox
from shared.auth import Principal
from shared.domain import Channel
from shared.errors import ConflictError, NotFoundError


def _fact_id(contest_id: uuid.UUID, fact: str) -> uuid.UUID:
    """One event id per fact, however often an activity records it."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"urn:engage:contest:{contest_id}:{fact}")


def verification_url(contest_id: uuid.UUID, number: int) -> str:
    return f"/v1/contests/{contest_id}/draws/{number}/verification"


async def request_draw(
    session: AsyncSession, principal: Principal, contest_id: uuid.UUID
) -> Contest:
    """Hand the contest to its claim workflow; asking again while it draws changes nothing."""
    contest = await require_contest(session, contest_id, lock="update")
    if contest.status == ContestStatus.DRAWING:
        return contest
    require_status(contest, {ContestStatus.CLOSED}, "the draw follows the close")
    if await repository.count_accepted(session, contest.id) == 0:
        raise ConflictError("The contest has no accepted entry to draw from.")
    contest.status = ContestStatus.DRAWING
    contest.draw_requested_by = principal.subject
    return contest


async def draw_contest(session: AsyncSession, request: DrawContest) -> ClaimStanding:
    contest = await require_contest(session, request.contest_id, lock="update")
    if await repository.get_draw(session, contest.id, request.number) is None:
        require_status(
            contest, {ContestStatus.DRAWING, ContestStatus.DRAWN}, "a draw must be requested"
        )
        await _draw(session, contest, request)
    return await _standing(session, contest)


async def _draw(session: AsyncSession, contest: Contest, request: DrawContest) -> None:
    candidates = await repository.undrawn_candidates(session, contest.id)
    winners = min(request.winners, len(candidates))
    record = draw.perform(candidates, winners + request.reserves)
    deadline = request.as_of + timedelta(hours=contest.claim_window_hours)
    for rank, entry_id in enumerate(record.picks, start=1):
        entry = candidates[entry_id]
        entry.award = Award.WINNER if rank <= winners else Award.RESERVE
        entry.draw_number = request.number
        entry.draw_rank = rank
        entry.claim_deadline = deadline if rank <= winners else None
    # A redraw is the claim workflow's own doing.
    requester = contest.draw_requested_by if request.reason is DrawReason.INITIAL else None
    requester = requester or contest.workflow_id
    session.add(
        ContestDraw(
            contest_id=contest.id,
            organization_id=contest.organization_id,
            number=request.number,
            reason=request.reason.value,
            algorithm=draw.ALGORITHM,
            seed=record.seed,
            entry_ids=record.entry_ids,
            entries_hash=record.entries_hash,
            picks=record.picks,
            winners=winners,
            requested_by=requester,
            drawn_at=request.as_of,
        )
    )
    contest.status = ContestStatus.DRAWN
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_DRAWN,
            contest,
            events.ContestDrawn,
            event_id=_fact_id(contest.id, f"draw:{request.number}"),
            number=request.number,
            reason=request.reason,
            seed=record.seed,
            entries_hash=record.entries_hash,
            candidates=len(record.entry_ids),
            winners=record.picks[:winners],
            reserves=record.picks[winners:],
        ),
    )


async def _standing(session: AsyncSession, contest: Contest) -> ClaimStanding:
    held = await repository.entries_with_award(session, contest.id, [Award.WINNER, Award.CLAIMED])
    pending = [
        PendingWinner(entry_id=entry.id, claim_deadline=entry.claim_deadline)
        for entry in held
        if entry.award == Award.WINNER and entry.claim_deadline is not None
    ]
    return ClaimStanding(
        contest_id=contest.id,
        pending=pending,
        claimed=[entry.id for entry in held if entry.award == Award.CLAIMED],
        missing=max(contest.winners - len(held), 0),
        candidates_left=await repository.count_accepted(session, contest.id, undrawn_only=True),
        draws=len(await repository.list_draws(session, contest.id)),
    )


async def record_claim(
    session: AsyncSession, contest_id: uuid.UUID, entry_id: uuid.UUID, now: datetime
) -> ContestEntry:
    contest = await require_contest(session, contest_id, lock="update")
    entry = await repository.get_entry(session, contest.id, entry_id)
    if entry is None:
        raise NotFoundError("contest entry", entry_id)
    if entry.award == Award.CLAIMED:
        return entry
    if entry.award != Award.WINNER or entry.claim_deadline is None:
        raise ConflictError("The entry is not a winner awaiting its claim.", award=entry.award)
    if entry.claim_deadline <= now:
        raise ConflictError(
            f"The claim window closed at {entry.claim_deadline.isoformat()}.",
            claim_deadline=entry.claim_deadline.isoformat(),
        )
    entry.award = Award.CLAIMED
    entry.claimed_at = now
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_PRIZE_CLAIMED, contest, events.PrizeClaimed, entry_id=entry.id
        ),
    )
    return entry


async def settle_claims(session: AsyncSession, request: SettleContestClaims) -> ClaimStanding:
    """Winners past their deadline forfeit; reserves take their places in rank order."""
    contest = await require_contest(session, request.contest_id, lock="update")
    overdue = await repository.overdue_winners(session, contest.id, request.as_of)
    for entry in overdue:
        entry.award = Award.UNCLAIMED
    held = await repository.entries_with_award(session, contest.id, [Award.WINNER, Award.CLAIMED])
    reserves = await repository.entries_with_award(session, contest.id, [Award.RESERVE])
    promoted = reserves[: max(contest.winners - len(held), 0)]
    deadline = request.as_of + timedelta(hours=contest.claim_window_hours)
    for reserve in promoted:
        reserve.award = Award.WINNER
        reserve.claim_deadline = deadline
    replacements = [reserve.id for reserve in promoted] + [None] * len(overdue)
    for entry, replaced_by in zip(overdue, replacements, strict=False):
        await outbox.add(
            session,
            contest_event(
                events.CONTEST_WINNER_UNCLAIMED,
                contest,
                events.WinnerUnclaimed,
                event_id=_fact_id(contest.id, f"unclaimed:{entry.id}"),
                entry_id=entry.id,
                claim_deadline=entry.claim_deadline,
                replaced_by=replaced_by,
            ),
        )
    return await _standing(session, contest)


async def publish_result(
    session: AsyncSession, request: PublishContestResult
) -> ContestResultPublished:
    contest = await require_contest(session, request.contest_id, lock="update")
    claimed = await repository.entries_with_award(session, contest.id, [Award.CLAIMED])
    if contest.status == ContestStatus.RESULT_PUBLISHED:
        return ContestResultPublished(
            contest_id=contest.id, winners=len(claimed), newly_published=False
        )
    require_status(contest, {ContestStatus.DRAWN}, "a result follows the draw")
    contest.status = ContestStatus.RESULT_PUBLISHED
    contest.result_published_at = request.published_at
    await outbox.add(
        session,
        contest_event(
            events.CONTEST_RESULT_PUBLISHED,
            contest,
            events.ResultPublished,
            event_id=_fact_id(contest.id, "result"),
            winners=[
                events.PublishedWinner(platform=Channel(entry.platform), handle=entry.user_handle)
                for entry in claimed
            ],
            unassigned_prizes=contest.winners - len(claimed),
        ),
    )
    return ContestResultPublished(contest_id=contest.id, winners=len(claimed), newly_published=True)


def draw_view(record: ContestDraw) -> DrawOut:
    return DrawOut(
        contest_id=record.contest_id,
        number=record.number,
        reason=DrawReason(record.reason),
        algorithm=record.algorithm,
        seed=record.seed,
        entries_hash=record.entries_hash,
        candidates=len(record.entry_ids),
        winners=record.picks[: record.winners],
        reserves=record.picks[record.winners :],
        requested_by=record.requested_by,
        drawn_at=record.drawn_at,
        verification_url=verification_url(record.contest_id, record.number),
    )


async def verify_draw(
    session: AsyncSession, contest_id: uuid.UUID, number: int
) -> DrawVerification:
    record = await repository.get_draw(session, contest_id, number)
    if record is None:
        raise NotFoundError("contest draw", f"{contest_id}/{number}")
    recomputed = draw.recompute(record.seed, record.entry_ids, len(record.picks))
    return DrawVerification(
        contest_id=record.contest_id,
        number=record.number,
        algorithm=record.algorithm,
        algorithm_description=draw.ALGORITHM_DESCRIPTION,
        seed=record.seed,
        entry_ids=record.entry_ids,
        entries_hash=record.entries_hash,
        winners=record.winners,
        picks=record.picks,
        recomputed_matches=recomputed == record.picks
        and draw.entries_hash(record.entry_ids) == record.entries_hash,
    )


async def published_result(session: AsyncSession, contest_id: uuid.UUID) -> ContestResult:
    contest = await require_contest(session, contest_id)
    if contest.status != ContestStatus.RESULT_PUBLISHED or contest.result_published_at is None:
        raise NotFoundError("contest result", contest_id)
    claimed = await repository.entries_with_award(session, contest.id, [Award.CLAIMED])
    draws = await repository.list_draws(session, contest.id)
    return ContestResult(
        contest_id=contest.id,
        name=contest.name,
        published_at=contest.result_published_at,
        winners=[
            PublicWinner(
                platform=Channel(entry.platform),
                handle=entry.user_handle,
                draw_number=entry.draw_number or 0,
            )
            for entry in claimed
        ],
        unassigned_prizes=contest.winners - len(claimed),
        draws=[verification_url(contest.id, record.number) for record in draws],
    )

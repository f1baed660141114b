"""``ContestClaimWorkflow``: the winner draw of one contest, the claims, and the result.

It draws (an activity, so the draw is durable and recorded once), then waits for each winner's
claim until the claim deadline (a durable timer). A silent winner forfeits: the next reserve
takes the place, or, with no reserve left, a redraw among entries never picked (a new draw with
its own seed). When every prize is claimed, or no entrant is left to draw, the result is
published. The content service's records decide; the ``claim`` signal only says when to look.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.content.contests.contracts import (
        DRAW_CONTEST,
        PUBLISH_CONTEST_RESULT,
        SETTLE_CONTEST_CLAIMS,
        ClaimStanding,
        ContestResultPublished,
        DrawContest,
        DrawReason,
        PublishContestResult,
        SettleContestClaims,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT
    from workflows.contest.messages import (
        CLAIM_SIGNAL,
        STATE_QUERY,
        WORKFLOW_NAME,
        ClaimSignal,
        ContestClaimInput,
        ContestClaimState,
        ContestClaimStatus,
    )


@workflow.defn(name=WORKFLOW_NAME)
class ContestClaimWorkflow:
    @workflow.init
    def __init__(self, contest: ContestClaimInput) -> None:
        self._contest = contest
        self._state = ContestClaimState(status=ContestClaimStatus.DRAWING)
        self._signalled: set[uuid.UUID] = set()

    @workflow.run
    async def run(self, contest: ContestClaimInput) -> ContestClaimState:
        standing = await self._draw(1, DrawReason.INITIAL, contest.winners, contest.reserves)
        while True:
            if standing.pending:
                await self._await_claims(standing)
                standing = await self._settle()
            elif standing.missing and standing.candidates_left:
                standing = await self._draw(
                    standing.draws + 1, DrawReason.REDRAW, standing.missing, reserves=0
                )
            else:
                break
        await self._publish()
        return self._state

    @workflow.signal(name=CLAIM_SIGNAL)
    def claim(self, signal: ClaimSignal) -> None:
        self._signalled.add(signal.entry_id)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> ContestClaimState:
        return self._state

    async def _await_claims(self, standing: ClaimStanding) -> None:
        """Until every pending winner's claim is signalled, or the earliest deadline passes."""
        waiting = {winner.entry_id for winner in standing.pending}
        deadline = min(winner.claim_deadline for winner in standing.pending)
        self._state.status = ContestClaimStatus.AWAITING_CLAIMS
        self._state.next_deadline = deadline
        remaining = deadline - workflow.now()
        if remaining <= timedelta(0):
            return
        try:
            await workflow.wait_condition(lambda: waiting <= self._signalled, timeout=remaining)
        except TimeoutError:
            workflow.logger.info("claim deadline %s passed", deadline.isoformat())

    def _track(self, standing: ClaimStanding) -> ClaimStanding:
        self._state.pending = [winner.entry_id for winner in standing.pending]
        self._state.claimed = standing.claimed
        self._state.draws = standing.draws
        return standing

    async def _draw(
        self, number: int, reason: DrawReason, winners: int, reserves: int
    ) -> ClaimStanding:
        self._state.status = ContestClaimStatus.DRAWING
        standing = await workflow.execute_activity(
            DRAW_CONTEST,
            DrawContest(
                contest_id=self._contest.contest_id,
                number=number,
                reason=reason,
                winners=winners,
                reserves=reserves,
                as_of=workflow.now(),
            ),
            result_type=ClaimStanding,
            task_queue=self._content_queue(),
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return self._track(standing)

    async def _settle(self) -> ClaimStanding:
        signalled_before = set(self._signalled)
        standing = await workflow.execute_activity(
            SETTLE_CONTEST_CLAIMS,
            SettleContestClaims(contest_id=self._contest.contest_id, as_of=workflow.now()),
            result_type=ClaimStanding,
            task_queue=self._content_queue(),
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        # A claim signalled before the records were read but absent from them is not waited
        # for again (the deadline is); one signalled meanwhile is looked at next time.
        still_pending = {winner.entry_id for winner in standing.pending}
        self._signalled -= signalled_before & still_pending
        return self._track(standing)

    async def _publish(self) -> None:
        await workflow.execute_activity(
            PUBLISH_CONTEST_RESULT,
            PublishContestResult(contest_id=self._contest.contest_id, published_at=workflow.now()),
            result_type=ContestResultPublished,
            task_queue=self._content_queue(),
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        self._state.status = ContestClaimStatus.RESULT_PUBLISHED
        self._state.next_deadline = None

    def _content_queue(self) -> str:
        return self._contest.task_queue_prefix + task_queues.CONTENT

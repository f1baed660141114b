"""``ContestClaimWorkflow`` on Temporal's time-skipping test server.

The content service's activities are replaced by an in-memory record of one contest, registered
under their real names; claim deadlines are skipped over instead of waited for.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from services.content.contests.contracts import (
    DRAW_CONTEST,
    PUBLISH_CONTEST_RESULT,
    SETTLE_CONTEST_CLAIMS,
    ClaimStanding,
    ContestResultPublished,
    DrawContest,
    DrawReason,
    PendingWinner,
    PublishContestResult,
    SettleContestClaims,
)
from services.content.contests.domain import Award
from shared import task_queues
from tests.lifecycle_helpers import start_time_skipping
from workflows.contest.messages import (
    CLAIM_SIGNAL,
    STATE_QUERY,
    ClaimSignal,
    ContestClaimInput,
    ContestClaimState,
    ContestClaimStatus,
)
from workflows.contest.workflow import ContestClaimWorkflow

CLAIM_WINDOW = timedelta(days=7)
PAST_THE_DEADLINE = CLAIM_WINDOW + timedelta(minutes=1)


@pytest.fixture(scope="module")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


class ContestRecords:
    """The content service's records of one contest; draws pick undrawn entries in order."""

    def __init__(self, entries: int, winners: int, reserves: int) -> None:
        self.contest_id = uuid.uuid4()
        self.entries = [uuid.uuid4() for _ in range(entries)]
        self.winners = winners
        self.reserves = reserves
        self.awards: dict[uuid.UUID, Award] = {}
        self.deadlines: dict[uuid.UUID, datetime] = {}
        self.draws: list[DrawContest] = []
        self.settled: list[SettleContestClaims] = []
        self.published: list[PublishContestResult] = []

    def holding(self, *awards: Award) -> list[uuid.UUID]:
        return [entry for entry, award in self.awards.items() if award in awards]

    def claim(self, entry_id: uuid.UUID) -> None:
        assert self.awards[entry_id] is Award.WINNER
        self.awards[entry_id] = Award.CLAIMED

    def standing(self) -> ClaimStanding:
        pending = self.holding(Award.WINNER)
        claimed = self.holding(Award.CLAIMED)
        return ClaimStanding(
            contest_id=self.contest_id,
            pending=[
                PendingWinner(entry_id=entry, claim_deadline=self.deadlines[entry])
                for entry in pending
            ],
            claimed=claimed,
            missing=max(self.winners - len(pending) - len(claimed), 0),
            candidates_left=sum(entry not in self.awards for entry in self.entries),
            draws=len(self.draws),
        )

    @activity.defn(name=DRAW_CONTEST)
    async def draw(self, request: DrawContest) -> ClaimStanding:
        if request.number > len(self.draws):
            self.draws.append(request)
            undrawn = [entry for entry in self.entries if entry not in self.awards]
            for rank, entry in enumerate(undrawn[: request.winners + request.reserves]):
                self.awards[entry] = Award.WINNER if rank < request.winners else Award.RESERVE
                self.deadlines[entry] = request.as_of + CLAIM_WINDOW
        return self.standing()

    @activity.defn(name=SETTLE_CONTEST_CLAIMS)
    async def settle(self, request: SettleContestClaims) -> ClaimStanding:
        self.settled.append(request)
        for entry in self.holding(Award.WINNER):
            if self.deadlines[entry] <= request.as_of:
                self.awards[entry] = Award.UNCLAIMED
        open_prizes = self.winners - len(self.holding(Award.WINNER, Award.CLAIMED))
        for reserve in self.holding(Award.RESERVE)[: max(open_prizes, 0)]:
            self.awards[reserve] = Award.WINNER
            self.deadlines[reserve] = request.as_of + CLAIM_WINDOW
        return self.standing()

    @activity.defn(name=PUBLISH_CONTEST_RESULT)
    async def publish(self, request: PublishContestResult) -> ContestResultPublished:
        self.published.append(request)
        return ContestResultPublished(
            contest_id=self.contest_id,
            winners=len(self.holding(Award.CLAIMED)),
            newly_published=True,
        )


@asynccontextmanager
async def claim_workflow(
    env: WorkflowEnvironment, records: ContestRecords
) -> AsyncIterator[WorkflowHandle[ContestClaimWorkflow, ContestClaimState]]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    workflows = Worker(
        env.client,
        task_queue=prefix + task_queues.WORKFLOWS,
        workflows=[ContestClaimWorkflow],
    )
    content = Worker(
        env.client,
        task_queue=prefix + task_queues.CONTENT,
        activities=[records.draw, records.settle, records.publish],
    )
    async with workflows, content:
        yield await env.client.start_workflow(
            ContestClaimWorkflow.run,
            ContestClaimInput(
                contest_id=records.contest_id,
                winners=records.winners,
                reserves=records.reserves,
                task_queue_prefix=prefix,
            ),
            id=f"contest-{records.contest_id}",
            task_queue=prefix + task_queues.WORKFLOWS,
        )


async def state_when(
    handle: WorkflowHandle[ContestClaimWorkflow, ContestClaimState],
    condition: Callable[[ContestClaimState], bool],
) -> ContestClaimState:
    async with asyncio.timeout(10):
        while True:
            state: ContestClaimState = await handle.query(
                STATE_QUERY, result_type=ContestClaimState
            )
            if condition(state):
                return state
            await asyncio.sleep(0.05)


async def claim(
    handle: WorkflowHandle[ContestClaimWorkflow, ContestClaimState],
    records: ContestRecords,
    entry_id: uuid.UUID,
) -> None:
    """What the gateway does: the content service records the claim, then the signal."""
    records.claim(entry_id)
    await handle.signal(CLAIM_SIGNAL, ClaimSignal(entry_id=entry_id))


def awaiting(state: ContestClaimState) -> bool:
    return state.status is ContestClaimStatus.AWAITING_CLAIMS


async def test_all_winners_claiming_in_time_publishes_the_result_at_once(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ContestRecords(entries=5, winners=2, reserves=1)
    async with claim_workflow(time_skipping, records) as handle:
        state = await state_when(handle, awaiting)
        assert len(state.pending) == 2
        for winner in state.pending:
            await claim(handle, records, winner)
        result = await handle.result()
    assert result.status is ContestClaimStatus.RESULT_PUBLISHED
    assert sorted(result.claimed) == sorted(state.pending)
    assert [draw.reason for draw in records.draws] == [DrawReason.INITIAL]
    assert len(records.published) == 1
    assert state.next_deadline is not None
    assert records.published[0].published_at < state.next_deadline
    assert records.holding(Award.RESERVE) == [records.entries[2]]


async def test_a_silent_winner_is_replaced_by_the_next_reserve(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ContestRecords(entries=5, winners=1, reserves=2)
    silent, first_reserve, second_reserve = records.entries[:3]
    async with claim_workflow(time_skipping, records) as handle:
        await state_when(handle, lambda state: awaiting(state) and state.pending == [silent])
        await time_skipping.sleep(PAST_THE_DEADLINE)
        await state_when(handle, lambda state: state.pending == [first_reserve])
        await claim(handle, records, first_reserve)
        result = await handle.result()
    assert result.claimed == [first_reserve]
    assert records.awards[silent] is Award.UNCLAIMED
    assert records.awards[second_reserve] is Award.RESERVE
    assert len(records.draws) == 1
    assert records.published[0].published_at >= records.deadlines[silent]


async def test_with_no_reserve_left_a_redraw_picks_among_entries_never_drawn(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ContestRecords(entries=3, winners=1, reserves=0)
    silent, redrawn, never_drawn = records.entries
    async with claim_workflow(time_skipping, records) as handle:
        await state_when(handle, lambda state: awaiting(state) and state.pending == [silent])
        await time_skipping.sleep(PAST_THE_DEADLINE)
        state = await state_when(handle, lambda state: state.pending == [redrawn])
        assert state.draws == 2
        await claim(handle, records, redrawn)
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.claimed == [redrawn]
    redraw = records.draws[1]
    assert (redraw.number, redraw.reason, redraw.winners, redraw.reserves) == (
        2,
        DrawReason.REDRAW,
        1,
        0,
    )
    assert redraw.as_of >= records.deadlines[silent]
    assert never_drawn not in records.awards
    # Timers, a signal and a redraw: today's code must replay the history it wrote.
    replayer = Replayer(workflows=[ContestClaimWorkflow], data_converter=pydantic_data_converter)
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure


async def test_when_nobody_claims_redraws_run_until_no_entrant_is_left(
    time_skipping: WorkflowEnvironment,
) -> None:
    records = ContestRecords(entries=3, winners=1, reserves=0)
    async with claim_workflow(time_skipping, records) as handle:
        result = await handle.result()
    assert result.status is ContestClaimStatus.RESULT_PUBLISHED
    assert result.claimed == []
    assert [draw.reason for draw in records.draws] == [
        DrawReason.INITIAL,
        DrawReason.REDRAW,
        DrawReason.REDRAW,
    ]
    assert all(award is Award.UNCLAIMED for award in records.awards.values())
    assert len(records.awards) == 3
    assert len(records.published) == 1

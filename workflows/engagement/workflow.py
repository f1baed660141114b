"""``EngagementWorkflow``: one client engagement, from the first analysis to the contract's end.

This first version records the start of the ``analysis`` phase through the strategy service and
then waits; the phases, gates and tasks of the lifecycle are added on top of it.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.strategy.contracts import (
        RECORD_PHASE_STARTED,
        PhaseStartRecorded,
        RecordPhaseStarted,
    )
    from shared import task_queues
    from shared.domain import Phase
    from workflows.engagement.messages import (
        STATE_QUERY,
        WORKFLOW_NAME,
        EngagementInput,
        EngagementState,
        EngagementStatus,
    )

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)


@workflow.defn(name=WORKFLOW_NAME)
class EngagementWorkflow:
    @workflow.init
    def __init__(self, engagement: EngagementInput) -> None:
        self._engagement = engagement
        self._state = EngagementState(status=EngagementStatus.RUNNING, phase=Phase.ANALYSIS)

    @workflow.run
    async def run(self, engagement: EngagementInput) -> EngagementState:
        await self._start_phase(Phase.ANALYSIS)
        await workflow.wait_condition(lambda: self._state.status != EngagementStatus.RUNNING)
        return self._state

    @workflow.query(name=STATE_QUERY)
    def state(self) -> EngagementState:
        return self._state

    def _queue(self, name: str) -> str:
        return self._engagement.task_queue_prefix + name

    async def _start_phase(self, phase: Phase) -> None:
        self._state.phase = phase
        await workflow.execute_activity(
            RECORD_PHASE_STARTED,
            RecordPhaseStarted(
                engagement_id=self._engagement.engagement_id,
                organization_id=self._engagement.organization_id,
                phase=phase,
                started_at=workflow.now(),
            ),
            result_type=PhaseStartRecorded,
            task_queue=self._queue(task_queues.STRATEGY),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ACTIVITY_RETRY,
        )

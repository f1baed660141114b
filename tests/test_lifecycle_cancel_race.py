"""A cancellation that arrives in the same workflow task as an activity's result: the lifecycle
goes on to its next step while it is being cancelled, and must stop there rather than wait for
an approval that will never come (found in CI: the cancel update never returned).

The race is made certain: the workflow worker stops while the analysis reads its deliverables,
the read completes, the cancel update is sent, and only then does a workflow worker start again,
so its first workflow task carries both the activity's result and the update.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.strategy.contracts import (
    GET_DELIVERABLE_VERSIONS,
    DeliverableVersions,
    GetDeliverableVersions,
)
from shared import task_queues
from tests.lifecycle_helpers import ServiceRecords, engagement_input, manager
from tests.test_lifecycle_workflow import _save_history
from tests.test_replay import replayer
from workflows.engagement.messages import (
    CANCEL_UPDATE,
    ControlOutcome,
    ControlRequest,
    EngagementStatus,
)
from workflows.engagement.workflow import EngagementWorkflow


@dataclass
class HeldRecords(ServiceRecords):
    """Service answers, with the reading of deliverable versions held until released."""

    asked: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @activity.defn(name=GET_DELIVERABLE_VERSIONS)
    async def held_versions_of(self, request: GetDeliverableVersions) -> DeliverableVersions:
        self.asked.set()
        await self.release.wait()
        return await self.versions_of(request)


def workflow_worker(client: Client, prefix: str) -> Worker:
    return Worker(client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[EngagementWorkflow])


def activity_workers(client: Client, prefix: str, records: HeldRecords) -> list[Worker]:
    offered: dict[str, list[Callable[..., Any]]] = {
        task_queues.STRATEGY: [records.record, records.held_versions_of, records.approved],
        task_queues.PUBLISHER: [records.withdraw_posts],
        task_queues.LISTENING: [records.start_listening, records.stop_listening],
    }
    return [
        Worker(client, task_queue=prefix + queue, activities=activities)
        for queue, activities in offered.items()
    ]


async def test_a_cancel_arriving_with_an_activity_result_still_compensates(
    temporal_env: WorkflowEnvironment,
) -> None:
    client = temporal_env.client
    records = HeldRecords()
    prefix = f"race{uuid.uuid4().hex[:8]}-"
    engagement = engagement_input().model_copy(update={"task_queue_prefix": prefix})
    activities = activity_workers(client, prefix, records)
    for worker in activities:
        asyncio.create_task(worker.run())  # noqa: RUF006 - shut down below
    try:
        async with workflow_worker(client, prefix):
            handle = await client.start_workflow(
                EngagementWorkflow.run,
                engagement,
                id=f"engagement-{engagement.engagement_id}",
                task_queue=prefix + task_queues.WORKFLOWS,
            )
            await asyncio.wait_for(records.asked.wait(), 30)
        # No workflow worker: the read's result waits in a workflow task, and the cancel joins it.
        records.release.set()
        cancel = asyncio.create_task(
            handle.execute_update(
                CANCEL_UPDATE,
                ControlRequest(actor=manager(), reason="Contract ended early"),
                result_type=ControlOutcome,
            )
        )
        await asyncio.sleep(1.0)
        assert not cancel.done()

        async with workflow_worker(client, prefix):
            outcome = await asyncio.wait_for(cancel, 60)
            state = await asyncio.wait_for(handle.result(), 30)
        history = await handle.fetch_history()
    finally:
        for worker in activities:
            await worker.shutdown()

    assert outcome.status is EngagementStatus.CANCELLED
    assert state.status is EngagementStatus.CANCELLED
    assert [w.reason for w in records.withdrawals] == ["Contract ended early"]
    assert [s.reason for s in records.listening_stops] == ["Contract ended early"]
    assert len(records.events("engagement_cancelled")) == 1
    replayed = await replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
    _save_history("engagement-cancel-overtaken-by-activity", history.to_json())

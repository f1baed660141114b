"""A test-only workflow that runs one named activity on a service's task queue through Temporal.

Lets tests prove that a capability works as an activity on its service's real worker, with the
same payload conversion a lifecycle workflow would use.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy


class ActivityCall(BaseModel):
    activity: str
    task_queue: str
    argument: dict[str, Any]


@workflow.defn(name="TestActivityProbe")
class ActivityProbeWorkflow:
    @workflow.run
    async def run(self, call: ActivityCall) -> Any:
        return await workflow.execute_activity(
            call.activity,
            call.argument,
            task_queue=call.task_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def run_activity(
    client: Client, workflows_queue: str, task_queue: str, activity: str, argument: BaseModel
) -> Any:
    """Run ``activity`` on ``task_queue``; returns its result as JSON-like data."""
    return await client.execute_workflow(
        ActivityProbeWorkflow.run,
        ActivityCall(
            activity=activity, task_queue=task_queue, argument=argument.model_dump(mode="json")
        ),
        id=f"probe-{uuid.uuid4()}",
        task_queue=workflows_queue,
    )

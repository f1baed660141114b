"""The lifecycle's calls to the services' activities: on the engagement's task queues, retried
with backoff, and stopping a lifecycle that is being cancelled at the result it was waiting for.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import ActivityError, CancelledError, ChildWorkflowError

from shared import task_queues
from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT
from workflows.engagement.patches import STOP_CANCELLED_LIFECYCLE_PATCH

Result = TypeVar("Result", bound=BaseModel)


class ServiceCalls:
    def __init__(self, task_queue_prefix: str) -> None:
        self._task_queue_prefix = task_queue_prefix
        # The lifecycle task while it is being cancelled.
        self.stopping: asyncio.Task[None] | None = None

    def queue(self, name: str) -> str:
        """The engagement's own copy of a task queue (tests and benchmarks prefix them)."""
        return self._task_queue_prefix + name

    async def strategy(self, name: str, argument: BaseModel, result: type[Result]) -> Result:
        return await self.activity(task_queues.STRATEGY, name, argument, result)

    async def content(self, name: str, argument: BaseModel, result: type[Result]) -> Result:
        return await self.activity(task_queues.CONTENT, name, argument, result)

    async def activity(
        self,
        queue: str,
        name: str,
        argument: BaseModel,
        result: type[Result],
        priority: Priority = Priority.default,
    ) -> Result:
        outcome: Result = await workflow.execute_activity(
            name,
            argument,
            result_type=result,
            task_queue=self.queue(queue),
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
            priority=priority,
        )
        self.stop_if_cancelled()
        return outcome

    def stop_if_cancelled(self) -> None:
        """Stop the lifecycle at its next step once it is being cancelled. Temporal lets an
        activity's result win over a cancellation that reaches the workflow in the same task, so
        the cancelled lifecycle would go on and wait (for an approval, say) for ever while the
        compensation waits for it to stop."""
        if (
            self.stopping is not None
            and asyncio.current_task() is self.stopping
            and workflow.patched(STOP_CANCELLED_LIFECYCLE_PATCH)
        ):
            raise asyncio.CancelledError


def cancelled(error: ActivityError | ChildWorkflowError) -> bool:
    return isinstance(error.cause, CancelledError)

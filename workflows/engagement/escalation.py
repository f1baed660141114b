"""Open tasks and their deadlines: each open task is watched by a durable timer, and one still
open past its due date is escalated to the manager."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow

from services.strategy.contracts import LifecycleStep
from workflows.engagement import facts
from workflows.engagement.messages import EngagementState, Task, TaskStatus
from workflows.engagement.phases import ESCALATION_ROLE
from workflows.engagement.recording import Recorder


def open_tasks(state: EngagementState) -> list[Task]:
    return [task for task in state.tasks if task.status is TaskStatus.OPEN]


class TaskDeadlines:
    def __init__(self, state: EngagementState, recorder: Recorder) -> None:
        self._state = state
        self._recorder = recorder
        self._watchers: list[asyncio.Task[None]] = []

    async def open(self, tasks: list[Task], steps: list[LifecycleStep]) -> None:
        """Show the tasks with their phase at once; their events follow durably."""
        now = workflow.now()
        self._state.tasks.extend(tasks)
        for task in tasks:
            self.watch(task)
        await self._recorder.record([*steps, *(facts.task_created(task, now) for task in tasks)])

    def watch(self, task: Task) -> None:
        self._watchers.append(asyncio.create_task(self._escalate_when_overdue(task)))

    def stop_watching(self) -> None:
        for watcher in self._watchers:
            watcher.cancel()

    async def _escalate_when_overdue(self, task: Task) -> None:
        if task.overdue:
            return
        remaining = task.due_at - workflow.now()
        if remaining > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: task.status is not TaskStatus.OPEN, timeout=remaining
                )
        if task.status is not TaskStatus.OPEN:
            return
        task.escalated_to = ESCALATION_ROLE
        await self._recorder.record_now(
            [facts.task_overdue(task, self._state.phase, workflow.now())]
        )
        task.overdue = True

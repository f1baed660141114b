"""Compensation when an engagement is cancelled (by a manager or through Temporal): the
lifecycle is stopped, its gates and tasks closed, its waiting posts withdrawn, its listening
queries stopped, and the compensation is recorded with a final report."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from services.publisher.contracts import (
    WITHDRAW_ENGAGEMENT_POSTS,
    EngagementPostsWithdrawn,
    WithdrawEngagementPosts,
)
from shared import task_queues
from workflows.engagement import facts
from workflows.engagement.escalation import open_tasks
from workflows.engagement.listening import stop_listening
from workflows.engagement.messages import (
    Actor,
    ControlRequest,
    DeliverableRecord,
    EngagementStatus,
    TaskStatus,
)
from workflows.engagement.part import LifecyclePart
from workflows.engagement.patches import STOP_LISTENING_ON_CANCEL_PATCH, WITHDRAW_POSTS_PATCH
from workflows.engagement.service_calls import cancelled

TEMPORAL_CANCELLATION = ControlRequest(
    actor=Actor(subject="temporal", roles=[]), reason="cancelled through Temporal"
)


async def until_stopped(lifecycle: asyncio.Task[None]) -> None:
    """Wait for the cancelled lifecycle; an activity or child workflow it was running ends as a
    cancelled ``ActivityError`` or ``ChildWorkflowError``, which is the expected outcome here,
    not a failure of the engagement."""
    try:
        await lifecycle
    except asyncio.CancelledError:
        return
    except (ActivityError, ChildWorkflowError) as error:
        if not cancelled(error):
            raise


class Compensation(LifecyclePart):
    async def run(self, request: ControlRequest) -> None:
        """Compensate once the lifecycle has stopped and its task deadlines are no longer
        watched."""
        self._state.pending_approvals = []
        closed = open_tasks(self._state)
        for task in closed:
            task.status = TaskStatus.CANCELLED
        recorder = self._recorder
        if workflow.patched(WITHDRAW_POSTS_PATCH):
            withdrawal = await self._withdraw_posts(request)
        else:
            withdrawal = recorder.deliverable("scheduled_posts_withdrawal", {"status": "requested"})
        if workflow.patched(STOP_LISTENING_ON_CANCEL_PATCH):
            listening = await stop_listening(
                self._engagement, self._calls, recorder, request.reason, request.actor.subject
            )
        else:
            listening = recorder.deliverable("listening_stop", {"status": "requested"})
        records = [
            withdrawal,
            listening,
            recorder.deliverable("final_report", self._final_report(request.reason)),
        ]
        steps = [
            recorder.deliverable_step(record, f"cancel/deliverable/{record.name}")
            for record in records
        ]
        steps.append(
            facts.engagement_cancelled(
                self._state.phase,
                request.reason,
                [task.id for task in closed],
                request.actor.subject,
                workflow.now(),
            )
        )
        await recorder.record(steps)
        self._state.status = EngagementStatus.CANCELLED
        self._state.next_cycle_at = None

    async def _withdraw_posts(self, request: ControlRequest) -> DeliverableRecord:
        withdrawn = await self._calls.activity(
            task_queues.PUBLISHER,
            WITHDRAW_ENGAGEMENT_POSTS,
            WithdrawEngagementPosts(
                engagement_id=self._engagement.engagement_id,
                reason=request.reason,
                cancelled_by=request.actor.subject,
            ),
            EngagementPostsWithdrawn,
        )
        return self._recorder.deliverable(
            "scheduled_posts_withdrawal", {"status": "done", **withdrawn.model_dump()}
        )

    def _final_report(self, reason: str) -> dict[str, Any]:
        calendar = self._state.post_launch
        return {
            "reason": reason,
            "phase_reached": self._state.phase.value,
            "post_launch_cycles": calendar.cycles_done if calendar else 0,
            "deliverables": len(self._state.deliverables),
            "decisions": len(self._state.decisions),
            "tasks_completed": sum(t.status is TaskStatus.COMPLETED for t in self._state.tasks),
        }

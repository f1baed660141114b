"""``ConversationSlaWorkflow`` (``conversation-sla-<id>``): a conversation's first-response SLA
on durable timers, never polling.

It sleeps until the conversation is due soon (``conversations.sla_due_soon``), then until it is
due (``conversations.sla_breached``: flagged, a task for the assignee), then until the breach's
task escalates to the manager (``conversations.sla_escalated``). The ``first_response`` signal
ends it at whichever wait it is in. Each step reads the stored conversation first, so a
conversation answered, closed or ignored whose signal was lost is never flagged: the step says
it is settled and the workflow ends. The times are computed in business hours when the
conversation opens (``conversations.business_hours``) and travel in the input."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.listening.contracts import (
        FIRST_RESPONSE_SIGNAL,
        SLA_BREACHED,
        SLA_DUE_SOON,
        SLA_ESCALATED,
        SLA_WORKFLOW,
        ConversationSlaInput,
        FirstResponse,
        SlaStanding,
        SlaStep,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY, SERVICE_ACTIVITY_TIMEOUT


@workflow.defn(name=SLA_WORKFLOW)
class ConversationSlaWorkflow:
    def __init__(self) -> None:
        self._answered_at: datetime | None = None

    @workflow.run
    async def run(self, request: ConversationSlaInput) -> SlaStanding:
        listening = request.task_queue_prefix + task_queues.LISTENING
        step = SlaStep(conversation_id=request.conversation_id)
        standing = SlaStanding(conversation_id=request.conversation_id, settled=False)
        for until, activity in (
            (request.due_soon_at, SLA_DUE_SOON),
            (request.due_at, SLA_BREACHED),
            (request.escalate_at, SLA_ESCALATED),
        ):
            if await self._answered_before(until):
                return standing.model_copy(update={"settled": True})
            standing = await self._step(activity, step, listening)
            if standing.settled:
                return standing
        return standing

    async def _step(self, activity: str, step: SlaStep, listening: str) -> SlaStanding:
        standing: SlaStanding = await workflow.execute_activity(
            activity,
            step,
            result_type=SlaStanding,
            task_queue=listening,
            start_to_close_timeout=SERVICE_ACTIVITY_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return standing

    @workflow.signal(name=FIRST_RESPONSE_SIGNAL)
    def first_response(self, answered: FirstResponse) -> None:
        if self._answered_at is None:
            self._answered_at = answered.at

    async def _answered_before(self, until: datetime) -> bool:
        wait = until - workflow.now()
        if wait > timedelta():
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._answered_at is not None, timeout=wait)
        return self._answered_at is not None

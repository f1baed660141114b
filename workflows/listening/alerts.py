"""Listening alerts on Temporal.

``ListeningAlerts``: one round of evaluation, started by a Temporal Schedule that the listening
worker keeps in place (``services/listening/worker.py``). It evaluates every engagement with
active rules (spikes on the last complete hour, keywords on a sliding window), each in its own
activity (one engagement failing never holds up another), and starts a ``CrisisEscalation`` for
every recent alert still open.

``CrisisEscalation`` (``crisis-<alert id>``): the alert was raised with the analysts (editors)
responsible; while nobody acknowledges it, durable timers make the manager, then the admin,
responsible, each step announced by listening's ``alert_escalated`` event (the notifications
consume it). An ``acknowledge`` signal stops the escalation; ``resolve`` ends the workflow. The
listening API stores both before it signals, and each step reads the stored alert first, so a
lost signal only delays the workflow, never escalates an alert someone took."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from services.listening.alerts.contracts import (
        ACKNOWLEDGE_SIGNAL,
        ALERT_ENGAGEMENTS,
        ALERT_ESCALATION_STEP,
        ALERTS_WORKFLOW,
        CRISIS_STATE_QUERY,
        CRISIS_WORKFLOW,
        ESCALATION_LADDER,
        EVALUATE_ALERTS,
        RESOLVE_SIGNAL,
        AlertAcknowledged,
        AlertEngagements,
        AlertEscalationStep,
        AlertResolved,
        AlertsEvaluated,
        AlertsInput,
        AlertsRound,
        AlertStanding,
        CrisisEscalationInput,
        CrisisState,
        EngagementsWithRules,
        EvaluateAlerts,
        OpenAlert,
        crisis_workflow_id,
    )
    from shared import task_queues
    from workflows.activity_policy import SERVICE_ACTIVITY_RETRY

# An evaluation that keeps failing is tried again by the next round, within minutes.
EVALUATE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=3)
EVALUATE_TIMEOUT = timedelta(minutes=2)
STEP_TIMEOUT = timedelta(seconds=30)
# An acknowledged alert whose ``resolve`` signal was lost is found resolved by this check.
RESOLUTION_CHECK = timedelta(days=1)


@workflow.defn(name=ALERTS_WORKFLOW)
class ListeningAlertsWorkflow:
    @workflow.run
    async def run(self, request: AlertsInput) -> AlertsRound:
        listening = request.task_queue_prefix + task_queues.LISTENING
        window_end = workflow.now().replace(minute=0, second=0, microsecond=0)
        found: EngagementsWithRules = await workflow.execute_activity(
            ALERT_ENGAGEMENTS,
            AlertEngagements(limit=request.limit),
            result_type=EngagementsWithRules,
            task_queue=listening,
            start_to_close_timeout=EVALUATE_TIMEOUT,
            retry_policy=EVALUATE_RETRY,
        )
        evaluated = await asyncio.gather(
            *(
                self._evaluate(
                    listening, EvaluateAlerts(engagement_id=engagement, window_end=window_end)
                )
                for engagement in found.engagement_ids
            )
        )
        failed = [
            engagement
            for engagement, result in zip(found.engagement_ids, evaluated, strict=True)
            if result is None
        ]
        results = [result for result in evaluated if result is not None]
        started = await asyncio.gather(
            *(self._escalate(alert, request) for result in results for alert in result.open)
        )
        return AlertsRound(
            engagements=len(found.engagement_ids),
            raised=sum(result.raised for result in results),
            escalations_started=sum(started),
            failed_engagements=failed,
        )

    async def _evaluate(self, listening: str, request: EvaluateAlerts) -> AlertsEvaluated | None:
        try:
            result: AlertsEvaluated = await workflow.execute_activity(
                EVALUATE_ALERTS,
                request,
                result_type=AlertsEvaluated,
                task_queue=listening,
                start_to_close_timeout=EVALUATE_TIMEOUT,
                retry_policy=EVALUATE_RETRY,
            )
        except ActivityError:
            workflow.logger.exception("evaluating alerts of %s failed", request.engagement_id)
            return None
        return result

    async def _escalate(self, alert: OpenAlert, request: AlertsInput) -> bool:
        """Start the alert's escalation, unless a round started it before."""
        try:
            await workflow.start_child_workflow(
                CRISIS_WORKFLOW,
                CrisisEscalationInput(
                    alert_id=alert.alert_id,
                    organization_id=alert.organization_id,
                    engagement_id=alert.engagement_id,
                    task_queue_prefix=request.task_queue_prefix,
                    escalate_after=request.escalate_after,
                ),
                id=crisis_workflow_id(alert.alert_id),
                task_queue=workflow.info().task_queue,
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True


@workflow.defn(name=CRISIS_WORKFLOW)
class CrisisEscalationWorkflow:
    def __init__(self) -> None:
        self._state = CrisisState()

    @workflow.run
    async def run(self, request: CrisisEscalationInput) -> CrisisState:
        listening = request.task_queue_prefix + task_queues.LISTENING
        for level in range(1, len(ESCALATION_LADDER)):
            if await self._answered_within(request.escalate_after, self._taken):
                break
            self._adopt(
                await self._step(
                    listening,
                    AlertEscalationStep(
                        alert_id=request.alert_id, level=level, role=ESCALATION_LADDER[level]
                    ),
                )
            )
        while not self._resolved():
            if await self._answered_within(RESOLUTION_CHECK, self._resolved):
                break
            self._adopt(await self._step(listening, AlertEscalationStep(alert_id=request.alert_id)))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    @workflow.signal(name=ACKNOWLEDGE_SIGNAL)
    def acknowledge(self, signal: AlertAcknowledged) -> None:
        if self._state.status == "open":
            self._state.status = "acknowledged"
            self._state.acknowledged_by = signal.by

    @workflow.signal(name=RESOLVE_SIGNAL)
    def resolve(self, signal: AlertResolved) -> None:
        if self._state.acknowledged_by is None:
            self._state.acknowledged_by = signal.by
        self._state.status = "resolved"
        self._state.resolved_by = signal.by

    @workflow.query(name=CRISIS_STATE_QUERY)
    def state(self) -> CrisisState:
        return self._state

    def _taken(self) -> bool:
        return self._state.status != "open"

    def _resolved(self) -> bool:
        return self._state.status == "resolved"

    async def _answered_within(self, wait: timedelta, answered: Callable[[], bool]) -> bool:
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(answered, timeout=wait)
        return answered()

    def _adopt(self, standing: AlertStanding) -> None:
        """What the database says wins over what the workflow heard."""
        if standing.status != "open" and self._state.status == "open":
            self._state.status = standing.status
        if standing.status == "resolved":
            self._state.status = "resolved"
        self._state.responsible_role = standing.responsible_role
        self._state.escalation_level = standing.escalation_level

    async def _step(self, listening: str, step: AlertEscalationStep) -> AlertStanding:
        standing: AlertStanding = await workflow.execute_activity(
            ALERT_ESCALATION_STEP,
            step,
            result_type=AlertStanding,
            task_queue=listening,
            start_to_close_timeout=STEP_TIMEOUT,
            retry_policy=SERVICE_ACTIVITY_RETRY,
        )
        return standing

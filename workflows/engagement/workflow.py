"""``EngagementWorkflow``: one client engagement, from the first analysis to the contract's end.

The six phases run in order. Each opens with its human tasks (owned as the intervention mode
says), records its deliverables by reference and waits at its gate, an update whose validator
refuses a wrong role, organisation, phase or a rejection without reason before anything enters
history; a rejection sends the phase back for rework. Post-launch runs one support cycle per
week until ``ends_on`` and continues as new every few cycles, carrying one state object.
The publisher is asked which channels are connected (setup), publishes the approved plan
(``PublishPlanWorkflow``, started from seeding, launch and every support cycle), collects the
engagement's metrics and gives each cycle's report its figures (``PeriodicReportWorkflow``); a
post that fails for good is signalled back (``publication_failed``) and becomes a task.
Every fact goes through the strategy service (``strategy.record_lifecycle_events``) with a key
that makes it a timeline entry and an ``engage.lifecycle.*`` event exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import Counter
from datetime import date, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ValidationError

    from services.content.plan.contracts import (
        GENERATE_PLAN,
        GET_PLAN,
        GeneratePlan,
        GetPlan,
        PlanGenerationResult,
        PlanSnapshot,
    )
    from services.listening.contracts import (
        STOP_ENGAGEMENT_QUERIES,
        EngagementQueriesStopped,
        StopEngagementQueries,
    )
    from services.publisher.contracts import (
        COLLECT_METRICS,
        ENGAGEMENT_CONNECTIONS,
        WITHDRAW_ENGAGEMENT_POSTS,
        CollectMetricsCommand,
        EngagementConnections,
        EngagementConnectionsQuery,
        EngagementPostsWithdrawn,
        MetricsCollected,
        WithdrawEngagementPosts,
    )
    from services.strategy.contracts import (
        GET_APPROVED_DELIVERABLE,
        GET_DELIVERABLE_VERSIONS,
        RECORD_LIFECYCLE_EVENTS,
        ApprovedDeliverable,
        DeliverableKind,
        DeliverableVersions,
        GetApprovedDeliverable,
        GetDeliverableVersions,
        LifecycleEventName,
        LifecycleEventsRecorded,
        LifecycleStep,
        RecordLifecycleEvents,
    )
    from shared import task_queues
    from shared.domain import Phase
    from shared.editorial import EditorialRules
    from workflows.engagement import facts
    from workflows.engagement.messages import (
        APPROVE_UPDATE,
        CANCEL_UPDATE,
        COMPLETE_TASK_UPDATE,
        PAUSE_UPDATE,
        PUBLICATION_FAILED_SIGNAL,
        REQUEST_INTERVENTION_UPDATE,
        RESUME_UPDATE,
        STATE_QUERY,
        WORKFLOW_NAME,
        Actor,
        ApprovalDecision,
        ApprovalOutcome,
        ApprovalRequest,
        ControlDone,
        ControlOutcome,
        ControlRequest,
        Decision,
        DeliverableRecord,
        EngagementInput,
        EngagementState,
        EngagementStatus,
        Gate,
        Intervention,
        InterventionRequest,
        PendingApproval,
        PostLaunchCalendar,
        PublicationFailure,
        Task,
        TaskCompletion,
        TaskStatus,
        workflow_id,
    )
    from workflows.engagement.phases import (
        ESCALATION_ROLE,
        GATE_AFTER,
        GATE_APPROVERS,
        PHASES,
        STRATEGY_DELIVERABLES,
        hold,
    )
    from workflows.engagement.tasks import (
        intervention_tasks,
        phase_tasks,
        publication_failure_task,
        rework_task,
    )
    from workflows.engagement.validators import (
        CONFLICT,
        ControlAction,
        check_approval,
        check_control,
        check_intervention,
        check_task_completion,
        refuse,
    )
    from workflows.publishing.plan_messages import (
        PLAN_WORKFLOW_NAME,
        PlanPublishingState,
        PublishPlanInput,
        plan_workflow_id,
    )
    from workflows.reporting.messages import (
        REPORT_WORKFLOW_NAME,
        PeriodicReportInput,
        PeriodicReportSummary,
        report_workflow_id,
    )

ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1)
)
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# A plan covers at most 366 days (services/content/plan/schemas.py).
PLAN_DAYS = 365
# Cancelled runs recorded before the publisher withdrew posts only recorded the request.
WITHDRAW_POSTS_PATCH = "withdraw-posts-on-cancel"
# Runs cancelled before the listening service stopped queries only recorded the request, and
# runs completed before then left their queries alone.
STOP_LISTENING_ON_CANCEL_PATCH = "stop-listening-on-cancel"
# Runs recorded before the lifecycle stopped after an activity result that overtook its
# cancellation replay without that stop.
STOP_CANCELLED_LIFECYCLE_PATCH = "stop-cancelled-lifecycle-after-activity"
STOP_LISTENING_ON_COMPLETION_PATCH = "stop-listening-on-completion"
# Runs recorded before the lifecycle worked through the publisher (connections checked at setup,
# the plan published from seeding on, cycles collecting metrics and reporting through a child
# workflow) replay without those steps.
PUBLISHER_STEPS_PATCH = "lifecycle-publishes-through-publisher"
# A step a person took (an approval, a completed task, a pause) is recorded ahead of the work
# queued on the strategy service: that person waits to see what follows. Runs recorded before
# replay with every step at the default priority.
HUMAN_STEPS_FIRST_PATCH = "human-steps-recorded-first"
HUMAN_STEP_PRIORITY = Priority(priority_key=1)
# Phases whose start (re)publishes the approved plan; post-launch does so every cycle.
PUBLISHING_PHASES = (Phase.SEEDING, Phase.LAUNCH)
# Failed posts the state shows (the most recent); the total counts them all.
FAILURES_KEPT = 20
TEMPORAL_CANCELLATION = ControlRequest(
    actor=Actor(subject="temporal", roles=[]), reason="cancelled through Temporal"
)

Result = TypeVar("Result", bound=BaseModel)


@workflow.defn(name=WORKFLOW_NAME)
class EngagementWorkflow:
    @workflow.init
    def __init__(self, engagement: EngagementInput) -> None:
        self._engagement = engagement
        self._timing = engagement.timing
        self._state = engagement.carried_state or EngagementState(
            status=EngagementStatus.RUNNING, phase=Phase.ANALYSIS
        )
        # Steps of a finished phase, recorded together with the next phase's start.
        self._buffered: list[LifecycleStep] = []
        self._cancellation: ControlRequest | None = None
        # The lifecycle task while it is being cancelled.
        self._stopping: asyncio.Task[None] | None = None
        self._watchers: list[asyncio.Task[None]] = []

    @workflow.run
    async def run(self, engagement: EngagementInput) -> EngagementState:
        lifecycle = asyncio.create_task(self._lifecycle())
        try:
            await workflow.wait_condition(
                lambda: lifecycle.done() or self._cancellation is not None
            )
        except asyncio.CancelledError:
            self._cancellation = TEMPORAL_CANCELLATION
        if self._cancellation is None:
            await lifecycle
        else:
            self._stopping = lifecycle
            lifecycle.cancel()
            await _stopped(lifecycle)
            await self._compensate(self._cancellation)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._state

    @workflow.query(name=STATE_QUERY)
    def state(self) -> EngagementState:
        return self._state

    # --- the lifecycle -------------------------------------------------------------------------

    async def _lifecycle(self) -> None:
        if self._engagement.carried_state is None:
            for phase in PHASES[:-1]:
                await self._run_phase(phase)
            await self._start_post_launch()
        else:
            for task in self._open_tasks():
                self._watch(task)
        await self._post_launch()
        await self._complete()

    async def _run_phase(self, phase: Phase) -> None:
        await self._start_phase(phase, revision=0)
        gate = GATE_AFTER.get(phase)
        while True:
            records, missing = await self._phase_work(phase)
            await self._sleep(hold(phase, self._timing))
            steps = [self._deliverable_step(record) for record in records]
            if gate is None:
                self._buffered.extend(steps)
                break
            decision = await self._ask(gate, steps, missing)
            if decision.decision is Decision.APPROVE:
                self._buffered.append(facts.approval_decided(decision))
                break
            await self._rework(phase, decision)
        self._buffered.append(facts.phase_completed(phase, self._state.revision, workflow.now()))

    async def _start_phase(self, phase: Phase, revision: int) -> None:
        await self._unpaused()
        now = workflow.now()
        self._state.phase, self._state.revision = phase, revision
        tasks = phase_tasks(
            phase,
            revision,
            self._engagement.mode,
            now,
            self._timing.real(self._timing.task_due_days),
        )
        steps = [facts.engagement_started(self._engagement, now)] if phase is PHASES[0] else []
        steps.append(facts.phase_started(phase, revision, now))
        steps += [self._deliverable_step(record) for record in self._opening_deliverables(phase)]
        await self._open_tasks_with(tasks, steps)

    async def _rework(self, phase: Phase, rejection: ApprovalDecision) -> None:
        revision = self._state.revision + 1
        now = workflow.now()
        self._state.revision = revision
        task = rework_task(
            phase,
            revision,
            self._engagement.mode,
            rejection.reason,
            now,
            self._timing.real(self._timing.task_due_days),
        )
        steps = [facts.approval_decided(rejection), facts.phase_started(phase, revision, now)]
        await self._open_tasks_with([task], steps)

    async def _ask(
        self, gate: Gate, steps: list[LifecycleStep], missing: list[str]
    ) -> ApprovalDecision:
        pending = PendingApproval(
            gate=gate,
            phase=self._state.phase,
            revision=self._state.revision,
            approver_roles=sorted(GATE_APPROVERS[gate]),
            requested_at=workflow.now(),
            missing_deliverables=missing,
        )
        await self._unpaused()
        # Waiting before the event goes out: a client answering the event must find the gate open.
        self._state.pending_approvals.append(pending)
        await self._record([*steps, facts.approval_requested(pending)])
        await workflow.wait_condition(
            lambda: all(waiting is not pending for waiting in self._state.pending_approvals)
        )
        return self._state.decisions[-1]

    async def _start_post_launch(self) -> None:
        today = workflow.now().date()
        starts_on = min(max(self._engagement.starts_on, today), self._engagement.ends_on)
        days = (self._engagement.ends_on - starts_on).days + 1
        self._state.post_launch = PostLaunchCalendar(
            started_at=workflow.now(),
            starts_on=starts_on,
            cycles_total=max(1, math.ceil(days / self._timing.cycle_days)),
        )
        await self._start_phase(Phase.POST_LAUNCH, revision=0)

    async def _post_launch(self) -> None:
        calendar = self._state.post_launch
        assert calendar is not None
        cycles_this_run = 0
        while calendar.cycles_done < calendar.cycles_total:
            if (
                cycles_this_run >= self._timing.cycles_per_run
                or workflow.info().is_continue_as_new_suggested()
            ):
                await self._continue_as_new()
            cycle_length = self._timing.real(self._timing.cycle_days)
            ends_at = calendar.started_at + cycle_length * (calendar.cycles_done + 1)
            self._state.next_cycle_at = ends_at
            await self._sleep(ends_at - workflow.now())
            await self._unpaused()
            await self._run_cycle(calendar)
            calendar.cycles_done += 1
            cycles_this_run += 1
        self._state.next_cycle_at = None

    async def _run_cycle(self, calendar: PostLaunchCalendar) -> None:
        """Close one support period: publish what the plan has new, collect the engagement's
        metrics, and record the period's report (``PeriodicReportWorkflow``)."""
        cycle = calendar.cycles_done
        period_start = calendar.starts_on + timedelta(days=cycle * self._timing.cycle_days)
        period_end = min(
            period_start + timedelta(days=self._timing.cycle_days - 1), self._engagement.ends_on
        )
        period_end = max(period_end, period_start)
        key = f"post_launch/cycle/{cycle + 1}/deliverable"
        if not workflow.patched(PUBLISHER_STEPS_PATCH):
            report = self._deliverable(
                "periodic_report",
                {
                    "cycle": cycle + 1,
                    "period_start": period_start.isoformat(),
                    "period_end": period_end.isoformat(),
                },
            )
            await self._record([self._deliverable_step(report, f"{key}/periodic_report")])
            return
        published = await self._publish_plan()
        plan = self._deliverable("plan_publishing", {"cycle": cycle + 1, **published})
        engagement = self._engagement
        collected = await self._activity(
            task_queues.PUBLISHER,
            COLLECT_METRICS,
            CollectMetricsCommand(
                organization_id=engagement.organization_id,
                engagement_id=engagement.engagement_id,
                collection_key=f"{workflow_id(engagement.engagement_id)}/cycle/{cycle + 1}",
            ),
            MetricsCollected,
        )
        cycle_length = self._timing.real(self._timing.cycle_days)
        window_start = calendar.started_at + cycle_length * cycle
        summary = await self._periodic_report(
            PeriodicReportInput(
                engagement_id=engagement.engagement_id,
                organization_id=engagement.organization_id,
                cycle=cycle + 1,
                period_start=period_start,
                period_end=period_end,
                window_start=window_start,
                window_end=window_start + cycle_length,
                metrics_as_of=collected.collected_at,
                task_queue_prefix=engagement.task_queue_prefix,
            )
        )
        report = self._deliverable("periodic_report", summary.model_dump(mode="json"))
        await self._record(
            [
                self._deliverable_step(plan, f"{key}/plan_publishing"),
                self._deliverable_step(report, f"{key}/periodic_report"),
            ]
        )

    async def _periodic_report(self, request: PeriodicReportInput) -> PeriodicReportSummary:
        """The report is a child workflow: the reporting service's document goes there."""
        summary: PeriodicReportSummary = await workflow.execute_child_workflow(
            REPORT_WORKFLOW_NAME,
            request,
            id=report_workflow_id(request.engagement_id, request.cycle),
            task_queue=self._engagement.task_queue_prefix + task_queues.WORKFLOWS,
            result_type=PeriodicReportSummary,
        )
        self._stop_if_cancelled()
        return summary

    async def _continue_as_new(self) -> None:
        await self._flush()
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._engagement.model_copy(update={"carried_state": self._state}))

    async def _complete(self) -> None:
        """The contract is over: its listening stops, and the engagement ends completed."""
        calendar = self._state.post_launch
        cycles = calendar.cycles_done if calendar else 0
        steps: list[LifecycleStep] = []
        if workflow.patched(STOP_LISTENING_ON_COMPLETION_PATCH):
            stopped = await self._stop_listening(
                "the engagement's contract ended", workflow_id(self._engagement.engagement_id)
            )
            steps.append(self._deliverable_step(stopped, "complete/deliverable/listening_stop"))
        now = workflow.now()
        await self._record(
            [
                *steps,
                facts.phase_completed(Phase.POST_LAUNCH, self._state.revision, now),
                facts.engagement_completed(cycles, now),
            ]
        )
        self._state.status = EngagementStatus.COMPLETED

    async def _compensate(self, request: ControlRequest) -> None:
        """Cancelled: stop what runs, withdraw the waiting posts, stop the listening queries,
        record the compensation and a final report."""
        for watcher in self._watchers:
            watcher.cancel()
        self._state.pending_approvals = []
        cancelled = self._open_tasks()
        for task in cancelled:
            task.status = TaskStatus.CANCELLED
        if workflow.patched(WITHDRAW_POSTS_PATCH):
            withdrawal = await self._withdraw_posts(request)
        else:
            withdrawal = self._deliverable("scheduled_posts_withdrawal", {"status": "requested"})
        if workflow.patched(STOP_LISTENING_ON_CANCEL_PATCH):
            listening = await self._stop_listening(request.reason, request.actor.subject)
        else:
            listening = self._deliverable("listening_stop", {"status": "requested"})
        records = [
            withdrawal,
            listening,
            self._deliverable("final_report", self._final_report(request.reason)),
        ]
        steps = [
            self._deliverable_step(record, f"cancel/deliverable/{record.name}")
            for record in records
        ]
        steps.append(
            facts.engagement_cancelled(
                self._state.phase,
                request.reason,
                [task.id for task in cancelled],
                request.actor.subject,
                workflow.now(),
            )
        )
        await self._record(steps)
        self._state.status = EngagementStatus.CANCELLED
        self._state.next_cycle_at = None

    async def _withdraw_posts(self, request: ControlRequest) -> DeliverableRecord:
        withdrawn = await self._activity(
            task_queues.PUBLISHER,
            WITHDRAW_ENGAGEMENT_POSTS,
            WithdrawEngagementPosts(
                engagement_id=self._engagement.engagement_id,
                reason=request.reason,
                cancelled_by=request.actor.subject,
            ),
            EngagementPostsWithdrawn,
        )
        return self._deliverable(
            "scheduled_posts_withdrawal", {"status": "done", **withdrawn.model_dump()}
        )

    async def _stop_listening(self, reason: str, stopped_by: str) -> DeliverableRecord:
        stopped = await self._activity(
            task_queues.LISTENING,
            STOP_ENGAGEMENT_QUERIES,
            StopEngagementQueries(
                engagement_id=self._engagement.engagement_id,
                organization_id=self._engagement.organization_id,
                reason=reason,
                stopped_by=stopped_by,
            ),
            EngagementQueriesStopped,
        )
        return self._deliverable("listening_stop", {"status": "done", **stopped.model_dump()})

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

    # --- phase work -----------------------------------------------------------------------------

    async def _phase_work(self, phase: Phase) -> tuple[list[DeliverableRecord], list[str]]:
        """The deliverables a phase records at its gate, and the expected ones not found."""
        if phase in STRATEGY_DELIVERABLES:
            return await self._strategy_deliverables(phase)
        if phase is Phase.SETUP:
            connections, unconnected = await self._channel_connections()
            plan = await self._editorial_plan()
            if plan is None:
                return [connections], [*unconnected, "editorial_plan"]
            return [connections, self._deliverable("editorial_plan", plan)], unconnected
        if phase in PUBLISHING_PHASES and workflow.patched(PUBLISHER_STEPS_PATCH):
            # Recorded at once, not at the phase's end: the posts are being scheduled now.
            plan_publishing = self._deliverable("plan_publishing", await self._publish_plan())
            await self._record([self._deliverable_step(plan_publishing)])
        return [], []

    async def _channel_connections(self) -> tuple[DeliverableRecord, list[str]]:
        """The channels' connections as the publisher has them; those without an active one
        are listed for the editorial-plan gate (approving it anyway is the manager's call)."""
        if not workflow.patched(PUBLISHER_STEPS_PATCH):
            channels = [channel.value for channel in self._engagement.channels]
            reference = {"channels": channels, "verified": False}
            return self._deliverable("channel_connections", reference), []
        found = await self._connections()
        reference = {
            "verified": True,
            "channels": [channel.model_dump(mode="json") for channel in found.channels],
        }
        unconnected = [
            f"channel_connection:{channel.channel.value}"
            for channel in found.channels
            if channel.status != "connected"
        ]
        return self._deliverable("channel_connections", reference), unconnected

    async def _connections(self) -> EngagementConnections:
        return await self._activity(
            task_queues.PUBLISHER,
            ENGAGEMENT_CONNECTIONS,
            EngagementConnectionsQuery(
                organization_id=self._engagement.organization_id,
                channels=self._engagement.channels,
            ),
            EngagementConnections,
        )

    async def _publish_plan(self) -> dict[str, Any]:
        """Schedule the approved plan's posts not scheduled yet, through the channels connected
        now: ``PublishPlanWorkflow`` as a child that outlives the engagement (each post's own
        workflow publishes it on time). One already running (started by hand) is left to it."""
        engagement = self._engagement
        connections = (await self._connections()).connected()
        if not connections:
            return {"status": "skipped", "reason": "no_connection"}
        plan_id = plan_workflow_id(engagement.engagement_id)
        try:
            handle = await workflow.start_child_workflow(
                PLAN_WORKFLOW_NAME,
                PublishPlanInput(
                    engagement_id=engagement.engagement_id,
                    organization_id=engagement.organization_id,
                    connections=connections,
                    requested_by=workflow_id(engagement.engagement_id),
                    task_queue_prefix=engagement.task_queue_prefix,
                    publish_timeout_seconds=engagement.publish_timeout_seconds,
                ),
                id=plan_id,
                task_queue=engagement.task_queue_prefix + task_queues.WORKFLOWS,
                result_type=PlanPublishingState,
                parent_close_policy=ParentClosePolicy.ABANDON,
                # A finished run of the planner makes way for the next one.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return {"status": "already_running", "workflow_id": plan_id}
        try:
            published: PlanPublishingState = await handle
        except ChildWorkflowError as error:
            if _cancelled(error):
                raise
            return {"status": "skipped", "workflow_id": plan_id, **_plan_refusal(error)}
        self._stop_if_cancelled()
        if published.status == "plan_not_approved":
            return {"status": "skipped", "reason": "plan_not_approved", "workflow_id": plan_id}
        return {
            "status": "done",
            "workflow_id": plan_id,
            "plan_generation": published.plan_generation,
            "connections": {channel.value: str(id_) for channel, id_ in connections.items()},
            "scheduled": len(published.scheduled),
            "skipped": dict(sorted(Counter(slot.reason for slot in published.skipped).items())),
        }

    def _opening_deliverables(self, phase: Phase) -> list[DeliverableRecord]:
        if phase is not Phase.LAUNCH:
            return []
        go_live = next(d for d in reversed(self._state.decisions) if d.gate is Gate.GO_LIVE)
        reference = {
            "approved_by": go_live.decided_by,
            "approved_at": go_live.decided_at.isoformat(),
            "revision": go_live.revision,
        }
        return [self._deliverable("go_live", reference)]

    async def _strategy_deliverables(
        self, phase: Phase
    ) -> tuple[list[DeliverableRecord], list[str]]:
        wanted = STRATEGY_DELIVERABLES[phase]
        found = await self._strategy(
            GET_DELIVERABLE_VERSIONS,
            GetDeliverableVersions(
                engagement_id=self._engagement.engagement_id,
                kinds=sorted({DeliverableKind(kind) for kind in wanted.values()}),
            ),
            DeliverableVersions,
        )
        latest = {ref.kind.value: ref.model_dump(mode="json") for ref in found.latest}
        records = [
            self._deliverable(name, latest[kind]) for name, kind in wanted.items() if kind in latest
        ]
        return records, [name for name, kind in wanted.items() if kind not in latest]

    async def _editorial_plan(self) -> dict[str, Any] | None:
        """Generate the plan from the approved editorial rules, or take the plan made by hand."""
        rules = await self._strategy(
            GET_APPROVED_DELIVERABLE,
            GetApprovedDeliverable(
                engagement_id=self._engagement.engagement_id,
                kind=DeliverableKind.EDITORIAL_RULES,
            ),
            ApprovedDeliverable,
        )
        with contextlib.suppress(ActivityError, ValidationError):
            if rules.approved is not None:
                generated = await self._content(
                    GENERATE_PLAN, self._plan_request(rules.approved.body), PlanGenerationResult
                )
                return {
                    "plan_id": str(generated.plan_id),
                    "generation": generated.generation,
                    "slots": generated.slots,
                    "rules_version": rules.approved.version,
                }
            plan = await self._content(
                GET_PLAN, GetPlan(engagement_id=self._engagement.engagement_id), PlanSnapshot
            )
            return {
                "plan_id": str(plan.plan_id),
                "generation": plan.generation,
                "slots": len(plan.slots),
            }
        return None

    def _plan_request(self, rules: dict[str, Any]) -> GeneratePlan:
        starts_on = self._engagement.starts_on
        ends_on: date = min(self._engagement.ends_on, starts_on + timedelta(days=PLAN_DAYS))
        return GeneratePlan(
            engagement_id=self._engagement.engagement_id,
            organization_id=self._engagement.organization_id,
            period_start=starts_on,
            period_end=ends_on,
            rules=EditorialRules.model_validate(rules),
        )

    # --- tasks ---------------------------------------------------------------------------------

    def _open_tasks(self) -> list[Task]:
        return [task for task in self._state.tasks if task.status is TaskStatus.OPEN]

    async def _open_tasks_with(self, tasks: list[Task], steps: list[LifecycleStep]) -> None:
        """Show the tasks with their phase at once; their events follow durably."""
        now = workflow.now()
        self._state.tasks.extend(tasks)
        for task in tasks:
            self._watch(task)
        await self._record([*steps, *(facts.task_created(task, now) for task in tasks)])

    def _watch(self, task: Task) -> None:
        self._watchers.append(asyncio.create_task(self._escalate_when_overdue(task)))

    async def _escalate_when_overdue(self, task: Task) -> None:
        """A durable timer per open task: past its due date it is escalated to the manager."""
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
        await self._record_now([facts.task_overdue(task, self._state.phase, workflow.now())])
        task.overdue = True

    # --- recording ------------------------------------------------------------------------------

    def _deliverable(self, name: str, reference: dict[str, Any]) -> DeliverableRecord:
        return DeliverableRecord(
            name=name,
            phase=self._state.phase,
            revision=self._state.revision,
            reference=reference,
            recorded_at=workflow.now(),
        )

    def _deliverable_step(self, record: DeliverableRecord, key: str | None = None) -> LifecycleStep:
        self._state.deliverables.append(record)
        default = f"{record.phase.value}/{record.revision}/deliverable/{record.name}"
        return facts.deliverable_recorded(record, key or default)

    async def _record(self, steps: list[LifecycleStep]) -> None:
        """Record the buffered steps of the previous phase, then these."""
        buffered, self._buffered = self._buffered, []
        await self._record_now([*buffered, *steps])

    async def _flush(self) -> None:
        if self._buffered:
            await self._record([])

    async def _record_now(self, steps: list[LifecycleStep]) -> None:
        if not steps:
            return
        human = any(step.actor is not None for step in steps)
        first = human and workflow.patched(HUMAN_STEPS_FIRST_PATCH)
        await self._activity(
            task_queues.STRATEGY,
            RECORD_LIFECYCLE_EVENTS,
            RecordLifecycleEvents(
                engagement_id=self._engagement.engagement_id,
                organization_id=self._engagement.organization_id,
                steps=steps,
            ),
            LifecycleEventsRecorded,
            priority=HUMAN_STEP_PRIORITY if first else Priority.default,
        )

    async def _sleep(self, duration: timedelta) -> None:
        """A durable timer; none at all for a step that takes no time."""
        if duration > timedelta(0):
            await workflow.sleep(duration)

    async def _unpaused(self) -> None:
        if self._state.status is EngagementStatus.PAUSED:
            await self._flush()
            await workflow.wait_condition(lambda: self._state.status is not EngagementStatus.PAUSED)

    async def _strategy(self, name: str, argument: BaseModel, result: type[Result]) -> Result:
        return await self._activity(task_queues.STRATEGY, name, argument, result)

    async def _content(self, name: str, argument: BaseModel, result: type[Result]) -> Result:
        return await self._activity(task_queues.CONTENT, name, argument, result)

    async def _activity(
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
            task_queue=self._engagement.task_queue_prefix + queue,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=ACTIVITY_RETRY,
            priority=priority,
        )
        self._stop_if_cancelled()
        return outcome

    def _stop_if_cancelled(self) -> None:
        """Stop the lifecycle at its next step once it is being cancelled. Temporal lets an
        activity's result win over a cancellation that reaches the workflow in the same task, so
        the cancelled lifecycle would go on and wait (for an approval, say) for ever while the
        compensation waits for it to stop."""
        if (
            self._stopping is not None
            and asyncio.current_task() is self._stopping
            and workflow.patched(STOP_CANCELLED_LIFECYCLE_PATCH)
        ):
            raise asyncio.CancelledError

    # --- signals --------------------------------------------------------------------------------

    @workflow.signal(name=PUBLICATION_FAILED_SIGNAL)
    async def publication_failed(self, failure: PublicationFailure) -> None:
        """A post of the engagement failed for good: the state shows it, and the agency gets a
        task to look at it (none once the engagement has ended or is being cancelled)."""
        task = publication_failure_task(
            failure,
            self._state.phase,
            workflow.now(),
            self._timing.real(self._timing.task_due_days),
        )
        if self._state.task(task.id) is not None:
            return
        self._state.publication_failures = [*self._state.publication_failures, failure][
            -FAILURES_KEPT:
        ]
        self._state.publication_failures_total += 1
        if self._cancellation is not None or self._state.status in (
            EngagementStatus.COMPLETED,
            EngagementStatus.CANCELLED,
        ):
            return
        await self._open_tasks_with([task], [])

    # --- updates --------------------------------------------------------------------------------

    @workflow.update(name=APPROVE_UPDATE)
    def decide_approval(self, request: ApprovalRequest) -> ApprovalOutcome:
        # Checked again: another decision may have been accepted since the validator ran.
        pending = check_approval(self._engagement, self._state, request)
        self._state.pending_approvals.remove(pending)
        self._state.decisions.append(
            ApprovalDecision(
                gate=pending.gate,
                phase=pending.phase,
                revision=pending.revision,
                decision=request.decision,
                decided_by=request.actor.subject,
                reason=request.reason,
                decided_at=workflow.now(),
            )
        )
        return ApprovalOutcome(
            gate=pending.gate,
            phase=pending.phase,
            revision=pending.revision,
            decision=request.decision,
        )

    @decide_approval.validator
    def _validate_approval(self, request: ApprovalRequest) -> None:
        check_approval(self._engagement, self._state, request)

    @workflow.update(name=COMPLETE_TASK_UPDATE)
    async def complete_task(self, request: TaskCompletion) -> Task:
        task = check_task_completion(self._engagement, self._state, request)
        task.status = TaskStatus.COMPLETED
        task.completed_by = request.actor.subject
        task.completed_at = workflow.now()
        task.note = request.note
        await self._record_now([facts.task_completed(task, self._state.phase)])
        return task

    @complete_task.validator
    def _validate_task_completion(self, request: TaskCompletion) -> None:
        check_task_completion(self._engagement, self._state, request)

    @workflow.update(name=REQUEST_INTERVENTION_UPDATE)
    async def request_intervention(self, request: InterventionRequest) -> Intervention:
        check_intervention(self._engagement, self._state, request)
        self._state.requests += 1
        now = workflow.now()
        intervention_id = f"intervention-{self._state.requests}"
        due_days = request.due_in_days or self._timing.intervention_due_days
        tasks = intervention_tasks(
            intervention_id,
            request.title,
            request.description,
            self._engagement.mode,
            now,
            self._timing.real(due_days),
        )
        intervention = Intervention(
            id=intervention_id,
            title=request.title,
            description=request.description,
            requested_by=request.actor.subject,
            requested_at=now,
            task_ids=[task.id for task in tasks],
        )
        self._state.interventions.append(intervention)
        await self._open_tasks_with(tasks, [facts.intervention_requested(intervention)])
        return intervention

    @request_intervention.validator
    def _validate_intervention(self, request: InterventionRequest) -> None:
        check_intervention(self._engagement, self._state, request)

    @workflow.update(name=PAUSE_UPDATE)
    async def pause(self, request: ControlRequest) -> ControlOutcome:
        self._check_control("pause", request)
        self._state.status = EngagementStatus.PAUSED
        await self._record_control(LifecycleEventName.ENGAGEMENT_PAUSED, request)
        return self._control_outcome("paused")

    @pause.validator
    def _validate_pause(self, request: ControlRequest) -> None:
        self._check_control("pause", request)

    @workflow.update(name=RESUME_UPDATE)
    async def resume(self, request: ControlRequest) -> ControlOutcome:
        self._check_control("resume", request)
        self._state.status = EngagementStatus.RUNNING
        await self._record_control(LifecycleEventName.ENGAGEMENT_RESUMED, request)
        return self._control_outcome("resumed")

    @resume.validator
    def _validate_resume(self, request: ControlRequest) -> None:
        self._check_control("resume", request)

    @workflow.update(name=CANCEL_UPDATE)
    async def cancel(self, request: ControlRequest) -> ControlOutcome:
        self._check_control("cancel", request)
        self._cancellation = request
        await workflow.wait_condition(lambda: self._state.status is EngagementStatus.CANCELLED)
        return self._control_outcome("cancelled")

    @cancel.validator
    def _validate_cancel(self, request: ControlRequest) -> None:
        self._check_control("cancel", request)

    def _check_control(self, action: ControlAction, request: ControlRequest) -> None:
        check_control(action, self._engagement, self._state, request)
        if self._cancellation is not None:
            raise refuse(CONFLICT, "the engagement is being cancelled")

    async def _record_control(self, event: LifecycleEventName, request: ControlRequest) -> None:
        self._state.requests += 1
        step = facts.control(
            event,
            self._state.phase,
            self._state.requests,
            request.reason,
            request.actor.subject,
            workflow.now(),
        )
        await self._record_now([step])

    def _control_outcome(self, action: ControlDone) -> ControlOutcome:
        return ControlOutcome(status=self._state.status, phase=self._state.phase, action=action)


async def _stopped(lifecycle: asyncio.Task[None]) -> None:
    """Wait for the cancelled lifecycle; an activity or child workflow it was running ends as a
    cancelled ``ActivityError`` or ``ChildWorkflowError``, which is the expected outcome here,
    not a failure of the engagement."""
    try:
        await lifecycle
    except asyncio.CancelledError:
        return
    except (ActivityError, ChildWorkflowError) as error:
        if not _cancelled(error):
            raise


def _cancelled(error: ActivityError | ChildWorkflowError) -> bool:
    return isinstance(error.cause, CancelledError)


def _plan_refusal(error: ChildWorkflowError) -> dict[str, str]:
    """Why the planner stopped: no plan at all, or what it was refused."""
    cause: BaseException | None = error.cause
    while isinstance(cause, ActivityError | ChildWorkflowError):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type == "not-found":
        return {"reason": "no_plan"}
    return {"reason": "failed", "detail": str(cause or error)[:500]}

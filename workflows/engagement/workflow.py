"""``EngagementWorkflow``: one client engagement, from the first analysis to the contract's end.

The six phases run in order. Each opens with its human tasks (owned as the intervention mode
says), records its deliverables by reference and waits at its gate, an update whose validator
refuses a wrong role, organisation, phase or a rejection without reason before anything enters
history; a rejection sends the phase back for rework. This class is the lifecycle's spine: the
phases, their gates, and the handlers of updates, signals and queries. The work is done by its
siblings, which share the one state object:

- ``phase_work``: what a phase records for its gate (strategy deliverables, the channels'
  connections and the editorial plan at setup, the plan published at seeding and launch);
- ``post_launch``: one support cycle per week until ``ends_on`` (the plan published again,
  metrics collected, the period's report from ``PeriodicReportWorkflow``), continuing as new
  every few cycles, and the completion;
- ``compensation``: what a cancellation undoes (posts withdrawn, listening stopped) and its
  final report;
- ``escalation``: open tasks, each escalated to the manager once overdue;
- ``recording``, ``service_calls`` and ``waiting``: every fact goes through the strategy service
  (``strategy.record_lifecycle_events``) with a key that makes it a timeline entry and an
  ``engage.lifecycle.*`` event exactly once; activities run on the engagement's task queues.

A post that fails for good is signalled back (``publication_failed``) and becomes a task.
"""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.strategy.contracts import LifecycleEventName, LifecycleStep
    from shared.domain import Phase
    from workflows.engagement import facts
    from workflows.engagement.compensation import (
        TEMPORAL_CANCELLATION,
        Compensation,
        until_stopped,
    )
    from workflows.engagement.escalation import TaskDeadlines, open_tasks
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
        ApprovalDecision,
        ApprovalOutcome,
        ApprovalRequest,
        ControlDone,
        ControlOutcome,
        ControlRequest,
        Decision,
        EngagementInput,
        EngagementState,
        EngagementStatus,
        Gate,
        Intervention,
        InterventionRequest,
        PendingApproval,
        PublicationFailure,
        Task,
        TaskCompletion,
        TaskStatus,
    )
    from workflows.engagement.patches import START_LISTENING_AT_SEEDING_PATCH
    from workflows.engagement.phase_work import PhaseWork
    from workflows.engagement.phases import GATE_AFTER, GATE_APPROVERS, PHASES, hold
    from workflows.engagement.post_launch import PostLaunch, support_calendar
    from workflows.engagement.recording import Recorder
    from workflows.engagement.service_calls import ServiceCalls
    from workflows.engagement.tasks import (
        LISTENING_TASK,
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
    from workflows.engagement.waiting import sleep, unpaused

# Failed posts the state shows (the most recent); the total counts them all.
FAILURES_KEPT = 20


@workflow.defn(name=WORKFLOW_NAME)
class EngagementWorkflow:
    @workflow.init
    def __init__(self, engagement: EngagementInput) -> None:
        self._engagement = engagement
        self._timing = engagement.timing
        self._state = engagement.carried_state or EngagementState(
            status=EngagementStatus.RUNNING, phase=Phase.ANALYSIS
        )
        self._cancellation: ControlRequest | None = None
        self._calls = ServiceCalls(engagement.task_queue_prefix)
        self._recorder = Recorder(engagement, self._state, self._calls)
        self._deadlines = TaskDeadlines(self._state, self._recorder)
        self._phase_work = PhaseWork(engagement, self._state, self._calls, self._recorder)
        self._post_launch = PostLaunch(engagement, self._state, self._calls, self._recorder)
        self._compensation = Compensation(engagement, self._state, self._calls, self._recorder)

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
            self._calls.stopping = lifecycle
            lifecycle.cancel()
            await until_stopped(lifecycle)
            self._deadlines.stop_watching()
            await self._compensation.run(self._cancellation)
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
            for task in open_tasks(self._state):
                self._deadlines.watch(task)
        await self._post_launch.run_cycles()
        await self._post_launch.complete()

    async def _run_phase(self, phase: Phase) -> None:
        await self._start_phase(phase, revision=0)
        gate = GATE_AFTER.get(phase)
        while True:
            records, missing = await self._phase_work.deliverables(phase)
            await sleep(hold(phase, self._timing))
            steps = [self._recorder.deliverable_step(record) for record in records]
            if gate is None:
                self._recorder.hold_back(steps)
                break
            decision = await self._ask(gate, steps, missing)
            if decision.decision is Decision.APPROVE:
                self._recorder.hold_back([facts.approval_decided(decision)])
                break
            await self._rework(phase, decision)
        now = workflow.now()
        self._recorder.hold_back([facts.phase_completed(phase, self._state.revision, now)])

    @staticmethod
    def _done_by_lifecycle(phase: Phase) -> frozenset[str]:
        """The phase's tasks the lifecycle does itself instead of asking a person."""
        if phase is Phase.SEEDING and workflow.patched(START_LISTENING_AT_SEEDING_PATCH):
            return frozenset({LISTENING_TASK})
        return frozenset()

    async def _start_phase(self, phase: Phase, revision: int) -> None:
        await unpaused(self._state, self._recorder)
        now = workflow.now()
        self._state.phase, self._state.revision = phase, revision
        tasks = phase_tasks(
            phase,
            revision,
            self._engagement.mode,
            now,
            self._timing.real(self._timing.task_due_days),
            done_by_lifecycle=self._done_by_lifecycle(phase),
        )
        steps = [facts.engagement_started(self._engagement, now)] if phase is PHASES[0] else []
        steps.append(facts.phase_started(phase, revision, now))
        opening = self._phase_work.opening_deliverables(phase)
        steps += [self._recorder.deliverable_step(record) for record in opening]
        await self._deadlines.open(tasks, steps)

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
        await self._deadlines.open([task], steps)

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
        await unpaused(self._state, self._recorder)
        # Waiting before the event goes out: a client answering the event must find the gate open.
        self._state.pending_approvals.append(pending)
        await self._recorder.record([*steps, facts.approval_requested(pending)])
        await workflow.wait_condition(
            lambda: all(waiting is not pending for waiting in self._state.pending_approvals)
        )
        return self._state.decisions[-1]

    async def _start_post_launch(self) -> None:
        self._state.post_launch = support_calendar(self._engagement, workflow.now())
        await self._start_phase(Phase.POST_LAUNCH, revision=0)

    # --- signals --------------------------------------------------------------------------------

    @workflow.signal(name=PUBLICATION_FAILED_SIGNAL)
    async def publication_failed(self, failure: PublicationFailure) -> None:
        """A post of the engagement failed for good: the state shows it, and the agency gets a
        task to look at it (none once the engagement has ended or is being cancelled). A failure
        naming another organisation is not this engagement's: it changes nothing."""
        if failure.organization_id not in (None, self._engagement.organization_id):
            workflow.logger.warning(
                "publication failure %s of organisation %s ignored: not the engagement's",
                failure.publication_id,
                failure.organization_id,
            )
            return
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
        await self._deadlines.open([task], [])

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
        await self._recorder.record_now([facts.task_completed(task, self._state.phase)])
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
        await self._deadlines.open(tasks, [facts.intervention_requested(intervention)])
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
        await self._recorder.record_now([step])

    def _control_outcome(self, action: ControlDone) -> ControlOutcome:
        return ControlOutcome(status=self._state.status, phase=self._state.phase, action=action)

"""``EngagementWorkflow`` on Temporal's time-skipping test server, for the lifecycle tests.

The services' activities are replaced by an in-memory record registered under their real names:
every lifecycle step the workflow records is kept (with its idempotency key), deliverable
versions and the plan are what the test says.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.content.plan.contracts import (
    GENERATE_PLAN,
    GET_PLAN,
    GeneratePlan,
    GetPlan,
    PlanGenerationResult,
    PlanSnapshot,
)
from services.publisher.contracts import (
    WITHDRAW_ENGAGEMENT_POSTS,
    EngagementPostsWithdrawn,
    WithdrawEngagementPosts,
)
from services.strategy.contracts import (
    GET_APPROVED_DELIVERABLE,
    GET_DELIVERABLE_VERSIONS,
    RECORD_LIFECYCLE_EVENTS,
    ApprovedDeliverable,
    DeliverableVersionRef,
    DeliverableVersions,
    GetApprovedDeliverable,
    GetDeliverableVersions,
    LifecycleEventsRecorded,
    LifecycleStep,
    RecordLifecycleEvents,
)
from shared import task_queues
from shared.auth import Role
from shared.domain import Channel, InterventionMode, Phase
from workflows.engagement.messages import (
    APPROVE_UPDATE,
    STATE_QUERY,
    Actor,
    ApprovalOutcome,
    ApprovalRequest,
    Decision,
    EngagementInput,
    EngagementState,
    Gate,
    LifecycleTiming,
)
from workflows.engagement.workflow import EngagementWorkflow

Handle = WorkflowHandle[EngagementWorkflow, EngagementState]
SIX_MONTHS = timedelta(days=182)


@dataclass
class ServiceRecords:
    """What the strategy, content and publisher services were asked, and what they answer."""

    steps: list[LifecycleStep] = field(default_factory=list)
    versions: list[DeliverableVersionRef] = field(default_factory=list)
    plans_generated: list[GeneratePlan] = field(default_factory=list)
    withdrawals: list[WithdrawEngagementPosts] = field(default_factory=list)

    @activity.defn(name=RECORD_LIFECYCLE_EVENTS)
    async def record(self, request: RecordLifecycleEvents) -> LifecycleEventsRecorded:
        known = {step.idempotency_key for step in self.steps}
        fresh = [step for step in request.steps if step.idempotency_key not in known]
        self.steps.extend(fresh)
        return LifecycleEventsRecorded(
            event_ids=[step.idempotency_key for step in request.steps], newly_recorded=len(fresh)
        )

    @activity.defn(name=GET_DELIVERABLE_VERSIONS)
    async def versions_of(self, request: GetDeliverableVersions) -> DeliverableVersions:
        latest = [ref for ref in self.versions if ref.kind in request.kinds]
        return DeliverableVersions(engagement_id=request.engagement_id, latest=latest)

    @activity.defn(name=GET_APPROVED_DELIVERABLE)
    async def approved(self, request: GetApprovedDeliverable) -> ApprovedDeliverable:
        return ApprovedDeliverable(
            engagement_id=request.engagement_id, kind=request.kind, approved=None
        )

    @activity.defn(name=GENERATE_PLAN)
    async def generate_plan(self, request: GeneratePlan) -> PlanGenerationResult:
        self.plans_generated.append(request)
        raise ApplicationError("not reached without approved rules", non_retryable=True)

    @activity.defn(name=GET_PLAN)
    async def get_plan(self, request: GetPlan) -> PlanSnapshot:
        raise ApplicationError("no plan", type="not-found", non_retryable=True)

    @activity.defn(name=WITHDRAW_ENGAGEMENT_POSTS)
    async def withdraw_posts(self, request: WithdrawEngagementPosts) -> EngagementPostsWithdrawn:
        self.withdrawals.append(request)
        return EngagementPostsWithdrawn(cancelled=2, already_published=1, failed=0)

    def events(self, name: str) -> list[LifecycleStep]:
        return [step for step in self.steps if step.event.value == name]


def engagement_input(
    mode: InterventionMode = InterventionMode.REALIZZAZIONE,
    length: timedelta = SIX_MONTHS,
    timing: LifecycleTiming | None = None,
    starts_on: date | None = None,
) -> EngagementInput:
    start = starts_on or date.today()
    return EngagementInput(
        engagement_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        mode=mode,
        channels=[Channel.SANDBOX, Channel.INSTAGRAM],
        starts_on=start,
        ends_on=start + length,
        timing=timing or LifecycleTiming(cycles_per_run=10),
    )


@asynccontextmanager
async def running_engagement(
    env: WorkflowEnvironment, records: ServiceRecords, engagement: EngagementInput
) -> AsyncIterator[Handle]:
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    engagement = engagement.model_copy(update={"task_queue_prefix": prefix})
    workers = [
        Worker(
            env.client, task_queue=prefix + task_queues.WORKFLOWS, workflows=[EngagementWorkflow]
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.STRATEGY,
            activities=[records.record, records.versions_of, records.approved],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.CONTENT,
            activities=[records.generate_plan, records.get_plan],
        ),
        Worker(
            env.client,
            task_queue=prefix + task_queues.PUBLISHER,
            activities=[records.withdraw_posts],
        ),
    ]
    async with workers[0], workers[1], workers[2], workers[3]:
        yield await env.client.start_workflow(
            EngagementWorkflow.run,
            engagement,
            id=f"engagement-{engagement.engagement_id}",
            task_queue=prefix + task_queues.WORKFLOWS,
        )


async def state_when(
    handle: Handle, condition: Callable[[EngagementState], bool]
) -> EngagementState:
    async with asyncio.timeout(15):
        while True:
            state: EngagementState = await handle.query(STATE_QUERY, result_type=EngagementState)
            if condition(state):
                return state
            await asyncio.sleep(0.02)


def waiting_at(gate: Gate) -> Callable[[EngagementState], bool]:
    return lambda state: any(pending.gate is gate for pending in state.pending_approvals)


def manager(subject: str = "pm") -> Actor:
    return Actor(subject=subject, roles=[Role.MANAGER], all_organizations=True)


def client_approver(organization_id: uuid.UUID, subject: str = "client") -> Actor:
    return Actor(subject=subject, roles=[Role.CLIENT_APPROVER], organizations=[organization_id])


def approver_for(gate: Gate, engagement: EngagementInput) -> Actor:
    if gate in (Gate.BRIEF, Gate.STRATEGY):
        return client_approver(engagement.organization_id)
    return manager()


async def decide(
    handle: Handle,
    actor: Actor,
    gate: Gate,
    decision: Decision = Decision.APPROVE,
    reason: str = "",
) -> ApprovalOutcome:
    outcome: ApprovalOutcome = await handle.execute_update(
        APPROVE_UPDATE,
        ApprovalRequest(actor=actor, gate=gate, decision=decision, reason=reason),
        result_type=ApprovalOutcome,
    )
    return outcome


async def approve_when_waiting(
    env: WorkflowEnvironment, handle: Handle, engagement: EngagementInput, gate: Gate
) -> None:
    if gate is Gate.GO_LIVE:
        # Seeding runs its course before the go-live is asked.
        await env.sleep(engagement.timing.real(engagement.timing.seeding_days) + timedelta(hours=1))
    await state_when(handle, waiting_at(gate))
    await decide(handle, approver_for(gate, engagement), gate)


async def refusal(update: Any) -> ApplicationError:
    """The application error a rejected update carries."""
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await update
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError), cause
    return cause


async def reach_post_launch(
    env: WorkflowEnvironment, handle: Handle, engagement: EngagementInput
) -> EngagementState:
    for gate in (Gate.BRIEF, Gate.STRATEGY, Gate.EDITORIAL_PLAN, Gate.GO_LIVE):
        await approve_when_waiting(env, handle, engagement, gate)
    await env.sleep(engagement.timing.real(engagement.timing.launch_days) + timedelta(hours=1))
    return await state_when(handle, lambda state: state.phase is Phase.POST_LAUNCH)

"""The engagement lifecycle at scale: N engagements started at once, every gate approved as soon
as it is asked, with compressed durations, through all six phases on a Temporal dev server.

Strategy and content activities, their outbox relays and the workflow worker run in this process
on a scratch database and stream. The baseline is a trivial one-activity workflow run on the same
server and workers in the same run; the ratio compares activities executed per minute, since an
engagement runs a few dozen activities where the trivial workflow runs one. The approval latency
runs from an approval update's return to the next phase's ``phase_started`` on the stream.

``BENCH_LIFECYCLE_ENGAGEMENTS`` lowers N (default 200); every figure names the N used.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import asyncio
    import contextlib
    import json
    import os
    import sys
    from collections.abc import AsyncIterator, Sequence
    from dataclasses import dataclass, field
    from datetime import date
    from pathlib import Path

    from nats.aio.msg import Msg
    from nats.js import JetStreamContext
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Worker
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from benchmarks.common import report, scratch_settings
    from services.content import worker as content_worker
    from services.content.models import OutboxEvent as ContentOutboxEvent
    from services.strategy import service as strategy
    from services.strategy import worker as strategy_worker
    from services.strategy.models import OutboxEvent as StrategyOutboxEvent
    from services.strategy.schemas import EngagementCreate, OrganizationCreate
    from shared import task_queues
    from shared.auth import Principal, Role
    from shared.db.scoping import SYSTEM
    from shared.db.session import create_engine, create_session_factory, session_scope
    from shared.domain import Channel, InterventionMode
    from shared.events.jetstream import connect_nats, ensure_stream
    from shared.events.relay import OutboxRelay
    from shared.settings import Settings
    from workflows.engagement.messages import (
        APPROVE_UPDATE,
        WORKFLOW_NAME,
        Actor,
        ApprovalOutcome,
        ApprovalRequest,
        Decision,
        EngagementInput,
        EngagementState,
        Gate,
        LifecycleTiming,
        workflow_id,
    )
    from workflows.engagement.phases import GATE_APPROVERS
    from workflows.engagement.workflow import EngagementWorkflow

BENCHMARK = "lifecycle"
# Trivial workflows per engagement measured: enough for a steady rate, a run of similar length.
TRIVIAL_PER_ENGAGEMENT = 10
# Six months of engagement time per real ~15 s: seeding 1.2 s, launch 0.6 s, two support cycles.
TIMING = LifecycleTiming(time_scale=1e-6)
ENGAGEMENT_DAYS = 13
STARTS_IN_FLIGHT = 64
RELAY_POLL_SECONDS = 0.05
CONFLICT_RETRY_SECONDS = 0.02
TRIVIAL_WORKFLOW = "BenchTrivialWorkflow"
TRIVIAL_ACTIVITY = "bench.noop"
# Every gate opens the next phase: brief -> design, strategy -> setup, editorial plan ->
# seeding, go-live -> launch.
GATE_OPENS = {
    Gate.BRIEF: "design",
    Gate.STRATEGY: "setup",
    Gate.EDITORIAL_PLAN: "seeding",
    Gate.GO_LIVE: "launch",
}
STAFF = Principal(subject="bench", roles=frozenset({Role.MANAGER}), all_organizations=True)


@activity.defn(name=TRIVIAL_ACTIVITY)
async def noop(n: int) -> int:
    return n


@workflow.defn(name=TRIVIAL_WORKFLOW)
class TrivialWorkflow:
    @workflow.run
    async def run(self, activity_queue: str) -> int:
        result: int = await workflow.execute_activity(
            TRIVIAL_ACTIVITY,
            1,
            result_type=int,
            task_queue=activity_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1)),
        )
        return result


@dataclass
class Observations:
    """What the stream showed: gates asked (per engagement) and when each phase started."""

    asked: dict[str, asyncio.Queue[Gate]] = field(default_factory=dict)
    phase_started_at: dict[tuple[str, str], float] = field(default_factory=dict)
    approved_at: dict[tuple[str, str], float] = field(default_factory=dict)

    async def on_message(self, message: Msg) -> None:
        event = json.loads(message.data)
        data, name = event["data"], event["type"].split(".")[2]
        engagement_id = data["engagement_id"]
        if name == "approval_requested" and engagement_id in self.asked:
            self.asked[engagement_id].put_nowait(Gate(data["gate"]))
        elif name == "phase_started" and data["revision"] == 0:
            self.phase_started_at.setdefault((engagement_id, data["phase"]), time.perf_counter())

    def latencies(self) -> list[float]:
        return [
            self.phase_started_at[key] - approved
            for key, approved in self.approved_at.items()
            if key in self.phase_started_at
        ]


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def approver(gate: Gate, organization_id: uuid.UUID) -> Actor:
    if Role.CLIENT_APPROVER in GATE_APPROVERS[gate]:
        return Actor(
            subject="client", roles=[Role.CLIENT_APPROVER], organizations=[organization_id]
        )
    return Actor(subject="pm", roles=[Role.MANAGER], all_organizations=True)


async def create_engagements(
    sessions: async_sessionmaker[AsyncSession], count: int, prefix: str
) -> list[EngagementInput]:
    """Rows in the strategy service, as the gateway would create them before the workflows."""
    starts_on = date.today()
    ends_on = starts_on + timedelta(days=ENGAGEMENT_DAYS)
    created = []
    async with session_scope(sessions, SYSTEM) as session:
        for n in range(count):
            organization = await strategy.create_organization(
                session, STAFF, OrganizationCreate(name=f"Agriturismo Gubbio {n}")
            )
            engagement = await strategy.create_engagement(
                session,
                STAFF,
                EngagementCreate(
                    organization_id=organization.id,
                    mode=InterventionMode.REALIZZAZIONE,
                    channels=[Channel.SANDBOX],
                    starts_on=starts_on,
                    ends_on=ends_on,
                ),
            )
            created.append(
                EngagementInput(
                    engagement_id=engagement.id,
                    organization_id=organization.id,
                    mode=InterventionMode.REALIZZAZIONE,
                    channels=[Channel.SANDBOX],
                    starts_on=starts_on,
                    ends_on=ends_on,
                    task_queue_prefix=prefix,
                    timing=TIMING,
                )
            )
    return created


async def drive(
    client: Client,
    settings: Settings,
    engagement: EngagementInput,
    seen: Observations,
    starts: asyncio.Semaphore,
) -> WorkflowHandle[EngagementWorkflow, EngagementState]:
    """Start one engagement and approve each gate as soon as the stream says it is asked."""
    key = str(engagement.engagement_id)
    asked = seen.asked.setdefault(key, asyncio.Queue())
    async with starts:
        handle: WorkflowHandle[EngagementWorkflow, EngagementState] = await client.start_workflow(
            WORKFLOW_NAME,
            engagement,
            id=workflow_id(engagement.engagement_id),
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
            result_type=EngagementState,
        )
    for _ in GATE_OPENS:
        gate = await asked.get()
        request = ApprovalRequest(
            actor=approver(gate, engagement.organization_id), gate=gate, decision=Decision.APPROVE
        )
        await approve(handle, request)
        seen.approved_at[(key, GATE_OPENS[gate])] = time.perf_counter()
    await handle.result()
    return handle


async def approve(
    handle: WorkflowHandle[EngagementWorkflow, EngagementState], request: ApprovalRequest
) -> None:
    """The gate records ``approval_requested`` just before it accepts decisions: a decision
    arriving in between is refused as a conflict, and sent again."""
    while True:
        try:
            await handle.execute_update(APPROVE_UPDATE, request, result_type=ApprovalOutcome)
            return
        except WorkflowUpdateFailedError as refused:
            cause = refused.cause
            if not isinstance(cause, ApplicationError) or cause.type != "conflict":
                raise
            await asyncio.sleep(CONFLICT_RETRY_SECONDS)


async def activities_run(handle: WorkflowHandle[EngagementWorkflow, EngagementState]) -> int:
    history = await handle.fetch_history()
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return sum(event.event_type == scheduled for event in history.events)


async def measure_trivial(client: Client, settings: Settings, count: int) -> float:
    """Trivial workflows per minute, ``count`` of them started at once."""
    gate = asyncio.Semaphore(STARTS_IN_FLIGHT)

    async def one() -> None:
        async with gate:
            handle = await client.start_workflow(
                TRIVIAL_WORKFLOW,
                settings.task_queue(task_queues.STRATEGY),
                id=f"bench-trivial-{uuid.uuid4()}",
                task_queue=settings.task_queue(task_queues.WORKFLOWS),
                result_type=int,
            )
        await handle.result()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started) * 60


async def measure_lifecycle(
    client: Client, settings: Settings, engagements: list[EngagementInput], seen: Observations
) -> tuple[float, int]:
    """Engagements completed per minute, and the activities they ran in all."""
    starts = asyncio.Semaphore(STARTS_IN_FLIGHT)
    started = time.perf_counter()
    handles = await asyncio.gather(
        *(drive(client, settings, engagement, seen, starts) for engagement in engagements)
    )
    elapsed = time.perf_counter() - started
    counts = await asyncio.gather(*(activities_run(handle) for handle in handles))
    return len(engagements) / elapsed * 60, sum(counts)


@contextlib.asynccontextmanager
async def local_stack(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[JetStreamContext]:
    """Workers and outbox relays in this process; yields the stream's JetStream context."""
    nats = await connect_nats(settings, "bench-lifecycle")
    js = nats.jetstream()
    await ensure_stream(js, settings.events)
    stop = asyncio.Event()
    relays = [
        asyncio.create_task(OutboxRelay(sessions, model, js, settings.events).run(stop))
        for model in (StrategyOutboxEvent, ContentOutboxEvent)
    ]
    workers = [
        Worker(
            client,
            task_queue=settings.task_queue(task_queues.STRATEGY),
            activities=[*strategy_worker.activities(sessions), noop],
        ),
        Worker(
            client,
            task_queue=settings.task_queue(task_queues.CONTENT),
            activities=content_worker.activities(sessions),
        ),
        Worker(
            client,
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
            workflows=[EngagementWorkflow, TrivialWorkflow],
            # This module holds the trivial workflow; it is not re-imported for each run.
            workflow_runner=SandboxedWorkflowRunner(
                restrictions=SandboxRestrictions.default.with_passthrough_modules("benchmarks")
            ),
        ),
    ]
    try:
        async with contextlib.AsyncExitStack() as running:
            for worker in workers:
                await running.enter_async_context(worker)
            yield js
    finally:
        stop.set()
        await asyncio.gather(*relays)
        await js.delete_stream(settings.events.stream)
        await nats.close()


async def run() -> None:
    async with contextlib.AsyncExitStack() as stack:
        scratch = await stack.enter_async_context(scratch_settings("strategy", "content"))
        settings = scratch.model_copy(
            update={
                "events": scratch.events.model_copy(
                    update={"relay_poll_seconds": RELAY_POLL_SECONDS}
                ),
                "temporal": scratch.temporal.model_copy(update={"task_queue_prefix": "bench-"}),
            }
        )
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        stack.push_async_callback(env.shutdown)
        engine = create_engine(settings)
        stack.push_async_callback(engine.dispose)
        sessions = create_session_factory(engine)
        js = await stack.enter_async_context(local_stack(env.client, settings, sessions))
        await measure(env.client, settings, sessions, js)


async def measure(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
) -> None:
    count = int(os.environ.get("BENCH_LIFECYCLE_ENGAGEMENTS", "200"))
    engagements = await create_engagements(sessions, count, settings.temporal.task_queue_prefix)
    seen = Observations()
    subject = f"{settings.events.subject_prefix}.lifecycle.>"
    subscription = await js.subscribe(subject, cb=seen.on_message, ordered_consumer=True)
    try:
        trivial_per_minute = await measure_trivial(client, settings, count * TRIVIAL_PER_ENGAGEMENT)
        per_minute, activities = await measure_lifecycle(client, settings, engagements, seen)
    finally:
        await subscription.unsubscribe()
    per_engagement = activities / len(engagements)
    lifecycle_activities = per_minute * per_engagement
    report(
        BENCHMARK,
        "engagements_completed_per_minute",
        round(per_minute, 1),
        "engagements/min",
        engagements=len(engagements),
        phases=6,
        activities_per_engagement=round(per_engagement, 1),
        baseline="trivial_one_activity_workflow",
        baseline_value=round(trivial_per_minute, 1),
        baseline_unit="workflows/min",
    )
    report(
        BENCHMARK,
        "activities_per_minute",
        round(lifecycle_activities, 1),
        "activities/min",
        engagements=len(engagements),
        baseline="trivial_one_activity_workflow",
        baseline_value=round(trivial_per_minute, 1),
        ratio=round(lifecycle_activities / trivial_per_minute, 3),
        target_ratio=0.5,
    )
    latencies = seen.latencies()
    report(
        BENCHMARK,
        "approval_to_next_phase_started_p95",
        round(percentile(latencies, 0.95), 3),
        "s",
        engagements=len(engagements),
        approvals=len(latencies),
        p50=round(percentile(latencies, 0.5), 3),
        baseline="relay_poll_interval",
        baseline_value=RELAY_POLL_SECONDS,
        target=1.0,
    )

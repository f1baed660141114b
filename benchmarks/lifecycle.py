"""The engagement lifecycle at scale: N engagements started at once, every gate approved as soon
as it is asked, with compressed durations, through all six phases on a Temporal dev server.

The platform runs as it is deployed: the workflow worker and the strategy, content, publisher
and listening workers (each with its outbox relay) are processes of their own, started with
``engage worker`` on a scratch database and stream; this process only creates the engagements,
drives the gates and watches the stream. The baseline is a trivial one-activity workflow on the
same server, run by a workflow worker and an activity worker process of its own
(``benchmarks/trivial.py``); the ratio compares activities executed per minute, since an
engagement runs a few dozen activities where the trivial workflow runs one.

The approval latency runs from an approval update's return to the next phase's
``phase_started`` on the stream: the ``record_lifecycle_events`` activity the update's workflow
task schedules, its commit, the relay (woken by the commit's notification) and JetStream. Its
baseline is the same path with a few engagements run one at a time, measured first in the same
run. The figure carries the CPU use of each process during the run (``rest``: NATS and
anything else on the machine).

What bounds it is the CPU. An engagement costs about 1.0 CPU-second across the stack (the
Temporal dev server about 47 %, the strategy worker 21 %, the workflow worker 16 %), so from
about N = 25 the stack alone keeps two cores busy and every step waits its turn: Temporal's task
queues serve in order, and a worker shares its CPU among the tasks it holds. The approval's step
overtakes that queue (a step a person took is recorded at a higher priority, and a worker holds
few tasks, ``ENGAGE_WORKER__MAX_CONCURRENT_ACTIVITIES``); what is left is its share of a busy CPU
in the Temporal server, the strategy worker and its relay. On the 2-core development machine
with nothing else running (27 Nov 2026), N = 200: p95 0.30 s, p50 0.18 s (one engagement at a
time: p95 0.08 s), 114.9 engagements/min, activity ratio 1.65 to the trivial workflow; the same
run before the outbox staged its events with one cached statement and sessions stopped pinging
PostgreSQL at checkout gave p95 0.49 s, 94.2 engagements/min. With other processes taking about
one core (26 Nov), N = 200 gave p95 1.88 s: the figure moves with the CPU left to the stack.
Before the workers ran apart, with a woken relay, the priority and the worker limit, N = 200
gave 19.8 s.

``BENCH_LIFECYCLE_ENGAGEMENTS`` lowers N (default 200); every figure names the N used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from benchmarks import trivial
from benchmarks.common import percentile, report, scratch_settings, scratch_stream
from benchmarks.cpu import CpuMeter
from benchmarks.workers import (
    ACTIVITY_QUEUE,
    WORKFLOW_QUEUE,
    WorkerProcess,
    engage_worker,
    running_workers,
    temporal_dev_server,
)
from services.strategy import service as strategy
from services.strategy.schemas import EngagementCreate, OrganizationCreate
from shared import task_queues
from shared.auth import Principal, Role
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.domain import Channel, InterventionMode
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

BENCHMARK = "lifecycle"
# Trivial workflows per engagement measured: enough for a steady rate, a run of similar length.
TRIVIAL_PER_ENGAGEMENT = 10
# Engagements run one at a time for the unloaded approval latency.
UNLOADED_ENGAGEMENTS = 3
# Six months of engagement time per real ~15 s: seeding 1.2 s, launch 0.6 s, two support cycles.
TIMING = LifecycleTiming(time_scale=1e-6)
ENGAGEMENT_DAYS = 13
STARTS_IN_FLIGHT = 64
# Each awaited result is a long poll; the server refuses more than about 1,200 per namespace.
TRIVIAL_IN_FLIGHT = 800
CONFLICT_RETRY_SECONDS = 0.02
# Every gate opens the next phase: brief -> design, strategy -> setup, editorial plan ->
# seeding, go-live -> launch.
GATE_OPENS = {
    Gate.BRIEF: "design",
    Gate.STRATEGY: "setup",
    Gate.EDITORIAL_PLAN: "seeding",
    Gate.GO_LIVE: "launch",
}
STAFF = Principal(subject="bench", roles=frozenset({Role.MANAGER}), all_organizations=True)

EngagementHandle = WorkflowHandle[Any, EngagementState]


def lifecycle_workers(settings: Settings) -> list[WorkerProcess]:
    """The platform's workers the lifecycle reaches, and the baseline's two."""
    baseline = (sys.executable, "-m", "benchmarks.trivial")
    return [
        engage_worker("workflows", settings.task_queue(task_queues.WORKFLOWS), WORKFLOW_QUEUE),
        engage_worker("strategy", settings.task_queue(task_queues.STRATEGY), ACTIVITY_QUEUE),
        engage_worker("content", settings.task_queue(task_queues.CONTENT), ACTIVITY_QUEUE),
        # Its housekeeping queue: the lifecycle's steps that reach the publisher run there.
        engage_worker("publisher", settings.task_queue(task_queues.PUBLISHER), ACTIVITY_QUEUE),
        # A completed engagement stops its listening queries there.
        engage_worker("listening", settings.task_queue(task_queues.LISTENING), ACTIVITY_QUEUE),
        # Post-launch support runs a periodic report per cycle, a child workflow the engagement
        # waits for: without this worker its first activity is never taken.
        engage_worker("reporting", settings.task_queue(task_queues.REPORTING), ACTIVITY_QUEUE),
        WorkerProcess(
            "trivial-workflows",
            (*baseline, "workflows"),
            settings.task_queue(trivial.WORKFLOW_QUEUE),
            WORKFLOW_QUEUE,
        ),
        WorkerProcess(
            "trivial-activities",
            (*baseline, "activities"),
            settings.task_queue(trivial.ACTIVITY_QUEUE),
            ACTIVITY_QUEUE,
        ),
    ]


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

    def latencies(self, engagements: Sequence[EngagementInput]) -> list[float]:
        keys = {str(engagement.engagement_id) for engagement in engagements}
        return [
            self.phase_started_at[key] - approved
            for key, approved in self.approved_at.items()
            if key[0] in keys and key in self.phase_started_at
        ]


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
                    time_scale=TIMING.time_scale,
                ),
                # Benchmarks run outside prod: its time_scale is allowed.
                "test",
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
) -> EngagementHandle:
    """Start one engagement and approve each gate as soon as the stream says it is asked."""
    key = str(engagement.engagement_id)
    asked = seen.asked.setdefault(key, asyncio.Queue())
    async with starts:
        try:
            handle: EngagementHandle = await client.start_workflow(
                WORKFLOW_NAME,
                engagement,
                id=workflow_id(engagement.engagement_id),
                task_queue=settings.task_queue(task_queues.WORKFLOWS),
                result_type=EngagementState,
            )
        except WorkflowAlreadyStartedError:
            # Started from its engagement_created event first (a slow machine): driven alike.
            handle = client.get_workflow_handle(
                workflow_id(engagement.engagement_id), result_type=EngagementState
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


async def approve(handle: EngagementHandle, request: ApprovalRequest) -> None:
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


async def activities_run(handle: EngagementHandle) -> int:
    history = await handle.fetch_history()
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return sum(event.event_type == scheduled for event in history.events)


async def measure_trivial(client: Client, settings: Settings, count: int) -> float:
    """Trivial workflows per minute, ``count`` of them started at once (at most
    ``TRIVIAL_IN_FLIGHT`` awaited at a time)."""
    starts = asyncio.Semaphore(STARTS_IN_FLIGHT)
    in_flight = asyncio.Semaphore(TRIVIAL_IN_FLIGHT)

    async def one() -> None:
        async with in_flight:
            async with starts:
                handle = await client.start_workflow(
                    trivial.WORKFLOW,
                    settings.task_queue(trivial.ACTIVITY_QUEUE),
                    id=f"bench-trivial-{uuid.uuid4()}",
                    task_queue=settings.task_queue(trivial.WORKFLOW_QUEUE),
                    result_type=int,
                )
            await handle.result()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started) * 60


async def measure_unloaded(
    client: Client, settings: Settings, engagements: list[EngagementInput], seen: Observations
) -> None:
    """Engagements one at a time: the approval path with nothing else queued."""
    starts = asyncio.Semaphore(1)
    for engagement in engagements:
        await drive(client, settings, engagement, seen, starts)


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


async def run() -> None:
    async with contextlib.AsyncExitStack() as stack:
        scratch = await stack.enter_async_context(
            scratch_settings("strategy", "content", "publisher", "listening", "reporting")
        )
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-lifecycle-")))
        temporal = await stack.enter_async_context(temporal_dev_server(scratch, logs))
        settings = scratch.model_copy(
            update={
                "temporal": scratch.temporal.model_copy(
                    update={"address": temporal.address, "task_queue_prefix": "bench-"}
                ),
            }
        )
        engine = create_engine(settings)
        stack.push_async_callback(engine.dispose)
        sessions = create_session_factory(engine)
        js = await stack.enter_async_context(scratch_stream(settings, "bench-lifecycle"))
        workers = await stack.enter_async_context(
            running_workers(temporal.client, settings, lifecycle_workers(settings), logs)
        )
        pids = {**workers.pids, "driver": os.getpid(), "temporal_server": temporal.pid}
        await measure(temporal.client, settings, sessions, js, CpuMeter(pids))


async def postgres_backends(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[int]]:
    """PostgreSQL's processes serving the scratch database (connections come and go)."""
    async with sessions() as session:
        found = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return {"postgres": list(found)}


async def measure(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    js: JetStreamContext,
    cpu: CpuMeter,
) -> None:
    count = int(os.environ.get("BENCH_LIFECYCLE_ENGAGEMENTS", "200"))
    prefix = settings.temporal.task_queue_prefix
    seen = Observations()
    subject = f"{settings.events.subject_prefix}.lifecycle.>"
    subscription = await js.subscribe(subject, cb=seen.on_message, ordered_consumer=True)
    # Each engagement is stored just before it is driven: the workflow worker starts, from its
    # engagement_created event, an engagement nobody started within a minute (START_GRACE).
    unloaded: list[EngagementInput] = []
    try:
        trivial_per_minute = await measure_trivial(client, settings, count * TRIVIAL_PER_ENGAGEMENT)
        for _ in range(UNLOADED_ENGAGEMENTS):
            one = await create_engagements(sessions, 1, prefix)
            await measure_unloaded(client, settings, one, seen)
            unloaded.extend(one)
        engagements = await create_engagements(sessions, count, prefix)
        cpu.start(await postgres_backends(sessions))
        per_minute, activities = await measure_lifecycle(client, settings, engagements, seen)
        cpu_use = cpu.stop(await postgres_backends(sessions))
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
    latencies = seen.latencies(engagements)
    alone = seen.latencies(unloaded)
    report(
        BENCHMARK,
        "approval_to_next_phase_started_p95",
        round(percentile(latencies, 0.95), 3),
        "s",
        engagements=len(engagements),
        approvals=len(latencies),
        p50=round(percentile(latencies, 0.5), 3),
        baseline="one_engagement_at_a_time",
        baseline_value=round(percentile(alone, 0.95), 3),
        baseline_p50=round(percentile(alone, 0.5), 3),
        target=1.0,
        cpu=cpu_use,
    )

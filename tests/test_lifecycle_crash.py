"""``EngagementWorkflow`` under a real crash: the workflow worker and the strategy activity
worker are killed (SIGKILL) mid-phase and started again; the engagement completes, and every
lifecycle fact is on the stream, in the timeline and in the phase records exactly once.

The workers run as ``python -m engage worker ...`` with a task-queue prefix of their own, so the
in-process workers of the ``platform`` fixture never take the engagement's tasks.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType

from services.strategy.models import LifecycleEvent, OutboxEvent, PhaseRecord
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel, InterventionMode, Phase
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.lifecycle_helpers import Handle, client_approver, decide, manager
from tests.test_thin_thread import create_org
from tests.worker_processes import WorkerProcess, worker_environment
from workflows.engagement.messages import (
    STATE_QUERY,
    WORKFLOW_NAME,
    EngagementInput,
    EngagementState,
    EngagementStatus,
    Gate,
    LifecycleTiming,
    workflow_id,
)

# Six months of engagement time in a few real seconds: seeding ~1.2 s, tasks due after ~0.4 s.
TIME_SCALE = 1e-6
# Two weekly support cycles, one per workflow run: post-launch continues as new once.
ENGAGEMENT_DAYS = 13
TIMING = LifecycleTiming(time_scale=TIME_SCALE, cycles_per_run=1)
# Queue type and poller identity (``<pid>@<host>``) tell when a restarted process polls.
WORKERS = {
    "workflows": (task_queues.WORKFLOWS, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    "strategy": (task_queues.STRATEGY, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    "content": (task_queues.CONTENT, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    # Setup asks it for the channels' connections; cycles collect metrics and report through it.
    "publisher": (task_queues.PUBLISHER, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    # The completed engagement's listening queries are stopped there.
    "listening": (task_queues.LISTENING, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    # Each cycle's periodic report records the reporting service's KPIs of its window.
    "reporting": (task_queues.REPORTING, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
}


async def create_engagement(platform: Platform) -> EngagementInput:
    """The engagement's row, through the strategy service itself: the gateway would start its
    workflow on the in-process workers' queue."""
    organization_id = await create_org(platform, "Cantina Colli Eugubini")
    starts_on = date.today()
    body: dict[str, Any] = {
        "organization_id": organization_id,
        "mode": InterventionMode.AFFIANCAMENTO.value,
        "channels": [Channel.SANDBOX.value],
        "starts_on": starts_on.isoformat(),
        "ends_on": (starts_on + timedelta(days=ENGAGEMENT_DAYS)).isoformat(),
    }
    strategy = platform.settings.service_url("strategy")
    created = await platform.gateway.post(
        f"{strategy}/engagements", json=body, headers=platform.auth(Role.MANAGER)
    )
    assert created.status_code == 201, created.text
    return EngagementInput.model_validate(
        {**body, "engagement_id": created.json()["id"], "timing": TIMING}
    )


async def state(handle: Handle) -> EngagementState:
    current: EngagementState = await handle.query(STATE_QUERY, result_type=EngagementState)
    return current


async def approve_when_waiting(handle: Handle, engagement: EngagementInput, gate: Gate) -> None:
    async def waiting() -> bool:
        return any(pending.gate is gate for pending in (await state(handle)).pending_approvals)

    await wait_until(waiting, timeout=60, interval=0.1)
    approver = (
        client_approver(engagement.organization_id)
        if gate in (Gate.BRIEF, Gate.STRATEGY)
        else manager()
    )
    await decide(handle, approver, gate)


async def timeline(
    sessions: async_sessionmaker[AsyncSession], engagement_id: uuid.UUID
) -> list[tuple[str, str, dict[str, Any]]]:
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.execute(
            select(LifecycleEvent.event, LifecycleEvent.phase, LifecycleEvent.details)
            .where(LifecycleEvent.engagement_id == engagement_id)
            .order_by(LifecycleEvent.seq)
        )
        return [(event, phase, details) for event, phase, details in rows]


async def outbox_and_phase_rows(
    sessions: async_sessionmaker[AsyncSession], engagement_id: uuid.UUID
) -> tuple[int, list[tuple[str, int]]]:
    async with session_scope(sessions, SYSTEM) as session:
        outbox = await session.scalar(
            select(func.count()).where(
                OutboxEvent.envelope["subject"].astext == str(engagement_id),
                OutboxEvent.envelope["type"].astext.like("%.lifecycle.%"),
            )
        )
        phases = await session.execute(
            select(PhaseRecord.phase, PhaseRecord.revision).where(
                PhaseRecord.engagement_id == engagement_id
            )
        )
        return int(outbox or 0), [(phase, revision) for phase, revision in phases]


async def stream_events(
    platform: Platform, nats_client: NatsClient, engagement_id: uuid.UUID
) -> list[dict[str, Any]]:
    events = platform.settings.events
    messages = await stream_messages(
        nats_client.jetstream(), events.stream, f"{events.subject_prefix}.lifecycle.>"
    )
    found = [json.loads(message.data) for message in messages]
    return [event for event in found if event["data"]["engagement_id"] == str(engagement_id)]


def semantic_key(event: dict[str, Any]) -> tuple[str, str]:
    """A fact's meaning: its type and every field of its data (phase, revision, task, ...)."""
    return event["type"], json.dumps(event["data"], sort_keys=True)


async def test_killed_workers_neither_lose_nor_repeat_a_lifecycle_fact(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    tmp_path: Path,
) -> None:
    prefix = f"crash{uuid.uuid4().hex[:8]}-"
    settings = platform.settings.model_copy(
        update={
            "temporal": platform.settings.temporal.model_copy(update={"task_queue_prefix": prefix})
        }
    )
    environment = worker_environment(settings, tmp_path)
    workers = [
        WorkerProcess(
            name,
            platform.temporal,
            prefix + queue,
            queue_type,
            environment,
            tmp_path / f"{name}.log",
        )
        for name, (queue, queue_type) in WORKERS.items()
    ]
    workflow_worker, strategy_worker, *_ = workers
    engagement = (await create_engagement(platform)).model_copy(
        update={"task_queue_prefix": prefix}
    )
    try:
        # Started before the workers: the workflow worker's lifecycle starter, consuming the
        # engagement's ``engagement_created``, then finds it running instead of racing the test.
        handle: Handle = await platform.temporal.start_workflow(
            WORKFLOW_NAME,
            engagement,
            id=workflow_id(engagement.engagement_id),
            task_queue=prefix + task_queues.WORKFLOWS,
            result_type=EngagementState,
        )
        for worker in workers:
            await worker.start()
        await approve_when_waiting(handle, engagement, Gate.BRIEF)

        async def design_started() -> bool:
            recorded = await timeline(sessions, engagement.engagement_id)
            return ("phase_started", Phase.DESIGN.value) in [row[:2] for row in recorded]

        await wait_until(design_started, timeout=30, interval=0.02)
        assert await workflow_worker.kill() == -signal.SIGKILL
        assert await strategy_worker.kill() == -signal.SIGKILL
        facts_at_crash = len(await timeline(sessions, engagement.engagement_id))
        # Task deadlines and timers fall due while nobody runs the engagement.
        await asyncio.sleep(1.0)
        await workflow_worker.start()
        await strategy_worker.start()

        for gate in (Gate.STRATEGY, Gate.EDITORIAL_PLAN, Gate.GO_LIVE):
            await approve_when_waiting(handle, engagement, gate)
        async with asyncio.timeout(60):
            final = await handle.result()
        recorded = await timeline(sessions, engagement.engagement_id)

        async def all_relayed() -> bool:
            published = await stream_events(platform, nats_client, engagement.engagement_id)
            return len(published) >= len(recorded)

        await wait_until(all_relayed, timeout=15, interval=0.3)
        published = await stream_events(platform, nats_client, engagement.engagement_id)
        outbox_rows, phase_rows = await outbox_and_phase_rows(sessions, engagement.engagement_id)
    finally:
        for worker in workers:
            await worker.stop()

    assert final.status is EngagementStatus.COMPLETED
    assert final.post_launch is not None
    assert final.post_launch.cycles_done == 2
    assert 0 < facts_at_crash < len(recorded), "the crash fell in the middle of the lifecycle"

    ids = Counter(event["id"] for event in published)
    assert [i for i, seen in ids.items() if seen > 1] == [], "an event id published twice"
    meanings = Counter(semantic_key(event) for event in published)
    assert [m for m, seen in meanings.items() if seen > 1] == [], "a fact published twice"
    assert len(published) == len(recorded) == outbox_rows

    rows = Counter(
        (event, phase, json.dumps(details, sort_keys=True)) for event, phase, details in recorded
    )
    assert [row for row, seen in rows.items() if seen > 1] == [], "a timeline row twice"
    assert sorted(phase_rows) == sorted((phase.value, 0) for phase in Phase)

    kinds = Counter(event["type"].split(".")[2] for event in published)
    assert kinds["engagement_started"] == kinds["engagement_completed"] == 1
    assert kinds["phase_started"] == kinds["phase_completed"] == len(Phase)
    assert kinds["approval_requested"] == kinds["approval_granted"] == len(Gate)
    assert kinds["task_created"] == len(final.tasks)
    assert kinds["task_overdue"] == sum(task.overdue for task in final.tasks) > 0
    deliverables = Counter(
        (record.name, record.phase, record.revision, json.dumps(record.reference, sort_keys=True))
        for record in final.deliverables
    )
    assert [d for d, seen in deliverables.items() if seen > 1] == [], "a deliverable twice"
    assert kinds["deliverable_recorded"] == len(final.deliverables)

"""``EngagementWorkflow`` under a real crash: the workflow worker and the strategy activity
worker are killed (SIGKILL) mid-phase and started again; the engagement completes, and every
lifecycle fact is on the stream, in the timeline and in the phase records exactly once.

The workers run as ``python -m engage worker ...`` with a task-queue prefix of their own, so the
in-process workers of the ``platform`` fixture never take the engagement's tasks.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from services.strategy.models import LifecycleEvent, OutboxEvent, PhaseRecord
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel, InterventionMode, Phase
from shared.settings import Settings
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.lifecycle_helpers import Handle, client_approver, decide, manager
from tests.test_thin_thread import create_org
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

ROOT = Path(__file__).resolve().parents[1]
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
}


def worker_environment(settings: Settings, prefix: str, scratch: Path) -> dict[str, str]:
    """The test's settings as ``ENGAGE_*`` variables, and nothing of the caller's own."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGE_")}
    return inherited | {
        "ENGAGE_ENVIRONMENT": settings.environment,
        "ENGAGE_DATABASE_URL": settings.database_url,
        "ENGAGE_NATS_URL": settings.nats_url,
        "ENGAGE_DATA_DIR": str(scratch),
        "ENGAGE_TEMPORAL__ADDRESS": settings.temporal.address,
        "ENGAGE_TEMPORAL__NAMESPACE": settings.temporal.namespace,
        "ENGAGE_TEMPORAL__TASK_QUEUE_PREFIX": prefix,
        "ENGAGE_EVENTS__STREAM": settings.events.stream,
        "ENGAGE_EVENTS__SUBJECT_PREFIX": settings.events.subject_prefix,
        # Heartbeat files go to a directory of the test's own.
        "TMPDIR": str(scratch),
    }


class WorkerProcess:
    """``engage worker NAME`` in a process group of its own, logging to a file."""

    def __init__(
        self, name: str, temporal: Client, prefix: str, environment: dict[str, str], log: Path
    ) -> None:
        self.name = name
        self._temporal = temporal
        self._queue = prefix + WORKERS[name][0]
        self._environment = environment
        self._log = log
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self._log.open("ab") as output:
            self._process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "engage", "worker", self.name),
                cwd=ROOT,
                env=self._environment,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        await wait_until(self._polling, timeout=60, interval=0.2)

    async def _polling(self) -> bool:
        assert self._process is not None
        assert self._process.returncode is None, self._log.read_text()
        described = await self._temporal.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=self._temporal.namespace,
                task_queue=TaskQueue(name=self._queue),
                task_queue_type=WORKERS[self.name][1],
            )
        )
        identity = f"{self._process.pid}@"
        return any(poller.identity.startswith(identity) for poller in described.pollers)

    async def kill(self) -> int:
        """SIGKILL to the whole group: nothing in the worker gets to clean up."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGKILL)
        return await self._process.wait()

    async def stop(self) -> None:
        if self._process is None or self._process.returncode is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self._process.wait(), 20)
        except TimeoutError:
            await self.kill()


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
    environment = worker_environment(platform.settings, prefix, tmp_path)
    workers = [
        WorkerProcess(name, platform.temporal, prefix, environment, tmp_path / f"{name}.log")
        for name in WORKERS
    ]
    workflow_worker, strategy_worker, *_ = workers
    engagement = (await create_engagement(platform)).model_copy(
        update={"task_queue_prefix": prefix}
    )
    try:
        for worker in workers:
            await worker.start()
        handle: Handle = await platform.temporal.start_workflow(
            WORKFLOW_NAME,
            engagement,
            id=workflow_id(engagement.engagement_id),
            task_queue=prefix + task_queues.WORKFLOWS,
            result_type=EngagementState,
        )
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

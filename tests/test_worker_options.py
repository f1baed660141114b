"""The worker's options from the fault probe of issue 15: the sticky queue's schedule-to-start
timeout reaches the workflow worker (and a live worker's sticky tasks start far sooner), and the
outbox relay names an error that has no message."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import workflow
from temporalio.api.enums.v1 import EventType, TaskQueueKind
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.publisher.models import OutboxEvent
from shared.events.relay import OutboxRelay
from shared.settings import EventSettings, Settings, WorkerSettings
from shared.worker import workflow_tuning

STEPS = 5


@workflow.defn(name="test-worker-options-steps")
class StepsWorkflow:
    """Each short timer ends in a new workflow task, on the worker's sticky queue."""

    @workflow.run
    async def run(self) -> int:
        for _ in range(STEPS):
            await workflow.sleep(0.05)
        return STEPS


def test_the_sticky_timeout_is_a_few_seconds_by_default() -> None:
    options = workflow_tuning(WorkerSettings())
    assert options["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=3)


def test_the_sticky_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGE_WORKER__STICKY_QUEUE_SCHEDULE_TO_START_SECONDS", "1.5")
    options = workflow_tuning(Settings().worker)
    assert options["sticky_queue_schedule_to_start_timeout"] == timedelta(seconds=1.5)


async def test_a_live_worker_starts_its_sticky_tasks_well_within_the_timeout(
    temporal_env: WorkflowEnvironment,
) -> None:
    """The measurement behind the setting: a healthy worker takes its sticky tasks in a fraction
    of the timeout, which therefore only ever expires for a worker that is gone."""
    tuning = WorkerSettings()
    task_queue = f"worker-options-{uuid.uuid4().hex[:8]}"
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[StepsWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
        **workflow_tuning(tuning),
    ):
        handle = await temporal_env.client.start_workflow(
            StepsWorkflow.run, id=f"worker-options-{uuid.uuid4()}", task_queue=task_queue
        )
        assert await handle.result() == STEPS
        history = await handle.fetch_history()

    scheduled: dict[int, Any] = {}
    sticky_waits: list[float] = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            attributes = event.workflow_task_scheduled_event_attributes
            scheduled[event.event_id] = (event.event_time.ToDatetime(), attributes)
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            at, attributes = scheduled[
                event.workflow_task_started_event_attributes.scheduled_event_id
            ]
            if attributes.task_queue.kind == TaskQueueKind.TASK_QUEUE_KIND_STICKY:
                sticky_waits.append((event.event_time.ToDatetime() - at).total_seconds())

    assert len(sticky_waits) >= STEPS - 1, "the later tasks went to the sticky queue"
    limit = tuning.sticky_queue_schedule_to_start_seconds
    assert max(sticky_waits) < limit / 3, sticky_waits


async def test_the_relay_names_an_error_without_a_message(
    sessions: async_sessionmaker[AsyncSession], caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()

    class SilentFailure(Exception):
        pass

    class FailingRelay(OutboxRelay):
        async def relay_once(self) -> int:
            stop.set()
            raise SilentFailure

    relay = FailingRelay(sessions, OutboxEvent, js=None, events=EventSettings())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="shared.events.relay"):
        await relay.run(stop)

    [record] = [r for r in caplog.records if r.name == "shared.events.relay"]
    assert record.getMessage().startswith("outbox relay: SilentFailure(); retrying"), (
        record.getMessage()
    )

"""The one way to run a Temporal worker process: a service's activities with its outbox relay,
or the workflows. Stops cleanly on SIGINT/SIGTERM and keeps a heartbeat file for its probes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from nats.js import JetStreamContext
from temporalio import workflow
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import PollerBehaviorSimpleMaximum, Worker

from shared.events.consumer import EffectConsumer, Subscription
from shared.events.outbox import OutboxMixin, outbox_channel
from shared.events.relay import OutboxRelay
from shared.events.wakeup import OutboxWakeup
from shared.logging_json import setup_logging
from shared.metrics import TEMPORAL_REACHABLE, WORKFLOW_STATUSES, record_workflow_counts
from shared.runtime import ServiceRuntime
from shared.settings import Settings, WorkerSettings
from shared.telemetry import serve_metrics, setup_telemetry
from shared.temporal import connect_temporal

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
RESTART_SECONDS = 2.0
HEARTBEAT_STALE_SECONDS = 60.0
# How often the workflow worker reads the workflows' counts from Temporal's visibility.
WORKFLOW_COUNT_SECONDS = 30.0


def heartbeat_path(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"engage-worker-{name}.heartbeat"


def heartbeat_is_fresh(name: str, now: float | None = None) -> bool:
    path = heartbeat_path(name)
    if not path.exists():
        return False
    return (now or time.time()) - path.stat().st_mtime < HEARTBEAT_STALE_SECONDS


async def _beat(name: str, stop: asyncio.Event) -> None:
    path = heartbeat_path(name)
    while not stop.is_set():
        path.touch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), HEARTBEAT_SECONDS)
    path.unlink(missing_ok=True)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)


@dataclass(frozen=True)
class QueueSpec:
    """Activities polled on one more task queue, with their own concurrency limit."""

    task_queue: str
    activities: Sequence[Callable[..., Any]]
    max_concurrent: int | None = None


# Consumers whose effect is outside the database (starting a workflow, keeping a schedule), given
# the worker's Temporal client, JetStream and runtime (for a service that reads its own tables).
Effects = Callable[[Client, JetStreamContext, ServiceRuntime], Sequence[EffectConsumer]]


async def run_worker(
    name: str,
    settings: Settings,
    task_queue: str,
    *,
    activities: Callable[[ServiceRuntime], Sequence[Callable[..., Any]]] = lambda _: [],
    workflows: Sequence[type] = (),
    outbox_model: type[OutboxMixin] | None = None,
    extra_queues: Callable[[ServiceRuntime], Sequence[QueueSpec]] = lambda _: [],
    on_connected: Callable[[Client], Awaitable[None]] | None = None,
    subscriptions: Sequence[Subscription] = (),
    effects: Effects | None = None,
) -> None:
    setup_logging(f"{name}-worker", settings)
    setup_telemetry(f"{name}-worker", settings)
    if settings.worker.metrics_port is not None:
        serve_metrics(settings.worker.metrics_port)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    runtime = ServiceRuntime(f"{name}-worker", settings, database=outbox_model is not None)
    await runtime.start()
    tasks = [asyncio.create_task(_beat(name, stop))]
    if outbox_model is not None:
        relay = functools.partial(_relay, runtime, outbox_model, stop)
        tasks.append(asyncio.create_task(keep_running("outbox relay", relay, stop)))
    tasks += [
        asyncio.create_task(
            keep_running(
                f"consumer {subscription.durable}",
                functools.partial(_consume, runtime, subscription, stop),
                stop,
            )
        )
        for subscription in subscriptions
    ]
    queues = [QueueSpec(task_queue, activities(runtime)), *extra_queues(runtime)]
    queues = [queue for queue in queues if queue.activities]
    if queues or workflows:
        client = await connect_temporal(settings)
        if on_connected is not None:
            await on_connected(client)
        if effects is not None:
            run_effects = functools.partial(_run_effects, runtime, client, effects, stop)
            tasks.append(asyncio.create_task(keep_running("effect consumers", run_effects, stop)))
        if workflows:
            counting = functools.partial(
                _count_workflows_until, client, settings.task_queue(task_queue), workflows, stop
            )
            tasks.append(asyncio.create_task(keep_running("workflow counts", counting, stop)))
        async with contextlib.AsyncExitStack() as running:
            if workflows:
                await running.enter_async_context(
                    Worker(
                        client,
                        task_queue=settings.task_queue(task_queue),
                        workflows=workflows,
                        **workflow_tuning(settings.worker),
                    )
                )
            for queue in queues:
                await running.enter_async_context(
                    Worker(
                        client,
                        task_queue=settings.task_queue(queue.task_queue),
                        activities=queue.activities,
                        max_concurrent_activities=(
                            queue.max_concurrent or settings.worker.max_concurrent_activities
                        ),
                        **_activity_tuning(settings.worker),
                    )
                )
                log.info("worker %s polling %s", name, settings.task_queue(queue.task_queue))
            await stop.wait()
    else:
        log.info("worker %s relays its outbox; it offers no activities yet", name)
        await stop.wait()
    # The relay may still be waiting for NATS; it must not hold the shutdown.
    _, pending = await asyncio.wait(tasks, timeout=10)
    for task in pending:
        task.cancel()
    await runtime.stop()


def workflow_tuning(tuning: WorkerSettings) -> dict[str, Any]:
    """The configured workflow-task limits and sticky timeout; unset limits keep the SDK's
    defaults."""
    options: dict[str, Any] = {
        "sticky_queue_schedule_to_start_timeout": timedelta(
            seconds=tuning.sticky_queue_schedule_to_start_seconds
        )
    }
    if tuning.max_concurrent_workflow_tasks is not None:
        options["max_concurrent_workflow_tasks"] = tuning.max_concurrent_workflow_tasks
    if tuning.workflow_task_pollers is not None:
        options["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
            tuning.workflow_task_pollers
        )
    return options


def _activity_tuning(tuning: WorkerSettings) -> dict[str, Any]:
    if tuning.activity_task_pollers is None:
        return {}
    return {
        "activity_task_poller_behavior": PollerBehaviorSimpleMaximum(tuning.activity_task_pollers)
    }


async def keep_running(what: str, run: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run one of the worker's background loops (the relay, a consumer) until ``stop``, starting
    it again after a failure: a NATS or database hiccup at the wrong moment (while it subscribes,
    say) must not leave a read model unfed for the life of the process."""
    while not stop.is_set():
        try:
            await run()
        except Exception:
            log.exception("%s stopped; starting it again in %s s", what, RESTART_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_SECONDS)


async def count_workflows(client: Client, task_queue: str, workflows: Sequence[type]) -> None:
    """Set ``engage_workflows`` from Temporal's visibility: each type's executions on
    ``task_queue`` (this deployment's) by status."""
    for defined in workflows:
        # The registered name (``@workflow.defn(name=...)``): the SDK keeps it on the class.
        name = workflow._Definition.must_from_class(defined).name or defined.__name__
        counted = await client.count_workflows(
            f"WorkflowType = '{name}' AND TaskQueue = '{task_queue}' GROUP BY ExecutionStatus"
        )
        groups = [(str(group.group_values[0]), group.count) for group in counted.groups]
        record_workflow_counts(name, groups, WORKFLOW_STATUSES)
    TEMPORAL_REACHABLE.set(1)


async def _count_workflows_until(
    client: Client, task_queue: str, workflows: Sequence[type], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await count_workflows(client, task_queue, workflows)
        except RPCError as error:
            TEMPORAL_REACHABLE.set(0)
            log.warning("Temporal's visibility did not answer: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WORKFLOW_COUNT_SECONDS)


async def _relay(runtime: ServiceRuntime, model: type[OutboxMixin], stop: asyncio.Event) -> None:
    nats = await runtime.wait_for_nats()
    settings = runtime.settings
    wakeup = OutboxWakeup(settings.database_url, outbox_channel(model))
    relay = OutboxRelay(runtime.sessions, model, nats.jetstream(), settings.events, wakeup)
    await relay.run(stop)


async def _consume(
    runtime: ServiceRuntime, subscription: Subscription, stop: asyncio.Event
) -> None:
    nats = await runtime.wait_for_nats()
    consumer = subscription.consumer(nats.jetstream(), runtime.sessions, runtime.settings.events)
    await consumer.run(stop)


async def _run_effects(
    runtime: ServiceRuntime,
    client: Client,
    effects: Effects,
    stop: asyncio.Event,
) -> None:
    nats = await runtime.wait_for_nats()
    consumers = effects(client, nats.jetstream(), runtime)
    await asyncio.gather(*(consumer.run(stop) for consumer in consumers))

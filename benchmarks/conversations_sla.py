"""First-response SLA timers at scale: N open conversations (10,000, or
``BENCH_SLA_CONVERSATIONS``), each with its ``ConversationSlaWorkflow``, on one workflow worker.

The platform runs as ``make up`` runs it: a Temporal dev server (in memory), ``engage worker
workflows`` and ``engage worker listening`` (the real SLA step activities, its outbox relay and
consumers) on a scratch database and stream. This process seeds the N conversations in the
listening service's table, starts their workflows as ``sla_start`` does, with due-soon times
spread over ``WINDOW`` a few minutes ahead, due ``BREACH_AFTER`` later and escalation a day
later (so every unanswered workflow is still open at the end, on its escalation timer). Then it
answers every other conversation (``first_response_at`` stored, the ``first_response`` signal
sent, as ``record_reply_outcome`` does) before its first timer fires, which cancels it. Each
step that ran is read back from the listening outbox (``sla_due_soon``, ``sla_breached``: the
step's own clock in ``data.at``); ``lateness`` is that minus the conversation's due time.

Two runs come first, on the same server, each with a workflow and an activity worker process of
its own (``benchmarks/sla_timers.py``) and a stand-in activity that answers when it ran:

- the baseline, a trivial workflow per conversation that sleeps until a due time and runs one
  activity (N/10 of them, their due times in WINDOW/10: the same timers per second);
- the design not taken, one workflow per engagement holding its conversations' timers
  (N/10 conversations in ``ENGAGEMENTS`` engagements, each conversation signalled-with-start,
  half of them answered by signal; the same timers per second).

Every figure carries each process's CPU per conversation (``cpu_ms_per_conversation``; ``rest``:
PostgreSQL, NATS and any other load on the machine) and ``machine_busy_cores``.

What bounds the lateness is CPU, not Temporal's timers. On the 2-core development machine (3 Dec
2026) the sampled ``TimerFired`` events came 0.08 to 0.24 s (p50) after their due times at
N = 10,000, but the timers and steps cost about 43 ms of the stack's CPU per conversation
(Temporal 22, workflow worker 13, listening 8), so 10,000 steps due within 90 s queued behind
two cores: steps p50 18 to 62 s (due soon) and 50 to 80 s (breach), p99 160 to 205 s, none
lost. At N = 2,000 (22 steps/s) a step ran 0.16 s after its due time (p50), under 1 s at p99.
Temporal server CPU per conversation about 29 ms; per engagement about 9 ms (50 conversations
each); the trivial sleeper 25 ms per workflow. ``docs/benchmarks.md`` has the figures and the
design argument. At N = 10,000 the run takes 6.5 to 8 minutes on two cores: the steps alone
need some 430 CPU-seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from benchmarks import memory, sla_timers
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
from services.listening import events
from services.listening.contracts import (
    FIRST_RESPONSE_SIGNAL,
    SLA_WORKFLOW,
    ConversationSlaInput,
    FirstResponse,
    SourceKind,
    sla_workflow_id,
)
from services.listening.models import Conversation, OutboxEvent
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.settings import Settings

BENCHMARK = "conversations_sla"
CONVERSATIONS = int(os.environ.get("BENCH_SLA_CONVERSATIONS", "10000"))
# The baseline and the alternative design run this share of N, in this share of the window.
SMALL_SHARE = 10
ENGAGEMENTS = 20
ORGANIZATIONS = 10
# Due-soon times spread evenly over the window; due this long after each; escalation far later.
WINDOW = timedelta(seconds=60)
BREACH_AFTER = timedelta(seconds=30)
ESCALATE_AFTER = timedelta(days=1)
# Time allowed before the first due time: a few seconds, and each start and signal's share.
LEAD = timedelta(seconds=10)
LEAD_PER_CONVERSATION = timedelta(milliseconds=9)
STARTS_IN_FLIGHT = 64
# Each awaited result is a long poll; the server refuses more than about 1,200 per namespace.
RESULTS_IN_FLIGHT = 800
HISTORY_SAMPLE = 100
# Steps still missing after this long without any step running are counted as lost.
STALL = timedelta(minutes=1)
# The listening worker's poll schedule would start a round every 15 s on the workflow queue.
WORKER_SETTINGS = {"ENGAGE_LISTENING__POLL_EVERY_SECONDS": str(24 * 3600)}
CPU_SUMMARY = ("cores", "machine_busy_cores")
T = TypeVar("T")


@dataclass(frozen=True)
class Seeded:
    """One conversation of the main run, as its workflow's input has it."""

    sla: ConversationSlaInput
    answered: bool


def spread(first_due: datetime, count: int, window: timedelta) -> list[datetime]:
    return [first_due + window * (n / count) for n in range(count)]


def lead_for(count: int) -> timedelta:
    return LEAD + LEAD_PER_CONVERSATION * count


def cpu_ms_per(cpu_use: dict[str, float], seconds: float, count: int) -> dict[str, float]:
    return {
        name: round(cores * seconds / count * 1000, 2)
        for name, cores in cpu_use.items()
        if name not in CPU_SUMMARY
    }


def evenly(items: Sequence[T], count: int) -> list[T]:
    """``count`` of ``items`` spread evenly over them (due times early and late alike)."""
    return list(items[:: max(1, len(items) // count)][:count])


async def bounded(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    in_flight = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with in_flight:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


def benchmark_workers(settings: Settings) -> list[WorkerProcess]:
    """The platform's two workers the SLA reaches, and the baseline's two."""
    baseline = (sys.executable, "-m", "benchmarks.sla_timers")
    return [
        engage_worker("workflows", settings.task_queue(task_queues.WORKFLOWS), WORKFLOW_QUEUE),
        engage_worker("listening", settings.task_queue(task_queues.LISTENING), ACTIVITY_QUEUE),
        WorkerProcess(
            "bench-workflows",
            (*baseline, "workflows"),
            settings.task_queue(sla_timers.WORKFLOW_QUEUE),
            WORKFLOW_QUEUE,
        ),
        WorkerProcess(
            "bench-activities",
            (*baseline, "activities"),
            settings.task_queue(sla_timers.ACTIVITY_QUEUE),
            ACTIVITY_QUEUE,
        ),
    ]


async def history_events(client: Client, workflow_ids: Sequence[str]) -> list[list[Any]]:
    histories = await bounded(
        (
            functools.partial(client.get_workflow_handle(workflow_id).fetch_history)
            for workflow_id in workflow_ids
        ),
        STARTS_IN_FLIGHT,
    )
    return [list(history.events) for history in histories]


def event_seconds(event: Any) -> float:
    return float(event.event_time.seconds + event.event_time.nanos / 1e9)


# The baseline: a trivial workflow per conversation sleeping until its due time.


async def measure_sleepers(client: Client, settings: Settings, cpu: CpuMeter) -> None:
    count = max(1, CONVERSATIONS // SMALL_SHARE)
    first_due = datetime.now(UTC) + lead_for(count)
    due = [at.timestamp() for at in spread(first_due, count, WINDOW / SMALL_SHARE)]
    activity_queue = settings.task_queue(sla_timers.ACTIVITY_QUEUE)
    handles: list[WorkflowHandle[Any, float]] = []

    async def start(due_at: float) -> None:
        handles.append(
            await client.start_workflow(
                sla_timers.SLEEPER_WORKFLOW,
                sla_timers.SleeperInput(activity_queue, due_at),
                id=f"bench-sla-sleeper-{uuid.uuid4()}",
                task_queue=settings.task_queue(sla_timers.WORKFLOW_QUEUE),
                result_type=float,
            )
        )

    cpu.start()
    started = time.perf_counter()
    await bounded((functools.partial(start, due_at) for due_at in due), STARTS_IN_FLIGHT)
    start_seconds = time.perf_counter() - started
    fired = await bounded((handle.result for handle in handles), RESULTS_IN_FLIGHT)
    seconds = time.perf_counter() - started
    cpu_use = cpu.stop()
    ids = [handle.id for handle in handles[:HISTORY_SAMPLE]]
    sampled = await history_events(client, ids)
    # Results come back in the order of starts, which follows due times only roughly.
    due_of = dict(zip((handle.id for handle in handles), due, strict=True))
    lateness = [at - due_of[handle.id] for handle, at in zip(handles, fired, strict=True)]
    report(
        BENCHMARK,
        "baseline_sleeper_lateness_p50",
        round(percentile(lateness, 0.5), 3),
        "s",
        workflows=count,
        window_seconds=(WINDOW / SMALL_SHARE).total_seconds(),
        p99=round(percentile(lateness, 0.99), 3),
        starts_per_second=round(count / start_seconds, 1),
        history_events_per_workflow=round(sum(map(len, sampled)) / len(sampled), 1),
        cpu_ms_per_workflow=cpu_ms_per(cpu_use, seconds, count),
        machine_busy_cores=cpu_use.get("machine_busy_cores"),
        baseline="trivial_sleep_then_one_activity",
    )


# The design not taken: one workflow per engagement holding its conversations' timers.


async def measure_per_engagement(client: Client, settings: Settings, cpu: CpuMeter) -> None:
    count = max(ENGAGEMENTS, CONVERSATIONS // SMALL_SHARE)
    window = WINDOW / SMALL_SHARE
    first_due = datetime.now(UTC) + lead_for(count)
    ids = [f"bench-engagement-sla-{uuid.uuid4()}" for _ in range(ENGAGEMENTS)]
    opened = [
        (
            ids[n % ENGAGEMENTS],
            sla_timers.ConversationTimes(
                str(uuid.uuid4()), at.timestamp(), (at + BREACH_AFTER / SMALL_SHARE).timestamp()
            ),
        )
        for n, at in enumerate(spread(first_due, count, window))
    ]
    request = sla_timers.EngagementSlaInput(settings.task_queue(sla_timers.ACTIVITY_QUEUE))

    async def open_one(workflow_id: str, times: sla_timers.ConversationTimes) -> None:
        await client.start_workflow(
            sla_timers.ENGAGEMENT_WORKFLOW,
            request,
            id=workflow_id,
            task_queue=settings.task_queue(sla_timers.WORKFLOW_QUEUE),
            start_signal=sla_timers.OPENED_SIGNAL,
            start_signal_args=[times],
        )

    async def answer(workflow_id: str, times: sla_timers.ConversationTimes) -> None:
        handle = client.get_workflow_handle(workflow_id)
        await handle.signal(sla_timers.ANSWERED_SIGNAL, times.conversation_id)

    cpu.start()
    started = time.perf_counter()
    await bounded(
        (functools.partial(open_one, *pair) for pair in opened),
        STARTS_IN_FLIGHT,
    )
    start_seconds = time.perf_counter() - started
    await bounded(
        (functools.partial(answer, *pair) for pair in opened[::2]),
        STARTS_IN_FLIGHT,
    )
    expected = 2 * (count - len(opened[::2]))
    last_due = max(times.due_at for _, times in opened)
    await asyncio.sleep(max(0.0, last_due - time.time()))
    fired: list[sla_timers.Fired] = []
    progress_at, seen = time.monotonic(), -1
    while len(fired) < expected and time.monotonic() - progress_at < STALL.total_seconds():
        results = await asyncio.gather(
            *(
                client.get_workflow_handle(workflow_id).query(
                    sla_timers.FIRED_QUERY, result_type=list[sla_timers.Fired]
                )
                for workflow_id in ids
            )
        )
        fired = [step for steps in results for step in steps]
        if len(fired) != seen:
            seen, progress_at = len(fired), time.monotonic()
        if len(fired) < expected:
            await asyncio.sleep(1)
    seconds = time.perf_counter() - started
    cpu_use = cpu.stop()
    histories = await history_events(client, ids)
    late = {
        step: [f.fired_at - f.due_at for f in fired if f.step == step]
        for step in ("due_soon", "breached")
    }
    report(
        BENCHMARK,
        "per_engagement_server_cpu_ms_per_conversation",
        cpu_ms_per(cpu_use, seconds, count).get("temporal", float("nan")),
        "ms",
        conversations=count,
        engagements=ENGAGEMENTS,
        answered=len(opened[::2]),
        window_seconds=window.total_seconds(),
        signal_with_starts_per_second=round(count / start_seconds, 1),
        steps_run=len(fired),
        steps_lost=expected - len(fired),
        due_soon_lateness_p50=round(percentile(late["due_soon"], 0.5), 3),
        due_soon_lateness_p99=round(percentile(late["due_soon"], 0.99), 3),
        breach_lateness_p50=round(percentile(late["breached"], 0.5), 3),
        breach_lateness_p99=round(percentile(late["breached"], 0.99), 3),
        history_events_per_conversation=round(sum(map(len, histories)) / count, 1),
        history_events_per_engagement=round(sum(map(len, histories)) / ENGAGEMENTS, 1),
        cpu_ms_per_conversation=cpu_ms_per(cpu_use, seconds, count),
        machine_busy_cores=cpu_use.get("machine_busy_cores"),
        baseline="one_workflow_per_engagement_stand_in_activity",
    )


# The design taken: ConversationSlaWorkflow per conversation, real activities.


async def seed(
    sessions: async_sessionmaker[AsyncSession], prefix: str, first_due: datetime
) -> list[Seeded]:
    """N open conversations in the listening service's table, every other one to be answered."""
    now = datetime.now(UTC)
    organizations = [uuid.uuid4() for _ in range(ORGANIZATIONS)]
    engagements = [uuid.uuid4() for _ in range(ENGAGEMENTS * 5)]
    seeded = [
        Seeded(
            ConversationSlaInput(
                conversation_id=uuid.uuid4(),
                organization_id=organizations[n % ORGANIZATIONS],
                engagement_id=engagements[n % len(engagements)],
                due_soon_at=due_soon_at,
                due_at=due_soon_at + BREACH_AFTER,
                escalate_at=due_soon_at + BREACH_AFTER + ESCALATE_AFTER,
                task_queue_prefix=prefix,
            ),
            answered=n % 2 == 0,
        )
        for n, due_soon_at in enumerate(spread(first_due, CONVERSATIONS, WINDOW))
    ]
    rows = [
        {
            "id": one.sla.conversation_id,
            "organization_id": one.sla.organization_id,
            "engagement_id": one.sla.engagement_id,
            "source": SourceKind.INSTAGRAM.value,
            "author_handle": f"@bench{n}",
            "first_mention_id": uuid.uuid4(),
            "category": "question",
            "triage_reason": "benchmark",
            "triaged_by": "rules",
            "state": "open",
            "opened_at": now,
            "due_soon_at": one.sla.due_soon_at,
            "first_response_due_at": one.sla.due_at,
            "escalate_at": one.sla.escalate_at,
            "updated_at": now,
        }
        for n, one in enumerate(seeded)
    ]
    async with session_scope(sessions, SYSTEM) as session:
        for first in range(0, len(rows), 1000):
            await session.execute(insert(Conversation), rows[first : first + 1000])
    return seeded


async def mark_answered(sessions: async_sessionmaker[AsyncSession], ids: list[uuid.UUID]) -> None:
    """As ``record_reply_outcome`` stores a sent reply before it signals the workflow."""
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.id.in_(ids))
            .values(state="answered", first_response_at=datetime.now(UTC))
        )


STEPS = (events.CONVERSATION_SLA_DUE_SOON, events.CONVERSATION_SLA_BREACHED)


async def steps_run(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with session_scope(sessions, SYSTEM) as session:
        return (
            await session.scalar(
                select(func.count()).select_from(OutboxEvent).where(OutboxEvent.name.in_(STEPS))
            )
            or 0
        )


async def wait_for_steps(sessions: async_sessionmaker[AsyncSession], expected: int) -> None:
    """Until every step ran, or none ran for ``STALL`` (the rest are lost)."""
    done, progress_at = -1, time.monotonic()
    while done < expected and time.monotonic() - progress_at < STALL.total_seconds():
        now_done = await steps_run(sessions)
        if now_done != done:
            done, progress_at = now_done, time.monotonic()
        if done < expected:
            await asyncio.sleep(1)


async def step_lateness(
    sessions: async_sessionmaker[AsyncSession], seeded: Sequence[Seeded]
) -> dict[str, list[float]]:
    """Seconds from each step's due time to the step's own clock, per step."""
    due = {
        (str(one.sla.conversation_id), events.CONVERSATION_SLA_DUE_SOON): one.sla.due_soon_at
        for one in seeded
    } | {
        (str(one.sla.conversation_id), events.CONVERSATION_SLA_BREACHED): one.sla.due_at
        for one in seeded
    }
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.execute(
            select(OutboxEvent.name, OutboxEvent.envelope).where(OutboxEvent.name.in_(STEPS))
        )
        late: dict[str, list[float]] = {name: [] for name in STEPS}
        for name, envelope in rows.all():
            data = envelope["data"]
            at = datetime.fromisoformat(data["at"])
            late[name].append((at - due[(data["conversation_id"], name)]).total_seconds())
    return late


@dataclass
class TimerSample:
    """From sampled histories: when each timer fired after its due time, how long its step's
    activity then waited to start, and how many steps took more than one attempt."""

    fired_late: list[float]
    activity_waited: list[float]
    retried: int


def timer_sample(histories: dict[str, list[Any]], seeded: dict[str, Seeded]) -> TimerSample:
    sample = TimerSample([], [], 0)
    for workflow_id, history in histories.items():
        one = seeded[workflow_id]
        fired = [e for e in history if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
        for event, due in zip(fired, (one.sla.due_soon_at, one.sla.due_at), strict=False):
            sample.fired_late.append(event_seconds(event) - due.timestamp())
        started = [e for e in history if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
        for timer, step in zip(fired, started, strict=False):
            sample.activity_waited.append(event_seconds(step) - event_seconds(timer))
        sample.retried += sum(e.activity_task_started_event_attributes.attempt > 1 for e in started)
    return sample


async def measure_per_conversation(
    client: Client,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    cpu: CpuMeter,
    workflow_worker: int,
) -> None:
    first_due = datetime.now(UTC) + lead_for(CONVERSATIONS)
    seeded = await seed(sessions, settings.temporal.task_queue_prefix, first_due)
    answered = [one for one in seeded if one.answered]
    queue = settings.task_queue(task_queues.WORKFLOWS)

    async def start(one: Seeded) -> None:
        await client.start_workflow(
            SLA_WORKFLOW, one.sla, id=sla_workflow_id(one.sla.conversation_id), task_queue=queue
        )

    async def answer(one: Seeded, at: datetime) -> None:
        handle = client.get_workflow_handle(sla_workflow_id(one.sla.conversation_id))
        await handle.signal(
            FIRST_RESPONSE_SIGNAL, FirstResponse(conversation_id=one.sla.conversation_id, at=at)
        )

    cpu.start()
    started = time.perf_counter()
    await bounded((functools.partial(start, one) for one in seeded), STARTS_IN_FLIGHT)
    start_seconds = time.perf_counter() - started
    answered_at = datetime.now(UTC)
    await mark_answered(sessions, [one.sla.conversation_id for one in answered])
    signalled = time.perf_counter()
    await bounded(
        (functools.partial(answer, one, answered_at) for one in answered), STARTS_IN_FLIGHT
    )
    signal_seconds = time.perf_counter() - signalled
    answered_after_due = (datetime.now(UTC) - first_due).total_seconds()
    start_cpu = cpu.stop()
    start_phase = time.perf_counter() - started

    cpu.start()
    fire_from = time.perf_counter()
    expected = 2 * (len(seeded) - len(answered))
    last_due = max(one.sla.due_at for one in seeded)
    await asyncio.sleep(max(0.0, (last_due - datetime.now(UTC)).total_seconds()))
    await wait_for_steps(sessions, expected)
    fire_cpu = cpu.stop()
    fire_phase = time.perf_counter() - fire_from

    late = await step_lateness(sessions, seeded)
    unanswered = evenly([one for one in seeded if not one.answered], HISTORY_SAMPLE)
    sample_ids = [
        sla_workflow_id(one.sla.conversation_id) for one in evenly(answered, HISTORY_SAMPLE)
    ]
    answered_histories = await history_events(client, sample_ids)
    open_histories = await history_events(
        client, [sla_workflow_id(one.sla.conversation_id) for one in unanswered]
    )
    by_id = {sla_workflow_id(one.sla.conversation_id): one for one in seeded}
    open_ids = [sla_workflow_id(one.sla.conversation_id) for one in unanswered]
    timers = timer_sample(dict(zip(open_ids, open_histories, strict=True)), by_id)
    per_start = cpu_ms_per(start_cpu, start_phase, CONVERSATIONS)
    per_fire = cpu_ms_per(fire_cpu, fire_phase, CONVERSATIONS)
    total = {name: round(per_start[name] + per_fire.get(name, 0.0), 2) for name in per_start}
    answered_events = sum(map(len, answered_histories)) / max(1, len(answered_histories))
    open_events = sum(map(len, open_histories)) / max(1, len(open_histories))
    run = {"conversations": CONVERSATIONS, "answered": len(answered)}
    report(
        BENCHMARK,
        "starts_per_second",
        round(CONVERSATIONS / start_seconds, 1),
        "workflows/s",
        **run,
        signals_per_second=round(len(answered) / signal_seconds, 1),
        answered_after_first_due_seconds=round(max(0.0, answered_after_due), 1),
        start_phase_cpu_ms_per_conversation=per_start,
        machine_busy_cores=start_cpu.get("machine_busy_cores"),
    )
    for name, metric in (
        (events.CONVERSATION_SLA_DUE_SOON, "due_soon"),
        (events.CONVERSATION_SLA_BREACHED, "breach"),
    ):
        report(
            BENCHMARK,
            f"{metric}_lateness_p50",
            round(percentile(late[name], 0.5), 3),
            "s",
            **run,
            steps=len(late[name]),
            window_seconds=WINDOW.total_seconds(),
            p99=round(percentile(late[name], 0.99), 3),
            max=round(max(late[name], default=float("nan")), 3),
            timer_fired_lateness_p50=round(percentile(timers.fired_late, 0.5), 3),
            timer_fired_lateness_p99=round(percentile(timers.fired_late, 0.99), 3),
            activity_start_after_timer_p50=round(percentile(timers.activity_waited, 0.5), 3),
            activity_start_after_timer_p99=round(percentile(timers.activity_waited, 0.99), 3),
            sampled_workflows=len(open_histories),
            sampled_steps_retried=timers.retried,
            baseline="trivial_sleep_then_one_activity",
        )
    report(
        BENCHMARK,
        "steps_lost",
        expected - sum(map(len, late.values())),
        "steps",
        **run,
        baseline="required",
        baseline_value=0,
    )
    report(
        BENCHMARK,
        "server_cpu_ms_per_conversation",
        total.get("temporal", float("nan")),
        "ms",
        **run,
        cpu_ms_per_conversation=total,
        fire_phase_cpu_ms_per_conversation=per_fire,
        fire_phase_seconds=round(fire_phase, 1),
        machine_busy_cores=fire_cpu.get("machine_busy_cores"),
        baseline="trivial_sleep_then_one_activity",
    )
    report(
        BENCHMARK,
        "history_events_per_conversation",
        round((answered_events + open_events) / 2, 1),
        "events",
        **run,
        answered_conversation=round(answered_events, 1),
        unanswered_at_escalation_wait=round(open_events, 1),
        sampled=len(answered_histories) + len(open_histories),
    )
    # The worker holding every open SLA workflow: its peak is also make bench's memory line.
    memory.note("workflows", workflow_worker)
    peak = memory.peak_rss_bytes(workflow_worker)
    report(
        BENCHMARK,
        "workflow_worker_peak_rss",
        round(peak / memory.MIB, 1) if peak is not None else float("nan"),
        "MiB",
        **run,
        open_workflows_at_end=len(seeded) - len(answered),
    )


async def run() -> None:
    async with contextlib.AsyncExitStack() as stack:
        scratch = await stack.enter_async_context(scratch_settings("listening"))
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sla-")))
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
        await stack.enter_async_context(scratch_stream(settings, "bench-sla"))
        workers = await stack.enter_async_context(
            running_workers(
                temporal.client,
                settings,
                benchmark_workers(settings),
                logs,
                extra_env=WORKER_SETTINGS,
            )
        )
        pids = {**workers.pids, "driver": os.getpid(), "temporal": temporal.pid}
        await measure_sleepers(temporal.client, settings, CpuMeter(pids))
        await measure_per_engagement(temporal.client, settings, CpuMeter(pids))
        await measure_per_conversation(
            temporal.client, settings, sessions, CpuMeter(pids), workers.pids["workflows"]
        )

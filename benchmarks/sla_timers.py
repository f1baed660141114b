"""The SLA benchmark's baseline and alternative design, with their two workers.

- ``BenchSlaSleeperWorkflow``: the baseline, a trivial workflow that sleeps until a due time
  and runs one activity, which answers when it ran.
- ``BenchEngagementSlaWorkflow``: the design not taken, one workflow per engagement holding
  many conversations' timers. Each conversation arrives by signal-with-start, as a
  ``conversation_opened`` consumer would send it; the workflow sleeps until its earliest pending
  step, runs every step then due (a stand-in activity each), and a ``first_response`` signal
  drops the conversation's remaining steps.

``python -m benchmarks.sla_timers workflows|activities`` runs one worker process the way
``engage worker`` does (``shared/worker.py``), on task queues of the benchmark's own. This
module stays small: the workflow sandbox imports it again for every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

SLEEPER_WORKFLOW = "BenchSlaSleeperWorkflow"
ENGAGEMENT_WORKFLOW = "BenchEngagementSlaWorkflow"
FIRED = "bench.sla_fired"
OPENED_SIGNAL = "conversation_opened"
ANSWERED_SIGNAL = "first_response"
FIRED_QUERY = "fired"
WORKFLOW_QUEUE = "bench-sla-workflows"
ACTIVITY_QUEUE = "bench-sla-activities"
ACTIVITY_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1))


@dataclass
class SleeperInput:
    activity_queue: str
    # Epoch seconds.
    due_at: float


@dataclass
class ConversationTimes:
    conversation_id: str
    due_soon_at: float
    due_at: float


@dataclass
class EngagementSlaInput:
    activity_queue: str


@dataclass
class Fired:
    conversation_id: str
    step: str
    due_at: float
    fired_at: float


@dataclass
class Step:
    due_at: float
    name: str


@dataclass
class Pending:
    conversation_id: str
    steps: list[Step] = field(default_factory=list)


@activity.defn(name=FIRED)
async def fired() -> float:
    """When the step ran, in epoch seconds: the stand-in for a listening SLA step."""
    return time.time()


async def _fire(activity_queue: str) -> float:
    at: float = await workflow.execute_activity(
        FIRED,
        result_type=float,
        task_queue=activity_queue,
        start_to_close_timeout=ACTIVITY_TIMEOUT,
        retry_policy=ACTIVITY_RETRY,
    )
    return at


@workflow.defn(name=SLEEPER_WORKFLOW)
class SleeperWorkflow:
    @workflow.run
    async def run(self, request: SleeperInput) -> float:
        wait = request.due_at - workflow.now().timestamp()
        if wait > 0:
            await workflow.sleep(wait)
        return await _fire(request.activity_queue)


@workflow.defn(name=ENGAGEMENT_WORKFLOW)
class EngagementSlaWorkflow:
    def __init__(self) -> None:
        self._pending: dict[str, Pending] = {}
        self._fired: list[Fired] = []
        self._changed = False

    @workflow.run
    async def run(self, request: EngagementSlaInput) -> None:
        while True:
            now = workflow.now().timestamp()
            due = [
                (pending, pending.steps.pop(0))
                for pending in self._pending.values()
                if pending.steps and pending.steps[0].due_at <= now
            ]
            if due:
                at = await asyncio.gather(*(_fire(request.activity_queue) for _ in due))
                self._fired += [
                    Fired(pending.conversation_id, step.name, step.due_at, fired_at)
                    for (pending, step), fired_at in zip(due, at, strict=True)
                ]
                continue
            upcoming = [p.steps[0].due_at for p in self._pending.values() if p.steps]
            self._changed = False
            timeout = min(upcoming) - now if upcoming else None
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._changed, timeout=timeout)

    @workflow.signal(name=OPENED_SIGNAL)
    def conversation_opened(self, opened: ConversationTimes) -> None:
        self._pending[opened.conversation_id] = Pending(
            opened.conversation_id,
            [Step(opened.due_soon_at, "due_soon"), Step(opened.due_at, "breached")],
        )
        self._changed = True

    @workflow.signal(name=ANSWERED_SIGNAL)
    def first_response(self, conversation_id: str) -> None:
        self._pending.pop(conversation_id, None)
        self._changed = True

    @workflow.query(name=FIRED_QUERY)
    def fired(self) -> list[Fired]:
        return self._fired


def main() -> None:
    import sys

    # This module runs as ``__main__``; the workers register its importable copy, which the
    # workflow sandbox can import again by name.
    from benchmarks import sla_timers
    from shared.settings import get_settings
    from shared.worker import run_worker

    role = sys.argv[1]
    settings = get_settings()
    if role == "workflows":
        worker = run_worker(
            "bench-sla-workflows",
            settings,
            WORKFLOW_QUEUE,
            workflows=[sla_timers.SleeperWorkflow, sla_timers.EngagementSlaWorkflow],
        )
    elif role == "activities":
        worker = run_worker(
            "bench-sla-activities",
            settings,
            ACTIVITY_QUEUE,
            activities=lambda _: [sla_timers.fired],
        )
    else:
        raise SystemExit(
            f"usage: python -m benchmarks.sla_timers workflows|activities, not {role!r}"
        )
    asyncio.run(worker)


if __name__ == "__main__":
    main()

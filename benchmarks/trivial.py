"""The lifecycle benchmark's baseline: a trivial one-activity workflow and its two workers.

``python -m benchmarks.trivial workflows|activities`` runs one worker process the way
``engage worker`` does (``shared/worker.py``), on task queues of the baseline's own. This module
stays small: the workflow sandbox imports it again for every run.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy

WORKFLOW = "BenchTrivialWorkflow"
ACTIVITY = "bench.noop"
WORKFLOW_QUEUE = "bench-trivial-workflows"
ACTIVITY_QUEUE = "bench-trivial-activities"


@activity.defn(name=ACTIVITY)
async def noop(n: int) -> int:
    return n


@workflow.defn(name=WORKFLOW)
class TrivialWorkflow:
    @workflow.run
    async def run(self, activity_queue: str) -> int:
        result: int = await workflow.execute_activity(
            ACTIVITY,
            1,
            result_type=int,
            task_queue=activity_queue,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1)),
        )
        return result


def main() -> None:
    import asyncio
    import sys

    # This module runs as ``__main__``; the workers register its importable copy, which the
    # workflow sandbox can import again by name.
    from benchmarks import trivial
    from shared.settings import get_settings
    from shared.worker import run_worker

    role = sys.argv[1]
    settings = get_settings()
    if role == "workflows":
        worker = run_worker(
            "bench-trivial-workflows",
            settings,
            WORKFLOW_QUEUE,
            workflows=[trivial.TrivialWorkflow],
        )
    elif role == "activities":
        worker = run_worker(
            "bench-trivial-activities",
            settings,
            ACTIVITY_QUEUE,
            activities=lambda _: [trivial.noop],
        )
    else:
        raise SystemExit(f"usage: python -m benchmarks.trivial workflows|activities, not {role!r}")
    asyncio.run(worker)


if __name__ == "__main__":
    main()

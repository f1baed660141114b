"""The batch design of issue 18, as a stand-in measured by ``benchmarks/publish.py`` (scenario
``publish_batch``): one workflow per account and due minute, the posts added to it by
signal-with-start, one timer for the batch, and one activity that publishes the batch's posts
with the publisher's own ``Publisher.publish`` (each post its own claim, idempotency key,
outcome record and event, its own retries and rate-limit waits inside the activity).

It is not the product's workflow: it has no cancel or reschedule of a single post, tells no
engagement and marks no content item. It measures what the Temporal server, the workflow worker
and the publisher spend per post when posts share a workflow, a timer and an activity.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

BATCH_WORKFLOW = "BenchPublishBatchWorkflow"
ADD_POST_SIGNAL = "add_post"
PUBLISH_BATCH = "bench.publish_batch"
WORKFLOW_QUEUE = "bench-batch-workflows"
ACTIVITY_QUEUE = "bench-batch-publisher"


class BatchInput(BaseModel):
    due_at: datetime
    task_queue_prefix: str = ""


class PublishBatch(BaseModel):
    publication_ids: list[uuid.UUID]


class BatchOutcome(BaseModel):
    published: int
    failed: int


def batch_workflow_id(connection_id: uuid.UUID, due_at: datetime) -> str:
    return f"bench-batch-{connection_id}-{due_at:%Y%m%d%H%M}"


@workflow.defn(name=BATCH_WORKFLOW)
class BenchPublishBatchWorkflow:
    @workflow.init
    def __init__(self, batch: BatchInput) -> None:
        self._pending: list[uuid.UUID] = []

    @workflow.signal(name=ADD_POST_SIGNAL)
    def add_post(self, publication_id: uuid.UUID) -> None:
        self._pending.append(publication_id)

    @workflow.run
    async def run(self, batch: BatchInput) -> BatchOutcome:
        published = failed = 0
        remaining = batch.due_at - workflow.now()
        if remaining > timedelta(0):
            await workflow.sleep(remaining)
        while self._pending:
            posts, self._pending = self._pending, []
            outcome = await workflow.execute_activity(
                PUBLISH_BATCH,
                PublishBatch(publication_ids=posts),
                result_type=BatchOutcome,
                task_queue=batch.task_queue_prefix + ACTIVITY_QUEUE,
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=20),
                retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2)),
            )
            published += outcome.published
            failed += outcome.failed
        await workflow.wait_condition(workflow.all_handlers_finished)
        return BatchOutcome(published=published, failed=failed)

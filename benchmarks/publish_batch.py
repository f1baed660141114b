"""Processes of the batch design's stand-in (``publish_batch_workflow.py``):
``python -m benchmarks.publish_batch workflows`` runs its workflow, ``... publisher`` its
activity, which publishes each post of a batch with the publisher's ``Publisher.publish``
(``platform_concurrency`` at a time; a retryable failure waits its ``Retry-After`` or a backoff
of its own and is tried again, an unknown outcome is asked of the platform first, as the
publisher's own activity does). Both read the ``ENGAGE_*`` settings the benchmark gives every
worker.
"""

from __future__ import annotations

import asyncio
import sys
import uuid

import httpx
from temporalio import activity
from temporalio.worker import Worker

from benchmarks.publish_batch_workflow import (
    ACTIVITY_QUEUE,
    PUBLISH_BATCH,
    WORKFLOW_QUEUE,
    BatchOutcome,
    BenchPublishBatchWorkflow,
    PublishBatch,
)
from services.publisher.connectors.registry import connector_for
from services.publisher.crypto import TokenVault
from services.publisher.publishing import Publisher, PublishFailedError
from shared.db.session import create_engine, create_session_factory
from shared.domain import Channel
from shared.media_links import MediaLinks
from shared.settings import Settings
from shared.temporal import connect_temporal

MAX_ATTEMPTS = 8
HEARTBEAT_SECONDS = 5.0


class BatchPublisher:
    def __init__(self, publisher: Publisher, concurrency: int) -> None:
        self._publisher = publisher
        # Publishes at a time over every batch of the worker, as the publisher's own queue has.
        self._in_flight = asyncio.Semaphore(concurrency)

    @activity.defn(name=PUBLISH_BATCH)
    async def publish_batch(self, batch: PublishBatch) -> BatchOutcome:
        beating = asyncio.create_task(_beat())
        try:
            results = await asyncio.gather(
                *(self._publish(self._in_flight, post) for post in batch.publication_ids)
            )
        finally:
            beating.cancel()
        return BatchOutcome(published=results.count(True), failed=results.count(False))

    async def _publish(self, in_flight: asyncio.Semaphore, publication_id: uuid.UUID) -> bool:
        """One post, with its own retries: True once published, False once failed for good."""
        for attempt in range(MAX_ATTEMPTS):
            async with in_flight:
                try:
                    outcome = await self._publisher.publish(publication_id)
                    return outcome.status == "published"
                except PublishFailedError as error:
                    if error.failure_class in ("auth", "content_rejected"):
                        return False
                    wait = error.retry_after or min(2.0 * 2**attempt, 300.0)
            await asyncio.sleep(wait)
        return False


async def _beat() -> None:
    while True:
        activity.heartbeat()
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def main(role: str) -> None:
    settings = Settings()
    client = await connect_temporal(settings)
    prefix = settings.temporal.task_queue_prefix
    if role == "workflows":
        async with Worker(
            client, task_queue=prefix + WORKFLOW_QUEUE, workflows=[BenchPublishBatchWorkflow]
        ):
            await asyncio.Event().wait()
    engine = create_engine(settings)
    async with httpx.AsyncClient(timeout=settings.publisher.request_timeout_seconds) as http:
        publisher = Publisher(
            create_session_factory(engine),
            TokenVault(settings.publisher),
            lambda channel: connector_for(Channel(channel), http, settings),
            MediaLinks.from_settings(settings),
        )
        batches = BatchPublisher(publisher, settings.publisher.platform_concurrency)
        async with Worker(
            client,
            task_queue=prefix + ACTIVITY_QUEUE,
            activities=[batches.publish_batch],
            max_concurrent_activities=settings.publisher.platform_concurrency,
        ):
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

"""The workflows holding scheduled posts, from the publisher's API and activities.

A post placed since batches is held by its minute's ``PublishBatchWorkflow``
(``publish-batch-<connection>-<minute>``), added by signal-with-start; it is cancelled and moved
in its row, under the lock its claim takes, without asking the batch (the claim publishes only a
waiting post due when its batch holds it). A post placed before keeps its own
``PublishPostWorkflow`` (``publication-<id>``), changed through that workflow's updates.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.publisher import publications
from services.publisher.contracts import (
    ADD_POST_SIGNAL,
    BATCH_WORKFLOW,
    CANCEL_UPDATE,
    POST_WORKFLOW,
    RESCHEDULE_UPDATE,
    AddPost,
    CancelCommand,
    CancelRequest,
    PublishBatchInput,
    PublishPostInput,
    PublishPostState,
    RescheduleRequest,
    batch_workflow_id,
    in_a_batch,
)
from services.publisher.models import Publication
from shared import task_queues
from shared.errors import ProblemError
from shared.settings import Settings
from shared.temporal import TemporalConnection


async def hand_over(
    client: Client,
    publication: Publication,
    *,
    task_queue_prefix: str,
    publish_timeout_seconds: float,
    item_id: uuid.UUID | None = None,
    due_at: datetime | None = None,
) -> None:
    """Give the post (committed, waiting) to the workflow its ``workflow_id`` names; repeating
    it changes nothing. ``due_at``: the time it moves to (a reschedule), else its own."""
    due = due_at or publication.due_at
    if not in_a_batch(publication.workflow_id):
        await _start_own_workflow(
            client, publication, task_queue_prefix, publish_timeout_seconds, item_id
        )
        return
    await client.start_workflow(
        BATCH_WORKFLOW,
        PublishBatchInput(
            connection_id=publication.connection_id,
            channel=publication.channel,
            due_minute=due.astimezone(UTC).replace(second=0, microsecond=0),
            task_queue_prefix=task_queue_prefix,
            publish_timeout_seconds=publish_timeout_seconds,
        ),
        id=batch_workflow_id(publication.connection_id, due),
        task_queue=task_queue_prefix + task_queues.WORKFLOWS,
        start_signal=ADD_POST_SIGNAL,
        start_signal_args=[
            AddPost(
                publication_id=publication.id,
                due_at=due,
                item_id=item_id,
                engagement_id=publication.engagement_id,
                organization_id=publication.organization_id,
            )
        ],
    )


async def _start_own_workflow(
    client: Client,
    publication: Publication,
    task_queue_prefix: str,
    publish_timeout_seconds: float,
    item_id: uuid.UUID | None,
) -> None:
    try:
        await client.start_workflow(
            POST_WORKFLOW,
            PublishPostInput(
                publication_id=publication.id,
                channel=publication.channel,
                due_at=publication.due_at,
                task_queue_prefix=task_queue_prefix,
                publish_timeout_seconds=publish_timeout_seconds,
                item_id=item_id,
                engagement_id=publication.engagement_id,
                organization_id=publication.organization_id,
            ),
            id=publication.workflow_id,
            task_queue=task_queue_prefix + task_queues.WORKFLOWS,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        return


class Scheduler(TemporalConnection):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._prefix = settings.temporal.task_queue_prefix
        self._publish_timeout_seconds = settings.publisher.publish_timeout_seconds

    async def start(self, publication: Publication) -> None:
        await hand_over(
            self.client,
            publication,
            task_queue_prefix=self._prefix,
            publish_timeout_seconds=self._publish_timeout_seconds,
        )

    async def reschedule(
        self, session: AsyncSession, publication: Publication, request: RescheduleRequest
    ) -> None:
        """A batch's post joins the new minute's batch first, then its row moves (in the
        caller's transaction, under the row's lock): the batch it leaves finds it due at another
        time and drops it, and a move that fails half way leaves it where it was."""
        if not in_a_batch(publication.workflow_id):
            await self._update(publication, RESCHEDULE_UPDATE, request)
            publication.due_at = request.due_at
            return
        await publications.lock_waiting(session, publication, "rescheduled")
        await hand_over(
            self.client,
            publication,
            task_queue_prefix=self._prefix,
            publish_timeout_seconds=self._publish_timeout_seconds,
            due_at=request.due_at,
        )
        publication.due_at = request.due_at
        publication.workflow_id = batch_workflow_id(publication.connection_id, request.due_at)

    async def cancel(
        self, session: AsyncSession, publication: Publication, request: CancelRequest
    ) -> None:
        if not in_a_batch(publication.workflow_id):
            await self._update(publication, CANCEL_UPDATE, request)
            return
        await publications.cancel_waiting(
            session,
            publication,
            CancelCommand(
                publication_id=publication.id,
                reason=request.reason,
                cancelled_by=request.requested_by,
            ),
        )

    async def _update(
        self, publication: Publication, update: str, request: RescheduleRequest | CancelRequest
    ) -> None:
        handle = self.client.get_workflow_handle(publication.workflow_id)
        try:
            await handle.execute_update(update, request, result_type=PublishPostState)
        except WorkflowUpdateFailedError as error:
            cause = error.cause
            detail = cause.message if isinstance(cause, ApplicationError) else str(error)
            raise ProblemError(409, "publication-not-waiting", detail) from error
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            # The workflow has finished: the post was published, failed or cancelled.
            raise ProblemError(
                409,
                "publication-not-waiting",
                f"the post can no longer be changed: it is {publication.status}",
            ) from error

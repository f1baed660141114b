"""Control of scheduled posts' workflows from the publisher's API."""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.publisher.contracts import (
    CANCEL_UPDATE,
    POST_WORKFLOW,
    RESCHEDULE_UPDATE,
    CancelRequest,
    PublishPostInput,
    PublishPostState,
    RescheduleRequest,
)
from services.publisher.models import Publication
from shared import task_queues
from shared.errors import ProblemError
from shared.settings import Settings
from shared.temporal import TemporalConnection


class Scheduler(TemporalConnection):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._prefix = settings.temporal.task_queue_prefix
        self._publish_timeout_seconds = settings.publisher.publish_timeout_seconds

    async def start(self, publication: Publication) -> None:
        try:
            await self.client.start_workflow(
                POST_WORKFLOW,
                PublishPostInput(
                    publication_id=publication.id,
                    channel=publication.channel,
                    due_at=publication.due_at,
                    task_queue_prefix=self._prefix,
                    publish_timeout_seconds=self._publish_timeout_seconds,
                    engagement_id=publication.engagement_id,
                    organization_id=publication.organization_id,
                ),
                id=publication.workflow_id,
                task_queue=self._prefix + task_queues.WORKFLOWS,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return

    async def reschedule(self, publication: Publication, request: RescheduleRequest) -> None:
        await self._update(publication, RESCHEDULE_UPDATE, request)

    async def cancel(self, publication: Publication, request: CancelRequest) -> None:
        await self._update(publication, CANCEL_UPDATE, request)

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

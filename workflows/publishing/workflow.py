"""``PublishPostWorkflow``: waits on a durable timer until the post is due, then publishes it once.

Until the publish starts, the post can be rescheduled or cancelled (updates whose validators
refuse once publishing has begun, so a late cancel never races a publish). Publishing runs on the
platform's own task queue; the activity is retried with backoff only while its failures are known
not to have happened or still unknown (the activity checks the platform first); permanent failures
(expired authorisation, rejected content) end the workflow as ``failed``, and a post of an
engagement tells it so (the ``publication_failed`` signal to ``engagement-<id>``).
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from services.content.contracts import MARK_PUBLISHED, MarkPublished, ReviewStateChanged
    from services.publisher.contracts import (
        CANCEL_UPDATE,
        FAILURE_CLASS_OF_ERROR,
        MARK_CANCELLED,
        PERMANENT_ERRORS,
        POST_STATE_QUERY,
        POST_WORKFLOW,
        PUBLISH,
        RESCHEDULE_UPDATE,
        CancelCommand,
        CancelRequest,
        FailureClass,
        PublishCommand,
        PublishOutcome,
        PublishPostInput,
        PublishPostState,
        RescheduleRequest,
        platform_queue,
    )
    from shared import task_queues
    from shared.domain import Channel
    from workflows.engagement.messages import PUBLICATION_FAILED_SIGNAL, PublicationFailure
    from workflows.engagement.messages import workflow_id as engagement_workflow_id

PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=PERMANENT_ERRORS,
)
# The publish activity heartbeats every few seconds (services/publisher/activities.py): an attempt
# silent for this long lost its worker, and is retried on another, which asks the platform whether
# the post exists before sending it. Without it a killed worker's post waited for the whole publish
# timeout (300 s by default).
PUBLISH_HEARTBEAT_TIMEOUT = timedelta(seconds=20)
# Posts that failed before engagements were told kept quiet.
TELL_ENGAGEMENT_PATCH = "tell-engagement-of-failure"


@workflow.defn(name=POST_WORKFLOW)
class PublishPostWorkflow:
    @workflow.init
    def __init__(self, post: PublishPostInput) -> None:
        self._post = post
        self._state = PublishPostState(stage="waiting", due_at=post.due_at)
        self._cancel: CancelRequest | None = None
        self._rescheduled = False

    @workflow.run
    async def run(self, post: PublishPostInput) -> PublishPostState:
        await self._wait_until_due()
        if self._cancel is not None:
            await workflow.execute_activity(
                MARK_CANCELLED,
                CancelCommand(
                    publication_id=post.publication_id,
                    reason=self._cancel.reason,
                    cancelled_by=self._cancel.requested_by,
                ),
                result_type=PublishOutcome,
                task_queue=post.task_queue_prefix + task_queues.PUBLISHER,
                start_to_close_timeout=timedelta(seconds=30),
            )
            self._state.stage = "cancelled"
            return self._state
        self._state.stage = "publishing"
        try:
            outcome = await workflow.execute_activity(
                PUBLISH,
                PublishCommand(publication_id=post.publication_id),
                result_type=PublishOutcome,
                task_queue=post.task_queue_prefix + platform_queue(post.channel),
                start_to_close_timeout=timedelta(seconds=post.publish_timeout_seconds),
                heartbeat_timeout=PUBLISH_HEARTBEAT_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
            )
        except ActivityError as error:
            cause = error.cause
            self._state.stage = "failed"
            self._state.last_error = str(
                cause.message if isinstance(cause, ApplicationError) else error
            )
            error_type = cause.type if isinstance(cause, ApplicationError) else None
            failure_class = FAILURE_CLASS_OF_ERROR.get(error_type or "", "unknown")
            await self._tell_engagement(post, failure_class, self._state.last_error)
            return self._state
        self._state.stage = "published" if outcome.status == "published" else "failed"
        self._state.platform_post_id = outcome.platform_post_id
        if self._state.stage == "failed":
            await self._tell_engagement(
                post, outcome.failure_class or "unknown", outcome.detail or outcome.status
            )
        if post.item_id and outcome.status == "published" and outcome.published_at:
            await self._mark_item_published(post, post.item_id, outcome.published_at)
        return self._state

    async def _mark_item_published(
        self, post: PublishPostInput, item_id: uuid.UUID, published_at: datetime
    ) -> None:
        """The content item follows its post; the post stays published whatever the item says."""
        try:
            await workflow.execute_activity(
                MARK_PUBLISHED,
                MarkPublished(item_id=item_id, published_at=published_at),
                result_type=ReviewStateChanged,
                task_queue=post.task_queue_prefix + task_queues.CONTENT,
                start_to_close_timeout=timedelta(seconds=30),
            )
        except ActivityError as error:
            self._state.last_error = f"content item {item_id} not marked published: {error.cause}"

    async def _tell_engagement(
        self, post: PublishPostInput, failure_class: FailureClass, detail: str
    ) -> None:
        """Show the failure on the post's engagement. An engagement that has ended (or never
        ran) cannot be told, and that is no failure of the post."""
        if post.engagement_id is None or not workflow.patched(TELL_ENGAGEMENT_PATCH):
            return
        failure = PublicationFailure(
            publication_id=post.publication_id,
            organization_id=post.organization_id,
            channel=Channel(post.channel),
            failure_class=failure_class,
            detail=detail[:2000],
            at=workflow.now(),
        )
        engagement = workflow.get_external_workflow_handle(
            engagement_workflow_id(post.engagement_id)
        )
        try:
            await engagement.signal(PUBLICATION_FAILED_SIGNAL, failure)
        except FailureError as error:
            workflow.logger.info("engagement %s not told: %s", post.engagement_id, error)

    async def _wait_until_due(self) -> None:
        while self._cancel is None:
            remaining = self._state.due_at - workflow.now()
            if remaining <= timedelta(0):
                return
            self._rescheduled = False
            # On timeout the loop looks again: a reschedule may have landed with the timer.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._rescheduled or self._cancel is not None, timeout=remaining
                )

    @workflow.query(name=POST_STATE_QUERY)
    def state(self) -> PublishPostState:
        return self._state

    @workflow.update(name=RESCHEDULE_UPDATE)
    def reschedule(self, request: RescheduleRequest) -> PublishPostState:
        self._state.due_at = request.due_at
        self._rescheduled = True
        return self._state

    @reschedule.validator
    def _validate_reschedule(self, request: RescheduleRequest) -> None:
        self._refuse_unless_waiting("rescheduled")

    @workflow.update(name=CANCEL_UPDATE)
    def cancel(self, request: CancelRequest) -> PublishPostState:
        self._cancel = request
        return self._state

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        self._refuse_unless_waiting("cancelled")

    def _refuse_unless_waiting(self, change: str) -> None:
        if self._state.stage != "waiting" or self._cancel is not None:
            raise ApplicationError(
                f"the post can no longer be {change}: it is {self._state.stage}",
                type="PublicationNotWaiting",
            )

"""``PublishBatchWorkflow`` (``publish-batch-<connection id>-<due minute, UTC>``): the posts of one
account due in the same minute, held by one workflow instead of one each.

Posts join by signal-with-start (``add_post``: the API when a post is scheduled or moved, the
plan's ``publisher.enqueue_publication``). The batch keeps one timer, for its earliest waiting
post, then runs one ``publisher.publish_batch`` activity on the platform's queue with the posts
then due; the activity publishes each post through the publisher's exactly-once path (its own
claim, idempotency key, record and event) and answers each post's outcome. A post whose failure
is retryable or unknown is held again with its own backoff (or the platform's ``Retry-After``)
and goes out in a later activity; a permanent failure tells the post's engagement
(``publication_failed``), and a published post of a content item marks the item published.

Cancels and moves never reach the batch: they change the post's row under the lock its claim
takes, and the claim publishes only a waiting post due when the batch holds it. The batch finds
a cancelled post settled, and a post moved to another minute ``moved`` (another batch holds it);
a post moved within the minute is held again at its new time. The batch ends once every post has
settled and every signal has been handled; a post added after that starts a new run.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from services.content.contracts import MARK_PUBLISHED, MarkPublished, ReviewStateChanged
    from services.publisher.contracts import (
        ADD_POST_SIGNAL,
        BATCH_POST_STATE_QUERY,
        BATCH_WORKFLOW,
        PUBLISH_BATCH,
        AddPost,
        BatchPostOutcome,
        FailureClass,
        PostDue,
        PublishBatchCommand,
        PublishBatchInput,
        PublishBatchResult,
        PublishBatchSummary,
        PublishPostState,
        platform_queue,
    )
    from shared import task_queues
    from shared.domain import Channel
    from workflows.engagement.messages import PUBLICATION_FAILED_SIGNAL, PublicationFailure
    from workflows.engagement.messages import workflow_id as engagement_workflow_id

# The batch's activity heartbeats every few seconds (services/publisher/activities.py): an
# attempt silent for this long lost its worker and is retried on another, which asks the
# platform about each post still ``publishing`` before sending anything.
PUBLISH_HEARTBEAT_TIMEOUT = timedelta(seconds=20)
# The activity's own retries: a worker lost, or the database out of reach. A post's failures are
# not the activity's: they come back as outcomes and are retried by the batch (RETRY_*).
BATCH_ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
RETRY_FIRST = timedelta(seconds=2)
RETRY_LONGEST = timedelta(minutes=5)
# Posts per activity: a large minute's posts go out in several activities at once, each
# answering within the payload limits.
POSTS_PER_ACTIVITY = 200


@dataclass
class _Held:
    post: AddPost
    state: PublishPostState
    # When a retry may go out (None: at its due time).
    retry_at: datetime | None = None

    @property
    def ready_at(self) -> datetime:
        due = self.state.due_at
        return due if self.retry_at is None else max(due, self.retry_at)


@workflow.defn(name=BATCH_WORKFLOW)
class PublishBatchWorkflow:
    @workflow.init
    def __init__(self, batch: PublishBatchInput) -> None:
        self._batch = batch
        self._posts: dict[uuid.UUID, _Held] = {}
        # When the batch's one timer fires; a post added before it wakes the batch.
        self._wake_at: datetime | None = None
        self._woken = False

    @workflow.run
    async def run(self, batch: PublishBatchInput) -> PublishBatchSummary:
        await workflow.wait_condition(lambda: bool(self._posts))
        while True:
            while self._waiting():
                await self._publish_due()
            await workflow.wait_condition(workflow.all_handlers_finished)
            if not self._waiting():
                break
        return PublishBatchSummary(
            posts={publication_id: held.state for publication_id, held in self._posts.items()}
        )

    @workflow.signal(name=ADD_POST_SIGNAL)
    def add_post(self, post: AddPost) -> None:
        """A new post, or one moved to (or within) this minute. A post being published or
        settled is left as it is: its outcome says where it stands."""
        held = self._posts.get(post.publication_id)
        if held is None or held.state.stage == "moved":
            held = _Held(post, PublishPostState(stage="waiting", due_at=post.due_at))
            self._posts[post.publication_id] = held
        elif held.state.stage == "waiting":
            held.post = post
            held.state.due_at = post.due_at
        else:
            return
        if self._wake_at is None or held.ready_at < self._wake_at:
            self._woken = True

    @workflow.query(name=BATCH_POST_STATE_QUERY)
    def post_state(self, publication_id: uuid.UUID) -> PublishPostState:
        held = self._posts.get(publication_id)
        if held is None:
            raise ApplicationError(f"this batch holds no post {publication_id}")
        return held.state

    def _waiting(self) -> list[_Held]:
        return [held for held in self._posts.values() if held.state.stage == "waiting"]

    async def _publish_due(self) -> None:
        """Wait for the earliest waiting post, then publish every post due by then."""
        now = workflow.now()
        due = [held for held in self._waiting() if held.ready_at <= now]
        if not due:
            self._wake_at = min(held.ready_at for held in self._waiting())
            self._woken = False
            # A post added with an earlier time wakes the batch; otherwise the one timer fires.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: self._woken, timeout=self._wake_at - now)
            self._wake_at = None
            return
        for held in due:
            held.state.stage = "publishing"
        chunks = [
            due[first : first + POSTS_PER_ACTIVITY]
            for first in range(0, len(due), POSTS_PER_ACTIVITY)
        ]
        await asyncio.gather(*(self._publish(chunk) for chunk in chunks))

    async def _publish(self, posts: list[_Held]) -> None:
        batch = self._batch
        try:
            result = await workflow.execute_activity(
                PUBLISH_BATCH,
                PublishBatchCommand(
                    posts=[
                        PostDue(publication_id=held.post.publication_id, due_at=held.state.due_at)
                        for held in posts
                    ],
                    connection_id=batch.connection_id,
                ),
                result_type=PublishBatchResult,
                task_queue=batch.task_queue_prefix + platform_queue(batch.channel),
                start_to_close_timeout=timedelta(
                    seconds=batch.publish_timeout_seconds * len(posts)
                ),
                heartbeat_timeout=PUBLISH_HEARTBEAT_TIMEOUT,
                retry_policy=BATCH_ACTIVITY_RETRY,
            )
        except ActivityError as error:
            # Refused for good (not a post's failure: those are outcomes): the posts fail.
            detail = str(error.cause or error)
            for held in posts:
                held.state.stage = "failed"
                held.state.last_error = detail
            await asyncio.gather(
                *(self._tell_engagement(held, "unknown", detail) for held in posts)
            )
            return
        by_id = {held.post.publication_id: held for held in posts}
        await asyncio.gather(
            *(self._settle(by_id[outcome.publication_id], outcome) for outcome in result.outcomes)
        )

    async def _settle(self, held: _Held, outcome: BatchPostOutcome) -> None:
        state = held.state
        if outcome.result == "published":
            state.stage = "published"
            state.platform_post_id = outcome.platform_post_id
            if held.post.item_id and outcome.published_at:
                await self._mark_item_published(held, held.post.item_id, outcome.published_at)
        elif outcome.result == "failed":
            state.stage = "failed"
            state.last_error = outcome.detail
            await self._tell_engagement(
                held, outcome.failure_class or "unknown", outcome.detail or "failed"
            )
        elif outcome.result == "cancelled":
            state.stage = "cancelled"
        elif outcome.result == "moved":
            assert outcome.due_at is not None
            state.due_at = outcome.due_at
            minute = outcome.due_at.astimezone(UTC).replace(second=0, microsecond=0)
            # Moved within this minute: held again at its new time; else another batch's.
            state.stage = "waiting" if minute == self._batch.due_minute else "moved"
        else:
            state.stage = "waiting"
            state.attempts_failed += 1
            state.last_error = outcome.detail
            backoff = min(RETRY_FIRST * 2 ** (state.attempts_failed - 1), RETRY_LONGEST)
            wait = timedelta(seconds=outcome.retry_after) if outcome.retry_after else backoff
            held.retry_at = workflow.now() + wait

    async def _mark_item_published(
        self, held: _Held, item_id: uuid.UUID, published_at: datetime
    ) -> None:
        """The content item follows its post; the post stays published whatever the item says."""
        try:
            await workflow.execute_activity(
                MARK_PUBLISHED,
                MarkPublished(item_id=item_id, published_at=published_at),
                result_type=ReviewStateChanged,
                task_queue=self._batch.task_queue_prefix + task_queues.CONTENT,
                start_to_close_timeout=timedelta(seconds=30),
            )
        except ActivityError as error:
            held.state.last_error = f"content item {item_id} not marked published: {error.cause}"

    async def _tell_engagement(self, held: _Held, failure_class: FailureClass, detail: str) -> None:
        """Show the failure on the post's engagement. An engagement that has ended (or never
        ran) cannot be told, and that is no failure of the post."""
        post = held.post
        if post.engagement_id is None:
            return
        failure = PublicationFailure(
            publication_id=post.publication_id,
            organization_id=post.organization_id,
            channel=Channel(self._batch.channel),
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

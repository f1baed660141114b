"""Temporal activities of the publisher. Every one is idempotent, and follows the kernel's
activity error policy (``shared/activity_errors.py``): a refusal (4xx problem, invalid input) is
final, a failure on the service's side is retried. Publishing also classifies a platform's
failures itself (``PublishFailedError``), for the post's workflow to tell them apart."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.publisher import (
    connections,
    conversations,
    metrics,
    publications,
    replies,
    repository,
    scheduling,
)
from services.publisher.contracts import (
    AUTH_ERROR,
    CANCEL_UPDATE,
    COLLECT_METRICS,
    CONTENT_REJECTED_ERROR,
    ENGAGEMENT_CONNECTIONS,
    ENGAGEMENT_PERIOD_SUMMARY,
    ENQUEUE_PUBLICATION,
    MARK_CANCELLED,
    PUBLISH,
    PUBLISH_BATCH,
    READ_CONVERSATIONS,
    REFRESH_TOKENS,
    RETRYABLE_ERROR,
    SCHEDULE_PUBLICATION,
    SEND_REPLY,
    UNKNOWN_OUTCOME_ERROR,
    WITHDRAW_ENGAGEMENT_POSTS,
    BatchPostOutcome,
    CancelCommand,
    CancelRequest,
    CollectMetricsCommand,
    ConversationsRead,
    EngagementConnections,
    EngagementConnectionsQuery,
    EngagementPeriodQuery,
    EngagementPeriodSummary,
    EngagementPostsWithdrawn,
    EnqueuePublication,
    FailureClass,
    MetricsCollected,
    PostDue,
    PublishBatchCommand,
    PublishBatchResult,
    PublishCommand,
    PublishOutcome,
    PublishPostState,
    ReadConversations,
    RefreshTokensCommand,
    ReplySent,
    ScheduledPublication,
    SchedulePublicationCommand,
    SendReply,
    TokensRefreshed,
    WithdrawEngagementPosts,
    in_a_batch,
)
from services.publisher.crypto import TokenVault
from services.publisher.pacing import AccountPacer, WaitTooLongError
from services.publisher.publishing import (
    ConnectorFor,
    PostMovedError,
    Publisher,
    PublishFailedError,
    outcome_of,
)
from services.publisher.schemas import PublicationCreate
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import NotFoundError
from shared.media_links import MediaLinks

ERROR_TYPES: dict[FailureClass, str] = {
    "retryable": RETRYABLE_ERROR,
    "unknown": UNKNOWN_OUTCOME_ERROR,
    "auth": AUTH_ERROR,
    "content_rejected": CONTENT_REJECTED_ERROR,
}
WithdrawalOutcome = Literal["cancelled", "already_published", "failed"]
# How often a publish tells Temporal that its worker is alive, a platform call in flight or not.
# Well inside the post's workflow's heartbeat timeout (PUBLISH_HEARTBEAT_TIMEOUT), which is what
# hands a dead worker's publish to another worker in seconds rather than at the publish timeout.
PUBLISH_HEARTBEAT_SECONDS = 5.0
# Longest a batch's post waits here for its account's rate limit: a longer wait is its batch
# workflow's (one durable timer) rather than an activity's held open.
LONGEST_WAIT_HERE = 120.0
# What a post needs of its activity's time once its turn has come: its claim, the platform's
# answer (the connectors' request timeout is 15 s) and its record.
SEND_ALLOWANCE = 30.0


class PublisherActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: TokenVault,
        connector_for: ConnectorFor,
        media_links: MediaLinks,
        temporal: Callable[[], Client] | None = None,
        *,
        platform_concurrency: int = 4,
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._connector_for = connector_for
        # Called when needed: a worker connects to Temporal after building its activities.
        self._temporal = temporal
        self._media_links = media_links
        self._publisher = Publisher(sessions, vault, connector_for, media_links)
        # Posts of batches published at a time on this worker: each platform queue already runs
        # at most this many activities, and a batch's activity holds many posts.
        self._platform_concurrency = platform_concurrency
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        # Each account's rate limit as this worker has learnt it from the platform's answers.
        self._pacer = AccountPacer()

    @activity.defn(name=PUBLISH)
    @problems_as_application_errors
    async def publish(self, command: PublishCommand) -> PublishOutcome:
        """Heartbeats throughout: a retry after a missed heartbeat finds the post ``publishing``
        and asks the platform before sending anything (``publishing.py``)."""
        try:
            async with _heartbeating(PUBLISH_HEARTBEAT_SECONDS):
                return await self._publisher.publish(command.publication_id)
        except PublishFailedError as error:
            raise ApplicationError(
                str(error),
                type=ERROR_TYPES[error.failure_class],
                non_retryable=error.failure_class in ("auth", "content_rejected"),
                next_retry_delay=(
                    timedelta(seconds=error.retry_after) if error.retry_after else None
                ),
            ) from error

    @activity.defn(name=PUBLISH_BATCH)
    @problems_as_application_errors
    async def publish_batch(self, command: PublishBatchCommand) -> PublishBatchResult:
        """Each post of a batch through ``Publisher.publish``: its own claim, idempotency key,
        record and event. A failure to retry is answered, not waited for: the batch's workflow
        holds the post until its retry is due. Heartbeats throughout, so a retry after a lost
        worker finds its posts ``publishing`` and asks the platform before sending them."""
        info = activity.info()
        in_flight = self._in_flight.setdefault(
            info.task_queue, asyncio.Semaphore(self._platform_concurrency)
        )
        budget = info.start_to_close_timeout or timedelta(
            seconds=LONGEST_WAIT_HERE + SEND_ALLOWANCE
        )
        # A post may wait for its account's turn until then, and is sent by the budget's end.
        wait_ends = asyncio.get_running_loop().time() + budget.total_seconds() - SEND_ALLOWANCE
        async with _heartbeating(PUBLISH_HEARTBEAT_SECONDS):
            outcomes = await asyncio.gather(
                *(
                    self._paced(command.connection_id, wait_ends, in_flight, post)
                    for post in command.posts
                )
            )
        return PublishBatchResult(outcomes=list(outcomes))

    async def _paced(
        self,
        connection_id: uuid.UUID | None,
        wait_ends: float,
        in_flight: asyncio.Semaphore,
        post: PostDue,
    ) -> BatchPostOutcome:
        """The post waits for its account's turn (``pacing.py``) before anything else, its claim
        included: a post cancelled or moved while it waits is found so when its turn comes.
        One whose turn would come later than this activity can wait goes back to its batch,
        which holds it until then."""
        if connection_id is None:
            return await self._publish_in_batch(in_flight, post)
        longest = min(LONGEST_WAIT_HERE, wait_ends - asyncio.get_running_loop().time())
        try:
            async with self._pacer.turn(connection_id, longest=longest):
                return await self._publish_in_batch(in_flight, post)
        except WaitTooLongError as wait:
            return BatchPostOutcome(
                publication_id=post.publication_id,
                result="retry",
                failure_class="retryable",
                detail=str(wait),
                retry_after=wait.retry_after,
            )

    async def _publish_in_batch(
        self, in_flight: asyncio.Semaphore, post: PostDue
    ) -> BatchPostOutcome:
        async with in_flight:
            try:
                outcome = await self._publisher.publish(post.publication_id, due_at=post.due_at)
            except PostMovedError as moved:
                return BatchPostOutcome(
                    publication_id=post.publication_id, result="moved", due_at=moved.due_at
                )
            except PublishFailedError as error:
                final = error.failure_class in ("auth", "content_rejected")
                return BatchPostOutcome(
                    publication_id=post.publication_id,
                    result="failed" if final else "retry",
                    failure_class=error.failure_class,
                    detail=str(error)[:2000],
                    retry_after=error.retry_after,
                )
            except Exception as error:
                # One post's fault is not its batch's. Whatever the row says now, the next
                # attempt reads it (and asks the platform first if it is ``publishing``).
                activity.logger.warning("post %s: %r", post.publication_id, error)
                return BatchPostOutcome(
                    publication_id=post.publication_id,
                    result="retry",
                    failure_class="unknown",
                    detail=f"{type(error).__name__}: {error}"[:2000],
                )
        if outcome.status == "cancelled":
            return BatchPostOutcome(publication_id=post.publication_id, result="cancelled")
        return BatchPostOutcome(
            publication_id=post.publication_id,
            result="published",
            platform_post_id=outcome.platform_post_id,
            published_at=outcome.published_at,
        )

    @activity.defn(name=ENQUEUE_PUBLICATION)
    @problems_as_application_errors
    async def enqueue_publication(self, command: EnqueuePublication) -> None:
        """Hand a publication still waiting to its workflow (its batch: signal-with-start, so
        repeating it changes nothing)."""
        if self._temporal is None:
            raise ApplicationError("the publisher has no Temporal client", non_retryable=True)
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await publications.require_publication(session, command.publication_id)
        if publication.status != "scheduled":
            return
        await scheduling.hand_over(
            self._temporal(),
            publication,
            task_queue_prefix=command.task_queue_prefix,
            publish_timeout_seconds=command.publish_timeout_seconds,
            item_id=command.item_id,
        )

    @activity.defn(name=MARK_CANCELLED)
    @problems_as_application_errors
    async def mark_cancelled(self, command: CancelCommand) -> PublishOutcome:
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await publications.withdraw_waiting_publication(session, command)
            if publication is None:
                raise NotFoundError("publication", command.publication_id)
            return outcome_of(publication)

    @activity.defn(name=COLLECT_METRICS)
    @problems_as_application_errors
    async def collect_metrics(self, command: CollectMetricsCommand) -> MetricsCollected:
        scope = None
        if command.organization_id is not None and command.engagement_id is not None:
            scope = metrics.EngagementScope(command.organization_id, command.engagement_id)
        return await metrics.collect(
            self._sessions,
            self._vault,
            self._connector_for,
            command.lookback_days,
            scope=scope,
            collection_key=command.collection_key,
        )

    @activity.defn(name=REFRESH_TOKENS)
    @problems_as_application_errors
    async def refresh_tokens(self, command: RefreshTokensCommand) -> TokensRefreshed:
        refreshed, needs_reauth = await metrics.refresh_expiring(
            self._sessions,
            self._vault,
            self._connector_for,
            timedelta(seconds=command.within_seconds),
        )
        return TokensRefreshed(refreshed=refreshed, needs_reauth=needs_reauth)

    @activity.defn(name=SCHEDULE_PUBLICATION)
    @problems_as_application_errors
    async def schedule_publication(
        self, command: SchedulePublicationCommand
    ) -> ScheduledPublication:
        """The API's code path, but a post already placed is the answer rather than a conflict.

        A refusal (unknown or re-authorisation-needing connection, a variant not approved, an
        invalid post) is final: it would fail the same way again."""
        data = PublicationCreate(
            variant_id=command.variant.variant_id,
            organization_id=command.organization_id,
            engagement_id=command.engagement_id,
            connection_id=command.connection_id,
            slot_id=command.slot_id,
            due_at=command.due_at,
            timezone=command.timezone,
        )
        async with session_scope(self._sessions, SYSTEM) as session:
            publication, created = await publications.place_publication(
                session,
                data,
                self._media_links,
                channel=command.channel.value,
                in_batch=command.in_batch,
            )
            return ScheduledPublication(
                publication_id=publication.id,
                workflow_id=publication.workflow_id,
                status=publication.status,
                due_at=publication.due_at,
                newly_created=created,
            )

    @activity.defn(name=WITHDRAW_ENGAGEMENT_POSTS)
    @problems_as_application_errors
    async def withdraw_engagement_posts(
        self, command: WithdrawEngagementPosts
    ) -> EngagementPostsWithdrawn:
        """Cancel the engagement's waiting posts: a batch's post in its row, under the lock its
        claim takes (its batch finds it cancelled), a post with a workflow of its own through
        that workflow, which records the cancellation; a post whose publishing began is left to
        finish. Run again, it finds only the posts still waiting, so nothing is cancelled
        twice."""
        if self._temporal is None:
            raise ApplicationError("the publisher has no Temporal client", non_retryable=True)
        client = self._temporal()
        async with session_scope(self._sessions, SYSTEM) as session:
            waiting = await repository.list_publications(
                session,
                organization_id=None,
                engagement_id=command.engagement_id,
                status="scheduled",
            )
            posts = [(publication.id, publication.workflow_id) for publication in waiting]
        request = CancelRequest(reason=command.reason, requested_by=command.cancelled_by)
        outcomes = []
        for publication_id, post_workflow_id in posts:
            if in_a_batch(post_workflow_id):
                outcomes.append(await self._withdraw_without_workflow(publication_id, command))
                continue
            outcome = await _cancel_post(client, post_workflow_id, request)
            if outcome == "no_workflow":
                outcome = await self._withdraw_without_workflow(publication_id, command)
            outcomes.append(outcome)
        return EngagementPostsWithdrawn(
            cancelled=outcomes.count("cancelled"),
            already_published=outcomes.count("already_published"),
            failed=outcomes.count("failed"),
        )

    async def _withdraw_without_workflow(
        self, publication_id: uuid.UUID, command: WithdrawEngagementPosts
    ) -> WithdrawalOutcome:
        """A batch's post, a post placed by a planner cancelled before it started the post's
        workflow, or one whose workflow has ended: withdrawn here if it is still waiting."""
        async with session_scope(self._sessions, SYSTEM) as session:
            publication = await publications.withdraw_waiting_publication(
                session,
                CancelCommand(
                    publication_id=publication_id,
                    reason=command.reason,
                    cancelled_by=command.cancelled_by,
                ),
            )
        if publication is not None and publication.status == "cancelled":
            return "cancelled"
        return "already_published"

    @activity.defn(name=ENGAGEMENT_CONNECTIONS)
    @problems_as_application_errors
    async def engagement_connections(
        self, query: EngagementConnectionsQuery
    ) -> EngagementConnections:
        """Read-only: which of the engagement's channels the organisation can publish on."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await connections.engagement_connections(session, query)

    @activity.defn(name=ENGAGEMENT_PERIOD_SUMMARY)
    @problems_as_application_errors
    async def engagement_period_summary(
        self, query: EngagementPeriodQuery
    ) -> EngagementPeriodSummary:
        """Read-only: the engagement's publishing figures over a period, from these tables."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await metrics.period_summary(session, query)

    @activity.defn(name=READ_CONVERSATIONS)
    @problems_as_application_errors
    async def read_conversations(self, command: ReadConversations) -> ConversationsRead:
        """Read-only on the platform: the connection's comments and mentions, for listening
        (``conversations.py`` says which failures are final)."""
        return await conversations.read_conversations(
            self._sessions, self._vault, self._connector_for, command
        )

    @activity.defn(name=SEND_REPLY)
    @problems_as_application_errors
    async def send_reply(self, command: SendReply) -> ReplySent:
        """Answer a comment or mention once per reply id; an attempt after a lost answer checks
        the platform before sending (``replies.py`` says which failures are final)."""
        return await replies.send_reply(self._sessions, self._vault, self._connector_for, command)

    def publishing(self) -> Sequence[Callable[..., Any]]:
        """Runs on each platform's queue."""
        return [self.publish, self.publish_batch]

    def housekeeping(self) -> Sequence[Callable[..., Any]]:
        """Runs on the publisher's own queue."""
        return [
            self.mark_cancelled,
            self.collect_metrics,
            self.refresh_tokens,
            self.schedule_publication,
            self.enqueue_publication,
            self.withdraw_engagement_posts,
            self.engagement_connections,
            self.engagement_period_summary,
            self.read_conversations,
            self.send_reply,
        ]


@contextlib.asynccontextmanager
async def _heartbeating(every_seconds: float) -> AsyncIterator[None]:
    """Heartbeat from a task of its own, so that a platform call that takes long (a slow upload,
    an answer held back) still shows a live worker; a killed worker stops heartbeating at once."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every_seconds)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()


async def _cancel_post(
    client: Client, workflow_id: str, request: CancelRequest
) -> WithdrawalOutcome | Literal["no_workflow"]:
    """The post's workflow refuses a cancel once publishing began; one that has ended, or was
    never started, is not found."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        await handle.execute_update(CANCEL_UPDATE, request, result_type=PublishPostState)
    except WorkflowUpdateFailedError:
        return "already_published"
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return "no_workflow"
        activity.logger.warning("post %s not cancelled: %s", workflow_id, error)
        return "failed"
    return "cancelled"

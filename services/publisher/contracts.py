"""What the publisher and the workflows exchange, importable by both (a service never imports
``workflows``): the activities the publisher offers (names, payloads, task queues), and the
workflows the publisher itself starts and controls, ``PublishBatchWorkflow`` (one per connection
and due minute: the API and ``publisher.enqueue_publication`` add posts to it by
signal-with-start), ``PublishPostWorkflow`` (one per post scheduled before batches: reschedules
and cancels go through its updates) and ``PublisherMaintenanceWorkflow`` (its worker keeps the
schedule that starts it): their names, ids, signals, updates, queries and messages.

Publishing runs on one task queue per platform (``engage-publisher-<channel>``) so that each
platform gets its own concurrency limit; the other activities run on ``engage-publisher``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from shared import task_queues
from shared.domain import Channel

PUBLISH = "publisher.publish"
MARK_CANCELLED = "publisher.mark_cancelled"
COLLECT_METRICS = "publisher.collect_metrics"
REFRESH_TOKENS = "publisher.refresh_tokens"
SCHEDULE_PUBLICATION = "publisher.schedule_publication"
WITHDRAW_ENGAGEMENT_POSTS = "publisher.withdraw_engagement_posts"
ENGAGEMENT_CONNECTIONS = "publisher.engagement_connections"
ENGAGEMENT_PERIOD_SUMMARY = "publisher.engagement_period_summary"
READ_CONVERSATIONS = "publisher.read_conversations"

PublicationStatus = Literal[
    "scheduled", "publishing", "unconfirmed", "published", "failed", "cancelled"
]
FailureClass = Literal["retryable", "auth", "content_rejected", "unknown"]

# Error types raised by the publish activity, so workflows can tell them apart.
RETRYABLE_ERROR = "PublishRetryable"
UNKNOWN_OUTCOME_ERROR = "PublishOutcomeUnknown"
AUTH_ERROR = "PublishAuthFailed"
CONTENT_REJECTED_ERROR = "PublishContentRejected"
PERMANENT_ERRORS = [AUTH_ERROR, CONTENT_REJECTED_ERROR]
FAILURE_CLASS_OF_ERROR: dict[str, FailureClass] = {
    RETRYABLE_ERROR: "retryable",
    UNKNOWN_OUTCOME_ERROR: "unknown",
    AUTH_ERROR: "auth",
    CONTENT_REJECTED_ERROR: "content_rejected",
}


def platform_queue(channel: Channel | str) -> str:
    return f"{task_queues.PUBLISHER}-{Channel(channel).value}"


class PublishCommand(BaseModel):
    publication_id: uuid.UUID


class PublishOutcome(BaseModel):
    publication_id: uuid.UUID
    status: PublicationStatus
    platform_post_id: str | None = None
    url: str | None = None
    published_at: datetime | None = None
    failure_class: FailureClass | None = None
    detail: str | None = None


class CancelCommand(BaseModel):
    publication_id: uuid.UUID
    reason: str
    cancelled_by: str


class CollectMetricsCommand(BaseModel):
    """Collect metrics of posts published in the last ``lookback_days`` and of their accounts.

    With ``engagement_id`` (and its ``organization_id``) only that engagement's posts and the
    connections they went out through; ``collection_key`` then names the collection: its
    ``metrics_collected`` event id derives from it, and a repeat of the key collects nothing
    again and answers what the first collection found."""

    lookback_days: int = 30
    organization_id: uuid.UUID | None = None
    engagement_id: uuid.UUID | None = None
    collection_key: str | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _engagement_within_its_organisation(self) -> CollectMetricsCommand:
        if (self.engagement_id is None) != (self.organization_id is None):
            raise ValueError("engagement_id and organization_id go together")
        if self.collection_key is not None and self.engagement_id is None:
            raise ValueError("collection_key names an engagement's collection")
        return self


class MetricsCollected(BaseModel):
    posts: int
    accounts: int
    failures: int
    # When the samples were taken (None only in answers given before this field existed).
    collected_at: datetime | None = None
    # True when ``collection_key`` had been collected before: the first collection's figures.
    repeated: bool = False


class RefreshTokensCommand(BaseModel):
    within_seconds: int


class TokensRefreshed(BaseModel):
    refreshed: int
    needs_reauth: int


class VariantToPublish(BaseModel):
    """The approved content variant a post publishes, named by its id: the publisher posts what
    the content service approved (its read model, ``approvals.py``), never text or links given
    here."""

    variant_id: uuid.UUID


class SchedulePublicationCommand(BaseModel):
    """Schedule one post; the same (variant, channel, slot) again returns the same publication."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = None
    connection_id: uuid.UUID
    # The slot's channel: the connection must be on it.
    channel: Channel
    variant: VariantToPublish
    slot_id: uuid.UUID | None = None
    due_at: datetime
    timezone: str = "Europe/Rome"
    # A new publication goes to its minute's ``PublishBatchWorkflow`` (False: its own
    # ``PublishPostWorkflow``, as plan runs started before batches place them).
    in_batch: bool = False


class ScheduledPublication(BaseModel):
    publication_id: uuid.UUID
    workflow_id: str
    status: PublicationStatus
    # The publication's own due time: a post rescheduled since keeps its new time.
    due_at: datetime
    # False when the publication existed already (an earlier run, or a retry).
    newly_created: bool


class WithdrawEngagementPosts(BaseModel):
    """Cancel every post of an engagement still waiting for its time (a cancelled engagement)."""

    engagement_id: uuid.UUID
    reason: str = Field(min_length=1)
    cancelled_by: str


class EngagementPostsWithdrawn(BaseModel):
    """What became of the engagement's waiting posts.

    ``already_published`` counts posts whose publishing began (or ended) before the cancel
    reached them; ``failed`` counts posts whose workflow could not be asked."""

    cancelled: int
    already_published: int
    failed: int


ConnectionState = Literal["connected", "needs_reauth", "missing"]


class EngagementConnectionsQuery(BaseModel):
    """Which of an engagement's channels its organisation has an active connection on."""

    organization_id: uuid.UUID
    channels: list[Channel]


class ChannelConnection(BaseModel):
    """One channel's connection: the most recently connected active one (``connected``), else
    the most recent one needing re-authorisation (``needs_reauth``), else none (``missing``)."""

    channel: Channel
    status: ConnectionState
    connection_id: uuid.UUID | None = None
    account_id: str | None = None
    display_name: str | None = None


class EngagementConnections(BaseModel):
    channels: list[ChannelConnection]

    def connected(self) -> dict[Channel, uuid.UUID]:
        """The connection each connected channel's posts go out through."""
        return {
            found.channel: found.connection_id
            for found in self.channels
            if found.status == "connected" and found.connection_id is not None
        }


class EngagementPeriodQuery(BaseModel):
    """An engagement's publishing figures over ``[starts_at, ends_at)``."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    # Sum the metrics samples collected up to this instant (a report's own collection), so the
    # same query gives the same figures later; None: the latest samples.
    metrics_as_of: datetime | None = None


class PostMetricsTotals(BaseModel):
    """Post metrics summed over posts: each post counts with its latest sample; a figure the
    platform does not offer counts as nothing."""

    impressions: int = 0
    reach: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    saves: int = 0
    video_views: int = 0


class ChannelPeriodFigures(BaseModel):
    channel: Channel
    published: int
    failed: int


class EngagementPeriodSummary(BaseModel):
    """Posts published in the period (by ``published_at``), posts that failed for good among
    those due in it (by ``due_at``), and the published posts' summed metrics."""

    engagement_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    posts_published: int
    posts_failed: int
    by_channel: list[ChannelPeriodFigures]
    posts_with_metrics: int
    metrics: PostMetricsTotals
    # The newest sample summed (None: no published post of the period has a sample yet).
    metrics_collected_at: datetime | None = None


# --- PublishPostWorkflow: one scheduled post, durable until it is published -------------------

POST_WORKFLOW = "PublishPostWorkflow"
POST_STATE_QUERY = "state"
RESCHEDULE_UPDATE = "reschedule"
CANCEL_UPDATE = "cancel"


def post_workflow_id(publication_id: uuid.UUID) -> str:
    return f"publication-{publication_id}"


class PublishPostInput(BaseModel):
    publication_id: uuid.UUID
    channel: str
    due_at: datetime
    task_queue_prefix: str = ""
    # Longest one publish attempt may run before Temporal retries it (on another worker, after a
    # crash); a default, so histories started before the field existed replay unchanged.
    publish_timeout_seconds: float = 300.0
    # The content item the post comes from: marked published once the post is (plan publishing).
    item_id: uuid.UUID | None = None
    # The engagement the post belongs to: told (``publication_failed``) when the post fails.
    engagement_id: uuid.UUID | None = None
    # Its organisation, carried by that signal: the engagement ignores another organisation's.
    organization_id: uuid.UUID | None = None


class RescheduleRequest(BaseModel):
    due_at: datetime
    requested_by: str


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1)
    requested_by: str


class PublishPostState(BaseModel):
    # ``moved``: a batch's post rescheduled into another minute's batch.
    stage: Literal["waiting", "publishing", "published", "failed", "cancelled", "moved"]
    due_at: datetime
    attempts_failed: int = 0
    last_error: str | None = None
    platform_post_id: str | None = None


# --- PublishBatchWorkflow: the posts of one connection due in the same minute ----------------

BATCH_WORKFLOW = "PublishBatchWorkflow"
ADD_POST_SIGNAL = "add_post"
BATCH_POST_STATE_QUERY = "post_state"
PUBLISH_BATCH = "publisher.publish_batch"
ENQUEUE_PUBLICATION = "publisher.enqueue_publication"
BATCH_WORKFLOW_PREFIX = "publish-batch-"


def batch_workflow_id(connection_id: uuid.UUID, due_at: datetime) -> str:
    """The batch that holds a post of ``connection_id`` due at ``due_at``: one per due minute."""
    return f"{BATCH_WORKFLOW_PREFIX}{connection_id}-{due_at.astimezone(UTC):%Y%m%dT%H%MZ}"


def in_a_batch(workflow_id: str) -> bool:
    """Whether a publication's workflow is a batch (else its own ``PublishPostWorkflow``)."""
    return workflow_id.startswith(BATCH_WORKFLOW_PREFIX)


class PublishBatchInput(BaseModel):
    connection_id: uuid.UUID
    channel: str
    # The batch's minute (UTC): a post moved out of it is no longer the batch's.
    due_minute: datetime
    task_queue_prefix: str = ""
    # Longest one post's publish may take within a batch's activity.
    publish_timeout_seconds: float = 300.0


class AddPost(BaseModel):
    """Hold a post until ``due_at``, or move it there if the batch holds it already."""

    publication_id: uuid.UUID
    due_at: datetime
    # The content item the post comes from: marked published once the post is (plan publishing).
    item_id: uuid.UUID | None = None
    # The engagement the post belongs to: told (``publication_failed``) when the post fails.
    engagement_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


class PostDue(BaseModel):
    publication_id: uuid.UUID
    # The due time the batch holds: a post whose row says otherwise has moved, and is not sent.
    due_at: datetime


class PublishBatchCommand(BaseModel):
    posts: list[PostDue]
    # The batch's connection: its posts take turns at the account's rate limit before they are
    # claimed (``pacing.py``). None from a batch workflow older than this field: its posts are
    # not paced, only retried after a refusal as before.
    connection_id: uuid.UUID | None = None


class BatchPostOutcome(BaseModel):
    """One post's outcome within a batch: ``published``, ``failed`` (for good), ``cancelled``,
    ``moved`` (due at another time: ``due_at``), or ``retry`` (retryable or unknown, to be
    tried again after ``retry_after`` seconds when the platform said, else the batch's backoff)."""

    publication_id: uuid.UUID
    result: Literal["published", "failed", "cancelled", "moved", "retry"]
    platform_post_id: str | None = None
    published_at: datetime | None = None
    failure_class: FailureClass | None = None
    detail: str | None = None
    retry_after: float | None = None
    due_at: datetime | None = None


class PublishBatchResult(BaseModel):
    outcomes: list[BatchPostOutcome]


class PublishBatchSummary(BaseModel):
    """What became of each post the batch held (its result)."""

    posts: dict[uuid.UUID, PublishPostState]


class EnqueuePublication(BaseModel):
    """Hand a placed publication to the workflow its ``workflow_id`` names (plan publishing)."""

    publication_id: uuid.UUID
    item_id: uuid.UUID | None = None
    task_queue_prefix: str = ""
    publish_timeout_seconds: float = 300.0


# --- PublisherMaintenanceWorkflow: token refresh and metrics collection, on a schedule --------

MAINTENANCE_WORKFLOW = "PublisherMaintenanceWorkflow"
MAINTENANCE_SCHEDULE_ID = "publisher-maintenance"


class MaintenanceInput(BaseModel):
    refresh_within_seconds: int
    lookback_days: int = 30
    task_queue_prefix: str = ""


class MaintenanceResult(BaseModel):
    tokens: TokensRefreshed
    metrics: MetricsCollected


# --- Reading a connected channel's conversations, for listening ------------------------------


class ReadConversations(BaseModel):
    """Read a connected channel's comments and mentions after ``since`` (None: from the start)."""

    organization_id: uuid.UUID
    connection_id: uuid.UUID
    since: AwareDatetime | None = None
    limit: int = Field(200, ge=1, le=1000)


class PlatformConversation(BaseModel):
    """A comment on one of the account's posts, or a mention of the account, as the platform
    gave it."""

    external_id: str
    kind: Literal["comment", "mention"]
    post_external_id: str | None
    author_id: str
    author_handle: str
    author_name: str | None
    text: str
    language: str | None
    created_at: AwareDatetime
    latitude: float | None = None
    longitude: float | None = None
    place_name: str | None = None
    url: str | None = None


class ConversationsRead(BaseModel):
    channel: str
    account_handle: str
    # Oldest first, at most the request's ``limit``.
    conversations: list[PlatformConversation]
    # The newest created_at returned (the next read's ``since``), or the request's since when
    # none: nothing created up to it is left unread.
    newest: AwareDatetime | None
    # The platform asked to wait this long (rate-limit headers) before the next read.
    retry_after: float | None = None


SEND_REPLY = "publisher.send_reply"


class SendReply(BaseModel):
    """Answer a comment or mention on a connected channel, exactly once per ``reply_id``."""

    reply_id: uuid.UUID
    organization_id: uuid.UUID
    connection_id: uuid.UUID
    # The platform's id of the comment or mention answered, and of the post it is under.
    in_reply_to: str = Field(min_length=1, max_length=300)
    post_external_id: str | None = Field(None, max_length=300)
    text: str = Field(min_length=1, max_length=10_000)


class ReplySent(BaseModel):
    reply_id: uuid.UUID
    platform_reply_id: str
    url: str | None = None
    sent_at: AwareDatetime

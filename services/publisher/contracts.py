"""Activities the publisher offers: names, payloads and task queues (importable by workflows).

Publishing runs on one task queue per platform (``engage-publisher-<channel>``) so that each
platform gets its own concurrency limit; the other activities run on ``engage-publisher``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.publisher.connectors.base import MediaRef
from shared import task_queues
from shared.domain import Channel

PUBLISH = "publisher.publish"
MARK_CANCELLED = "publisher.mark_cancelled"
COLLECT_METRICS = "publisher.collect_metrics"
REFRESH_TOKENS = "publisher.refresh_tokens"
SCHEDULE_PUBLICATION = "publisher.schedule_publication"
WITHDRAW_ENGAGEMENT_POSTS = "publisher.withdraw_engagement_posts"

PublicationStatus = Literal[
    "scheduled", "publishing", "unconfirmed", "published", "failed", "cancelled", "withdrawn"
]
FailureClass = Literal["retryable", "auth", "content_rejected", "unknown"]

# Error types raised by the publish activity, so workflows can tell them apart.
RETRYABLE_ERROR = "PublishRetryable"
UNKNOWN_OUTCOME_ERROR = "PublishOutcomeUnknown"
AUTH_ERROR = "PublishAuthFailed"
CONTENT_REJECTED_ERROR = "PublishContentRejected"
PERMANENT_ERRORS = [AUTH_ERROR, CONTENT_REJECTED_ERROR]


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
    """Collect metrics of posts published in the last ``lookback_days`` and of their accounts."""

    lookback_days: int = 30


class MetricsCollected(BaseModel):
    posts: int
    accounts: int
    failures: int


class RefreshTokensCommand(BaseModel):
    within_seconds: int


class TokensRefreshed(BaseModel):
    refreshed: int
    needs_reauth: int


class VariantToPublish(BaseModel):
    """One content variant as it goes out on its channel."""

    variant_id: uuid.UUID
    text: str = ""
    title: str | None = None
    link: str | None = None
    media: list[MediaRef] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)


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

"""Events the publisher emits (``engage.publisher.*``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.publisher.models import Publication

SOURCE = "urn:atlantide-engage:publisher"

CHANNEL_CONNECTED = "publisher.channel_connected"
CHANNEL_NEEDS_REAUTH = "publisher.channel_needs_reauth"
POST_SCHEDULED = "publisher.post_scheduled"
POST_PUBLISHED = "publisher.post_published"
POST_FAILED = "publisher.post_failed"
POST_UNCONFIRMED = "publisher.post_unconfirmed"
POST_WITHDRAWN = "publisher.post_withdrawn"
METRICS_COLLECTED = "publisher.metrics_collected"


class ChannelConnected(BaseModel):
    connection_id: uuid.UUID
    organization_id: uuid.UUID
    channel: str
    account_id: str


class ChannelNeedsReauth(ChannelConnected):
    reason: str


class PostFact(BaseModel):
    publication_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    channel: str
    variant_id: uuid.UUID
    slot_id: uuid.UUID | None


def post_fact(publication: Publication) -> dict[str, object]:
    """What every ``post_*`` event says of its publication."""
    return {
        "publication_id": publication.id,
        "organization_id": publication.organization_id,
        "engagement_id": publication.engagement_id,
        "channel": publication.channel,
        "variant_id": publication.variant_id,
        "slot_id": publication.slot_id,
    }


class PostScheduled(PostFact):
    due_at: datetime


class PostPublished(PostFact):
    platform_post_id: str
    url: str | None
    due_at: datetime
    published_at: datetime


class PostFailed(PostFact):
    failure_class: str
    detail: str
    attempt: int
    will_retry: bool


class PostUnconfirmed(PostFact):
    detail: str
    attempt: int


class PostWithdrawn(PostFact):
    reason: str


class MetricsCollectedFact(BaseModel):
    organization_id: uuid.UUID
    posts: int
    accounts: int
    collected_at: datetime
    # Set when one engagement's metrics were collected (a support cycle of its lifecycle).
    engagement_id: uuid.UUID | None = None
    # Posts and accounts of the organisation whose figures the platform did not give.
    failures: int = 0

"""Events the publisher emits (``engage.publisher.*``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    # Only named: the services that read these events must not load the publisher's tables.
    from services.publisher.models import Publication

SOURCE = "urn:atlantide-engage:publisher"

CHANNEL_CONNECTED = "publisher.channel_connected"
CHANNEL_NEEDS_REAUTH = "publisher.channel_needs_reauth"
# An organisation's stored platform tokens re-encrypted with the newest key (a key rotation).
TOKENS_RESEALED = "publisher.tokens_resealed"
POST_SCHEDULED = "publisher.post_scheduled"
POST_PUBLISHED = "publisher.post_published"
POST_FAILED = "publisher.post_failed"
POST_UNCONFIRMED = "publisher.post_unconfirmed"
POST_WITHDRAWN = "publisher.post_withdrawn"
METRICS_COLLECTED = "publisher.metrics_collected"
# The samples a collection took, for read models that keep figures (reporting): NATS limits a
# message's size, so a collection's samples are announced in chunks of at most this many.
METRICS_SAMPLED = "publisher.metrics_sampled"
SAMPLES_PER_EVENT = 500


class ChannelConnected(BaseModel):
    connection_id: uuid.UUID
    organization_id: uuid.UUID
    channel: str
    account_id: str
    # Who gave the token (None in events emitted before it was carried, and for a re-auth).
    connected_by: str | None = None


class TokensResealed(BaseModel):
    organization_id: uuid.UUID
    # How many of its connections' tokens were re-encrypted, and those no key could open.
    connections: int
    unreadable: list[uuid.UUID]
    rotated_by: str


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


class PostSample(BaseModel):
    """A post's figures as the platform gave them at ``collected_at`` (None: not offered)."""

    publication_id: uuid.UUID
    collected_at: datetime
    impressions: int | None = None
    reach: int | None = None
    likes: int | None = None
    comments: int | None = None
    shares: int | None = None
    saves: int | None = None
    video_views: int | None = None


class AccountSample(BaseModel):
    connection_id: uuid.UUID
    channel: str
    collected_at: datetime
    followers: int | None = None


class MetricsSampled(BaseModel):
    """One chunk of one organisation's samples of a collection (``chunk`` counts from 0)."""

    organization_id: uuid.UUID
    collected_at: datetime
    chunk: int
    posts: list[PostSample] = []
    accounts: list[AccountSample] = []
    engagement_id: uuid.UUID | None = None


def metrics_sampled_event_id(
    organization_id: uuid.UUID, collected_at: datetime, chunk: int
) -> uuid.UUID:
    """A chunk of a collection is one fact: recorded again, it keeps its id."""
    return uuid.uuid5(
        uuid.NAMESPACE_URL,
        f"publisher/metrics-sampled/{organization_id}/{collected_at.isoformat()}/{chunk}",
    )

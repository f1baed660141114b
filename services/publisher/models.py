"""Tables of the publisher service (schema ``publisher``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, Text, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import OrgScoped, Timestamped, service_metadata
from shared.engagement_directory import EngagementDirectory, KnownEngagementMixin
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "publisher"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Connection(OrgScoped, Timestamped, Base):
    """A client's account on one platform, with its tokens encrypted at rest."""

    __tablename__ = "connections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    account_id: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # active | needs_reauth | disconnected
    status: Mapped[str] = mapped_column(String(32), nullable=False, default="active")
    token_ciphertext: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class OAuthState(OrgScoped, Base):
    """An authorisation in progress: the state and PKCE verifier of one OAuth redirect."""

    __tablename__ = "oauth_states"

    state: Mapped[str] = mapped_column(String(128), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    account_id: Mapped[str] = mapped_column(String(200), nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    code_verifier: Mapped[str] = mapped_column(String(128), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Publication(OrgScoped, Timestamped, Base):
    """One post to publish once on one channel at one time."""

    __tablename__ = "publications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Connection.id), index=True, nullable=False
    )
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    slot_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # (variant, channel, slot): the same key always means the same post.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True, nullable=False)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    # scheduled | publishing | unconfirmed | published | failed | cancelled
    status: Mapped[str] = mapped_column(String(32), index=True, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    platform_post_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    # retryable | auth | content_rejected | unknown
    failure_class: Mapped[str | None] = mapped_column(String(32))
    failure_detail: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[str] = mapped_column(String(200), nullable=False)


class Reply(OrgScoped, Timestamped, Base):
    """One answer to a comment or mention, sent once: claimed (``sending``) and committed before
    the platform is called, so an attempt after a lost answer checks the platform first."""

    __tablename__ = "replies"

    # The reply's id as listening gave it: the idempotency key sent to the platform.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Connection.id), index=True, nullable=False
    )
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    in_reply_to: Mapped[str] = mapped_column(String(300), nullable=False)
    post_external_id: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    # pending | sending | unconfirmed | sent | failed (failed: known not to have been sent)
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    platform_reply_id: Mapped[str | None] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class PostMetricsSample(OrgScoped, Base):
    __tablename__ = "post_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    publication_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Publication.id), index=True, nullable=False
    )
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    impressions: Mapped[int | None] = mapped_column(Integer)
    reach: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    shares: Mapped[int | None] = mapped_column(Integer)
    saves: Mapped[int | None] = mapped_column(Integer)
    video_views: Mapped[int | None] = mapped_column(Integer)


class AccountMetricsSample(OrgScoped, Base):
    __tablename__ = "account_metrics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Connection.id), index=True, nullable=False
    )
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    followers: Mapped[int | None] = mapped_column(Integer)


class ReviewedItem(OrgScoped, Base):
    """The newest review fact the publisher has of a content item (``approvals.py``): an older
    fact delivered late (a redelivery, another subscription) never undoes a newer one."""

    __tablename__ = "reviewed_items"

    item_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    # When the content service recorded the fact (the event's ``time``).
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApprovedVariant(OrgScoped, Base):
    """A content variant exactly as the content service approved it: what a post of it says.

    A read model fed by the content service's events (``approvals.py``); a variant is here only
    while its item's newest review fact is its approval."""

    __tablename__ = "approved_variants"

    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(ReviewedItem.item_id, ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    # The content store's media: id, type, size, dimensions and duration (links are signed
    # by the publisher, at scheduling and again at every publish attempt).
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class KnownEngagement(KnownEngagementMixin, Base):
    """Engagements and their organisations (``shared.engagement_directory``)."""


outbox = Outbox(OutboxEvent)
engagements = EngagementDirectory("publisher", KnownEngagement, ProcessedEvent)

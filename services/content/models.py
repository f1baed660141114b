"""Tables of the content service (schema ``content``).

Content items, their per-channel variants, media and the review audit trail live here; the
editorial plan and contests keep their tables in their own packages on the same ``Base``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db.base import OrgScoped, Timestamped, service_metadata
from shared.engagement_directory import EngagementDirectory, KnownEngagementMixin
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "content"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class KnownEngagement(KnownEngagementMixin, Base):
    """Engagements and their organisations (``shared.engagement_directory``)."""


outbox = Outbox(OutboxEvent)
engagements = EngagementDirectory("content", KnownEngagement, ProcessedEvent)


class Media(OrgScoped, Timestamped, Base):
    """An uploaded file; its bytes are in the media store under ``storage_key``."""

    __tablename__ = "media"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    mime_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    storage_key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class ContentItem(OrgScoped, Timestamped, Base):
    """One piece of content (a post, a video, an episode) and where it stands in review."""

    __tablename__ = "content_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    link: Mapped[str | None] = mapped_column(String(2048))
    media_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False, default=list)
    client_approval_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    # Who approved since the last submission; both are cleared when the item is submitted again.
    agency_approved_by: Mapped[str | None] = mapped_column(String(200))
    client_approved_by: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    variants: Mapped[list[Variant]] = relationship(
        back_populates="item",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="Variant.channel",
    )


class Variant(OrgScoped, Timestamped, Base):
    """The item as it goes out on one channel, validated against that channel's rules."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("item_id", "channel"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(ContentItem.id, ondelete="CASCADE"), nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str | None] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(2048))
    media_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False, default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

    item: Mapped[ContentItem] = relationship(back_populates="variants")


class ReviewEvent(OrgScoped, Base):
    """One step of an item's review: who moved it from which state to which, when and why."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(ContentItem.id, ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    from_state: Mapped[str] = mapped_column(String(16), nullable=False)
    to_state: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    actor_roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

"""Tables of the strategy service (schema ``strategy``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, synonym

from shared.db.base import OrgScoped, Timestamped, service_metadata
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "strategy"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class Organization(OrgScoped, Timestamped, Base):
    """A client of the agency: a company or a public body."""

    __tablename__ = "organizations"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Europe/Rome")
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    # The organisation is its own scope.
    organization_id: Mapped[uuid.UUID] = synonym("id")


class Engagement(OrgScoped, Timestamped, Base):
    __tablename__ = "engagements"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    mode: Mapped[str] = mapped_column(String(32), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    # weekly | monthly: how often its periodic report is made (a term of the contract).
    report_cadence: Mapped[str] = mapped_column(
        String(16), nullable=False, default="weekly", server_default="weekly"
    )
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

    @property
    def workflow_id(self) -> str:
        return f"engagement-{self.id}"


class PhaseRecord(OrgScoped, Base):
    """When each phase of an engagement started (one row per phase and revision)."""

    __tablename__ = "engagement_phases"

    engagement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Engagement.id), primary_key=True)
    phase: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, default=0)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class LifecycleEvent(OrgScoped, Base):
    """One fact of an engagement's lifecycle, in the order it happened: the timeline.

    The id is the published event's id, so a fact recorded twice is kept once.
    """

    __tablename__ = "lifecycle_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    phase: Mapped[str] = mapped_column(String(32), nullable=False)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # Orders facts of the same instant as they were recorded (a batch keeps its order).
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), nullable=False, unique=True)


class TimelineNote(OrgScoped, Base):
    """A fact another service published about an engagement (an alert, an SLA breach), kept on
    its timeline next to the lifecycle's facts: never folded into the summary, never published
    again. The id derives from the event's, so a fact delivered twice is kept once."""

    __tablename__ = "timeline_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    # The engagement's phase when the fact was recorded.
    phase: Mapped[str] = mapped_column(String(32), nullable=False)
    # The event's name, ``<domain>.<event>`` (``listening.alert_raised``).
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    actor: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class EngagementSummary(OrgScoped, Base):
    """An engagement's state as its lifecycle facts tell it, kept in the transaction that
    records them (``lifecycle.summary``): the list of engagements reads and filters this table
    instead of asking every workflow."""

    __tablename__ = "engagement_summaries"
    __table_args__ = (
        Index("ix_engagement_summaries_waiting_roles", "waiting_roles", postgresql_using="gin"),
    )

    engagement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Engagement.id), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    phase: Mapped[str] = mapped_column(String(32), nullable=False)
    revision: Mapped[int] = mapped_column(Integer, nullable=False)
    pending_approvals: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    decided: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    tasks: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    open_task_count: Mapped[int] = mapped_column(Integer, nullable=False)
    overdue_task_count: Mapped[int] = mapped_column(Integer, nullable=False)
    next_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Roles that can act now (give a waiting approval, complete an open task): "waiting for me".
    waiting_roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    status_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Asset(OrgScoped, Timestamped, Base):
    """Something the client already has: an account on a channel, a website, a newsletter, an
    event or an offline touchpoint. ``details`` holds the kind's validated fields."""

    __tablename__ = "assets"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class Deliverable(OrgScoped, Timestamped, Base):
    """One version of one deliverable of an engagement (analysis, brief, channel mix, ...).

    Versions are append-only: a change is a new row; approval is the only update, done once.
    """

    __tablename__ = "deliverables"
    __table_args__ = (
        UniqueConstraint("engagement_id", "kind", "version", name="uq_deliverables_version"),
        CheckConstraint("status IN ('draft', 'approved')", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Engagement.id), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_as: Mapped[str | None] = mapped_column(String(16))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approval_comment: Mapped[str | None] = mapped_column(Text)


class Handbook(OrgScoped, Timestamped, Base):
    """One version of an engagement's client handbook ("guida pratica"): what it was made of
    (``sources``: deliverable kind -> version) and its content, from which HTML and PDF are
    rendered. Versions are append-only."""

    __tablename__ = "handbooks"
    __table_args__ = (UniqueConstraint("engagement_id", "version", name="uq_handbooks_version"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Engagement.id), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    sources: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


outbox = Outbox(OutboxEvent)

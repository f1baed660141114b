"""Tables of the reporting service (schema ``reporting``).

Two kinds: the read model, which holds only what other services' events said (fed by
``services.reporting.readmodel``, one row per fact, rebuildable from the stream), and the
reports this service makes from it (``reports``), which are its own records.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import OrgScoped, Timestamped, service_metadata
from shared.engagement_directory import EngagementDirectory, KnownEngagementMixin
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "reporting"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


outbox = Outbox(OutboxEvent)


class KnownEngagement(KnownEngagementMixin, Base):
    """Engagements and their organisations (``shared.engagement_directory``)."""


engagements = EngagementDirectory("reporting", KnownEngagement, ProcessedEvent)


# --- the read model ---------------------------------------------------------------------------


class OrganizationFact(OrgScoped, Base):
    """An organisation as strategy announced it: the report's cover and its language."""

    __tablename__ = "organizations"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="Europe/Rome")


class EngagementFact(OrgScoped, Base):
    """An engagement's contract as strategy announced it, and where its lifecycle is."""

    __tablename__ = "engagements"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    mode: Mapped[str] = mapped_column(String(32), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[date] = mapped_column(Date, nullable=False)
    # weekly | monthly: how often its periodic report is made.
    report_cadence: Mapped[str] = mapped_column(String(16), nullable=False, default="weekly")
    time_scale: Mapped[float | None] = mapped_column(Float)
    # The lifecycle's phase and end, from ``engage.lifecycle.*``.
    phase: Mapped[str | None] = mapped_column(String(32))
    ended: Mapped[str | None] = mapped_column(String(16))  # completed | cancelled


class ObjectivesFact(OrgScoped, Base):
    """The newest approved ``objectives`` deliverable of an engagement (its body as approved)."""

    __tablename__ = "objectives"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    deliverable_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    approved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class PostFact(OrgScoped, Base):
    """One publication: when it was due, and what became of it."""

    __tablename__ = "posts"
    __table_args__ = (Index("ix_reporting_posts_engagement_due", "engagement_id", "due_at"),)

    publication_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    variant_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # scheduled | published | failed | withdrawn
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    url: Mapped[str | None] = mapped_column(String(2000))
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failure_class: Mapped[str | None] = mapped_column(String(64))


class PostMetricsFact(OrgScoped, Base):
    """One sample of a post's figures, as the platform gave them (None: not offered)."""

    __tablename__ = "post_metrics"

    publication_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    impressions: Mapped[int | None] = mapped_column(BigInteger)
    reach: Mapped[int | None] = mapped_column(BigInteger)
    likes: Mapped[int | None] = mapped_column(BigInteger)
    comments: Mapped[int | None] = mapped_column(BigInteger)
    shares: Mapped[int | None] = mapped_column(BigInteger)
    saves: Mapped[int | None] = mapped_column(BigInteger)
    video_views: Mapped[int | None] = mapped_column(BigInteger)


class AccountMetricsFact(OrgScoped, Base):
    """One sample of a connected account's followers."""

    __tablename__ = "account_metrics"
    __table_args__ = (
        Index("ix_reporting_account_metrics_org_channel", "organization_id", "channel"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    followers: Mapped[int | None] = mapped_column(BigInteger)


class QueryFact(OrgScoped, Base):
    """A listening query: its name, and whether it follows a competitor (share of voice)."""

    __tablename__ = "queries"

    query_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    competitor: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class MentionFact(OrgScoped, Base):
    """A mention stored by listening, once per engagement it matched."""

    __tablename__ = "mentions"
    __table_args__ = (
        Index("ix_reporting_mentions_engagement_at", "engagement_id", "published_at"),
    )

    mention_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The platform or source it came from (a ``Channel`` value where it is one).
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    author: Mapped[str | None] = mapped_column(String(200))
    # positive | neutral | negative | mixed | None (a language the model does not read)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(String(16))
    region_name: Mapped[str | None] = mapped_column(String(200))
    query_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)


class ConversationFact(OrgScoped, Base):
    """A conversation of the inbox: when it opened, was first answered and closed."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_reporting_conversations_engagement_opened", "engagement_id", "opened_at"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Business minutes from opening to the first answer, and whether within the target.
    response_minutes: Mapped[float | None] = mapped_column(Float)
    within_sla: Mapped[bool | None] = mapped_column(Boolean)
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ContestEntryFact(OrgScoped, Base):
    """An entry of a contest: accepted or rejected, and whether it won."""

    __tablename__ = "contest_entries"
    __table_args__ = (Index("ix_reporting_contest_entries_engagement", "engagement_id"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    contest_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    accepted: Mapped[bool] = mapped_column(Boolean, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # Set when a draw made it a winner (a reserve promoted later counts from then).
    won_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when a winner let its claim window pass: it forfeited (a reserve took its place).
    unclaimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# --- the reports --------------------------------------------------------------------------------


class Report(OrgScoped, Timestamped, Base):
    """A report of one engagement over one period, from its request to its delivery.

    requested → rendering → awaiting_approval → delivered; ``failed`` when rendering failed
    (with the reason; retried by its workflow), ``rejected`` when the manager sent it back."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reporting_reports_engagement", "engagement_id", "period_start"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # periodic (its engagement's schedule) | on_demand
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    period_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    failure: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Emails the delivery notice goes to (none: the event and the download link only).
    recipients: Mapped[list[str]] = mapped_column(ARRAY(String(320)), nullable=False, default=list)
    # The figures the document shows (``EngagementKpis`` as JSON), kept with it.
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rendered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    workflow_id: Mapped[str] = mapped_column(String(200), nullable=False)


class ReportDocument(OrgScoped, Base):
    """A rendered report file (html | pdf), written whole in one transaction with its report's
    move to ``awaiting_approval``: a half-written document is never stored."""

    __tablename__ = "report_documents"

    report_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    format: Mapped[str] = mapped_column(String(8), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    size_bytes: Mapped[int] = mapped_column(Integer, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


# --- the audit log ------------------------------------------------------------------------------


class AuditEntry(OrgScoped, Base):
    """Who did what, when, in which organisation, and how it ended: one row per audited event
    (``services.reporting.audit``), keyed by the event's id so a redelivery adds nothing."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_reporting_audit_entries_org_time", "organization_id", "occurred_at", "event_id"),
    )

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # A token's subject, or ``system`` for what the platform did by itself (a scheduled post).
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    object_type: Mapped[str] = mapped_column(String(32), nullable=False)
    object_id: Mapped[str] = mapped_column(String(64), nullable=False)
    # succeeded | failed
    result: Mapped[str] = mapped_column(String(16), nullable=False)
    # The event that said it, for whoever wants the whole fact.
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    detail: Mapped[str | None] = mapped_column(Text)

"""Tables of the listening service (schema ``listening``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    func,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db.base import OrgScoped, Timestamped, service_metadata
from shared.engagement_directory import EngagementDirectory, KnownEngagementMixin
from shared.events.outbox import Outbox, OutboxMixin, ProcessedEventMixin

SCHEMA = "listening"


class Base(DeclarativeBase):
    metadata = service_metadata(SCHEMA)


class ListeningQuery(OrgScoped, Timestamped, Base):
    """What to listen for on which channels, for an organisation (and one of its engagements).

    A query is switched on once and stopped once, for good: a stopped query stays as the record
    of what was listened to."""

    __tablename__ = "queries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The canonical text of the boolean expression (``query_language``) mentions must match.
    expression: Mapped[str] = mapped_column(Text, nullable=False)
    # Mentions matching this second expression are left out.
    exclusions: Mapped[str | None] = mapped_column(Text)
    # The expression's words, phrases, hashtags and accounts, or the terms it was made from.
    terms: Mapped[list[str]] = mapped_column(ARRAY(String(200)), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    # ISO 639-1 codes; empty: every language.
    languages: Mapped[list[str]] = mapped_column(ARRAY(String(8)), nullable=False, default=list)
    # ``SourceKind`` values: where mentions are read from.
    sources: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    # Mentions are read from this day on, the days before it by backfill.
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    # A competitor's query: its mentions count for share of voice, not as the client's own.
    competitor: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    # pending (until its engagement's seeding) | active | stopped
    status: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    # A cancelled engagement's reason, as long as the cancel allowed.
    stop_reason: Mapped[str | None] = mapped_column(Text)


class EngagementListening(OrgScoped, Base):
    """An engagement whose listening started (its seeding began): its queries waiting for
    seeding were switched on then, and new ones start at once."""

    __tablename__ = "engagement_listening"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    started_by: Mapped[str] = mapped_column(String(200), nullable=False)


# Full-text search reads words as they are written ('simple': no stemming, no stop words), the
# same in every language a mention may be in.
SEARCH_CONFIG = "simple"


class Mention(OrgScoped, Base):
    """A mention as ingestion stored it: once per organisation, source and external id, for
    every engagement whose query it matched (``engagement_ids``; none when it matched no query
    of an engagement)."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("organization_id", "source", "external_id"),
        Index("ix_mentions_engagement_ids", "engagement_ids", postgresql_using="gin"),
        Index("ix_mentions_query_ids", "query_ids", postgresql_using="gin"),
        Index("ix_mentions_search", "search", postgresql_using="gin"),
        Index("ix_mentions_organization_published", "organization_id", "published_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    engagement_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), nullable=False, server_default=sql_text("'{}'")
    )
    query_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(Uuid), nullable=False, server_default=sql_text("'{}'")
    )
    # ``SourceKind`` value, and the id the source gives the mention.
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str] = mapped_column(String(300), nullable=False)
    author_handle: Mapped[str] = mapped_column(String(200), nullable=False)
    author_name: Mapped[str | None] = mapped_column(String(300))
    author_location: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    url: Mapped[str | None] = mapped_column(String(2000))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    hashtags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), nullable=False)
    accounts: Mapped[list[str]] = mapped_column(ARRAY(String(200)), nullable=False)
    # The mention's own coordinates, when the source gave them.
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # ISO 639-1: the source's, else detected (Italian and English only); None: unknown.
    language: Mapped[str | None] = mapped_column(String(8))
    # positive | neutral | negative | mixed; None in a language the model does not read.
    sentiment_label: Mapped[str | None] = mapped_column(String(16))
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    sentiment_model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    # Where it is from (``services.listening.places``); all None when it names no place.
    place_level: Mapped[str | None] = mapped_column(String(16))
    place_code: Mapped[str | None] = mapped_column(String(16))
    place_name: Mapped[str | None] = mapped_column(String(200))
    place_method: Mapped[str | None] = mapped_column(String(16))
    place_confidence: Mapped[float | None] = mapped_column(Float)
    comune_code: Mapped[str | None] = mapped_column(String(16), index=True)
    comune_name: Mapped[str | None] = mapped_column(String(200))
    province_code: Mapped[str | None] = mapped_column(String(16), index=True)
    province_name: Mapped[str | None] = mapped_column(String(200))
    region_code: Mapped[str | None] = mapped_column(String(16), index=True)
    region_name: Mapped[str | None] = mapped_column(String(200))
    country_code: Mapped[str | None] = mapped_column(String(2), index=True)
    country_name: Mapped[str | None] = mapped_column(String(200))
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(f"to_tsvector('{SEARCH_CONFIG}'::regconfig, text)", persisted=True),
        nullable=False,
    )
    ingested_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class DeadLetter(OrgScoped, Base):
    """A message ingestion could not read, kept with the reason instead of redelivered.

    ``organization_id`` is None when the message does not say a readable one: only a caller
    who sees every organisation sees it."""

    __tablename__ = "dead_letters"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)  # type: ignore[assignment]
    consumer: Mapped[str] = mapped_column(String(200), nullable=False)
    event_id: Mapped[str] = mapped_column(String(200), nullable=False)
    event_type: Mapped[str] = mapped_column(String(200), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False, index=True
    )


class SentimentCorrection(OrgScoped, Base):
    """A person's label for a mention's sentiment: one current correction per mention (a second
    relabel replaces the first). An organisation's corrections train its own model."""

    __tablename__ = "sentiment_corrections"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    mention_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    # positive | neutral | negative | mixed
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    # What the mention said before this correction (the model's, or an earlier correction's).
    previous_label: Mapped[str | None] = mapped_column(String(16))
    previous_model_version: Mapped[str] = mapped_column(String(64), nullable=False)
    corrected_by: Mapped[str] = mapped_column(String(200), nullable=False)
    corrected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SentimentModelVersion(OrgScoped, Base):
    """A sentiment model trained on an organisation's corrections, one row per training.

    ``status``: training (the workflow runs), ready (``version`` labels the organisation's new
    mentions, the newest ready one), failed (``failure`` says why)."""

    __tablename__ = "sentiment_models"
    __table_args__ = (
        Index("ix_sentiment_models_organization_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # The training's id, also in its workflow's id: one row per training.
    training_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[str | None] = mapped_column(String(64), unique=True)
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    # How many corrections it was trained on, and its cross-validated polarity score.
    trained_on: Mapped[int | None] = mapped_column(Integer)
    languages: Mapped[list[str]] = mapped_column(
        ARRAY(String(8)), nullable=False, server_default=sql_text("'{}'")
    )
    cross_validated_score: Mapped[float | None] = mapped_column(Float)
    default_model_score: Mapped[float | None] = mapped_column(Float)
    # The model's manifest and its heads' weights (``sentiment.registry.serialised``).
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    parameters: Mapped[bytes | None] = mapped_column(LargeBinary)
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    trained_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Source(OrgScoped, Timestamped, Base):
    """Somewhere an organisation's mentions are read from (``services.listening.sources``).

    A polled source keeps the cursor its reader left, so a restart resumes where it stopped and
    nothing is read twice; its health says whether the last poll worked and, when not, why."""

    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_due", "status", "next_poll_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    # Set when every mention it reads is for one engagement (comments on the engagement's posts).
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # ``SourceKind`` value.
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    # The reader's own settings (its ``Settings`` model as JSON): a feed, a hashtag, an account.
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # A token or a webhook secret, sealed (``sources.vault``); never answered by the API.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    cursor: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default=sql_text("'{}'")
    )
    # Mentions published before this are not read (a backfill reads from here on).
    reads_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    # active | failing | stopped
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    failure_kind: Mapped[str | None] = mapped_column(String(32))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=sql_text("0")
    )
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_poll_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    mentions_read: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=sql_text("0")
    )
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class KnownEngagement(KnownEngagementMixin, Base):
    """Engagements and their organisations (``shared.engagement_directory``)."""


outbox = Outbox(OutboxEvent)
engagements = EngagementDirectory("listening", KnownEngagement, ProcessedEvent)


class NotificationChannel(OrgScoped, Timestamped, Base):
    """Where an organisation's alerts and SLA events are sent (``listening.notifications``): a
    webhook (its URL and sealed signing secret) or e-mail recipients, for the events it names,
    of every engagement or of one. A deleted channel stays as the owner of its delivery log."""

    __tablename__ = "notification_channels"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    # webhook | email
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    url: Mapped[str | None] = mapped_column(String(2000))
    # The webhook's signing secret, sealed; never answered by the API.
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    recipients: Mapped[list[str]] = mapped_column(
        ARRAY(String(320)), nullable=False, server_default=sql_text("'{}'")
    )
    # Event names (``listening.alert_raised``) the channel is sent.
    events: Mapped[list[str]] = mapped_column(ARRAY(String(100)), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationDelivery(OrgScoped, Base):
    """One event to send to one channel: recorded with the event's consumption (an outbox of
    deliveries), sent by the delivery loop, tried again with backoff until delivered or failed.

    ``status``: pending (not tried yet) | retrying | delivered | failed."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("channel_id", "event_id"),
        Index("ix_notification_deliveries_due", "status", "next_attempt_at"),
        Index("ix_notification_deliveries_channel_created", "channel_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    channel_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notification_channels.id"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String(200), nullable=False)
    event_name: Mapped[str] = mapped_column(String(100), nullable=False)
    # The CloudEvent as consumed: a webhook's body, an e-mail's facts.
    event: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=sql_text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NotificationAttempt(OrgScoped, Base):
    """One try of a delivery, as it went: what the receiver or the mail server answered."""

    __tablename__ = "notification_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("notification_deliveries.id"), nullable=False
    )
    number: Mapped[int] = mapped_column(Integer, nullable=False)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # delivered | retrying | failed: what the attempt left the delivery as.
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)


class AlertRule(OrgScoped, Timestamped, Base):
    """What raises an engagement's alerts (``services.listening.alerts``): a volume spike, a
    negative-share spike or keywords, over the engagement's mentions or one query's."""

    __tablename__ = "alert_rules"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    query_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # volume_spike | negative_spike | keyword
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    keywords: Mapped[list[str]] = mapped_column(
        ARRAY(String(100)), nullable=False, server_default=sql_text("'{}'")
    )
    # Mentions (negative ones for a negative spike) the hour needs before anything is an alert.
    min_count: Mapped[int] = mapped_column(Integer, nullable=False)
    # A volume spike: the hour against this many times its baseline.
    factor: Mapped[float] = mapped_column(Float, nullable=False)
    # A negative spike: the hour's negative share against the baseline share plus this.
    share_increase: Mapped[float] = mapped_column(Float, nullable=False)
    # The baseline: an EWMA with this smoothing over this many hours before the window.
    alpha: Mapped[float] = mapped_column(Float, nullable=False)
    baseline_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, index=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Alert(OrgScoped, Base):
    """A rule's alert for one hour, with its evidence: open, acknowledged, then resolved.
    One per rule and window, however often the window is evaluated."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "window_start"),
        Index("ix_alerts_engagement_raised", "engagement_id", "raised_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # No foreign key: an alert outlives the rule that raised it.
    rule_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    query_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    rule_name: Mapped[str] = mapped_column(String(200), nullable=False)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    window_end: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # open | acknowledged | resolved
    status: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # The role now answerable for it (``shared.auth.Role``): editor, then manager, then admin.
    responsible_role: Mapped[str] = mapped_column(String(32), nullable=False)
    escalation_level: Mapped[int] = mapped_column(
        Integer, nullable=False, server_default=sql_text("0")
    )
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    acknowledge_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolve_note: Mapped[str | None] = mapped_column(Text)


class EngagementMode(OrgScoped, Base):
    """Each engagement's intervention mode, from strategy's ``engagement_created``: who answers
    its inbox (``conversations.answering``)."""

    __tablename__ = "engagement_modes"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    # ``shared.domain.InterventionMode`` value.
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class InboxSettings(OrgScoped, Base):
    """An engagement's first-response target and business hours; an engagement without a row
    has the defaults (``conversations.schemas.InboxSettingsBody``)."""

    __tablename__ = "inbox_settings"

    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    target_first_response_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    # ISO weekdays (1 is Monday), and the opening and closing minute of the day, wall clock.
    business_days: Mapped[list[int]] = mapped_column(ARRAY(Integer), nullable=False)
    opens_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    closes_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False)
    # Business minutes after a breach before the task escalates to the manager.
    escalate_after_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Conversation(OrgScoped, Base):
    """Mentions of one author on one source that want an engagement's answer (``conversations``).

    ``state``: open → assigned → answered | closed | ignored. One conversation not closed nor
    ignored per engagement, source and author: a new mention of the author joins it."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index("ix_conversations_engagement_opened", "engagement_id", "opened_at", "id"),
        Index(
            "ux_conversations_thread",
            "engagement_id",
            "source",
            "author_handle",
            unique=True,
            postgresql_where=sql_text("state IN ('open', 'assigned', 'answered')"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # ``SourceKind`` value: where the author wrote, and where the answer goes.
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    author_handle: Mapped[str] = mapped_column(String(200), nullable=False)
    author_name: Mapped[str | None] = mapped_column(String(300))
    first_mention_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    # question | complaint | praise | spam | other, why, and by whom ("rules" or a person).
    category: Mapped[str] = mapped_column(String(16), nullable=False)
    triage_reason: Mapped[str] = mapped_column(Text, nullable=False)
    triaged_by: Mapped[str] = mapped_column(String(200), nullable=False)
    state: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    # A person (their subject) or a ``shared.auth.Role``, or neither (unassigned).
    assignee_subject: Mapped[str | None] = mapped_column(String(200))
    assignee_role: Mapped[str | None] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    due_soon_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    first_response_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    escalate_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    first_response_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Business minutes from opening to the first sent reply, and to closing.
    first_response_minutes: Mapped[float | None] = mapped_column(Float)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_minutes: Mapped[float | None] = mapped_column(Float)
    sla_due_soon: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    sla_breached: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    # The breach's task: whose it is, and the role it escalated to.
    task_owner: Mapped[str | None] = mapped_column(String(200))
    task_escalated_to: Mapped[str | None] = mapped_column(String(32))
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=false())
    # The last reply's failure, shown until a reply is sent.
    reply_failure: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ConversationMessage(OrgScoped, Base):
    """A conversation's mention (inbound) or reply (outbound).

    An outbound ``status``: awaiting_review | pending | sent | failed; inbound: received."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "mention_id"),
        Index("ix_conversation_messages_conversation", "conversation_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id"), nullable=False
    )
    direction: Mapped[str] = mapped_column(String(8), nullable=False)
    mention_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # An inbound mention's id at its source: what a reply answers.
    external_id: Mapped[str | None] = mapped_column(String(300))
    author: Mapped[str] = mapped_column(String(200), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    saved_reply_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    platform_reply_id: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(String(2000))
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConversationNote(OrgScoped, Base):
    """An internal note on a conversation: seen by the team, never sent."""

    __tablename__ = "conversation_notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("conversations.id"), index=True, nullable=False
    )
    text: Mapped[str] = mapped_column(Text, nullable=False)
    written_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SavedReply(OrgScoped, Timestamped, Base):
    """An organisation's reply kept for reuse."""

    __tablename__ = "saved_replies"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)

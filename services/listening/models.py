"""Tables of the listening service (schema ``listening``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, String, Text, Uuid, false
from sqlalchemy.dialects.postgresql import ARRAY
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
    # active | stopped
    status: Mapped[str] = mapped_column(String(16), index=True, nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stopped_by: Mapped[str | None] = mapped_column(String(200))
    # A cancelled engagement's reason, as long as the cancel allowed.
    stop_reason: Mapped[str | None] = mapped_column(Text)


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


class KnownEngagement(KnownEngagementMixin, Base):
    """Engagements and their organisations (``shared.engagement_directory``)."""


outbox = Outbox(OutboxEvent)
engagements = EngagementDirectory("listening", KnownEngagement, ProcessedEvent)

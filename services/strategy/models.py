"""Tables of the strategy service (schema ``strategy``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY
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


class OutboxEvent(OutboxMixin, Base):
    pass


class ProcessedEvent(ProcessedEventMixin, Base):
    pass


outbox = Outbox(OutboxEvent)

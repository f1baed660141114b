"""Tables of touchpoints and their daily scan counts (schema ``strategy``).

Imported by ``services/strategy/migrations/env.py`` and the strategy app, so that the tables
join the strategy metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.strategy.models import Base, Engagement, Organization
from shared.db.base import OrgScoped, Timestamped

# Long enough for any URL a browser or a printed QR code would carry.
MAX_URL_LENGTH = 2048


class Touchpoint(OrgScoped, Timestamped, Base):
    """A place or object of the real world that leads to the engagement's channels: an event,
    a shop, signage or printed material, with its tracked link."""

    __tablename__ = "touchpoints"
    __table_args__ = (
        UniqueConstraint("engagement_id", "name", name="uq_touchpoints_engagement_name"),
        CheckConstraint("kind IN ('event', 'shop', 'signage', 'print')", name="kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    place: Mapped[str | None] = mapped_column(String(200))
    destination_url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH), nullable=False)
    # utm_campaign of the tagged destination, resolved when the touchpoint is created.
    campaign: Mapped[str] = mapped_column(String(100), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    objective_ids: Mapped[list[str]] = mapped_column(ARRAY(String(64)), nullable=False)
    # The tracked link's code: random, so that links cannot be enumerated.
    code: Mapped[str] = mapped_column(String(16), nullable=False, unique=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TouchpointScan(OrgScoped, Base):
    """How many times a touchpoint's link was followed on one day (the organisation's day),
    by QR code or by link. Counts only: no address, user agent or time of the hit is kept."""

    __tablename__ = "touchpoint_scans"
    __table_args__ = (CheckConstraint("medium IN ('qr', 'link')", name="medium"),)

    touchpoint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Touchpoint.id), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    medium: Mapped[str] = mapped_column(String(8), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)

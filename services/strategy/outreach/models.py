"""Tables of the outreach list and its steps (schema ``strategy``).

Imported by the strategy app (through the outreach routes), so that the tables join the strategy
metadata."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.strategy.models import Base, Engagement, Organization
from services.strategy.outreach.schemas import MAX_NOTE_LENGTH, OutreachStatus
from shared.db.base import OrgScoped, Timestamped

STATUSES = ", ".join(f"'{status.value}'" for status in OutreachStatus)


class OutreachContact(OrgScoped, Timestamped, Base):
    """A person, page or community the agency means to build a relationship with, on one
    platform, for one engagement."""

    __tablename__ = "outreach_contacts"
    __table_args__ = (
        UniqueConstraint(
            "engagement_id", "platform", "handle_key", name="uq_outreach_contacts_handle"
        ),
        CheckConstraint("kind IN ('person', 'page', 'community')", name="kind"),
        CheckConstraint(f"status IN ({STATUSES})", name="status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    handle: Mapped[str] = mapped_column(String(200), nullable=False)
    # The handle as platforms compare it (whatever its case): one contact per handle.
    handle_key: Mapped[str] = mapped_column(String(200), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # The reminder: what to do next, and by when (the client's calendar day).
    next_step: Mapped[str | None] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(Date, index=True)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class OutreachStep(OrgScoped, Timestamped, Base):
    """One step taken with a contact: the status it moved it to, from which, by whom."""

    __tablename__ = "outreach_steps"
    __table_args__ = (
        CheckConstraint(f"status IN ({STATUSES})", name="status"),
        CheckConstraint(f"previous_status IN ({STATUSES})", name="previous_status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    contact_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(OutreachContact.id), index=True, nullable=False
    )
    previous_status: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH))
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)

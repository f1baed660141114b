"""Tables of training plans, attendance and competence checklists (schema ``strategy``).

Imported by the strategy app (through the training routes), so that the tables join the strategy
metadata."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.strategy.models import Base, Engagement, Organization
from shared.db.base import OrgScoped, Timestamped


class TrainingParticipant(OrgScoped, Timestamped, Base):
    """A person of the client's staff the agency trains or works beside."""

    __tablename__ = "training_participants"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    job_title: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class TrainingSession(OrgScoped, Timestamped, Base):
    """One session of the training plan: when, for whom, with which materials."""

    __tablename__ = "training_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('planned', 'held', 'cancelled')", name="status"),
        CheckConstraint("mode IN ('formazione', 'affiancamento')", name="mode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    duration_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    place: Mapped[str | None] = mapped_column(String(200))
    # [{"title": ..., "url": ...}]: slides, handbooks, recordings.
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    participant_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    )


class TrainingAttendance(OrgScoped, Base):
    """Whether one invited person was at one session."""

    __tablename__ = "training_attendance"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(TrainingSession.id), primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(TrainingParticipant.id), primary_key=True
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    present: Mapped[bool] = mapped_column(Boolean, nullable=False)
    recorded_by: Mapped[str] = mapped_column(String(200), nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class Competence(OrgScoped, Timestamped, Base):
    """One item of the engagement's competence checklist: “writes to the editorial rules”."""

    __tablename__ = "training_competences"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Organization.id), index=True, nullable=False
    )
    engagement_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Engagement.id), index=True, nullable=False
    )
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(String(2000))
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class CompetenceCheck(OrgScoped, Base):
    """A person shown to have a competence: checked by whom, when."""

    __tablename__ = "training_competence_checks"

    participant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(TrainingParticipant.id), primary_key=True
    )
    competence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Competence.id), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    note: Mapped[str | None] = mapped_column(String(2000))
    checked_by: Mapped[str] = mapped_column(String(200), nullable=False)
    checked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

"""Tables of the editorial plan (schema ``content``): one plan per engagement, its slots, and
the audit trail of its generations and approvals."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.orm import Mapped, mapped_column

from services.content.models import Base
from shared.db.base import OrgScoped, Timestamped


class Plan(OrgScoped, Timestamped, Base):
    """An engagement's editorial plan; ``rules`` and the period are what it was generated from."""

    __tablename__ = "plans"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # Digest of period and rules: generating again from the same input changes nothing.
    input_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    shortfalls: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    generated_by: Mapped[str] = mapped_column(String(200), nullable=False)
    generated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlanSlot(OrgScoped, Base):
    """A calendar slot; once a content variant fills it, regeneration never moves or deletes it."""

    __tablename__ = "plan_slots"
    __table_args__ = (
        UniqueConstraint("plan_id", "rule_id", "channel", "local_start"),
        Index("ix_content_plan_slots_plan_id_starts_at", "plan_id", "starts_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Plan.id, ondelete="CASCADE"), nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    rule_id: Mapped[str] = mapped_column(String(63), nullable=False)
    channel: Mapped[str] = mapped_column(String(32), nullable=False)
    pillar: Mapped[str] = mapped_column(String(200), nullable=False)
    target: Mapped[str] = mapped_column(String(200), nullable=False)
    formats: Mapped[list[str]] = mapped_column(ARRAY(String(16)), nullable=False)
    local_start: Mapped[datetime] = mapped_column(DateTime(timezone=False), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    iso_week: Mapped[str] = mapped_column(String(8), nullable=False)
    month: Mapped[str] = mapped_column(String(7), nullable=False)
    # A content variant (``content.variants``); no foreign key, see service.ensure_variant_can_fill.
    variant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, index=True)
    filled_by: Mapped[str | None] = mapped_column(String(200))
    filled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def identity(self) -> tuple[str, str, datetime]:
        return (self.rule_id, self.channel, self.local_start)


class PlanHistory(OrgScoped, Base):
    """Audit trail of a plan: each generation, reopening and approval with who, when and why."""

    __tablename__ = "plan_history"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Plan.id, ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

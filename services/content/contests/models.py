"""Tables of contests, their entries and their draws (schema ``content``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.content.contests.domain import ContestStatus
from services.content.models import Base
from shared.db.base import OrgScoped, Timestamped


class Contest(OrgScoped, Timestamped, Base):
    """A contest's rules and where it stands; the rules change only while it is a draft."""

    __tablename__ = "contests"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    mechanism: Mapped[str] = mapped_column(String(32), nullable=False)
    keyword: Mapped[str] = mapped_column(String(101), nullable=False)
    minimum_age: Mapped[int | None] = mapped_column(Integer)
    allowed_regions: Mapped[list[str]] = mapped_column(ARRAY(String(16)), nullable=False)
    winners: Mapped[int] = mapped_column(Integer, nullable=False)
    reserves: Mapped[int] = mapped_column(Integer, nullable=False)
    claim_window_hours: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, default=ContestStatus.DRAFT)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    draw_requested_by: Mapped[str | None] = mapped_column(String(200))
    result_published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def workflow_id(self) -> str:
        """The ``ContestClaimWorkflow`` that draws the winners and waits for their claims."""
        return f"contest-{self.id}"


class ContestEntry(OrgScoped, Base):
    """One entry, accepted or rejected with its reason, and what the draws made of it."""

    __tablename__ = "contest_entries"
    __table_args__ = (
        UniqueConstraint("contest_id", "source_mention_id", name="uq_contest_entries_mention"),
        # One accepted entry per user, platform and contest; rejected attempts do not count.
        Index(
            "uq_contest_entries_accepted_entrant",
            "contest_id",
            "platform",
            "entrant_key",
            unique=True,
            postgresql_where=sql_text("status = 'accepted'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    contest_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(Contest.id), index=True, nullable=False
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    user_handle: Mapped[str] = mapped_column(String(200), nullable=False)
    entrant_key: Mapped[str] = mapped_column(String(200), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    declared_age: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(16))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    source_mention_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    rejection_reason: Mapped[str | None] = mapped_column(String(40))
    award: Mapped[str | None] = mapped_column(String(16))
    draw_number: Mapped[int | None] = mapped_column(Integer)
    # 1-based rank in its draw's picks: winners first, then reserves in the order to promote.
    draw_rank: Mapped[int | None] = mapped_column(Integer)
    claim_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class ContestDraw(OrgScoped, Base):
    """Everything needed to recompute one draw: seed, candidates in canonical order, picks."""

    __tablename__ = "contest_draws"

    contest_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(Contest.id), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(16), nullable=False)
    algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    seed: Mapped[str] = mapped_column(String(64), nullable=False)
    entry_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    entries_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    picks: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    winners: Mapped[int] = mapped_column(Integer, nullable=False)
    requested_by: Mapped[str] = mapped_column(String(200), nullable=False)
    drawn_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

"""Tables of the watched sites (schema ``content``, migration 0006)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, Uuid, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.content.models import Base, ContentItem
from shared.db.base import OrgScoped, Timestamped


class WatchedSite(OrgScoped, Timestamped, Base):
    """A client's site feed or sitemap, polled for new pages."""

    __tablename__ = "watched_sites"
    __table_args__ = (UniqueConstraint("engagement_id", "url"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    engagement_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(32)), nullable=False)
    utm_campaign: Mapped[str] = mapped_column(String(100), nullable=False)
    # active, or failing (``failure`` says why; it is tried again after a backoff).
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    failure: Mapped[str | None] = mapped_column(String(500))
    consecutive_failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Pages dated before this are the site as it was when watching began: never drafted.
    watched_since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    next_poll_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), index=True, nullable=False
    )
    last_polled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last answer's validators and the newest page date drafted (``feeds.next_cursor``).
    cursor: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)


class SiteDraft(OrgScoped, Base):
    """A page of a watched site and the content item drafted from it: one per page and site,
    so a page is never drafted twice."""

    __tablename__ = "site_drafts"
    __table_args__ = (UniqueConstraint("site_id", "page_url"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    site_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(WatchedSite.id, ondelete="CASCADE"), index=True, nullable=False
    )
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True, nullable=False)
    page_url: Mapped[str] = mapped_column(String(2048), nullable=False)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    item_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(ContentItem.id, ondelete="SET NULL")
    )
    og_title: Mapped[str | None] = mapped_column(String(300))
    og_description: Mapped[str | None] = mapped_column(Text)
    og_image: Mapped[str | None] = mapped_column(String(2048))
    # Channels whose rules the page's variant broke (channel -> the rule's message).
    skipped_channels: Mapped[dict[str, str]] = mapped_column(JSONB, nullable=False, default=dict)
    drafted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )

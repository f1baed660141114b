"""Activities the listening service offers: names and payloads (importable by workflows).

They run on ``engage-listening``."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

STOP_ENGAGEMENT_QUERIES = "listening.stop_engagement_queries"

QueryStatus = Literal["active", "stopped"]


class SourceKind(StrEnum):
    """Where a query's mentions come from: a social network, a feed, a push or a file."""

    SANDBOX = "sandbox"
    RSS = "rss"
    MASTODON = "mastodon"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"
    X = "x"
    # Mentions a third party pushes to the service.
    WEBHOOK = "webhook"
    # Mentions uploaded from a file (another tool's export).
    IMPORT = "import"


class StopEngagementQueries(BaseModel):
    """Stop every listening query of an engagement (cancelled, or its contract over)."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    reason: str = Field(min_length=1)
    stopped_by: str


class EngagementQueriesStopped(BaseModel):
    """``stopped`` by this call; ``already_stopped`` before it (by hand, or an earlier run)."""

    stopped: int
    already_stopped: int

"""Request and response bodies of sources (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from services.listening.contracts import SourceKind
from shared.paging import PageQuery

SourceStatus = Literal["active", "failing", "stopped"]

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SourceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = Field(
        None, description="Set when every mention the source reads is for this engagement"
    )
    kind: SourceKind
    name: Name
    settings: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description="What the kind needs: a feed's url; a Mastodon instance_url and hashtags; "
        "a connected channel's connection_id (sandbox); see docs/listening.md",
    )
    credentials: SecretStr | None = Field(
        None,
        max_length=4096,
        description="A token or a webhook secret, when the kind needs one; stored sealed and "
        "never answered",
    )
    reads_from: AwareDatetime | None = Field(
        None, description="Read mentions published from this moment on (backfill); default now"
    )
    poll_interval_seconds: int | None = Field(
        None, ge=10, le=86_400, description="How often to poll; default 300 s"
    )


class SourceHealth(BaseModel):
    """Whether the last poll worked, and why not when it did not."""

    status: SourceStatus
    failure_kind: str | None = Field(
        None, description="unavailable | refused | malformed: why the source is failing"
    )
    failure_reason: str | None
    consecutive_failures: int
    failing_since: datetime | None
    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None = Field(None, description="None for sources that are pushed")
    mentions_read: int


class SourceFilters(PageQuery):
    """``GET /listening/sources``: which sources, oldest first, one page."""

    organization_id: uuid.UUID | None = None
    engagement_id: uuid.UUID | None = None
    status: SourceStatus | None = None


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    kind: SourceKind
    name: str
    settings: dict[str, Any]
    has_credentials: bool
    polled: bool = Field(description="False for webhooks and imports: they are pushed")
    reads_from: datetime
    poll_interval_seconds: int
    health: SourceHealth
    created_by: str
    created_at: datetime
    stopped_at: datetime | None

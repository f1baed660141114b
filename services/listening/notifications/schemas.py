"""Request and response bodies of notification channels and their delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, StringConstraints

from shared.paging import PageQuery

# The events a channel may be sent, by name (``<domain>.<event>``).
NotifiedEvent = Literal[
    "listening.alert_raised",
    "listening.alert_escalated",
    "listening.alert_acknowledged",
    "listening.alert_resolved",
    "conversations.sla_due_soon",
    "conversations.sla_breached",
    "listening.source_failing",
]
ChannelKind = Literal["webhook", "email"]
DeliveryStatus = Literal["pending", "retrying", "delivered", "failed"]
AttemptOutcome = Literal["delivered", "retrying", "failed"]

MAX_RECIPIENTS = 20

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# Checked by the service (one address, no display name); the length is RFC 5321's.
Recipient = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]


class ChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None = Field(
        None, description="Only this engagement's events; none: every event of the organisation"
    )
    kind: ChannelKind
    name: Name
    events: list[NotifiedEvent] = Field(
        min_length=1, max_length=7, description="The events sent to this channel"
    )
    url: str | None = Field(
        None,
        max_length=2000,
        description="webhook: where the events are POSTed (http or https; private addresses "
        "are refused when sending)",
    )
    secret: SecretStr | None = Field(
        None,
        min_length=16,
        max_length=256,
        description="webhook: the key of the Engage-Signature HMAC; stored sealed, never answered",
    )
    recipients: list[Recipient] = Field(
        default_factory=list,
        max_length=MAX_RECIPIENTS,
        description=f"email: up to {MAX_RECIPIENTS} addresses",
    )


class ChannelOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    kind: ChannelKind
    name: str
    events: list[str]
    url: str | None
    has_secret: bool
    recipients: list[str]
    created_by: str
    created_at: datetime


class ChannelFilters(PageQuery):
    organization_id: uuid.UUID | None = None
    engagement_id: uuid.UUID | None = None


class DeliveryFilters(PageQuery):
    status: DeliveryStatus | None = None


class AttemptOut(BaseModel):
    number: int
    attempted_at: datetime
    outcome: AttemptOutcome
    status_code: int | None = Field(
        description="The receiver's HTTP status, or the mail server's reply code"
    )
    error: str | None
    duration_ms: int


class DeliveryOut(BaseModel):
    id: uuid.UUID
    channel_id: uuid.UUID
    event_id: str
    event_name: str
    status: DeliveryStatus
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When it is tried again, while it is")
    delivered_at: datetime | None
    attempts: list[AttemptOut] = Field(description="Every attempt, oldest first")

"""Request and response models of the conversations inbox."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from services.listening.conversations.triage import Category
from shared.auth import Role
from shared.paging import PageQuery

IsoWeekday = Annotated[int, Field(ge=1, le=7, description="ISO weekday: 1 is Monday, 7 Sunday")]
# A wall clock without an offset: JSON Schema's ``time`` format requires one, so the documented
# shape is the one sent and answered (``09:00``, answered as ``09:00:00``).
WallClock = Annotated[
    time,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$",
            "description": "Whole minutes of the zone's wall clock, HH:MM",
        }
    ),
]

State = Literal["open", "assigned", "answered", "closed", "ignored"]
ReplyStatus = Literal["awaiting_review", "pending", "sent", "failed"]


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    direction: Literal["inbound", "outbound"]
    mention_id: uuid.UUID | None
    external_id: str | None
    author: str
    text: str
    # inbound: received; outbound: awaiting_review | pending | sent | failed
    status: str
    saved_reply_id: uuid.UUID | None
    reviewed_by: str | None
    platform_reply_id: str | None
    url: str | None
    failure: str | None
    created_at: datetime
    sent_at: datetime | None


class NoteOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    text: str
    written_by: str
    created_at: datetime


class InboxFilters(PageQuery):
    """``GET /listening/engagements/{id}/conversations``: which conversations, newest first."""

    state: State | None = None
    category: Category | None = None
    assignee: str | None = Field(None, max_length=200, description="A person or a role")
    breached: bool | None = None


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    source: str
    author_handle: str
    author_name: str | None
    first_mention_id: uuid.UUID
    category: Category
    triage_reason: str
    triaged_by: str
    state: State
    assignee_subject: str | None
    assignee_role: str | None
    opened_at: datetime
    due_soon_at: datetime
    first_response_due_at: datetime
    escalate_at: datetime
    first_response_at: datetime | None
    first_response_minutes: float | None
    resolved_at: datetime | None
    resolution_minutes: float | None
    sla_due_soon: bool
    sla_breached: bool
    task_owner: str | None
    task_escalated_to: str | None
    needs_review: bool
    reply_failure: str | None


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]
    notes: list[NoteOut]


class Retriage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    reason: str = Field(min_length=1, max_length=500)


class Assignment(BaseModel):
    """A person (their subject) or a role; neither leaves it unassigned."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, min_length=1, max_length=200)
    role: Role | None = None

    @model_validator(mode="after")
    def _one_assignee(self) -> Self:
        if self.subject is not None and self.role is not None:
            raise ValueError("assign a person or a role, not both")
        return self


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=5000)


class ReplyCreate(BaseModel):
    """The reply's text, or a saved reply's."""

    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(None, min_length=1, max_length=10_000)
    saved_reply_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_text(self) -> Self:
        if (self.text is None) == (self.saved_reply_id is None):
            raise ValueError("give the reply's text or a saved_reply_id, one of the two")
        return self


class ReplyOut(MessageOut):
    # What the mode rule said, and the review the reply goes through.
    rule: str
    review: Literal["none", "before_sending", "sample"]
    workflow_id: str | None


class SavedReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1, max_length=10_000)


class SavedReplyCreate(SavedReplyBody):
    organization_id: uuid.UUID


class SavedReplyFilters(PageQuery):
    organization_id: uuid.UUID | None = None


class SavedReplyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    text: str
    created_by: str
    created_at: datetime


class InboxSettingsBody(BaseModel):
    """An engagement's first-response target, in business minutes, and its business hours."""

    model_config = ConfigDict(extra="forbid")

    target_first_response_minutes: int = Field(240, ge=1, le=60 * 24 * 30)
    business_days: list[IsoWeekday] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5], min_length=1, max_length=7
    )
    opens: WallClock = time(9, 0)
    closes: WallClock = time(18, 0)
    time_zone: str = Field("Europe/Rome", max_length=64)
    escalate_after_minutes: int = Field(60, ge=1, le=60 * 24 * 30)

    @field_validator("business_days")
    @classmethod
    def _weekdays(cls, days: list[int]) -> list[int]:
        return sorted(set(days))

    @field_validator("opens", "closes")
    @classmethod
    def _whole_minutes(cls, clock: time) -> time:
        # Stored as minutes of the day, wall clock of ``time_zone``: seconds or an offset would
        # be dropped without a word, and the SLA counted on other hours than the ones answered.
        if clock.second or clock.microsecond or clock.tzinfo is not None:
            raise ValueError("business hours are whole minutes of the zone's wall clock (HH:MM)")
        return clock

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone!r}") from error
        return zone

    @model_validator(mode="after")
    def _hours(self) -> Self:
        if self.opens >= self.closes:
            raise ValueError("business hours must open before they close")
        return self


class InboxSettingsOut(InboxSettingsBody):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID


class SlaReport(BaseModel):
    """First-response and resolution times of an engagement's conversations, business minutes."""

    engagement_id: uuid.UUID
    conversations: int
    answered: int
    median_first_response_minutes: float | None
    p90_first_response_minutes: float | None
    share_within_sla: float | None
    median_resolution_minutes: float | None
    breached: int

"""Request and response bodies of the outreach list and its steps (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints, model_validator

from services.strategy.bodies import NUL, Body
from services.strategy.vocabulary import Text
from shared.errors import FieldError, validation_problem
from shared.paging import PageQuery

# Notes and step notes: a few paragraphs.
MAX_NOTE_LENGTH = 2000


class ContactKind(StrEnum):
    PERSON = "person"
    PAGE = "page"
    COMMUNITY = "community"


class OutreachStatus(StrEnum):
    """Where the relationship stands (*stato del contatto*)."""

    TO_CONTACT = "to_contact"
    CONTACTED = "contacted"
    REPLIED = "replied"
    ENGAGED = "engaged"
    DECLINED = "declined"


# The steps a relationship may take; any other is a conflict (409).
TRANSITIONS: dict[OutreachStatus, frozenset[OutreachStatus]] = {
    OutreachStatus.TO_CONTACT: frozenset({OutreachStatus.CONTACTED}),
    OutreachStatus.CONTACTED: frozenset({OutreachStatus.REPLIED, OutreachStatus.DECLINED}),
    OutreachStatus.REPLIED: frozenset({OutreachStatus.ENGAGED, OutreachStatus.DECLINED}),
    # Reaching out again after a no, some months later.
    OutreachStatus.DECLINED: frozenset({OutreachStatus.CONTACTED}),
    OutreachStatus.ENGAGED: frozenset(),
}

Platform = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$"
    ),
]
# No space and no comma: a list filters by handles as one comma-separated parameter.
Handle = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\s,]+$"),
]
MAX_HANDLES = 200
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_NOTE_LENGTH)]


class ContactCreate(Body):
    kind: ContactKind
    platform: Platform = Field(
        description="Where the contact is: a channel (`instagram`) or a listening source "
        "(`mastodon`, `rss`)"
    )
    handle: Handle = Field(
        description="Their handle there; unique per platform in the engagement, whatever its case"
    )
    display_name: Text | None = None
    notes: Note | None = None
    next_step: Text | None = Field(None, description="What to do next: “send the press kit”")
    due_on: date | None = Field(None, description="By when the next step is due")


class ContactChange(Body):
    """The fields to change; `null` clears `display_name`, `notes`, `next_step` or `due_on`."""

    kind: ContactKind | None = None
    display_name: Text | None = None
    notes: Note | None = None
    next_step: Text | None = None
    due_on: date | None = None

    @model_validator(mode="after")
    def _kind_kept(self) -> ContactChange:
        if "kind" in self.model_fields_set and self.kind is None:
            raise ValueError("kind cannot be cleared (null)")
        return self


class StepCreate(Body):
    status: OutreachStatus = Field(description="Where the step takes the relationship")
    note: Note | None = Field(None, description="What was said or done")
    next_step: Text | None = Field(
        None, description="The reminder this step leaves; none clears the previous one"
    )
    due_on: date | None = None


class ContactOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    kind: ContactKind
    platform: str
    handle: str
    display_name: str | None
    notes: str | None
    status: OutreachStatus
    next_step: str | None
    due_on: date | None
    overdue: bool = Field(description="Its next step was due before today (the client's today)")
    created_by: str
    created_at: datetime
    updated_at: datetime


class StepOut(BaseModel):
    id: uuid.UUID
    contact_id: uuid.UUID
    engagement_id: uuid.UUID
    previous_status: OutreachStatus
    status: OutreachStatus
    note: str | None
    recorded_by: str
    created_at: datetime


class ContactFilters(PageQuery):
    status: OutreachStatus | None = Field(None, description="Only contacts at this status")
    platform: Platform | None = None
    handles: str | None = Field(
        None,
        max_length=MAX_HANDLES * 201,
        description=f"Only these handles, comma-separated (whatever their case; at most "
        f"{MAX_HANDLES})",
    )

    def handle_keys(self) -> list[str]:
        """The handles asked for, as stored for comparison; 422 for too many."""
        if self.handles is None:
            return []
        keys = [handle.strip().lower() for handle in self.handles.split(",") if handle.strip()]
        if len(keys) > MAX_HANDLES:
            problem = FieldError(
                field="query.handles", message=f"at most {MAX_HANDLES} handles", type="too_long"
            )
            raise validation_problem([problem])
        # PostgreSQL text holds no NUL: such a handle is refused, not sent to the database.
        if "\x00" in self.handles:
            problem = FieldError(field="query.handles", message=NUL, type="value_error")
            raise validation_problem([problem])
        return keys


class ReminderFilters(PageQuery):
    overdue: bool = Field(False, description="Only next steps due before today")


class OutreachCounts(BaseModel):
    """How many contacts are at each status, and how many next steps are overdue."""

    engagement_id: uuid.UUID
    total: int
    by_status: dict[OutreachStatus, int]
    overdue: int

"""Request and response bodies of training plans, attendance, competence checklists and their
progress (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AnyUrl,
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    UrlConstraints,
    field_validator,
    model_validator,
)

from services.strategy.bodies import Body
from services.strategy.vocabulary import Text

# Bounds on what one engagement's training holds, so that a checklist or the progress is
# answered whole in bounded memory.
MAX_PARTICIPANTS = 200
MAX_COMPETENCES = 100
MAX_MATERIALS = 50

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
MaterialUrl = Annotated[
    AnyUrl, UrlConstraints(max_length=2048, allowed_schemes=["http", "https"], host_required=True)
]
TrainingMode = Literal["formazione", "affiancamento"]


class SessionStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"
    CANCELLED = "cancelled"


class Material(Body):
    title: Text
    url: MaterialUrl | None = Field(None, description="Where it is: slides, a handbook, a video")


def _distinct(values: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("participants must not repeat")
    return values


class ParticipantCreate(Body):
    name: Text = Field(description="Unique in the engagement, whatever its case")
    job_title: Text | None = Field(None, description="Their role at the client: “receptionist”")


class ParticipantOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    name: str
    job_title: str | None
    created_by: str
    created_at: datetime


class SessionCreate(Body):
    title: Text
    mode: TrainingMode | None = Field(
        None,
        description="`formazione` (a training session) or `affiancamento` (working side by "
        "side); default: the engagement's mode, `formazione` for `realizzazione`",
    )
    starts_at: AwareDatetime
    duration_minutes: int = Field(60, ge=15, le=600)
    place: Text | None = Field(None, description="A room, or the video call")
    materials: list[Material] = Field(default_factory=list, max_length=MAX_MATERIALS)
    participant_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=MAX_PARTICIPANTS,
        description="The people invited: participants of the engagement",
    )

    @field_validator("participant_ids")
    @classmethod
    def _no_repeats(cls, values: list[uuid.UUID]) -> list[uuid.UUID] | None:
        return _distinct(values)


class SessionChange(Body):
    """The fields to change of a planned session; `status: cancelled` cancels it (`held` comes
    from its attendance). `null` clears `place`."""

    title: Text | None = None
    starts_at: AwareDatetime | None = None
    duration_minutes: int | None = Field(None, ge=15, le=600)
    place: Text | None = None
    materials: list[Material] | None = Field(None, max_length=MAX_MATERIALS)
    participant_ids: list[uuid.UUID] | None = Field(None, max_length=MAX_PARTICIPANTS)
    status: Literal["cancelled"] | None = None

    @field_validator("participant_ids")
    @classmethod
    def _no_repeats(cls, values: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        return _distinct(values)

    @model_validator(mode="after")
    def _only_place_cleared(self) -> SessionChange:
        cleared = sorted(
            name for name in self.model_fields_set - {"place"} if getattr(self, name) is None
        )
        if cleared:
            raise ValueError(f"only place may be cleared (null): {', '.join(cleared)}")
        return self


class SessionOut(BaseModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    title: str
    mode: TrainingMode
    starts_at: datetime
    duration_minutes: int
    place: str | None
    materials: list[Material]
    participant_ids: list[uuid.UUID]
    status: SessionStatus
    created_by: str
    created_at: datetime
    updated_at: datetime


class AttendanceMark(Body):
    participant_id: uuid.UUID
    present: bool


class AttendanceRecord(Body):
    attendance: list[AttendanceMark] = Field(
        min_length=1,
        max_length=MAX_PARTICIPANTS,
        description="Invited people, each present or absent; the others keep what they had",
    )

    @field_validator("attendance")
    @classmethod
    def _each_once(cls, marks: list[AttendanceMark]) -> list[AttendanceMark]:
        _distinct([mark.participant_id for mark in marks])
        return marks


class AttendanceOut(BaseModel):
    participant_id: uuid.UUID
    name: str
    present: bool | None = Field(description="None while nobody has said")
    recorded_by: str | None
    recorded_at: datetime | None


class SessionAttendance(BaseModel):
    session_id: uuid.UUID
    status: SessionStatus
    attendance: list[AttendanceOut] = Field(description="Every person invited, in name order")


class CompetenceCreate(Body):
    title: Text = Field(description="“Writes to the editorial rules”: unique in the engagement")
    description: Note | None = None


class CompetenceOut(BaseModel):
    id: uuid.UUID
    engagement_id: uuid.UUID
    title: str
    description: str | None
    created_by: str
    created_at: datetime


class CompetenceCheckBody(Body):
    note: Note | None = Field(None, description="What showed it: “answered 20 comments in SLA”")


class ChecklistItem(BaseModel):
    competence_id: uuid.UUID
    title: str
    checked: bool
    note: str | None
    checked_by: str | None
    checked_at: datetime | None


class Checklist(BaseModel):
    participant_id: uuid.UUID
    name: str
    items: list[ChecklistItem] = Field(description="Every competence of the engagement")
    checked: int
    total: int


class PersonProgress(BaseModel):
    participant_id: uuid.UUID
    name: str
    sessions_invited: int = Field(description="Sessions held they were invited to")
    sessions_attended: int
    competences_checked: int
    competences_total: int
    share: float | None = Field(description="Competences checked out of the checklist, 0-1")


class TrainingProgress(BaseModel):
    """Where the engagement's knowledge transfer stands (*trasferimento di competenze*)."""

    engagement_id: uuid.UUID
    sessions_planned: int
    sessions_held: int
    sessions_cancelled: int
    attendance_share: float | None = Field(
        description="Of the invitations to held sessions, the share attended, 0-1"
    )
    participants: int
    competences: int
    checks: int
    competence_share: float | None = Field(
        description="Checks out of every person's whole checklist, 0-1"
    )
    people: list[PersonProgress] = Field(description="Every participant, in name order")

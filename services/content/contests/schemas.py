"""Request and response bodies of contests (reused by the gateway)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.content.contests.contracts import DrawReason
from services.content.contests.domain import (
    Award,
    ContestStatus,
    EntryMechanism,
    EntrySource,
    EntryStatus,
    RejectionReason,
)
from services.content.contests.eligibility import entrant_key
from services.content.contests.regions import normalise_region
from shared.domain import Channel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Region = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(normalise_region),
    Field(description="ISO 3166 code (IT, IT-25) or an Italian region's name (Lombardia)"),
]
_HASHTAG = re.compile(r"^#?\w{1,100}$")


class ContestRules(BaseModel):
    """What a contest is: its dates, how users enter, who is eligible, what is won."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    mechanism: EntryMechanism
    keyword: str = Field(
        min_length=1,
        max_length=100,
        description="The hashtag (#QuerciaEstate) or the comment keyword entrants must write",
    )
    minimum_age: int | None = Field(
        18, ge=0, le=99, description="Entrants declare at least this age; null: no age statement"
    )
    allowed_regions: list[Region] = Field(
        default_factory=list, max_length=300, description="Empty: entrants from anywhere"
    )
    winners: int = Field(1, ge=1, le=100)
    reserves: int = Field(0, ge=0, le=100, description="Promoted in order when a winner is silent")
    claim_window_hours: int = Field(168, ge=1, le=2160)

    @field_validator("channels", "allowed_regions")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("values must not repeat")
        return value

    @field_validator("keyword")
    @classmethod
    def _keyword_fits_mechanism(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if info.data.get("mechanism") is EntryMechanism.HASHTAG and not _HASHTAG.match(value):
            raise ValueError("a hashtag is one word of letters, digits or underscores")
        if not value:
            raise ValueError("the keyword must not be blank")
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> ContestRules:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ContestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    name: str
    channels: list[Channel]
    starts_at: datetime
    ends_at: datetime
    mechanism: EntryMechanism
    keyword: str
    minimum_age: int | None
    allowed_regions: list[str]
    winners: int
    reserves: int
    claim_window_hours: int
    status: ContestStatus
    workflow_id: str
    created_at: datetime
    created_by: str
    draw_requested_by: str | None
    result_published_at: datetime | None


class EntrySubmission(BaseModel):
    """An entry as collected on a platform: who, what they wrote, when, and what they declared."""

    model_config = ConfigDict(extra="forbid")

    platform: Channel
    user_handle: Name
    user_id: str | None = Field(None, min_length=1, max_length=200)
    text: str = Field(max_length=10_000)
    declared_age: int | None = Field(None, ge=0, le=130)
    region: Region | None = None
    entered_at: AwareDatetime
    source_mention_id: str | None = Field(
        None, min_length=1, max_length=200, description="Recording one mention twice is a no-op"
    )

    @field_validator("user_handle")
    @classmethod
    def _names_someone(cls, value: str) -> str:
        if not entrant_key(value):
            raise ValueError("the handle names no user")
        return value


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    contest_id: uuid.UUID
    organization_id: uuid.UUID
    platform: Channel
    user_handle: str
    user_id: str | None
    text: str
    declared_age: int | None
    region: str | None
    entered_at: datetime
    source: EntrySource
    source_mention_id: str | None
    status: EntryStatus
    rejection_reason: RejectionReason | None
    award: Award | None
    draw_number: int | None
    draw_rank: int | None
    claim_deadline: datetime | None
    claimed_at: datetime | None
    created_at: datetime


class ClaimCreate(BaseModel):
    """A winner has claimed the prize (the agency records it once the winner got in touch)."""

    model_config = ConfigDict(extra="forbid")

    entry_id: uuid.UUID


class DrawOut(BaseModel):
    contest_id: uuid.UUID
    number: int
    reason: DrawReason
    algorithm: str
    seed: str
    entries_hash: str
    candidates: int
    winners: list[uuid.UUID]
    reserves: list[uuid.UUID]
    requested_by: str
    drawn_at: datetime
    verification_url: str


class DrawVerification(BaseModel):
    """All anyone needs to recompute a draw, and whether the service's own recomputation agrees."""

    contest_id: uuid.UUID
    number: int
    algorithm: str
    algorithm_description: str
    seed: str
    entry_ids: list[uuid.UUID] = Field(description="The candidates, in canonical order")
    entries_hash: str
    winners: int = Field(description="How many of the picks are winners; the rest are reserves")
    picks: list[uuid.UUID]
    recomputed_matches: bool


class PublicWinner(BaseModel):
    platform: Channel
    handle: str
    draw_number: int


class ContestResult(BaseModel):
    contest_id: uuid.UUID
    name: str
    published_at: datetime
    winners: list[PublicWinner]
    unassigned_prizes: int = Field(description="Prizes left without a winner: too few entrants")
    draws: list[str] = Field(description="Where each draw can be verified")

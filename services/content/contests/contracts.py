"""Activities contests offer on the content task queue: names and payloads.

Plain pydantic models with no database code, so workflows (``ContestClaimWorkflow``, and the
listening pipeline once it exists) may import them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field

from shared.domain import Channel

INGEST_CONTEST_ENTRIES = "content.ingest_contest_entries"
DRAW_CONTEST = "content.draw_contest"
SETTLE_CONTEST_CLAIMS = "content.settle_contest_claims"
PUBLISH_CONTEST_RESULT = "content.publish_contest_result"


class DrawReason(StrEnum):
    INITIAL = "initial"
    # Unclaimed prizes and no reserve left: a new draw among entries never picked before.
    REDRAW = "redraw"


class ContestMention(BaseModel):
    """A listening mention that may be a contest entry."""

    mention_id: str = Field(min_length=1, max_length=200)
    platform: Channel
    author_handle: str = Field(min_length=1, max_length=200)
    author_id: str | None = None
    text: str
    posted_at: AwareDatetime
    declared_age: int | None = None
    region: str | None = None


class IngestContestEntries(BaseModel):
    contest_id: uuid.UUID
    mentions: list[ContestMention]


class IngestedContestEntries(BaseModel):
    contest_id: uuid.UUID
    # False when the contest takes no entries (a draft, or already drawn): nothing was recorded.
    accepting_entries: bool
    accepted: int = 0
    rejected: int = 0
    already_recorded: int = 0
    # Mentions that are no well-formed entry (a handle naming no one, an impossible age).
    invalid: int = 0


class DrawContest(BaseModel):
    contest_id: uuid.UUID
    number: int = Field(ge=1)
    reason: DrawReason
    winners: int = Field(ge=0)
    reserves: int = Field(ge=0)
    # Claim deadlines run from here (the workflow's clock, so a retried draw agrees).
    as_of: datetime


class SettleContestClaims(BaseModel):
    contest_id: uuid.UUID
    as_of: datetime


class PendingWinner(BaseModel):
    entry_id: uuid.UUID
    claim_deadline: datetime


class ClaimStanding(BaseModel):
    """Where the prizes stand, read from the content service's records."""

    contest_id: uuid.UUID
    pending: list[PendingWinner]
    claimed: list[uuid.UUID]
    # Prizes with neither a claim nor a winner awaiting one, once reserves were promoted.
    missing: int
    # Accepted entries no draw has picked yet: what a redraw could choose from.
    candidates_left: int
    draws: int


class PublishContestResult(BaseModel):
    contest_id: uuid.UUID
    published_at: datetime


class ContestResultPublished(BaseModel):
    contest_id: uuid.UUID
    winners: int
    newly_published: bool

"""Events contests emit (payloads are the CloudEvents ``data``); subjects ``engage.content.*``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from services.content.contests.contracts import DrawReason
from services.content.contests.domain import EntrySource, RejectionReason
from services.content.events import SOURCE as SOURCE
from shared.domain import Channel

CONTEST_CREATED = "content.contest_created"
CONTEST_OPENED = "content.contest_opened"
CONTEST_CLOSED = "content.contest_closed"
CONTEST_ENTRY_ACCEPTED = "content.contest_entry_accepted"
CONTEST_ENTRY_REJECTED = "content.contest_entry_rejected"
CONTEST_DRAWN = "content.contest_drawn"
CONTEST_PRIZE_CLAIMED = "content.contest_prize_claimed"
CONTEST_WINNER_UNCLAIMED = "content.contest_winner_unclaimed"
CONTEST_RESULT_PUBLISHED = "content.contest_result_published"


class ContestFact(BaseModel):
    """What every contest event carries."""

    contest_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID


class ContestCreated(ContestFact):
    name: str
    starts_at: datetime
    ends_at: datetime


class ContestOpened(ContestFact):
    starts_at: datetime
    ends_at: datetime
    keyword: str


class ContestClosed(ContestFact):
    accepted_entries: int


class EntryRecorded(ContestFact):
    entry_id: uuid.UUID
    platform: Channel
    user_handle: str
    source: EntrySource


class EntryRejected(EntryRecorded):
    reason: RejectionReason


class ContestDrawn(ContestFact):
    number: int
    reason: DrawReason
    seed: str
    entries_hash: str
    candidates: int
    winners: list[uuid.UUID]
    reserves: list[uuid.UUID]


class PrizeClaimed(ContestFact):
    entry_id: uuid.UUID


class WinnerUnclaimed(ContestFact):
    entry_id: uuid.UUID
    claim_deadline: datetime
    # The reserve promoted in its place; null when a redraw has to find one.
    replaced_by: uuid.UUID | None


class PublishedWinner(BaseModel):
    platform: Channel
    handle: str


class ResultPublished(ContestFact):
    winners: list[PublishedWinner]
    unassigned_prizes: int

"""Activities the strategy service offers on its task queue: names and payloads.

Plain pydantic models with no database code, so workflows may import them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints

from services.strategy.channel_mix.schemas import ChannelMix, ChannelMixInputs
from services.strategy.deliverables.kinds import (
    Analysis,
    AuthoredKind,
    DeliverableKind,
    DeliverableStatus,
)
from shared.domain import Phase

RECORD_PHASE_STARTED = "strategy.record_phase_started"
SAVE_DELIVERABLE = "strategy.save_deliverable"
RECORD_ANALYSIS = "strategy.record_analysis"
SCORE_CHANNEL_MIX = "strategy.score_channel_mix"
GET_APPROVED_DELIVERABLE = "strategy.get_approved_deliverable"

# Names one effect: a retried activity with the same key returns the version it already made.
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class RecordPhaseStarted(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    phase: Phase
    revision: int = 0
    started_at: datetime


class PhaseStartRecorded(BaseModel):
    newly_recorded: bool
    event_id: str


class SaveDeliverable(BaseModel):
    """A new version of an authored deliverable; ``body`` follows the kind's schema."""

    engagement_id: uuid.UUID
    kind: AuthoredKind
    body: dict[str, Any]
    idempotency_key: IdempotencyKey


class RecordAnalysis(BaseModel):
    engagement_id: uuid.UUID
    analysis: Analysis
    idempotency_key: IdempotencyKey


class ScoreChannelMix(BaseModel):
    engagement_id: uuid.UUID
    inputs: ChannelMixInputs
    idempotency_key: IdempotencyKey


class DeliverableSaved(BaseModel):
    deliverable_id: uuid.UUID
    kind: DeliverableKind
    version: int
    status: DeliverableStatus
    newly_created: bool


class ChannelMixScored(DeliverableSaved):
    mix: ChannelMix


class GetApprovedDeliverable(BaseModel):
    engagement_id: uuid.UUID
    kind: DeliverableKind


class ApprovedVersion(BaseModel):
    deliverable_id: uuid.UUID
    version: int
    body: dict[str, Any]
    approved_by: str
    approved_at: datetime


class ApprovedDeliverable(BaseModel):
    """The newest approved version of a kind, or ``approved: null`` while none is approved."""

    engagement_id: uuid.UUID
    kind: DeliverableKind
    approved: ApprovedVersion | None

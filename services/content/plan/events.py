"""Events the editorial plan emits (payloads are the CloudEvents ``data``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from services.content.events import SOURCE as SOURCE
from shared.domain import Channel

PLAN_GENERATED = "content.plan_generated"
PLAN_APPROVED = "content.plan_approved"
SLOT_FILLED = "content.slot_filled"


class PlanFact(BaseModel):
    """What every plan event carries."""

    plan_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    generation: int


class PlanGenerated(PlanFact):
    period_start: date
    period_end: date
    timezone: str
    slots: int
    kept_filled: int
    shortfalls: int
    # True when an approved plan went back to draft because its slots changed.
    reopened: bool


class PlanApproved(PlanFact):
    approved_by: str
    slots: int


class SlotFilled(PlanFact):
    slot_id: uuid.UUID
    channel: Channel
    starts_at: datetime
    variant_id: uuid.UUID
    previous_variant_id: uuid.UUID | None
    filled_by: str

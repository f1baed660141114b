"""Activities the editorial plan offers on the content task queue: names and payloads.

Plain pydantic models with no database code, so workflows may import them.
"""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel

from services.content.plan.schemas import PlanInput, PlanStatus, SlotOut

GENERATE_PLAN = "content.generate_plan"
GET_PLAN = "content.get_plan"


class GeneratePlan(PlanInput):
    """Generate (or regenerate) an engagement's plan; the same input twice changes nothing."""

    engagement_id: uuid.UUID
    requested_by: str = "engagement-workflow"


class PlanGenerationResult(BaseModel):
    plan_id: uuid.UUID
    generation: int
    changed: bool
    slots: int
    kept_filled: int
    shortfalls: int
    # The plan_generated event of this generation; None when nothing changed.
    event_id: str | None


class GetPlan(BaseModel):
    engagement_id: uuid.UUID


class PlanSnapshot(BaseModel):
    """An engagement's plan as the publisher needs it: every slot with its variant."""

    plan_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    status: PlanStatus
    timezone: str
    period_start: date
    period_end: date
    generation: int
    slots: list[SlotOut]

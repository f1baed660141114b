"""Request and response bodies of the editorial plan (reused by the gateway and the contracts)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.content.plan.calendar import CadencePer
from shared.domain import Channel, ContentKind
from shared.editorial import EditorialRules

MAX_PLAN_DAYS = 366
ICS_MEDIA_TYPE = "text/calendar"
CSV_MEDIA_TYPE = "text/csv"
NOTE_LENGTH = 1000
Note = Annotated[str, Field(max_length=NOTE_LENGTH, description="Why: kept in the plan's history")]


def file_responses(media_type: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI description of a route answering with a file of ``media_type``."""
    return {200: {"content": {media_type: {"schema": {"type": "string"}}}}}


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class PlanAction(StrEnum):
    GENERATED = "generated"
    REOPENED = "reopened"
    APPROVED = "approved"


class PlanView(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"

    @property
    def per(self) -> CadencePer:
        periods: dict[PlanView, CadencePer] = {
            PlanView.DAILY: "day",
            PlanView.WEEKLY: "week",
            PlanView.MONTHLY: "month",
        }
        return periods[self]


class PlanInput(BaseModel):
    """What a plan is generated from: the editorial rules over a period (both days included)."""

    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    period_start: date
    period_end: date
    rules: EditorialRules

    @model_validator(mode="after")
    def _period_fits(self) -> PlanInput:
        if self.period_end < self.period_start:
            raise ValueError("period_end must not be before period_start")
        if (self.period_end - self.period_start).days >= MAX_PLAN_DAYS:
            raise ValueError(f"a plan covers at most {MAX_PLAN_DAYS} days")
        return self


class PlanGenerate(PlanInput):
    note: Note = ""


class PlanApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Note = ""


class SlotFill(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variant_id: uuid.UUID = Field(description="The content variant published in this slot")


class SlotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: str
    channel: Channel
    pillar: str
    target: str
    formats: list[ContentKind]
    local_start: datetime = Field(description="Wall-clock start in the plan's time zone")
    starts_at: datetime = Field(description="The same instant in UTC")
    day: date
    iso_week: str = Field(examples=["2027-W13"])
    month: str = Field(examples=["2027-03"])
    variant_id: uuid.UUID | None
    filled_by: str | None
    filled_at: datetime | None


class PlanChange(BaseModel):
    """One audited change of a plan: who, when, why."""

    model_config = ConfigDict(from_attributes=True)

    action: PlanAction
    actor: str
    at: datetime
    generation: int
    note: str


class CadenceShortfallOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rule_id: str
    channel: Channel
    period: str
    wanted: int
    available: int


class PlanOut(BaseModel):
    id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    status: PlanStatus
    timezone: str
    period_start: date
    period_end: date
    generation: int = Field(description="How many times the plan's slots were (re)generated")
    rules: EditorialRules
    generated_by: str
    generated_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    slot_count: int
    filled_count: int
    history: list[PlanChange]


class PeriodSlots(BaseModel):
    period: str = Field(description="A day (2027-03-29), an ISO week (2027-W13) or a month")
    slots: list[SlotOut]


class PlanCalendar(BaseModel):
    plan: PlanOut
    view: PlanView
    periods: list[PeriodSlots] = Field(description="Every period of the plan, empty ones too")


class CoverageGap(BaseModel):
    """A rule (``channel`` null) or a rule on one channel with no content assigned."""

    rule_id: str
    pillar: str
    channel: Channel | None
    open_slots: int


class CoverageOut(BaseModel):
    plan_id: uuid.UUID
    slots: int
    filled: int
    gaps: list[CoverageGap]
    shortfalls: list[CadenceShortfallOut]

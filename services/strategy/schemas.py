"""Request and response bodies of the strategy service (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.strategy.contracts import ReportCadence
from shared.domain import Channel, InterventionMode, TimeZoneName

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OrganizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    timezone: TimeZoneName = Field("Europe/Rome", description="IANA time zone of the client")


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    timezone: str
    created_at: datetime


class EngagementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel] = Field(min_length=1, max_length=len(Channel))
    starts_on: date
    ends_on: date
    time_scale: float | None = Field(
        None,
        gt=0,
        le=1,
        description="Compress this engagement's durations (real time = engagement time x "
        "time_scale), e.g. for `engage demo`; refused (422) when ENGAGE_ENVIRONMENT=prod. "
        "Default: ENGAGE_LIFECYCLE__TIME_SCALE",
    )
    report_cadence: ReportCadence = Field(
        "weekly", description="How often the engagement's periodic report is made"
    )

    @field_validator("channels")
    @classmethod
    def _distinct_channels(cls, value: list[Channel]) -> list[Channel]:
        if len(set(value)) != len(value):
            raise ValueError("channels must not repeat")
        return value

    @model_validator(mode="after")
    def _ends_after_start(self) -> EngagementCreate:
        if self.ends_on <= self.starts_on:
            raise ValueError("ends_on must be after starts_on")
        return self


class EngagementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel]
    starts_on: date
    ends_on: date
    report_cadence: ReportCadence
    workflow_id: str
    created_at: datetime
    created_by: str

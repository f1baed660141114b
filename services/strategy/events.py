"""Events the strategy service emits (payloads are the CloudEvents ``data``)."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel

from shared.domain import Channel, InterventionMode, Phase

SOURCE = "urn:atlantide-engage:strategy"

ORGANIZATION_CREATED = "strategy.organization_created"
ENGAGEMENT_CREATED = "strategy.engagement_created"
# The lifecycle's facts are recorded by the strategy service, which owns engagements.
PHASE_STARTED = "lifecycle.phase_started"


class OrganizationCreated(BaseModel):
    organization_id: uuid.UUID
    name: str


class EngagementCreated(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel]
    starts_on: date
    ends_on: date


class LifecycleFact(BaseModel):
    """What every ``engage.lifecycle.*`` event carries."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    phase: Phase


class PhaseStarted(LifecycleFact):
    revision: int

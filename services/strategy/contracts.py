"""Activities the strategy service offers on its task queue: names and payloads.

Plain pydantic models with no database code, so workflows may import them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

# Re-exported: workflows name deliverable kinds through the contracts.
from services.strategy.deliverables.kinds import (
    DeliverableKind as DeliverableKind,
)
from services.strategy.deliverables.kinds import (
    DeliverableStatus as DeliverableStatus,
)
from shared.domain import Channel, InterventionMode, Phase

GET_APPROVED_DELIVERABLE = "strategy.get_approved_deliverable"
RECORD_LIFECYCLE_EVENTS = "strategy.record_lifecycle_events"
GET_DELIVERABLE_VERSIONS = "strategy.get_deliverable_versions"


# How often an engagement's periodic report is made: a term of its contract.
ReportCadence = Literal["weekly", "monthly"]


class EngagementCreated(BaseModel):
    """``engage.strategy.engagement_created``'s data: the workflow worker starts the engagement's
    lifecycle from it (``workflows/lifecycle_start.py``)."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel]
    starts_on: date
    ends_on: date
    time_scale: float | None = None
    report_cadence: ReportCadence = "weekly"


# Names one effect: recording it again with the same key changes nothing.
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


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


class LifecycleEventName(StrEnum):
    """The lifecycle's facts; each is published as ``engage.lifecycle.<name>``."""

    ENGAGEMENT_STARTED = "engagement_started"
    PHASE_STARTED = "phase_started"
    PHASE_COMPLETED = "phase_completed"
    DELIVERABLE_RECORDED = "deliverable_recorded"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_GRANTED = "approval_granted"
    APPROVAL_REJECTED = "approval_rejected"
    TASK_CREATED = "task_created"
    TASK_COMPLETED = "task_completed"
    TASK_OVERDUE = "task_overdue"
    INTERVENTION_REQUESTED = "intervention_requested"
    ENGAGEMENT_PAUSED = "engagement_paused"
    ENGAGEMENT_RESUMED = "engagement_resumed"
    ENGAGEMENT_COMPLETED = "engagement_completed"
    ENGAGEMENT_CANCELLED = "engagement_cancelled"


class LifecycleStep(BaseModel):
    """One fact of an engagement's lifecycle: a timeline entry and its event.

    ``idempotency_key`` names the fact within its engagement (``design/1/started``); the event id
    derives from it, so recording the fact again changes nothing and publishes nothing.
    """

    event: LifecycleEventName
    phase: Phase
    idempotency_key: IdempotencyKey
    occurred_at: datetime
    # Who caused it (a token's subject); None for the workflow's own steps.
    actor: str | None = None
    # The event's data beyond engagement_id, organization_id and phase.
    details: dict[str, Any] = {}


class RecordLifecycleEvents(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    steps: list[LifecycleStep] = Field(min_length=1, max_length=200)


class LifecycleEventsRecorded(BaseModel):
    event_ids: list[str]
    newly_recorded: int


class GetDeliverableVersions(BaseModel):
    engagement_id: uuid.UUID
    kinds: list[DeliverableKind] = Field(min_length=1)


class DeliverableVersionRef(BaseModel):
    deliverable_id: uuid.UUID
    kind: DeliverableKind
    version: int
    status: DeliverableStatus


class DeliverableVersions(BaseModel):
    """The latest version of each asked kind that has one."""

    engagement_id: uuid.UUID
    latest: list[DeliverableVersionRef]

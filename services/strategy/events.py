"""Events the strategy service emits (payloads are the CloudEvents ``data``)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel

from services.listening import events as listening
from services.strategy.assets.schemas import AssetKind
from services.strategy.contracts import EngagementCreated as EngagementCreated
from services.strategy.contracts import LifecycleEventName
from services.strategy.deliverables.kinds import DeliverableKind
from shared.domain import Phase

SOURCE = "urn:atlantide-engage:strategy"

ORGANIZATION_CREATED = "strategy.organization_created"
ENGAGEMENT_CREATED = "strategy.engagement_created"
ASSET_RECORDED = "strategy.asset_recorded"
ASSET_REMOVED = "strategy.asset_removed"
DELIVERABLE_VERSIONED = "strategy.deliverable_versioned"
DELIVERABLE_APPROVED = "strategy.deliverable_approved"
# The lifecycle's facts are recorded by the strategy service, which owns engagements.
LIFECYCLE_DOMAIN = "lifecycle"


class TimelineNoteName(StrEnum):
    """Facts the strategy service consumes from the listening service and keeps on the
    engagement's timeline (``listening_facts``), under the event's own name."""

    ALERT_RAISED = listening.ALERT_RAISED
    ALERT_ESCALATED = listening.ALERT_ESCALATED
    ALERT_ACKNOWLEDGED = listening.ALERT_ACKNOWLEDGED
    ALERT_RESOLVED = listening.ALERT_RESOLVED
    SLA_BREACHED = listening.CONVERSATION_SLA_BREACHED
    SLA_ESCALATED = listening.CONVERSATION_SLA_ESCALATED


def lifecycle_event(name: LifecycleEventName) -> str:
    """``lifecycle.<name>``: every lifecycle fact's data is a ``LifecycleFact`` plus details."""
    return f"{LIFECYCLE_DOMAIN}.{name.value}"


class OrganizationCreated(BaseModel):
    organization_id: uuid.UUID
    name: str
    # IANA zone the client's periods and dates are read in (events before it: the default).
    timezone: str = "Europe/Rome"


class LifecycleFact(BaseModel):
    """What every ``engage.lifecycle.*`` event carries."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    phase: Phase


class AssetFact(BaseModel):
    asset_id: uuid.UUID
    organization_id: uuid.UUID
    kind: AssetKind


class AssetRecorded(AssetFact):
    change: Literal["created", "updated"]


class AssetRemoved(AssetFact):
    pass


class DeliverableFact(BaseModel):
    """What every deliverable event carries: which version of which deliverable."""

    deliverable_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    kind: DeliverableKind
    version: int


class DeliverableVersioned(DeliverableFact):
    created_by: str


class DeliverableApproved(DeliverableFact):
    approved_by: str
    approved_as: Literal["agency", "client"]
    comment: str | None
    # The approved version's body, so other services keep what was agreed (the ``objectives``'
    # targets) without asking strategy; None in events emitted before it was carried.
    body: dict[str, Any] | None = None

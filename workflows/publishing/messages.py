"""Messages of the publishing workflows that only workflows and the gateway exchange:
``PublishPlanWorkflow``'s (an approved editorial plan scheduling its own posts), started by the
gateway and by ``EngagementWorkflow``.

The workflows the publisher service starts itself, ``PublishBatchWorkflow``,
``PublishPostWorkflow`` (posts scheduled before batches) and ``PublisherMaintenanceWorkflow``,
keep their messages in ``services/publisher/contracts.py``: a service may not import
``workflows``, and a workflow's messages live in one module.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from services.publisher.contracts import PublicationStatus
from shared.domain import Channel

PLAN_WORKFLOW_NAME = "PublishPlanWorkflow"
PLAN_STATE_QUERY = "state"

SkipReason = Literal[
    "unfilled",
    "not_approved",
    "past",
    "no_connection",
    "media_without_url",
    "refused",
]


def plan_workflow_id(engagement_id: uuid.UUID) -> str:
    return f"plan-publishing-{engagement_id}"


class PublishPlanInput(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    # The connection each channel's posts go out through; a channel without one is skipped.
    connections: dict[Channel, uuid.UUID]
    requested_by: str
    task_queue_prefix: str = ""
    publish_timeout_seconds: float = 300.0


class ScheduledSlot(BaseModel):
    slot_id: uuid.UUID
    channel: Channel
    starts_at: datetime
    item_id: uuid.UUID
    variant_id: uuid.UUID
    publication_id: uuid.UUID
    workflow_id: str
    # The publication's status when the plan scheduled it (GET /v1/publications/{id}: now).
    status: PublicationStatus


class SkippedSlot(BaseModel):
    slot_id: uuid.UUID
    channel: Channel
    starts_at: datetime
    reason: SkipReason
    detail: str | None = None


class PlanPublishingState(BaseModel):
    engagement_id: uuid.UUID
    # ``plan_not_approved``: the plan was a draft when the workflow read it; nothing scheduled.
    status: Literal["scheduling", "done", "plan_not_approved"] = "scheduling"
    plan_generation: int | None = None
    scheduled: list[ScheduledSlot] = Field(default_factory=list)
    skipped: list[SkippedSlot] = Field(default_factory=list)

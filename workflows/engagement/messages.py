"""Inputs, query results and other messages of ``EngagementWorkflow``.

One model per message, so fields can be added without breaking running workflows.
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel

from shared.domain import Channel, InterventionMode, Phase

WORKFLOW_NAME = "EngagementWorkflow"
STATE_QUERY = "state"


def workflow_id(engagement_id: uuid.UUID) -> str:
    return f"engagement-{engagement_id}"


class EngagementStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class EngagementInput(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    mode: InterventionMode
    channels: list[Channel]
    starts_on: date
    ends_on: date
    # Prepended to the services' task queues (see shared/task_queues.py).
    task_queue_prefix: str = ""


class EngagementState(BaseModel):
    """What project managers see live (the ``state`` query)."""

    status: EngagementStatus
    phase: Phase

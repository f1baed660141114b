"""Messages of ``PublishPostWorkflow``: one scheduled post, durable until it is published."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

WORKFLOW_NAME = "PublishPostWorkflow"
STATE_QUERY = "state"
RESCHEDULE_UPDATE = "reschedule"
CANCEL_UPDATE = "cancel"


def workflow_id(publication_id: uuid.UUID) -> str:
    return f"publication-{publication_id}"


class PublishPostInput(BaseModel):
    publication_id: uuid.UUID
    channel: str
    due_at: datetime
    task_queue_prefix: str = ""
    # Longest one publish attempt may run before Temporal retries it (on another worker, after a
    # crash); a default, so histories started before the field existed replay unchanged.
    publish_timeout_seconds: float = 300.0
    # The content item the post comes from: marked published once the post is (plan publishing).
    item_id: uuid.UUID | None = None
    # The engagement the post belongs to: told (``publication_failed``) when the post fails.
    engagement_id: uuid.UUID | None = None


class RescheduleRequest(BaseModel):
    due_at: datetime
    requested_by: str


class CancelRequest(BaseModel):
    reason: str = Field(min_length=1)
    requested_by: str


class PublishPostState(BaseModel):
    stage: Literal["waiting", "publishing", "published", "failed", "cancelled"]
    due_at: datetime
    attempts_failed: int = 0
    last_error: str | None = None
    platform_post_id: str | None = None

"""The audit log as the API shows it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    event_id: str = Field(description="The event that recorded it (one entry per event).")
    organization_id: uuid.UUID
    engagement_id: uuid.UUID | None
    occurred_at: datetime
    actor: str = Field(description="A token's subject, or `system` for the platform itself.")
    action: str = Field(examples=["approve", "publish", "reply", "rotate_keys"])
    object_type: str = Field(examples=["deliverable", "publication", "conversation"])
    object_id: str
    result: Literal["succeeded", "failed"]
    event_type: str
    detail: str | None


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page."
    )

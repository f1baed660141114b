"""Response bodies of client handbooks (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.strategy.handbook.content import HandbookContent
from shared.domain import Channel


class HandbookOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    version: int
    channels: list[Channel]
    sources: dict[str, int] = Field(
        description="The approved deliverable versions it was made from: kind -> version"
    )
    content: HandbookContent
    created_by: str
    created_at: datetime

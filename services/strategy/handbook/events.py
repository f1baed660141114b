"""Events about client handbooks, emitted through the strategy service's outbox under its source
(``services.strategy.events.SOURCE``)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

HANDBOOK_GENERATED = "strategy.handbook_generated"


class HandbookGenerated(BaseModel):
    handbook_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    version: int
    channels: list[str]
    # The deliverable versions it was made from: kind -> version.
    sources: dict[str, int]
    created_by: str

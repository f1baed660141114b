"""Bodies of the lifecycle's routes (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.strategy.contracts import LifecycleEventName
from shared.domain import Phase


class TimelineEntry(BaseModel):
    """One fact of an engagement's lifecycle: what happened, in which phase, who did it, when."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: LifecycleEventName
    phase: Phase
    actor: str | None
    details: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime

"""Activities the strategy service offers on its task queue: names and payloads.

Plain pydantic models with no database code, so workflows may import them.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from shared.domain import Phase

RECORD_PHASE_STARTED = "strategy.record_phase_started"


class RecordPhaseStarted(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    phase: Phase
    revision: int = 0
    started_at: datetime


class PhaseStartRecorded(BaseModel):
    newly_recorded: bool
    event_id: str

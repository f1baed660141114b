"""Events about the outreach list (payloads are the CloudEvents ``data``), emitted through the
strategy service's outbox under its source (``services.strategy.events.SOURCE``).

Each carries ``by_status``: how many of the engagement's contacts stand at each status once the
change is made (computed with the engagement locked, so the figures follow one another). The
reporting service keeps them as they come and reads the counts at any moment from them, without
replaying the list itself."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import BaseModel

from services.strategy.outreach.schemas import ContactKind, OutreachStatus

OUTREACH_CONTACT_RECORDED = "strategy.outreach_contact_recorded"
OUTREACH_STEP_RECORDED = "strategy.outreach_step_recorded"


class OutreachFact(BaseModel):
    contact_id: uuid.UUID
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    kind: ContactKind
    platform: str
    status: OutreachStatus
    due_on: date | None
    # The engagement's contacts at each status after the change (every status named).
    by_status: dict[OutreachStatus, int]


class OutreachContactRecorded(OutreachFact):
    change: Literal["created", "updated"]
    recorded_by: str


class OutreachStepRecorded(OutreachFact):
    step_id: uuid.UUID
    previous_status: OutreachStatus
    recorded_by: str

"""Bodies of the lifecycle's routes (reused by the gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.strategy.contracts import LifecycleEventName
from services.strategy.events import TimelineNoteName
from services.strategy.lifecycle.summary import SummaryStatus, WaitingApproval
from services.strategy.schemas import EngagementOut
from shared.domain import Phase
from shared.paging import PageQuery


class TimelineEntry(BaseModel):
    """One fact of an engagement's lifecycle, or one of the listening service's facts about it
    (an alert, an SLA breach): what happened, in which phase, who did it, when."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: LifecycleEventName | TimelineNoteName = Field(
        description="A lifecycle fact (`phase_started`), or an alert's or a conversation's SLA "
        "fact under its event's name (`listening.alert_raised`, `conversations.sla_breached`)"
    )
    phase: Phase
    actor: str | None
    details: dict[str, Any]
    occurred_at: datetime
    recorded_at: datetime


class EngagementSummaryOut(BaseModel):
    """What the list of engagements shows of each: its summary, kept from its lifecycle facts."""

    model_config = ConfigDict(from_attributes=True)

    status: SummaryStatus
    phase: Phase
    revision: int = Field(description="Reworks of the current phase after a rejection")
    pending_approvals: list[WaitingApproval]
    open_task_count: int = Field(description="Open tasks, overdue ones included")
    overdue_task_count: int
    next_deadline: datetime | None = Field(
        description="The earliest due date of an open task not yet overdue"
    )
    updated_at: datetime = Field(description="When the latest fact it reflects happened")


class EngagementListed(EngagementOut):
    """An engagement with its summary (``null`` until its workflow has recorded a fact)."""

    state: EngagementSummaryOut | None


class EngagementFilters(PageQuery):
    """``GET /engagements``: which engagements, and which page of them (newest first)."""

    model_config = ConfigDict(extra="forbid")

    organization_id: uuid.UUID | None = None
    status: SummaryStatus | None = None
    phase: Phase | None = None
    waiting_for_me: bool = Field(
        False,
        description="Only those with an approval one of the caller's roles can give, or an "
        "open task assigned to one of them",
    )

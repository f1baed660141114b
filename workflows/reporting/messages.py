"""Messages of ``PeriodicReportWorkflow``: one support cycle's report of an engagement."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from services.publisher.contracts import ChannelPeriodFigures, PostMetricsTotals

REPORT_WORKFLOW_NAME = "PeriodicReportWorkflow"


def report_workflow_id(engagement_id: uuid.UUID, cycle: int) -> str:
    return f"periodic-report-{engagement_id}-{cycle}"


class PeriodicReportInput(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    cycle: int
    # The period on the engagement's calendar, both days included.
    period_start: date
    period_end: date
    # The instants measured, ``[window_start, window_end)``: the cycle's own time, the same as
    # the period's days at time scale 1, compressed with it otherwise.
    window_start: datetime
    window_end: datetime
    # The cycle's metrics collection: samples up to it are summed (None: the latest).
    metrics_as_of: datetime | None = None
    task_queue_prefix: str = ""


class PeriodicReportSummary(BaseModel):
    """The period's figures, from the publisher's tables."""

    cycle: int
    period_start: date
    period_end: date
    window_start: datetime
    window_end: datetime
    posts_published: int
    posts_failed: int
    by_channel: list[ChannelPeriodFigures]
    posts_with_metrics: int
    metrics: PostMetricsTotals
    metrics_collected_at: datetime | None = None

"""Messages of ``PeriodicReportWorkflow``: one support cycle's report of an engagement."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from services.publisher.contracts import ChannelPeriodFigures, PostMetricsTotals
from services.reporting.contracts import EngagementKpis

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
    # The cycle's metrics collection: samples up to it are summed (None: the latest). Only the
    # publisher's summary of runs recorded before the reporting service's KPIs reads it.
    metrics_as_of: datetime | None = None
    task_queue_prefix: str = ""


class PeriodicReportSummary(BaseModel):
    """The period's KPIs from the reporting service, with the headline figures beside them.

    Runs recorded before the KPIs summed the publisher's tables instead: theirs is the
    summary's other half (``by_channel`` to ``metrics_collected_at``) and ``kpis`` is None.
    """

    cycle: int
    period_start: date
    period_end: date
    window_start: datetime
    window_end: datetime
    posts_published: int
    posts_failed: int
    kpis: EngagementKpis | None = None
    by_channel: list[ChannelPeriodFigures] | None = None
    posts_with_metrics: int | None = None
    metrics: PostMetricsTotals | None = None
    metrics_collected_at: datetime | None = None

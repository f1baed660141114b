"""Activities the reporting service offers on its task queue, and its report workflow's name,
signal and payloads.

Plain pydantic models with no database code, so workflows may import them.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel

# Re-exported: a workflow reads an engagement's KPIs through the contracts.
from services.reporting.kpis.schemas import EngagementKpis as EngagementKpis

REPORT_WORKFLOW = "EngagementReportWorkflow"
# The manager's decision on a report waiting for approval (``ReportDecided``).
REPORT_DECIDED_SIGNAL = "report_decided"

OPEN_PERIODIC_REPORT = "reporting.open_periodic_report"
RENDER_REPORT = "reporting.render_report"
REPORT_STATUS = "reporting.report_status"
DELIVER_REPORT = "reporting.deliver_report"
ENGAGEMENT_PERIOD_KPIS = "reporting.engagement_period_kpis"

Cadence = Literal["weekly", "monthly"]


def report_workflow_id(report_id: uuid.UUID) -> str:
    return f"report-{report_id}"


def report_schedule_id(engagement_id: uuid.UUID) -> str:
    """The engagement's periodic reports' schedule (its runs' ids start with it)."""
    return f"report-schedule-{engagement_id}"


class ReportStatus(StrEnum):
    """requested → awaiting_approval → approved → delivered; ``failed`` while rendering fails
    (retried), ``rejected`` when the manager sends it back."""

    REQUESTED = "requested"
    FAILED = "failed"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    DELIVERED = "delivered"


class PeriodicRun(BaseModel):
    """What a schedule's run needs to name the period that just closed."""

    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    cadence: Cadence
    # The compressed length of the period (a demo's time scale); None: calendar weeks/months.
    every_seconds: float | None = None


class ReportRunInput(BaseModel):
    """An on-demand report (``report_id``, its record made by the API) or a schedule's run
    (``periodic``: the workflow opens the period's report itself)."""

    report_id: uuid.UUID | None = None
    periodic: PeriodicRun | None = None
    task_queue_prefix: str = ""


class OpenPeriodicReport(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    cadence: Cadence
    every_seconds: float | None = None
    # When the schedule's run started: the period ends there (or at the last calendar
    # boundary before it).
    at: datetime
    workflow_id: str


class OpenedReport(BaseModel):
    report_id: uuid.UUID
    # False when the period's report was rendered already (the run was retried).
    render: bool


class ReportRef(BaseModel):
    report_id: uuid.UUID


class ReportState(BaseModel):
    report_id: uuid.UUID
    status: ReportStatus


class ReportDecided(BaseModel):
    approved: bool


class EngagementPeriodKpisQuery(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime

"""Events the reporting service emits (``engage.reporting.*``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

SOURCE = "urn:atlantide-engage:reporting"

REPORT_REQUESTED = "reporting.report_requested"
# Rendered and waiting for a manager's approval.
REPORT_READY = "reporting.report_ready"
REPORT_FAILED = "reporting.report_failed"
REPORT_APPROVED = "reporting.report_approved"
REPORT_REJECTED = "reporting.report_rejected"
# Delivered to the client: its documents may be downloaded by the organisation's people.
REPORT_DELIVERED = "reporting.report_delivered"


def report_event_id(report_id: uuid.UUID, fact: str) -> uuid.UUID:
    """A report's fact recorded again (an activity retried) keeps its id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"reporting-report/{report_id}/{fact}")


class ReportFact(BaseModel):
    report_id: uuid.UUID
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    # periodic | on_demand
    kind: str
    period_start: datetime
    period_end: datetime
    language: str


class ReportRequested(ReportFact):
    requested_by: str


class ReportReady(ReportFact):
    # The gateway's paths of the documents (``/v1/reports/<id>/report.pdf``).
    documents: dict[str, str]


class ReportFailed(ReportFact):
    reason: str


class ReportApproved(ReportFact):
    approved_by: str
    comment: str | None


class ReportRejected(ReportFact):
    rejected_by: str
    reason: str


class ReportDelivered(ReportFact):
    documents: dict[str, str]
    # Addresses the delivery notice was sent to (none: the event and the links only).
    emailed_to: list[str]
    delivered_at: datetime

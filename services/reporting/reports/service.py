"""Reports' rules: who may request, read, approve and download them, and each step of their
life (opened, rendered or failed, approved or rejected, delivered), each with its event.

A report's documents and its move to ``awaiting_approval`` are written in one transaction, so
a report is either waiting with both documents whole or has none to serve. A client's people
see a report only once it is delivered; until then it is the agency's draft.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting import events
from services.reporting.contracts import Cadence, ReportStatus, report_workflow_id
from services.reporting.models import (
    OrganizationFact,
    Report,
    ReportDocument,
    engagements,
    outbox,
)
from services.reporting.readmodel import relationships as relationship_facts
from services.reporting.rendering import ReportContext
from services.reporting.rendering.relationships import RelationshipFigures
from services.reporting.reports import repository
from services.reporting.reports.schemas import (
    DocumentLink,
    ReportCreate,
    ReportDetail,
    ReportLanguage,
    ReportOut,
)
from shared.auth import AGENCY_ROLES, Principal
from shared.errors import ConflictError, FieldError, NotFoundError, validation_problem
from shared.events.envelope import new_event
from shared.paging import PageQuery

# The gateway's path of a report's documents (the frontends' and the e-mail's link).
DOCUMENT_PATH = "/v1/reports/{report_id}/report.{format}"
FORMATS = ("html", "pdf")
DEFAULT_TIME_ZONE = "Europe/Rome"
# The cover's name while strategy's ``organization_created`` has not reached the read model.
UNNAMED_ORGANIZATION = "—"
ITALIAN_TIME_ZONES = frozenset({"Europe/Rome", "Europe/San_Marino", "Europe/Vatican"})


def document_path(report_id: uuid.UUID, format: str) -> str:
    return DOCUMENT_PATH.format(report_id=report_id, format=format)


def default_language(timezone: str | None) -> ReportLanguage:
    """Italian for an organisation in Italy (its time zone says where it is), else English."""
    return "it" if timezone is None or timezone in ITALIAN_TIME_ZONES else "en"


def check_period(starts_at: datetime, ends_at: datetime, max_days: int) -> None:
    """422 unless ``starts_at`` is before ``ends_at`` and the period is at most ``max_days``."""
    if starts_at >= ends_at:
        raise validation_problem(
            [FieldError(field="body.from", message="must be before `to`", type="period_order")]
        )
    if ends_at - starts_at > timedelta(days=max_days):
        message = f"the period may be at most {max_days} days long"
        raise validation_problem(
            [FieldError(field="body.to", message=message, type="period_too_long")]
        )


def _is_agency(principal: Principal, organization_id: uuid.UUID) -> bool:
    """Whether the caller is the agency for this organisation's reports."""
    return principal.holds_in(organization_id, AGENCY_ROLES)


def _fact(report: Report) -> dict[str, Any]:
    return {
        "report_id": report.id,
        "organization_id": report.organization_id,
        "engagement_id": report.engagement_id,
        "kind": report.kind,
        "period_start": report.period_start,
        "period_end": report.period_end,
        "language": report.language,
    }


async def _emit(
    session: AsyncSession, report: Report, fact: str, name: str, data: BaseModel
) -> None:
    await outbox.add(
        session,
        new_event(
            name,
            data,
            source=events.SOURCE,
            subject=str(report.engagement_id),
            event_id=events.report_event_id(report.id, fact),
        ),
    )


async def organization(
    session: AsyncSession, organization_id: uuid.UUID
) -> OrganizationFact | None:
    query = select(OrganizationFact).where(OrganizationFact.organization_id == organization_id)
    return (await session.execute(query)).scalar_one_or_none()


# --- reading -----------------------------------------------------------------------------------


async def require(session: AsyncSession, report_id: uuid.UUID, principal: Principal) -> Report:
    """The report, if the caller may see it: the agency always, the client once delivered."""
    report = await repository.get(session, report_id)
    if report is None or (
        not _is_agency(principal, report.organization_id)
        and report.status != ReportStatus.DELIVERED.value
    ):
        raise NotFoundError("report", report_id)
    return report


async def outputs(session: AsyncSession, reports: Sequence[Report]) -> list[ReportOut]:
    found = await repository.documents(session, [report.id for report in reports])
    links: dict[uuid.UUID, list[DocumentLink]] = {}
    for report_id, format, size, sha256 in sorted(found, key=lambda row: row[1]):
        links.setdefault(report_id, []).append(
            DocumentLink.model_validate(
                {
                    "format": format,
                    "href": document_path(report_id, format),
                    "size_bytes": size,
                    "sha256": sha256,
                }
            )
        )
    return [
        ReportOut.model_validate(report, from_attributes=True).model_copy(
            update={"documents": links.get(report.id, [])}
        )
        for report in reports
    ]


async def detail(session: AsyncSession, report: Report) -> ReportDetail:
    (out,) = await outputs(session, [report])
    return ReportDetail(**out.model_dump(), kpis=report.kpis)


async def list_reports(
    session: AsyncSession, engagement_id: uuid.UUID, principal: Principal, page: PageQuery
) -> Sequence[Report]:
    """A page of the engagement's reports the caller may read: a client's people, only the
    delivered ones (one more than the page when more follow)."""
    organization_id = await engagements.require(session, engagement_id, wait_seconds=0)
    delivered_only = not _is_agency(principal, organization_id)
    status = ReportStatus.DELIVERED.value if delivered_only else None
    return await repository.of_engagement(session, engagement_id, page, status=status)


async def document(
    session: AsyncSession, report_id: uuid.UUID, format: str, principal: Principal
) -> ReportDocument:
    report = await require(session, report_id, principal)
    stored = await repository.document(session, report.id, format)
    if stored is None:
        raise ConflictError(
            f"report {report_id} has no {format} document yet: it is {report.status}",
            report_status=report.status,
        )
    return stored


# --- requesting --------------------------------------------------------------------------------


async def request_report(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    body: ReportCreate,
    principal: Principal,
    max_period_days: int,
) -> Report:
    """An on-demand report of any period (its workflow renders it)."""
    check_period(body.starts_at, body.ends_at, max_period_days)
    organization_id = await engagements.require(session, engagement_id)
    language = body.language
    if language is None:
        found = await organization(session, organization_id)
        language = default_language(found.timezone if found else None)
    report_id = uuid.uuid4()
    report = Report(
        id=report_id,
        organization_id=organization_id,
        engagement_id=engagement_id,
        kind="on_demand",
        period_start=body.starts_at,
        period_end=body.ends_at,
        language=language,
        status=ReportStatus.REQUESTED.value,
        requested_by=principal.subject,
        recipients=list(body.recipients),
        workflow_id=report_workflow_id(report_id),
    )
    return await _opened(session, report)


async def _opened(session: AsyncSession, report: Report) -> Report:
    """Store a new report with its ``report_requested`` event."""
    session.add(report)
    await session.flush()
    await _emit(
        session,
        report,
        "requested",
        events.REPORT_REQUESTED,
        events.ReportRequested(**_fact(report), requested_by=report.requested_by),
    )
    return report


def calendar_period(at: datetime, cadence: Cadence, timezone: str) -> tuple[datetime, datetime]:
    """The last whole week (Monday to Monday) or month before ``at``, in the organisation's
    time zone."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if cadence == "weekly":
        end = midnight - timedelta(days=midnight.weekday())
        return end - timedelta(days=7), end
    end = midnight.replace(day=1)
    return (end - timedelta(days=1)).replace(day=1), end


async def open_periodic_report(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    organization_id: uuid.UUID,
    cadence: Cadence,
    every_seconds: float | None,
    at: datetime,
    workflow_id: str,
) -> Report:
    """The schedule's report of the period that just closed; the same one when the run is
    retried (one periodic report per engagement and period)."""
    found = await organization(session, organization_id)
    timezone = found.timezone if found else DEFAULT_TIME_ZONE
    if every_seconds is None:
        starts_at, ends_at = calendar_period(at, cadence, timezone)
    else:
        ends_at = at.replace(microsecond=0)
        starts_at = ends_at - timedelta(seconds=every_seconds)
    existing = await repository.periodic(session, engagement_id, ends_at)
    if existing is not None:
        return existing
    report = Report(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=engagement_id,
        kind="periodic",
        period_start=starts_at,
        period_end=ends_at,
        language=default_language(timezone),
        status=ReportStatus.REQUESTED.value,
        requested_by=f"schedule:{cadence}",
        recipients=[],
        workflow_id=workflow_id,
    )
    return await _opened(session, report)


# --- rendering ---------------------------------------------------------------------------------


def render_context(
    report: Report, organization: OrganizationFact | None, now: datetime
) -> ReportContext:
    """Who the report is for and the period's days as the client reads them: the last day is
    the one before the excluded end, in the organisation's time zone."""
    timezone = organization.timezone if organization else DEFAULT_TIME_ZONE
    zone = ZoneInfo(timezone)
    return ReportContext(
        organization_name=(organization.name if organization else "") or UNNAMED_ORGANIZATION,
        engagement_id=report.engagement_id,
        first_day=report.period_start.astimezone(zone).date(),
        last_day=(report.period_end - timedelta(microseconds=1)).astimezone(zone).date(),
        language="en" if report.language == "en" else "it",
        time_zone=timezone,
        generated_at=now,
    )


async def relationship_figures(session: AsyncSession, report: Report) -> RelationshipFigures:
    """The engagement's seeding and training as they stood at the period's end and start."""
    return await relationship_facts.figures(
        session, report.engagement_id, report.period_start, report.period_end
    )


async def record_rendered(
    session: AsyncSession,
    report_id: uuid.UUID,
    documents: dict[str, bytes],
    kpis: dict[str, object],
    now: datetime,
) -> Report:
    """Store both documents and make the report wait for approval, in the caller's one
    transaction; a report rendered already is left as it is (the activity was retried)."""
    report = await repository.get(session, report_id, lock=True)
    if report is None:
        raise NotFoundError("report", report_id)
    if report.status not in (ReportStatus.REQUESTED.value, ReportStatus.FAILED.value):
        return report
    for format, content in documents.items():
        await session.execute(
            insert(ReportDocument)
            .values(
                report_id=report.id,
                format=format,
                organization_id=report.organization_id,
                content=content,
                size_bytes=len(content),
                sha256=hashlib.sha256(content).hexdigest(),
            )
            .on_conflict_do_update(
                index_elements=[ReportDocument.report_id, ReportDocument.format],
                set_={
                    "content": content,
                    "size_bytes": len(content),
                    "sha256": hashlib.sha256(content).hexdigest(),
                },
            )
        )
    report.kpis = kpis
    report.rendered_at = now
    report.failure = None
    report.status = ReportStatus.AWAITING_APPROVAL.value
    links = {format: document_path(report.id, format) for format in documents}
    await _emit(
        session,
        report,
        "ready",
        events.REPORT_READY,
        events.ReportReady(**_fact(report), documents=links),
    )
    return report


async def record_render_failure(
    session: AsyncSession, report_id: uuid.UUID, reason: str, attempt: int
) -> None:
    """Mark the report failed with the reason (its workflow tries again)."""
    report = await repository.get(session, report_id, lock=True)
    if report is None or report.status not in (
        ReportStatus.REQUESTED.value,
        ReportStatus.FAILED.value,
    ):
        return
    report.status = ReportStatus.FAILED.value
    report.failure = reason[:2000]
    await _emit(
        session,
        report,
        f"failed/{attempt}",
        events.REPORT_FAILED,
        events.ReportFailed(**_fact(report), reason=report.failure),
    )


# --- approving and delivering ------------------------------------------------------------------


async def _awaiting(session: AsyncSession, report_id: uuid.UUID, principal: Principal) -> Report:
    report = await repository.get(session, report_id, lock=True)
    if report is None or not _is_agency(principal, report.organization_id):
        raise NotFoundError("report", report_id)
    if report.status != ReportStatus.AWAITING_APPROVAL.value:
        raise ConflictError(
            f"report {report_id} is {report.status}: only a report awaiting approval can be "
            "approved or rejected",
            report_status=report.status,
        )
    return report


async def approve(
    session: AsyncSession,
    report_id: uuid.UUID,
    principal: Principal,
    comment: str | None,
    now: datetime,
) -> Report:
    report = await _awaiting(session, report_id, principal)
    report.status = ReportStatus.APPROVED.value
    report.approved_by = principal.subject
    report.approved_at = now
    await _emit(
        session,
        report,
        "approved",
        events.REPORT_APPROVED,
        events.ReportApproved(**_fact(report), approved_by=principal.subject, comment=comment),
    )
    return report


async def reject(
    session: AsyncSession, report_id: uuid.UUID, principal: Principal, reason: str
) -> Report:
    report = await _awaiting(session, report_id, principal)
    report.status = ReportStatus.REJECTED.value
    await _emit(
        session,
        report,
        "rejected",
        events.REPORT_REJECTED,
        events.ReportRejected(**_fact(report), rejected_by=principal.subject, reason=reason),
    )
    return report


async def record_delivered(
    session: AsyncSession, report_id: uuid.UUID, emailed_to: list[str], now: datetime
) -> Report:
    """The approved report is the client's now; delivering it again changes nothing."""
    report = await repository.get(session, report_id, lock=True)
    if report is None:
        raise NotFoundError("report", report_id)
    if report.status == ReportStatus.DELIVERED.value:
        return report
    if report.status != ReportStatus.APPROVED.value:
        raise ConflictError(f"report {report_id} is {report.status}, not approved")
    report.status = ReportStatus.DELIVERED.value
    report.delivered_at = now
    links = {format: document_path(report.id, format) for format in FORMATS}
    await _emit(
        session,
        report,
        "delivered",
        events.REPORT_DELIVERED,
        events.ReportDelivered(
            **_fact(report), documents=links, emailed_to=emailed_to, delivered_at=now
        ),
    )
    return report

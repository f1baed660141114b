"""HTTP routes of reports: request one for any period, list an engagement's, read one, approve
or reject it (a manager), and download its HTML and PDF."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response, status

from services.reporting.reports import repository, service
from services.reporting.reports.runs import ReportRuns
from services.reporting.reports.schemas import (
    ReportApproval,
    ReportCreate,
    ReportDetail,
    ReportOut,
    ReportRejection,
)
from shared.app import SessionDep, SettingsDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import PageDep, page_of

reports_router = APIRouter(tags=["reports"])

MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


async def _report_runs(request: Request) -> ReportRuns:
    runs: ReportRuns = request.app.state.report_runs
    return runs


ReportRunsDep = Annotated[ReportRuns, Depends(_report_runs)]


@reports_router.post(
    "/engagements/{engagement_id}/reports",
    response_model=ReportDetail,
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[AUTHORIZED],
    summary="Request a report of an engagement for any period: it is rendered as HTML and PDF, "
    "then waits for a manager's approval before the client sees it",
)
async def request_report(
    engagement_id: uuid.UUID,
    body: ReportCreate,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
    runs: ReportRunsDep,
) -> ReportDetail:
    runs.require_connection()
    report = await service.request_report(
        session, engagement_id, body, principal, settings.reporting.max_period_days
    )
    # Committed before its workflow starts, so the workflow finds it.
    await session.commit()
    await runs.start(report)
    return await service.detail(session, report)


@reports_router.get(
    "/engagements/{engagement_id}/reports",
    response_model=list[ReportOut],
    summary="An engagement's reports, the latest period first (a client's people see the "
    "delivered ones); a Link header names the next page",
)
async def list_reports(
    engagement_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    request: Request,
    response: Response,
) -> list[ReportOut]:
    found = await service.list_reports(session, engagement_id, principal, page)
    held = page_of(found, repository.REPORT_ORDER, page, request, response)
    return await service.outputs(session, held)


@reports_router.get(
    "/reports/{report_id}",
    response_model=ReportDetail,
    summary="One report: its status, its documents' links and the figures they show",
)
async def get_report(
    report_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ReportDetail:
    return await service.detail(session, await service.require(session, report_id, principal))


@reports_router.post(
    "/reports/{report_id}/approve",
    response_model=ReportDetail,
    dependencies=[AUTHORIZED],
    summary="Approve a rendered report: it is delivered to the client (409 unless it awaits "
    "approval, so approving twice is a 409)",
)
async def approve_report(
    report_id: uuid.UUID,
    body: ReportApproval,
    session: SessionDep,
    principal: CurrentPrincipal,
    runs: ReportRunsDep,
) -> ReportDetail:
    report = await service.approve(session, report_id, principal, body.comment, datetime.now(UTC))
    await session.commit()
    await runs.decided(report, approved=True)
    return await service.detail(session, report)


@reports_router.post(
    "/reports/{report_id}/reject",
    response_model=ReportDetail,
    dependencies=[AUTHORIZED],
    summary="Send a rendered report back with the reason; it is not delivered (request a new "
    "one once the figures are right)",
)
async def reject_report(
    report_id: uuid.UUID,
    body: ReportRejection,
    session: SessionDep,
    principal: CurrentPrincipal,
    runs: ReportRunsDep,
) -> ReportDetail:
    report = await service.reject(session, report_id, principal, body.reason)
    await session.commit()
    await runs.decided(report, approved=False)
    return await service.detail(session, report)


@reports_router.get(
    "/reports/{report_id}/report.{format}",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, "text/html": {}},
            "description": "The report's document, whole",
        }
    },
    summary="Download a report as PDF or HTML (409 while it is not rendered)",
)
async def download_report(
    report_id: uuid.UUID,
    format: Literal["pdf", "html"],
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Response:
    stored = await service.document(session, report_id, format, principal)
    return Response(
        content=stored.content,
        media_type=MEDIA_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="report-{report_id}.{format}"',
            "X-Content-Type-Options": "nosniff",
            "ETag": f'"{stored.sha256}"',
        },
    )

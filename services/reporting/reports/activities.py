"""Temporal activities of reports, each idempotent: a period's periodic report is opened once,
a report is rendered and stored whole once, delivered once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from services.reporting.contracts import (
    DELIVER_REPORT,
    ENGAGEMENT_PERIOD_KPIS,
    OPEN_PERIODIC_REPORT,
    RENDER_REPORT,
    REPORT_STATUS,
    EngagementKpis,
    EngagementPeriodKpisQuery,
    OpenedReport,
    OpenPeriodicReport,
    ReportRef,
    ReportState,
    ReportStatus,
)
from services.reporting.kpis.schemas import Period
from services.reporting.kpis.service import engagement_kpis
from services.reporting.models import OrganizationFact, Report
from services.reporting.rendering import RenderingError, render_report
from services.reporting.reports import delivery_email, repository, service
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import NotFoundError
from shared.settings import Settings

log = logging.getLogger(__name__)

RENDER_FAILED = "report-render-failed"


class ReportActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name=OPEN_PERIODIC_REPORT)
    @problems_as_application_errors
    async def open_periodic_report(self, request: OpenPeriodicReport) -> OpenedReport:
        async with session_scope(self._sessions, SYSTEM) as session:
            report = await service.open_periodic_report(
                session,
                request.engagement_id,
                request.organization_id,
                request.cadence,
                request.every_seconds,
                request.at,
                request.workflow_id,
            )
            # A retried run finds its report rendered, or on its way.
            waiting = report.status in (ReportStatus.REQUESTED.value, ReportStatus.FAILED.value)
            return OpenedReport(report_id=report.id, render=waiting)

    @activity.defn(name=RENDER_REPORT)
    @problems_as_application_errors
    async def render_report(self, request: ReportRef) -> ReportState:
        """Compute the period's KPIs (beside the previous period's), render both documents and
        store them whole; a renderer failure marks the report failed with the reason and is
        raised for the workflow to retry."""
        async with session_scope(self._sessions, SYSTEM) as session:
            report = await repository.get(session, request.report_id)
            if report is None:
                raise NotFoundError("report", request.report_id)
            if report.status not in (ReportStatus.REQUESTED.value, ReportStatus.FAILED.value):
                return ReportState(report_id=report.id, status=ReportStatus(report.status))
            kpis = await engagement_kpis(
                session,
                report.engagement_id,
                Period(starts_at=report.period_start, ends_at=report.period_end),
                channel=None,
                compare=True,
            )
            organization = await service.organization(session, report.organization_id)
            context = service.render_context(report, organization, datetime.now(UTC))
            context = context.model_copy(
                update={"relationships": await service.relationship_figures(session, report)}
            )
        try:
            rendered = await asyncio.to_thread(render_report, kpis, context)
        except RenderingError as error:
            attempt = activity.info().attempt
            async with session_scope(self._sessions, SYSTEM) as session:
                await service.record_render_failure(session, request.report_id, str(error), attempt)
            raise ApplicationError(str(error), type=RENDER_FAILED) from error
        async with session_scope(self._sessions, SYSTEM) as session:
            report = await service.record_rendered(
                session,
                request.report_id,
                {"html": rendered.html, "pdf": rendered.pdf},
                kpis.model_dump(mode="json"),
                datetime.now(UTC),
            )
            return ReportState(report_id=report.id, status=ReportStatus(report.status))

    @activity.defn(name=REPORT_STATUS)
    @problems_as_application_errors
    async def report_status(self, request: ReportRef) -> ReportState:
        async with session_scope(self._sessions, SYSTEM) as session:
            report = await repository.get(session, request.report_id)
            if report is None:
                raise NotFoundError("report", request.report_id)
            return ReportState(report_id=report.id, status=ReportStatus(report.status))

    @activity.defn(name=DELIVER_REPORT)
    @problems_as_application_errors
    async def deliver_report(self, request: ReportRef) -> ReportState:
        """E-mail the link to the report's recipients (a failure is retried), then record the
        delivery and its event; a report delivered already is left as it is."""
        async with session_scope(self._sessions, SYSTEM) as session:
            report = await repository.get(session, request.report_id)
            if report is None:
                raise NotFoundError("report", request.report_id)
            if report.status == ReportStatus.DELIVERED.value:
                return ReportState(report_id=report.id, status=ReportStatus.DELIVERED)
            recipients = list(report.recipients)
            organization = await service.organization(session, report.organization_id)
            if recipients:
                await self._email(report, organization, recipients)
            delivered = await service.record_delivered(
                session, report.id, recipients, datetime.now(UTC)
            )
            return ReportState(report_id=delivered.id, status=ReportStatus(delivered.status))

    async def _email(
        self, report: Report, organization: OrganizationFact | None, recipients: list[str]
    ) -> None:
        """The period's days as the report's cover names them (the excluded end's day is not
        one of them)."""
        context = service.render_context(report, organization, datetime.now(UTC))
        base = self._settings.reporting.public_base_url.rstrip("/")
        mail = delivery_email.message(
            self._settings.notifications,
            recipients,
            organization=context.organization_name,
            start=context.first_day.isoformat(),
            end=context.last_day.isoformat(),
            link=base + service.document_path(report.id, "pdf"),
            language=report.language,
        )
        try:
            await delivery_email.send(self._settings.notifications, mail)
        except (aiosmtplib.SMTPException, OSError) as error:
            log.warning("report %s: e-mail not sent yet: %s", report.id, error)
            raise

    @activity.defn(name=ENGAGEMENT_PERIOD_KPIS)
    @problems_as_application_errors
    async def engagement_period_kpis(self, request: EngagementPeriodKpisQuery) -> EngagementKpis:
        """The lifecycle's support cycle records these as its period's report."""
        async with session_scope(self._sessions, SYSTEM) as session:
            return await engagement_kpis(
                session,
                request.engagement_id,
                Period(starts_at=request.starts_at, ends_at=request.ends_at),
                channel=None,
                compare=False,
            )

    def all(self) -> Sequence[Callable[..., Any]]:
        return [
            self.open_periodic_report,
            self.render_report,
            self.report_status,
            self.deliver_report,
            self.engagement_period_kpis,
        ]

"""The reports' activities on the migrated database, each in Temporal's activity environment: a
renderer failure marks the report failed with the reason and leaves no document, the next
attempt stores both whole; delivery e-mails the download link to the report's recipients, once,
and a server that refuses leaves the report undelivered for the workflow to retry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.reporting.contracts import ReportRef, ReportStatus
from services.reporting.models import (
    KnownEngagement,
    OrganizationFact,
    OutboxEvent,
    Report,
    ReportDocument,
)
from services.reporting.rendering import RenderingError, render_report
from services.reporting.reports import activities as report_activities
from services.reporting.reports.activities import ReportActivities
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.settings import Settings
from tests.conftest import free_port
from tests.test_notifications import Kept

# Midnight in Rome, where the organisation is: the week's days are the 2nd to the 8th.
START = datetime(2026, 11, 2, tzinfo=ZoneInfo("Europe/Rome"))


@pytest.fixture
def smtp_server() -> Iterator[tuple[Kept, int]]:
    from aiosmtpd.controller import Controller

    kept = Kept()
    port = free_port()
    controller = Controller(kept, hostname="127.0.0.1", port=port)
    controller.start()
    yield kept, port
    controller.stop()


async def a_report(
    sessions: async_sessionmaker[AsyncSession],
    status: ReportStatus,
    recipients: list[str] | None = None,
) -> Report:
    organization_id, engagement_id = uuid.uuid4(), uuid.uuid4()
    report = Report(
        id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=engagement_id,
        kind="on_demand",
        period_start=START,
        period_end=START + timedelta(days=7),
        language="it",
        status=status.value,
        requested_by="tester",
        recipients=recipients or [],
        workflow_id="report-test",
    )
    async with session_scope(sessions, SYSTEM) as session:
        session.add(KnownEngagement(engagement_id=engagement_id, organization_id=organization_id))
        session.add(
            OrganizationFact(
                organization_id=organization_id, name="Caseificio Norcia", timezone="Europe/Rome"
            )
        )
        session.add(report)
    return report


async def stored(sessions: async_sessionmaker[AsyncSession], report_id: uuid.UUID) -> Any:
    async with session_scope(sessions, SYSTEM) as session:
        report = await session.get(Report, report_id)
        documents = await session.scalar(
            select(func.count()).where(ReportDocument.report_id == report_id)
        )
        failures = await session.scalar(
            select(func.count()).where(
                OutboxEvent.name == "reporting.report_failed",
                OutboxEvent.envelope["data"]["report_id"].astext == str(report_id),
            )
        )
        assert report is not None
        return report, documents, failures


async def test_a_renderer_failure_marks_the_report_failed_and_the_next_attempt_stores_it_whole(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = await a_report(sessions, ReportStatus.REQUESTED)
    activities = ReportActivities(sessions, settings)

    def broken(*args: Any) -> Any:
        raise RenderingError("charts: the font could not be read")

    monkeypatch.setattr(report_activities, "render_report", broken)
    with pytest.raises(ApplicationError, match="the font could not be read"):
        await ActivityEnvironment().run(activities.render_report, ReportRef(report_id=report.id))
    failed, documents, failures = await stored(sessions, report.id)
    assert (failed.status, failed.failure) == ("failed", "charts: the font could not be read")
    assert (documents, failures) == (0, 1)

    monkeypatch.setattr(report_activities, "render_report", render_report)
    state = await ActivityEnvironment().run(
        activities.render_report, ReportRef(report_id=report.id)
    )
    assert state.status == ReportStatus.AWAITING_APPROVAL
    rendered, documents, _ = await stored(sessions, report.id)
    assert (rendered.failure, documents) == (None, 2)
    assert rendered.kpis["listening"]["mentions"] == 0
    # Again (a retried attempt whose answer was lost): nothing changes.
    again = await ActivityEnvironment().run(
        activities.render_report, ReportRef(report_id=report.id)
    )
    assert again.status == ReportStatus.AWAITING_APPROVAL


async def test_delivery_emails_the_link_once_and_waits_while_the_server_refuses(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp_server: tuple[Kept, int],
) -> None:
    kept, port = smtp_server
    report = await a_report(
        sessions, ReportStatus.APPROVED, ["titolare@caseificio.example", "staff@caseificio.example"]
    )
    away = settings.model_copy(
        update={
            "notifications": settings.notifications.model_copy(
                update={"smtp_port": free_port(), "smtp_timeout_seconds": 2}
            )
        }
    )
    with pytest.raises((aiosmtplib.SMTPException, OSError)):
        await ActivityEnvironment().run(
            ReportActivities(sessions, away).deliver_report, ReportRef(report_id=report.id)
        )
    undelivered, _, _ = await stored(sessions, report.id)
    assert undelivered.status == "approved"

    answering = settings.model_copy(
        update={
            "notifications": settings.notifications.model_copy(update={"smtp_port": port}),
            "reporting": settings.reporting.model_copy(
                update={"public_base_url": "https://engage.agenzia.example"}
            ),
        }
    )
    activities = ReportActivities(sessions, answering)
    state = await ActivityEnvironment().run(
        activities.deliver_report, ReportRef(report_id=report.id)
    )
    assert state.status == ReportStatus.DELIVERED
    await ActivityEnvironment().run(activities.deliver_report, ReportRef(report_id=report.id))

    [(recipients, message)] = kept.messages
    assert sorted(recipients) == ["staff@caseificio.example", "titolare@caseificio.example"]
    assert message["Subject"] == "Report Caseificio Norcia: 2026-11-02 - 2026-11-08"
    plain = message.get_body(("plain",))
    assert plain is not None
    link = f"https://engage.agenzia.example/v1/reports/{report.id}/report.pdf"
    assert link in plain.get_content()
    delivered, _, _ = await stored(sessions, report.id)
    assert delivered.delivered_at is not None

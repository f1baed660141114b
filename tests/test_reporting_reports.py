"""Reports through the gateway on the in-process platform: requested for a period, rendered by
``EngagementReportWorkflow`` and the reporting service's real activities, hidden from the client
until a manager approves it (once), then delivered and downloadable; bad periods, unknown
reports and roles refused; the period a schedule's run reports; the engagement's schedule kept
from the lifecycle's facts."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.models import MentionFact, OrganizationFact
from services.reporting.reports import service
from services.reporting.reports.schedules import every_seconds, schedule_spec
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

PERIOD_START = datetime(2026, 11, 2, tzinfo=UTC)
PERIOD_END = datetime(2026, 11, 9, tzinfo=UTC)
MENTIONS = 37


def period(**changes: Any) -> dict[str, Any]:
    return {"from": PERIOD_START.isoformat(), "to": PERIOD_END.isoformat(), **changes}


async def heard(
    sessions: async_sessionmaker[AsyncSession], organization_id: str, engagement_id: str
) -> None:
    """The read model as listening's events would leave it: mentions in the period."""
    async with session_scope(sessions, SYSTEM) as session:
        for index in range(MENTIONS):
            session.add(
                MentionFact(
                    mention_id=uuid.uuid4(),
                    engagement_id=uuid.UUID(engagement_id),
                    organization_id=uuid.UUID(organization_id),
                    published_at=PERIOD_START + timedelta(hours=3 * index),
                    channel="sandbox",
                    author=f"utente{index % 5}",
                    sentiment=("positive", "negative", "neutral")[index % 3],
                    region_code="10",
                    region_name="Umbria",
                    query_ids=[],
                )
            )


async def a_report(platform: Platform) -> tuple[str, str, dict[str, Any]]:
    organization_id = await create_org(platform, "Cantina Umbra")
    engagement_id = await stored_engagement(platform, organization_id)
    requested = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/reports",
        json=period(recipients=[]),
        headers=platform.auth(Role.MANAGER),
    )
    assert requested.status_code == 202, requested.text
    return organization_id, engagement_id, requested.json()


async def report_of(platform: Platform, report_id: str, role: Role = Role.MANAGER) -> Any:
    return await platform.gateway.get(f"/v1/reports/{report_id}", headers=platform.auth(role))


async def until_status(platform: Platform, report_id: str, status: str) -> dict[str, Any]:
    async def reached() -> bool:
        read = await report_of(platform, report_id)
        return read.status_code == 200 and bool(read.json()["status"] == status)

    await wait_until(reached, timeout=60)
    found: dict[str, Any] = (await report_of(platform, report_id)).json()
    return found


async def test_a_report_waits_for_a_managers_approval_then_the_client_downloads_it(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform, "Frantoio Assisi")
    engagement_id = await stored_engagement(platform, organization_id)
    await wait_until(lambda: known(sessions, organization_id), timeout=30)
    await heard(sessions, organization_id, engagement_id)
    requested = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/reports",
        json=period(),
        headers=platform.auth(Role.MANAGER),
    )
    assert requested.status_code == 202, requested.text
    report = requested.json()
    assert (report["status"], report["kind"], report["language"]) == (
        "requested",
        "on_demand",
        "it",
    )
    report_id = report["id"]
    ready = await until_status(platform, report_id, "awaiting_approval")
    assert {document["format"] for document in ready["documents"]} == {"html", "pdf"}
    assert ready["kpis"]["listening"]["mentions"] == MENTIONS

    client = [f"{organization_id}"]
    # Until approved, the report is the agency's draft.
    assert (await report_of(platform, report_id, Role.CLIENT_VIEWER)).status_code == 404
    pdf_path = f"/v1/reports/{report_id}/report.pdf"
    hidden = await platform.gateway.get(
        pdf_path, headers=platform.auth(Role.CLIENT_VIEWER, orgs=client)
    )
    assert hidden.status_code == 404
    draft = await platform.gateway.get(pdf_path, headers=platform.auth(Role.MANAGER))
    assert draft.status_code == 200
    assert draft.headers["content-type"] == "application/pdf"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(draft.content)).pages)
    assert "Frantoio Assisi" in text
    assert str(MENTIONS) in text

    editor = await platform.gateway.post(
        f"/v1/reports/{report_id}/approve", json={}, headers=platform.auth(Role.EDITOR)
    )
    assert editor.status_code == 403
    approved = await platform.gateway.post(
        f"/v1/reports/{report_id}/approve",
        json={"comment": "ok"},
        headers=platform.auth(Role.MANAGER),
    )
    assert approved.status_code == 200, approved.text
    again = await platform.gateway.post(
        f"/v1/reports/{report_id}/approve", json={}, headers=platform.auth(Role.MANAGER)
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")

    delivered = await until_status(platform, report_id, "delivered")
    assert delivered["approved_by"] == "tester"
    download = await platform.gateway.get(
        pdf_path, headers=platform.auth(Role.CLIENT_VIEWER, orgs=client)
    )
    assert download.status_code == 200
    assert download.content == draft.content
    html = await platform.gateway.get(
        f"/v1/reports/{report_id}/report.html",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=client),
    )
    assert html.status_code == 200
    assert "Frantoio Assisi" in html.text
    listed = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/reports",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=client),
    )
    assert [item["id"] for item in listed.json()] == [report_id]


async def known(sessions: async_sessionmaker[AsyncSession], organization_id: str) -> bool:
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.get(OrganizationFact, uuid.UUID(organization_id))
    return found is not None


async def test_a_rejected_report_is_never_delivered(platform: Platform) -> None:
    _, _, report = await a_report(platform)
    await until_status(platform, report["id"], "awaiting_approval")
    rejected = await platform.gateway.post(
        f"/v1/reports/{report['id']}/reject",
        json={"reason": "the period is wrong"},
        headers=platform.auth(Role.MANAGER),
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    late = await platform.gateway.post(
        f"/v1/reports/{report['id']}/approve", json={}, headers=platform.auth(Role.MANAGER)
    )
    assert late.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (period(**{"from": PERIOD_END.isoformat(), "to": PERIOD_START.isoformat()}), "from"),
        (period(**{"to": (PERIOD_START + timedelta(days=401)).isoformat()}), "to"),
        (period(**{"from": "2026-11-02T00:00:00"}), "from"),
        (period(recipients=["not an address"]), "recipients"),
        (period(language="fr"), "language"),
    ],
)
async def test_a_bad_period_or_field_is_a_422_naming_it(
    platform: Platform, body: dict[str, Any], field: str
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    refused = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/reports", json=body, headers=platform.auth(Role.MANAGER)
    )
    assert refused.status_code == 422, refused.text
    assert any(field in error["field"] for error in refused.json()["errors"]), refused.text


async def test_unknown_engagements_and_reports_are_404_and_clients_may_not_request(
    platform: Platform,
) -> None:
    unknown = await platform.gateway.post(
        f"/v1/engagements/{uuid.uuid4()}/reports",
        json=period(),
        headers=platform.auth(Role.MANAGER),
    )
    assert unknown.status_code == 404
    assert (await report_of(platform, str(uuid.uuid4()))).status_code == 404
    missing = await platform.gateway.get(
        f"/v1/reports/{uuid.uuid4()}/report.pdf", headers=platform.auth(Role.MANAGER)
    )
    assert missing.status_code == 404
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    client = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/reports",
        json=period(),
        headers=platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id]),
    )
    assert client.status_code == 403
    other = await create_org(platform, "Altra")
    foreign = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/reports",
        json=period(),
        headers=platform.auth(Role.MANAGER, orgs=[other]),
    )
    assert foreign.status_code == 404


def test_a_schedules_run_reports_the_calendar_week_or_month_that_just_closed() -> None:
    # Monday 2026-11-09 06:00 in Rome: the week from Monday 2 November, local midnights.
    at = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)
    start, end = service.calendar_period(at, "weekly", "Europe/Rome")
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-02T00:00:00+01:00",
        "2026-11-09T00:00:00+01:00",
    )
    start, end = service.calendar_period(
        datetime(2026, 12, 1, 5, 0, tzinfo=UTC), "monthly", "Europe/Rome"
    )
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-01T00:00:00+01:00",
        "2026-12-01T00:00:00+01:00",
    )
    # Over the change of time in March the month is still its local midnights.
    start, end = service.calendar_period(
        datetime(2026, 4, 1, 4, 0, tzinfo=UTC), "monthly", "Europe/Rome"
    )
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-01T00:00:00+01:00",
        "2026-04-01T00:00:00+02:00",
    )


def test_a_schedule_runs_on_the_calendar_at_real_time_and_every_compressed_period_in_a_demo() -> (
    None
):
    assert every_seconds("weekly", None) is None
    assert every_seconds("weekly", 1.0) is None
    assert every_seconds("weekly", 0.001) == pytest.approx(604.8)
    assert every_seconds("monthly", 0.001) == pytest.approx(2592.0)
    weekly = schedule_spec("weekly", None, "Europe/Rome")
    (calendar,) = weekly.calendars
    assert (calendar.day_of_week[0].start, calendar.hour[0].start) == (1, 6)
    assert weekly.time_zone_name == "Europe/Rome"
    monthly = schedule_spec("monthly", None, "Europe/Rome")
    assert monthly.calendars[0].day_of_month[0].start == 1
    compressed = schedule_spec("weekly", 30.0, "Europe/Rome")
    assert compressed.intervals[0].every == timedelta(seconds=30)
    assert service.default_language("Europe/Rome") == "it"
    assert service.default_language("Europe/London") == "en"

"""Lists of the listening and reporting services a page at a time, through the gateway: each row
once, in the list's order, pages of ``limit`` rows linked by the ``Link`` header's next (the
filters kept) until the last, which has none; a cursor the list did not give and a page over the
maximum are 422 problems."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.models import Conversation
from services.reporting.models import Report
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.paging import MAX_PAGE, encode_cursor
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

T0 = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)
NEXT = re.compile(r'<(?P<target>[^>]+)>; rel="next"')
PAGE = 2
# Far more than any list here needs: a Link that never stops fails instead of looping.
MOST_PAGES = 20


async def pages_of(
    platform: Platform, path: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of the list from its first, following the ``Link`` header's next."""
    pages: list[list[dict[str, Any]]] = []
    response = await platform.gateway.get(path, params={**params, "limit": PAGE}, headers=headers)
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("Link")
        if link is None:
            return pages
        following = NEXT.fullmatch(link)
        assert following is not None, link
        target = following["target"]
        assert target.startswith(f"{path}?"), link
        for name, value in params.items():
            assert f"{name}={value}" in target, (name, link)
        assert len(pages) < MOST_PAGES, link
        response = await platform.gateway.get(target, headers=headers)


def ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [row["id"] for page in pages for row in page]


def sizes(rows: int) -> list[int]:
    """The page sizes a walk over ``rows`` rows must see."""
    return [PAGE] * (rows // PAGE) + ([rows % PAGE] if rows % PAGE else [])


async def refuses_bad_pages(
    platform: Platform, path: str, headers: dict[str, str], **params: Any
) -> None:
    # Well encoded, but not a key this list orders by: a moment and an id that are neither.
    wrong_kind = encode_cursor(["yesterday", "nobody"])
    for cursor in ("not-a-cursor", wrong_kind):
        forged = await platform.gateway.get(
            path, params={**params, "cursor": cursor}, headers=headers
        )
        assert forged.status_code == 422, (cursor, forged.text)
        assert forged.headers["content-type"] == "application/problem+json"
        assert forged.json()["type"] == "urn:engage:problem:invalid-cursor", forged.text
    too_long = await platform.gateway.get(
        path, params={**params, "limit": MAX_PAGE + 1}, headers=headers
    )
    assert too_long.status_code == 422, too_long.text
    assert too_long.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in too_long.json()["errors"]] == ["query.limit"]


async def known_engagement(platform: Platform, path: str) -> None:
    """Wait until the service behind ``path`` has heard of the engagement it names."""
    manager = platform.auth(Role.MANAGER)

    async def answered() -> bool:
        return (await platform.gateway.get(path, headers=manager)).status_code == 200

    await wait_until(answered, timeout=30)


def conversation(
    organization_id: str, engagement_id: str, author: str, category: str, opened_at: datetime
) -> Conversation:
    return Conversation(
        id=uuid.uuid4(),
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        source="sandbox",
        author_handle=author,
        first_mention_id=uuid.uuid4(),
        category=category,
        triage_reason="rule: asks a question ('?')",
        triaged_by="rules",
        state="open",
        opened_at=opened_at,
        due_soon_at=opened_at + timedelta(hours=1),
        first_response_due_at=opened_at + timedelta(hours=2),
        escalate_at=opened_at + timedelta(hours=3),
        updated_at=opened_at,
    )


async def test_the_inbox_is_walked_newest_first_with_its_filter_kept(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    path = f"/v1/listening/engagements/{engagement_id}/conversations"
    await known_engagement(platform, path)
    # Two by two at the same moment, so the id orders those of one moment.
    questions = [
        conversation(
            organization_id, engagement_id, f"q{n}", "question", T0 + timedelta(minutes=n // 2)
        )
        for n in range(7)
    ]
    complaints = [
        conversation(organization_id, engagement_id, f"c{n}", "complaint", T0) for n in range(2)
    ]
    async with session_scope(sessions, SYSTEM) as session:
        session.add_all([*questions, *complaints])
    newest_first = sorted(questions, key=lambda row: (row.opened_at, row.id), reverse=True)
    editor = platform.auth(Role.EDITOR)

    pages = await pages_of(platform, path, editor, category="question")

    assert [len(page) for page in pages] == sizes(len(questions))
    assert ids(pages) == [str(row.id) for row in newest_first]
    everything = await pages_of(platform, path, editor)
    assert sorted(ids(everything)) == sorted(str(row.id) for row in [*questions, *complaints])
    await refuses_bad_pages(platform, path, editor)


async def test_saved_replies_are_walked_by_title_then_id(platform: Platform) -> None:
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    # One title twice: the id orders the two. Lower-case letters sort alike in any collation.
    titles = ["delta", "bravo", "alfa", "bravo", "charlie"]
    saved: list[tuple[str, uuid.UUID]] = []
    for title in titles:
        created = await platform.gateway.post(
            "/v1/listening/saved-replies",
            json={"organization_id": organization_id, "title": title, "text": f"Testo {title}"},
            headers=manager,
        )
        assert created.status_code == 201, created.text
        saved.append((title, uuid.UUID(created.json()["id"])))
    path = "/v1/listening/saved-replies"

    pages = await pages_of(platform, path, manager, organization_id=organization_id)

    assert [len(page) for page in pages] == sizes(len(titles))
    assert ids(pages) == [str(saved_id) for _, saved_id in sorted(saved)]
    assert [row["title"] for page in pages for row in page] == sorted(titles)
    await refuses_bad_pages(platform, path, manager, organization_id=organization_id)
    # A title PostgreSQL cannot even compare (NUL) is the caller's error too, not a 500.
    unstorable = await platform.gateway.get(
        path,
        params={
            "organization_id": organization_id,
            "cursor": encode_cursor(["\x00", str(uuid.uuid4())]),
        },
        headers=manager,
    )
    assert unstorable.status_code == 422, unstorable.text
    assert unstorable.headers["content-type"] == "application/problem+json"


def report(
    organization_id: str,
    engagement_id: str,
    period_end: datetime,
    created_at: datetime,
    status: str,
) -> Report:
    report_id = uuid.uuid4()
    return Report(
        id=report_id,
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        kind="on_demand",
        period_start=period_end - timedelta(days=7),
        period_end=period_end,
        language="it",
        status=status,
        requested_by="tester",
        recipients=[],
        workflow_id=f"report-{report_id}",
        created_at=created_at,
    )


async def test_reports_are_walked_latest_period_first_and_a_client_pages_only_delivered_ones(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    path = f"/v1/engagements/{engagement_id}/reports"
    await known_engagement(platform, path)
    week = timedelta(days=7)
    # Periods that end together are ordered by when they were asked for, then by id.
    reports = [
        report(organization_id, engagement_id, T0, T0, "delivered"),
        report(organization_id, engagement_id, T0, T0 + week, "delivered"),
        report(organization_id, engagement_id, T0, T0 + week, "awaiting_approval"),
        report(organization_id, engagement_id, T0 - week, T0, "delivered"),
        report(organization_id, engagement_id, T0 - week, T0, "delivered"),
        report(organization_id, engagement_id, T0 - 2 * week, T0, "rejected"),
        report(organization_id, engagement_id, T0 - 3 * week, T0, "delivered"),
    ]
    async with session_scope(sessions, SYSTEM) as session:
        session.add_all(reports)
    latest_first = sorted(
        reports, key=lambda row: (row.period_end, row.created_at, row.id), reverse=True
    )
    manager = platform.auth(Role.MANAGER)

    pages = await pages_of(platform, path, manager)

    assert [len(page) for page in pages] == sizes(len(reports))
    assert ids(pages) == [str(row.id) for row in latest_first]
    # A client's people see only the delivered reports, and still full pages of them.
    client = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    delivered = [row for row in latest_first if row.status == "delivered"]
    theirs = await pages_of(platform, path, client)
    assert [len(page) for page in theirs] == sizes(len(delivered))
    assert ids(theirs) == [str(row.id) for row in delivered]
    await refuses_bad_pages(platform, path, manager)

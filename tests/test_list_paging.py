"""Every list answers a page at a time: ``limit`` (at most 200) and a ``cursor`` from the
``Link`` header's next page, the same through the gateway for every service (issue 15)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.app import build_app as build_gateway
from services.gateway.routes.lifecycle import list_engagement_tasks
from services.strategy.models import LifecycleEvent, TimelineNote
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Phase
from shared.errors import ProblemError
from shared.paging import MAX_PAGE, PageQuery, encode_cursor
from shared.settings import Settings
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.publisher_helpers import SandboxAccount, schedule
from tests.test_content_items import create_item, post_body
from tests.test_thin_thread import create_org
from workflows.engagement.messages import (
    EngagementState,
    EngagementStatus,
    Task,
    TaskKind,
    TaskOwner,
    TaskStatus,
)

PROBLEM = "application/problem+json"

# Lists answered whole, with the reason they need no page.
UNPAGED_LISTS = {
    # Catalogues whose size the code fixes.
    "listDeliverableKinds": "one entry per deliverable kind",
    "listPlatformRules": "the platform rules table, in code",
    "listDeliverables": "one summary per deliverable kind",
    # Aggregates whose own `limit` bounds them: the top N, not a list to walk.
    "listTopAuthors": "the top N authors",
    "listTopPlaces": "the top N places",
}


def json_array_lists(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every GET operation whose success is a JSON array, by operation id."""
    found = {}
    for item in document["paths"].values():
        operation = item.get("get")
        if operation is None:
            continue
        success = operation["responses"].get("200", {})
        schema = success.get("content", {}).get("application/json", {}).get("schema", {})
        if schema.get("type") == "array":
            found[operation["operationId"]] = operation
    return found


def query_parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        parameter["name"]: parameter
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query"
    }


def paging_faults(operation: dict[str, Any]) -> list[str]:
    parameters = query_parameters(operation)
    faults = []
    limit = parameters.get("limit", {}).get("schema", {})
    if limit.get("type") != "integer" or not 1 <= limit.get("maximum", MAX_PAGE + 1) <= MAX_PAGE:
        faults.append(f"no `limit` bounded by {MAX_PAGE}")
    if "cursor" not in parameters:
        faults.append("no `cursor`")
    if "offset" in parameters:
        faults.append("an `offset`")
    return faults


def test_every_list_of_the_gateway_pages_by_cursor_up_to_the_maximum(settings: Settings) -> None:
    lists = json_array_lists(build_gateway(settings).openapi())
    assert set(UNPAGED_LISTS) <= set(lists), "an exemption names a list the gateway lacks"
    unpaged = {
        operation_id: faults
        for operation_id, operation in sorted(lists.items())
        if operation_id not in UNPAGED_LISTS and (faults := paging_faults(operation))
    }
    assert unpaged == {}


# --- walking the pages through the gateway ----------------------------------------------------


def next_link(response: httpx.Response) -> str | None:
    link: str | None = response.headers.get("link")
    if link is None:
        return None
    target, relation = link.split(";", 1)
    assert relation.strip() == 'rel="next"', link
    return target.strip().removeprefix("<").removesuffix(">")


async def walk(
    platform: Platform,
    path: str,
    params: dict[str, str],
    headers: dict[str, str],
    limit: int = 2,
) -> list[list[dict[str, Any]]]:
    """Every page of the list, ``limit`` rows at a time, by its ``Link`` headers."""
    pages = []
    response = await platform.gateway.get(
        path, params={**params, "limit": str(limit)}, headers=headers
    )
    while True:
        assert response.status_code == 200, response.text
        pages.append(response.json())
        following = next_link(response)
        if following is None:
            return pages
        # The link names the gateway's own path, with the caller's filters kept.
        assert following.startswith(path + "?"), following
        response = await platform.gateway.get(following, headers=headers)


def assert_walked(pages: list[list[dict[str, Any]]], expected: list[str]) -> None:
    assert all(len(page) == 2 for page in pages[:-1]), [len(page) for page in pages]
    assert 1 <= len(pages[-1]) <= 2
    walked = [row["id"] for page in pages for row in page]
    assert walked == expected


async def assert_refuses_bad_pages(
    platform: Platform, path: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    forged = encode_cursor(["not a key of this list"])
    for bad in ({"cursor": forged}, {"cursor": "%%%"}, {"limit": str(MAX_PAGE + 1)}):
        response = await platform.gateway.get(path, params={**params, **bad}, headers=headers)
        assert response.status_code == 422, (bad, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)


async def test_engagements_walk_newest_first(platform: Platform) -> None:
    organization_id = await create_org(platform, "Frantoio del Lago")
    created = [await stored_engagement(platform, organization_id) for _ in range(5)]
    params = {"organization_id": organization_id}
    manager = platform.auth(Role.MANAGER)

    pages = await walk(platform, "/v1/engagements", params, manager)

    assert len(pages) == 3
    assert_walked(pages, list(reversed(created)))
    await assert_refuses_bad_pages(platform, "/v1/engagements", params, manager)
    offset = await platform.gateway.get(
        "/v1/engagements", params={**params, "offset": "2"}, headers=manager
    )
    assert offset.status_code == 422, "the offset is gone: a cursor names the page"


async def test_content_items_walk_oldest_first_within_their_filters(platform: Platform) -> None:
    organization_id = await create_org(platform, "Caseificio Valle Verde")
    other = await create_org(platform, "Altra cantina")
    created = []
    for number in range(5):
        item = await create_item(platform, post_body(organization_id, title=f"Post {number}"))
        created.append(item["id"])
        await create_item(platform, post_body(other))
    params = {"organization_id": organization_id}
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])

    pages = await walk(platform, "/v1/content-items", params, viewer)

    assert_walked(pages, created)
    await assert_refuses_bad_pages(platform, "/v1/content-items", params, viewer)
    # A row created after the first page shows at the end, and no row repeats.
    first = await platform.gateway.get(
        "/v1/content-items", params={**params, "limit": "3"}, headers=viewer
    )
    late = await create_item(platform, post_body(organization_id, title="Late"))
    following = next_link(first)
    assert following is not None
    rest = await platform.gateway.get(following, headers=viewer)
    assert [row["id"] for row in [*first.json(), *rest.json()]] == [*created, late["id"]]
    assert next_link(rest) is None


async def test_publications_walk_by_due_time(platform: Platform, account: SandboxAccount) -> None:
    now = datetime.now(UTC)
    hours = [5, 1, 4, 2, 3]
    scheduled = {}
    for hour in hours:
        publication = await schedule(platform, account, in_seconds=hour * 3600.0)
        scheduled[hour] = publication["id"]
    params = {"organization_id": account.organization_id}
    manager = platform.auth(Role.MANAGER)

    pages = await walk(platform, "/v1/publications", params, manager)

    assert_walked(pages, [scheduled[hour] for hour in sorted(hours)])
    due = [datetime.fromisoformat(row["due_at"]) for page in pages for row in page]
    assert due == sorted(due)
    assert due[0] > now + timedelta(minutes=30)
    await assert_refuses_bad_pages(platform, "/v1/publications", params, manager)


@pytest.mark.parametrize(
    "path",
    ["/v1/organizations", "/v1/media", "/v1/connections"],
)
async def test_lists_without_filters_refuse_a_foreign_cursor(platform: Platform, path: str) -> None:
    await assert_refuses_bad_pages(platform, path, {}, platform.auth(Role.MANAGER))


async def test_the_timeline_walks_facts_and_notes_in_time_order(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Facts and notes come from two tables: at one instant the facts (as recorded), then the
    notes; a page may end on either."""
    organization_id = await create_org(platform, "Oleificio San Marco")
    engagement_id = await stored_engagement(platform, organization_id)
    # Long before the engagement's own facts, should its lifecycle start meanwhile.
    t0 = datetime(2020, 3, 1, 9, tzinfo=UTC)
    t1, t2 = t0 + timedelta(hours=1), t0 + timedelta(hours=2)
    recorded = [
        ("fact", "a", t0),
        ("fact", "b", t1),
        ("note", "n1", t1),
        ("fact", "c", t1),
        ("note", "n2", t1),
        ("note", "n0", t0),
        ("fact", "d", t2),
    ]
    ids = {name: uuid.uuid4() for _, name, _ in recorded}
    for kind, name, at in recorded:
        # One transaction each: the notes of an instant in the order they were recorded.
        async with session_scope(sessions, SYSTEM) as session:
            fields = {
                "id": ids[name],
                "organization_id": uuid.UUID(organization_id),
                "engagement_id": uuid.UUID(engagement_id),
                "phase": "analysis",
                "actor": name,
                "details": {},
                "occurred_at": at,
            }
            if kind == "fact":
                session.add(LifecycleEvent(event="phase_started", **fields))
            else:
                session.add(TimelineNote(event="listening.alert_raised", **fields))
    expected = [str(ids[name]) for name in ["a", "n0", "b", "c", "n1", "n2", "d"]]
    path = f"/v1/engagements/{engagement_id}/timeline"
    manager = platform.auth(Role.MANAGER)

    for limit in (2, 3):
        pages = await walk(platform, path, {}, manager, limit)
        walked = [row["id"] for page in pages for row in page]
        assert len(walked) == len(set(walked))
        assert [row_id for row_id in walked if row_id in expected] == expected
    await assert_refuses_bad_pages(platform, path, {}, manager)


class LiveTasks:
    """The engagement's workflow as the tasks route reads it: its live state's tasks."""

    def __init__(self, tasks: list[Task]) -> None:
        self.tasks = tasks

    async def state(self, engagement: object) -> EngagementState:
        return EngagementState(
            status=EngagementStatus.RUNNING, phase=Phase.DESIGN, tasks=self.tasks
        )


def tasks_request(query: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("gateway", 80),
            "path": "/v1/engagements/e/tasks",
            "query_string": query.encode(),
            "headers": [],
        }
    )


async def test_tasks_walk_in_the_order_they_were_opened_whatever_their_status() -> None:
    """The tasks live in the workflow, not in a table: paged in memory, by the same rules."""
    due = datetime(2027, 1, 1, tzinfo=UTC)
    tasks = [
        Task(
            id=f"task-{number}",
            title="Calendario",
            phase=Phase.DESIGN,
            kind=TaskKind.OPERATIONAL,
            owner=TaskOwner.AGENCY,
            assignee_roles=[Role.MANAGER],
            due_at=due,
            status=TaskStatus.COMPLETED if number % 3 == 0 else TaskStatus.OPEN,
        )
        for number in range(7)
    ]
    live = LiveTasks(tasks)
    engagement = object()

    async def page(query: str, status: TaskStatus | None) -> tuple[list[str], str | None]:
        request, response = tasks_request(query), Response()
        limit = int(request.query_params.get("limit", "2"))
        held = await list_engagement_tasks(
            engagement,  # type: ignore[arg-type]
            live,  # type: ignore[arg-type]
            PageQuery(limit=limit, cursor=request.query_params.get("cursor")),
            request,
            response,
            status=status,
        )
        link = response.headers.get("link")
        following = link.split(">", 1)[0].split("?", 1)[1] if link else None
        return [task.id for task in held], following

    walked: list[list[str]] = []
    query: str | None = "limit=2&status=open"
    while query is not None:
        ids, query = await page(query, TaskStatus.OPEN)
        walked.append(ids)
        # A task completed between two pages keeps the walk where it was.
        tasks[1].status = TaskStatus.COMPLETED
    assert walked == [["task-1", "task-2"], ["task-4", "task-5"]]
    with pytest.raises(ProblemError) as refused:
        await page(f"cursor={encode_cursor(['task-99'])}", None)
    assert refused.value.status == 422

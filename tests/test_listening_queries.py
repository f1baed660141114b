"""Listening queries through the gateway: switching them on, reading them, stopping them (once
for good, through the API or ``listening.stop_engagement_queries``), who may do what, and the
``engage.listening.*`` events each change stages in the listening service's outbox."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.contracts import (
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStopped,
    StopEngagementQueries,
)
from services.listening.models import OutboxEvent
from shared import task_queues
from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

QUERIES = "/v1/listening/queries"


def query_body(organization_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "name": "Brand and harvest",
        "terms": ["Agriturismo La Quercia", "#vendemmia2027"],
        "channels": ["instagram", "facebook"],
        "languages": ["it", "EN"],
        **fields,
    }


async def create_query(platform: Platform, organization_id: str, **fields: Any) -> dict[str, Any]:
    response = await platform.gateway.post(
        QUERIES, json=query_body(organization_id, **fields), headers=platform.auth(Role.MANAGER)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def events_about(
    sessions: async_sessionmaker[AsyncSession], query_id: str, name: str
) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.name == name, OutboxEvent.envelope["subject"].astext == query_id
            )
        )
        return [row.envelope for row in rows]


async def test_a_query_is_created_read_listed_and_stopped_once(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    manager = platform.auth(Role.MANAGER)

    created = await create_query(platform, organization_id, engagement_id=engagement_id)

    assert created["status"] == "active"
    assert (created["engagement_id"], created["created_by"]) == (engagement_id, "tester")
    assert created["languages"] == ["it", "en"]
    assert (created["stopped_at"], created["stopped_by"], created["stop_reason"]) == (None,) * 3
    [started] = await events_about(sessions, created["id"], "listening.query_started")
    assert started["type"] == "engage.listening.query_started.v1"
    assert started["data"] == {
        "query_id": created["id"],
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "name": "Brand and harvest",
        "terms": ["Agriturismo La Quercia", "#vendemmia2027"],
        "channels": ["instagram", "facebook"],
        "languages": ["it", "en"],
        "created_by": "tester",
    }
    other = await create_query(platform, organization_id, name="Competitors")
    read = await platform.gateway.get(f"{QUERIES}/{created['id']}", headers=manager)
    assert read.status_code == 200, read.text
    assert read.json() == created
    of_engagement = await platform.gateway.get(
        QUERIES, params={"engagement_id": engagement_id}, headers=manager
    )
    assert [q["id"] for q in of_engagement.json()] == [created["id"]]
    of_organization = await platform.gateway.get(
        QUERIES, params={"organization_id": organization_id}, headers=manager
    )
    assert [q["id"] for q in of_organization.json()] == [created["id"], other["id"]]

    stopped = await platform.gateway.post(
        f"{QUERIES}/{created['id']}/stop", json={"reason": "Campaign over"}, headers=manager
    )
    again = await platform.gateway.post(
        f"{QUERIES}/{created['id']}/stop",
        json={"reason": "Stopped twice"},
        headers=platform.auth(Role.ADMIN),
    )

    assert stopped.status_code == 200, stopped.text
    first = stopped.json()
    assert (first["status"], first["stopped_by"], first["stop_reason"]) == (
        "stopped",
        "tester",
        "Campaign over",
    )
    assert first["stopped_at"] is not None
    # Stopping a stopped query is no error and changes nothing.
    assert again.status_code == 200, again.text
    assert again.json() == first
    [stop_event] = await events_about(sessions, created["id"], "listening.query_stopped")
    assert stop_event["data"] == {
        "query_id": created["id"],
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "reason": "Campaign over",
        "stopped_by": "tester",
        "stopped_at": stop_event["data"]["stopped_at"],
    }
    active = await platform.gateway.get(
        QUERIES, params={"organization_id": organization_id, "status": "active"}, headers=manager
    )
    assert [q["id"] for q in active.json()] == [other["id"]]
    stopped_list = await platform.gateway.get(
        QUERIES, params={"organization_id": organization_id, "status": "stopped"}, headers=manager
    )
    assert [q["id"] for q in stopped_list.json()] == [created["id"]]


async def test_another_organisations_query_is_not_found(platform: Platform) -> None:
    organization_id = await create_org(platform)
    other = await create_org(platform, "Cantina dei Colli")
    query = await create_query(platform, organization_id)
    outsider = platform.auth(Role.MANAGER, orgs=[other])

    read = await platform.gateway.get(f"{QUERIES}/{query['id']}", headers=outsider)
    stop = await platform.gateway.post(
        f"{QUERIES}/{query['id']}/stop", json={"reason": "Not mine"}, headers=outsider
    )
    listed = await platform.gateway.get(
        QUERIES, params={"organization_id": organization_id}, headers=outsider
    )
    foreign = await platform.gateway.post(
        QUERIES, json=query_body(organization_id), headers=outsider
    )
    unknown = await platform.gateway.get(
        f"{QUERIES}/{uuid.uuid4()}", headers=platform.auth(Role.MANAGER)
    )

    for response in (read, stop, foreign, unknown):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:engage:problem:not-found"
    assert listed.json() == []
    still = await platform.gateway.get(
        f"{QUERIES}/{query['id']}", headers=platform.auth(Role.ADMIN)
    )
    assert still.json()["status"] == "active"


async def test_bad_queries_are_refused_with_the_fields_named(platform: Platform) -> None:
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    cases: dict[str, dict[str, Any]] = {
        "body.terms": {"terms": []},
        "body.terms.1": {"terms": ["La Quercia", "   "]},
        "body.channels.1": {"channels": ["instagram", "myspace"]},
        "body.channels": {"channels": []},
        "body.languages.0": {"languages": ["italiano"]},
        "body.name": {"name": ""},
    }
    for field, fields in cases.items():
        response = await platform.gateway.post(
            QUERIES, json=query_body(organization_id, **fields), headers=manager
        )
        assert response.status_code == 422, (field, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [error["field"] for error in response.json()["errors"]], field
    query = await create_query(platform, organization_id)
    no_reason = await platform.gateway.post(
        f"{QUERIES}/{query['id']}/stop", json={"reason": ""}, headers=manager
    )
    assert no_reason.status_code == 422
    assert [error["field"] for error in no_reason.json()["errors"]] == ["body.reason"]


async def test_only_admins_and_managers_switch_queries_on_and_off(platform: Platform) -> None:
    organization_id = await create_org(platform)
    query = await create_query(platform, organization_id)
    for role in (Role.EDITOR, Role.CLIENT_APPROVER, Role.CLIENT_VIEWER):
        headers = platform.auth(role, orgs=[organization_id])
        created = await platform.gateway.post(
            QUERIES, json=query_body(organization_id), headers=headers
        )
        stopped = await platform.gateway.post(
            f"{QUERIES}/{query['id']}/stop", json={"reason": "Not my call"}, headers=headers
        )
        read = await platform.gateway.get(f"{QUERIES}/{query['id']}", headers=headers)
        assert (created.status_code, stopped.status_code, read.status_code) == (403, 403, 200)
        assert created.json()["type"] == "urn:engage:problem:forbidden"
    assert read.json()["status"] == "active"


async def test_stopping_an_engagements_queries_twice_stops_and_announces_each_once(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = uuid.UUID(await stored_engagement(platform, organization_id))
    queries = [
        await create_query(platform, organization_id, engagement_id=str(engagement_id), name=name)
        for name in ("Brand", "Harvest", "Stopped by hand")
    ]
    other_engagement = await stored_engagement(platform, organization_id)
    elsewhere = await create_query(platform, organization_id, engagement_id=other_engagement)
    by_hand = await platform.gateway.post(
        f"{QUERIES}/{queries[2]['id']}/stop",
        json={"reason": "Not useful"},
        headers=platform.auth(Role.MANAGER),
    )
    assert by_hand.status_code == 200, by_hand.text
    command = StopEngagementQueries(
        engagement_id=engagement_id,
        organization_id=uuid.UUID(organization_id),
        reason="Contract ended early",
        stopped_by="pm",
    )

    first = await platform.run_activity(task_queues.LISTENING, STOP_ENGAGEMENT_QUERIES, command)
    second = await platform.run_activity(task_queues.LISTENING, STOP_ENGAGEMENT_QUERIES, command)

    assert EngagementQueriesStopped.model_validate(first) == EngagementQueriesStopped(
        stopped=2, already_stopped=1
    )
    assert EngagementQueriesStopped.model_validate(second) == EngagementQueriesStopped(
        stopped=0, already_stopped=3
    )
    manager = platform.auth(Role.MANAGER)
    for query in queries[:2]:
        read = (await platform.gateway.get(f"{QUERIES}/{query['id']}", headers=manager)).json()
        assert (read["status"], read["stopped_by"], read["stop_reason"]) == (
            "stopped",
            "pm",
            "Contract ended early",
        )
        [event] = await events_about(sessions, query["id"], "listening.query_stopped")
        assert (event["data"]["reason"], event["data"]["stopped_by"]) == (
            "Contract ended early",
            "pm",
        )
    hand = (await platform.gateway.get(f"{QUERIES}/{queries[2]['id']}", headers=manager)).json()
    assert (hand["stopped_by"], hand["stop_reason"]) == ("tester", "Not useful")
    assert len(await events_about(sessions, queries[2]["id"], "listening.query_stopped")) == 1
    untouched = await platform.gateway.get(f"{QUERIES}/{elsewhere['id']}", headers=manager)
    assert untouched.json()["status"] == "active"
    assert await events_about(sessions, elsewhere["id"], "listening.query_stopped") == []

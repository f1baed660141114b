"""Listening queries through the gateway: switching them on (a boolean expression, or the older
terms), reading them, stopping them (once for good, through the API or
``listening.stop_engagement_queries``), who may do what, the ``engage.listening.*`` events each
change stages in the listening service's outbox, and the migration of older queries."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.bootstrap import drop_database, ensure_database
from services.listening.contracts import (
    START_ENGAGEMENT_QUERIES,
    STOP_ENGAGEMENT_QUERIES,
    EngagementQueriesStarted,
    EngagementQueriesStopped,
    StartEngagementQueries,
    StopEngagementQueries,
)
from services.listening.models import OutboxEvent
from shared import task_queues
from shared.auth import Role
from shared.db.migrations import upgrade
from shared.db.session import create_engine
from shared.settings import Settings
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org

QUERIES = "/v1/listening/queries"


def query_body(organization_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "name": "Brand and harvest",
        "expression": '"Agriturismo La Quercia" OR #vendemmia2027',
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
    assert created["expression"] == '"Agriturismo La Quercia" OR #vendemmia2027'
    assert created["terms"] == ["Agriturismo La Quercia", "#vendemmia2027"]
    # By default: the channels read as sources, from today, not a competitor, nothing excluded.
    assert created["sources"] == ["instagram", "facebook"]
    assert created["starts_on"] == datetime.now(UTC).date().isoformat()
    assert (created["competitor"], created["exclusions"]) == (False, None)
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
        "expression": '"Agriturismo La Quercia" OR #vendemmia2027',
        "exclusions": None,
        "sources": ["instagram", "facebook"],
        "starts_on": created["starts_on"],
        "competitor": False,
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
        "body.terms": {"expression": None, "terms": []},
        "body.terms.1": {"expression": None, "terms": ["La Quercia", "   "]},
        "body.channels.1": {"channels": ["instagram", "myspace"]},
        "body.channels": {"channels": []},
        "body.sources.1": {"sources": ["rss", "fax"]},
        "body.sources": {"sources": []},
        "body.languages.0": {"languages": ["italiano"]},
        "body.starts_on": {"starts_on": "yesterday"},
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


async def test_an_expression_is_shown_in_its_canonical_form_with_its_settings(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)

    created = await create_query(
        platform,
        organization_id,
        name="Rival winery",
        expression='"Cantina  Rivale" (vino OR #vendemmia) NOT @rivale lang:it '
        'place:"San Gimignano"',
        exclusions="spam OR giveaway",
        sources=["rss", "mastodon", "import"],
        starts_on="2026-09-01",
        competitor=True,
    )

    assert created["expression"] == (
        '"Cantina Rivale" AND (vino OR #vendemmia) AND NOT @rivale AND lang:it '
        'AND place:"San Gimignano"'
    )
    # What it listens for, not what it rules out.
    assert created["terms"] == ["Cantina Rivale", "vino", "#vendemmia"]
    assert (created["exclusions"], created["sources"]) == (
        "spam OR giveaway",
        ["rss", "mastodon", "import"],
    )
    assert (created["starts_on"], created["competitor"]) == ("2026-09-01", True)
    [started] = await events_about(sessions, created["id"], "listening.query_started")
    assert {key: started["data"][key] for key in created.keys() & started["data"].keys()} == {
        key: created[key] for key in created.keys() & started["data"].keys()
    }
    read = await platform.gateway.get(
        f"{QUERIES}/{created['id']}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[created["organization_id"]]),
    )
    assert read.json() == created


async def test_terms_alone_still_switch_a_query_on_listening_for_any_of_them(
    platform: Platform,
) -> None:
    """A client written before expressions sends terms: it gets the query it asked for, and
    reads its terms back as it sent them."""
    organization_id = await create_org(platform)
    body = query_body(organization_id, terms=["Agriturismo La Quercia", "#vendemmia2027", "vino"])
    del body["expression"]

    created = await platform.gateway.post(QUERIES, json=body, headers=platform.auth(Role.MANAGER))

    assert created.status_code == 201, created.text
    assert created.json()["terms"] == ["Agriturismo La Quercia", "#vendemmia2027", "vino"]
    assert created.json()["expression"] == ('"Agriturismo La Quercia" OR #vendemmia2027 OR "vino"')


async def test_a_bad_expression_is_refused_naming_its_position_and_what_was_expected(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    cases: list[tuple[dict[str, Any], str, str, str]] = [
        (
            {"expression": "vino AND (rosso OR"},
            "body.expression",
            "query_syntax",
            "at position 18: expected a word, a phrase, a #hashtag, an @account, lang:, place:, "
            "NOT or (, found the end of the expression",
        ),
        (
            {"expression": '"vino rosso'},
            "body.expression",
            "query_syntax",
            'at position 11: expected a closing " for the phrase opened at position 0, found '
            "the end of the expression",
        ),
        (
            {"expression": "vino lang:ita"},
            "body.expression",
            "query_syntax",
            "at position 10: expected an ISO 639-1 language code of two letters (lang:it), "
            'found "ita"',
        ),
        (
            {"expression": "vino {}"},
            "body.expression",
            "query_syntax",
            "at position 5: expected a word, a phrase, a #hashtag, an @account, lang:, place:, "
            "NOT or ( (a word needs a letter or digit; quote it to search for it), "
            'found "{}"',
        ),
        (
            {"exclusions": "spam OR"},
            "body.exclusions",
            "query_syntax",
            "at position 7: expected a word, a phrase, a #hashtag, an @account, lang:, place:, "
            "NOT or (, found the end of the expression",
        ),
        (
            {"expression": "lang:it NOT spam"},
            "body.expression",
            "query_unbounded",
            "lang:it AND NOT spam would match mentions with none of its words, phrases, "
            "#hashtags or @accounts: every mention it matches must contain one",
        ),
        (
            {"expression": "vino", "terms": ["vino"]},
            "body.terms",
            "expression_and_terms",
            "give an expression or terms, not both: the terms of an expression are its words, "
            "phrases, hashtags and accounts",
        ),
        (
            {"expression": None},
            "body.expression",
            "missing",
            "Field required",
        ),
        (
            {"expression": None, "terms": [f"{number} {'parola ' * 8}" for number in range(50)]},
            "body.terms",
            "query_too_long",
            "the terms make an expression of 3186 characters, more than 2000",
        ),
        (
            {"channels": ["pinterest", "spotify"]},
            "body.sources",
            "missing",
            "name the sources to read: none of the channels (pinterest, spotify) is one",
        ),
        (
            {"expression": "x" * 2001},
            "body.expression",
            "query_syntax",
            "at position 2000: expected the end of the expression (at most 2000 characters), "
            "found more text",
        ),
    ]
    for fields, field, kind, message in cases:
        response = await platform.gateway.post(
            QUERIES, json=query_body(organization_id, **fields), headers=manager
        )

        assert response.status_code == 422, (fields, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"] == [{"field": field, "message": message, "type": kind}]
    listed = await platform.gateway.get(
        QUERIES, params={"organization_id": organization_id}, headers=manager
    )
    assert listed.json() == []


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


async def test_older_queries_get_the_expression_of_their_terms_and_their_start_day(
    settings: Settings,
) -> None:
    """Migration 0004: a query switched on before expressions listens for any of its terms,
    on those of its channels that are sources, since the day it was switched on."""
    url = make_url(settings.database_url).set(database=f"engage_test_{uuid.uuid4().hex[:12]}")
    database_url = url.render_as_string(hide_password=False)
    scoped = settings.model_copy(update={"database_url": database_url})
    await ensure_database(scoped)
    engine = create_engine(scoped)
    try:
        await asyncio.to_thread(upgrade, "listening", database_url, "0003")
        query_id = uuid.uuid4()
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO listening.queries (id, organization_id, name, terms, channels, "
                    "languages, status, created_by, created_at) VALUES (:id, :organization, "
                    "'Brand', :terms, :channels, '{}', 'active', 'tester', :created_at)"
                ),
                {
                    "id": query_id,
                    "organization": uuid.uuid4(),
                    "terms": ["Agriturismo La Quercia", "#vendemmia2027", '"vino"'],
                    "channels": ["instagram", "pinterest"],
                    "created_at": datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
                },
            )

        await asyncio.to_thread(upgrade, "listening", database_url)

        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text(
                        "SELECT expression, exclusions, terms, sources, starts_on, competitor "
                        "FROM listening.queries WHERE id = :id"
                    ),
                    {"id": query_id},
                )
            ).one()
        assert tuple(row) == (
            '"Agriturismo La Quercia" OR #vendemmia2027 OR "\\"vino\\""',
            None,
            ["Agriturismo La Quercia", "#vendemmia2027", '"vino"'],
            ["instagram"],
            date(2026, 11, 30),
            False,
        )
    finally:
        await engine.dispose()
        await drop_database(scoped)


async def test_queries_waiting_for_seeding_are_switched_on_by_it_once(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    waiting = await create_query(
        platform, organization_id, engagement_id=engagement_id, starts="at_seeding"
    )
    at_once = await create_query(platform, organization_id, engagement_id=engagement_id)
    assert (waiting["status"], at_once["status"]) == ("pending", "active")
    assert await events_about(sessions, waiting["id"], "listening.query_started") == []

    command = StartEngagementQueries(
        engagement_id=uuid.UUID(engagement_id),
        organization_id=uuid.UUID(organization_id),
        started_by="lifecycle",
    )
    started = await platform.run_activity(task_queues.LISTENING, START_ENGAGEMENT_QUERIES, command)
    assert EngagementQueriesStarted.model_validate(started) == EngagementQueriesStarted(
        started=1, already_active=1
    )
    again = await platform.run_activity(task_queues.LISTENING, START_ENGAGEMENT_QUERIES, command)
    assert EngagementQueriesStarted.model_validate(again) == EngagementQueriesStarted(
        started=0, already_active=2
    )
    read = await platform.gateway.get(
        f"{QUERIES}/{waiting['id']}",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert read.json()["status"] == "active"
    assert len(await events_about(sessions, waiting["id"], "listening.query_started")) == 1
    # Seeding has begun: a query that would wait for it starts at once.
    late = await create_query(
        platform, organization_id, engagement_id=engagement_id, starts="at_seeding"
    )
    assert late["status"] == "active"


async def test_only_an_engagements_query_can_wait_for_seeding(platform: Platform) -> None:
    organization_id = await create_org(platform)
    response = await platform.gateway.post(
        QUERIES,
        json=query_body(organization_id, starts="at_seeding"),
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 422, response.text
    assert [error["field"] for error in response.json()["errors"]] == ["body.starts"]

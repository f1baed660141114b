"""Each data service is the authority of its own rules: a write that names an engagement of
another organisation is refused by the service itself, called directly (not through the
gateway), with 404 and nothing written."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.api import SERVICE_APIS
from services.listening.models import KnownEngagement, engagements
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import NotFoundError
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.publisher_helpers import SandboxAccount
from tests.service_tenancy_writes import WRITES, Intruder, Write
from tests.test_listening_queries import query_body
from tests.test_plan_api import plan_body
from tests.test_strategy_deliverables import brief_body
from tests.test_thin_thread import create_org
from tests.test_touchpoints import touchpoint_body

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ENGAGEMENT_ROWS = text(
    """
    SELECT 'item', id::text FROM content.content_items WHERE engagement_id = :e
    UNION ALL SELECT 'plan', status || ':' || generation FROM content.plans
        WHERE engagement_id = :e
    UNION ALL SELECT 'slot', coalesce(s.variant_id::text, '') FROM content.plan_slots s
        JOIN content.plans p ON p.id = s.plan_id WHERE p.engagement_id = :e
    UNION ALL SELECT 'contest', id::text FROM content.contests WHERE engagement_id = :e
    UNION ALL SELECT 'query', id::text FROM listening.queries WHERE engagement_id = :e
    UNION ALL SELECT 'source', id::text FROM listening.sources WHERE engagement_id = :e
    UNION ALL SELECT 'alert_rule', id::text FROM listening.alert_rules WHERE engagement_id = :e
    UNION ALL SELECT 'inbox_settings', engagement_id::text FROM listening.inbox_settings
        WHERE engagement_id = :e
    UNION ALL SELECT 'channel', id::text FROM listening.notification_channels
        WHERE engagement_id = :e
    UNION ALL SELECT 'publication', id::text FROM publisher.publications WHERE engagement_id = :e
    UNION ALL SELECT 'deliverable', kind || ':' || version || ':' || status
        FROM strategy.deliverables WHERE engagement_id = :e
    UNION ALL SELECT 'report', id::text FROM reporting.reports WHERE engagement_id = :e
    UNION ALL SELECT 'touchpoint', id::text || ':' || name || ':' || coalesce(archived_at::text, '')
        FROM strategy.touchpoints WHERE engagement_id = :e
    UNION ALL SELECT 'handbook', id::text FROM strategy.handbooks WHERE engagement_id = :e
    UNION ALL SELECT 'contact', id::text || ':' || status || ':' || coalesce(notes, '')
        FROM strategy.outreach_contacts WHERE engagement_id = :e
    UNION ALL SELECT 'outreach_step', id::text FROM strategy.outreach_steps
        WHERE engagement_id = :e
    UNION ALL SELECT 'participant', id::text FROM strategy.training_participants
        WHERE engagement_id = :e
    UNION ALL SELECT 'training_session', id::text || ':' || status || ':' || title
        FROM strategy.training_sessions WHERE engagement_id = :e
    UNION ALL SELECT 'competence', id::text FROM strategy.training_competences
        WHERE engagement_id = :e
    UNION ALL SELECT 'competence_check', participant_id::text || ':' || competence_id::text
        FROM strategy.training_competence_checks WHERE engagement_id = :e
    UNION ALL SELECT 'watched_site', id::text FROM content.watched_sites WHERE engagement_id = :e
    ORDER BY 1, 2
    """
)


def _names_an_engagement(route: APIRoute) -> bool:
    if "{engagement_id}" in route.path:
        return True
    body = route.body_field
    fields = getattr(body.field_info.annotation, "model_fields", {}) if body else {}
    return "engagement_id" in fields


def test_the_table_covers_every_write_route_that_names_an_engagement() -> None:
    declared = {
        (api.service, method, route.path)
        for api in SERVICE_APIS
        for router in api.routers
        for route in router.routes
        if isinstance(route, APIRoute) and _names_an_engagement(route)
        for method in route.methods or ()
        if method in WRITE_METHODS
    }
    tested = {(write.service, write.method, write.path) for write in WRITES}
    assert declared - tested == set()


async def _engagement_rows(
    sessions: async_sessionmaker[AsyncSession], engagement_id: str
) -> list[tuple[str, str]]:
    """Everything the services keep about the engagement."""
    async with sessions() as session:
        rows = await session.execute(
            ENGAGEMENT_ROWS,
            {"e": uuid.UUID(engagement_id)},
        )
        return [(kind, value) for kind, value in rows.all()]


@pytest.fixture
async def intruder(platform: Platform, account: SandboxAccount) -> Intruder:
    """Organisation B's engagement with its plan and brief, and organisation A's staff with an
    item, a connected account and an approved variant."""
    owner = await create_org(platform, "Cantina Colli Eugubini")
    engagement_id = await stored_engagement(platform, owner)
    content = platform.settings.service_url("content")
    owner_staff = platform.auth(Role.MANAGER, orgs=[owner])
    plan = await platform.gateway.post(
        f"{content}/engagements/{engagement_id}/plan", json=plan_body(owner), headers=owner_staff
    )
    assert plan.status_code == 201, plan.text
    calendar = await platform.gateway.get(
        f"{content}/engagements/{engagement_id}/plan", headers=owner_staff
    )
    brief = await platform.gateway.put(
        f"{platform.settings.service_url('strategy')}/engagements/{engagement_id}/deliverables/brief",
        json=brief_body(),
        headers=owner_staff,
    )
    assert brief.status_code == 201, brief.text
    touchpoint = await platform.gateway.post(
        f"{platform.settings.service_url('strategy')}/engagements/{engagement_id}/touchpoints",
        json=touchpoint_body(objective_ids=[]),
        headers=owner_staff,
    )
    assert touchpoint.status_code == 201, touchpoint.text
    slot_id = next(slot["id"] for period in calendar.json()["periods"] for slot in period["slots"])

    organization_id = account.organization_id
    headers = platform.auth(Role.MANAGER, orgs=[organization_id])
    item = await platform.gateway.post(
        f"{content}/content-items",
        json={"organization_id": organization_id, "kind": "text", "title": "Olio nuovo"},
        headers=headers,
    )
    assert item.status_code == 201, item.text
    return Intruder(
        organization_id,
        engagement_id,
        slot_id,
        item.json()["id"],
        account.connection_id,
        await account.approved_variant(platform),
        touchpoint.json()["id"],
        headers,
    )


@pytest.mark.parametrize("write", WRITES, ids=lambda write: f"{write.method} {write.path}")
async def test_a_service_refuses_a_write_naming_another_organisations_engagement(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    intruder: Intruder,
    write: Write,
) -> None:
    before = await _engagement_rows(sessions, intruder.engagement_id)
    options = write.request(intruder)
    path = write.path.format(
        engagement_id=intruder.engagement_id,
        item_id=intruder.item_id,
        slot_id=intruder.plan_slot_id,
        touchpoint_id=intruder.touchpoint_id,
        **options.pop("path", {}),
    )
    headers = {**intruder.headers, **options.pop("headers", {})}

    response = await platform.gateway.request(
        write.method,
        platform.settings.service_url(write.service) + path,
        headers=headers,
        **options,
    )

    assert response.status_code == 404, response.text
    assert response.json()["type"] == "urn:engage:problem:not-found"
    assert await _engagement_rows(sessions, intruder.engagement_id) == before


async def test_agency_staff_cannot_file_one_clients_post_under_anothers_engagement(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await create_org(platform, "Cantina Colli Eugubini")
    engagement_id = await stored_engagement(platform, owner)
    other = await create_org(platform, "Agriturismo La Quercia")

    response = await platform.gateway.post(
        f"{platform.settings.service_url('content')}/content-items",
        json={
            "organization_id": other,
            "engagement_id": engagement_id,
            "kind": "text",
            "title": "Vendemmia",
        },
        headers=platform.auth(Role.MANAGER),
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["type"] == "organization_mismatch"
    assert await _engagement_rows(sessions, engagement_id) == []


async def test_an_engagement_just_created_is_known_to_the_services_at_once(
    platform: Platform,
) -> None:
    """The read models lag strategy by the relay and the consumer; a write waits for them."""
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)

    created = await platform.gateway.post(
        "/v1/listening/queries",
        json=query_body(organization_id, engagement_id=engagement_id),
        headers=platform.auth(Role.MANAGER),
    )

    assert created.status_code == 201, created.text


async def test_a_write_waits_for_an_engagement_its_read_model_does_not_know_yet(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engagement_id, organization_id = uuid.uuid4(), uuid.uuid4()

    async def recorded_late() -> None:
        await asyncio.sleep(0.3)
        async with session_scope(sessions, SYSTEM) as session:
            await session.execute(
                insert(KnownEngagement).values(
                    engagement_id=engagement_id, organization_id=organization_id
                )
            )

    async with session_scope(sessions, SYSTEM) as session:
        late = asyncio.create_task(recorded_late())
        owner = await engagements.require(session, engagement_id, wait_seconds=5)
        await late
        with pytest.raises(NotFoundError):
            await engagements.require(session, uuid.uuid4(), wait_seconds=0.2)
    assert owner == organization_id

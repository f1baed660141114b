"""Tenancy proven over every route of the gateway's OpenAPI.

Organisation B has data in every service. For every path and method the gateway documents, a
principal of organisation A holding every role calls it with B's ids (in the path, the query and
the body), and:

- a route whose path names one of B's records answers 404 or 403;
- no route answers 5xx, and no 2xx answer carries any of B's ids (a list filtered by B's
  organisation is empty);
- every route answers B's ids exactly as it answers ids that do not exist (same status, same
  problem type), so nothing tells B's records apart from nothing;
- no write changes, adds or removes any row of any service that names one of B's records.

A route whose parameters the tables of ``tests/tenancy_calls.py`` cannot fill with B's ids fails
the test, so that a new route cannot slip by untested.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.app import build_app as build_gateway
from shared.auth import Role
from shared.settings import Settings
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.publisher_helpers import SandboxAccount, connect_sandbox, schedule
from tests.tenancy_calls import (
    JSON_BODIES,
    Call,
    Tenant,
    Unfillable,
    call_for,
    operations,
    placeholder_tenant,
)
from tests.tenancy_rows import (
    SERVICE_SCHEMAS,
    changes_between,
    insert_listening_rows,
    rows_of,
    wait_until_settled,
)
from tests.test_content_media import jpeg, upload
from tests.test_contest_api import rules as contest_rules
from tests.test_listening_queries import query_body
from tests.test_plan_api import plan_body
from tests.test_strategy_assets import account as asset_body
from tests.test_strategy_deliverables import brief_body


async def new_org(platform: Platform, name: str = "Agriturismo La Quercia") -> str:
    """A client organisation, created by an agency admin."""
    created = await platform.gateway.post(
        "/v1/organizations", json={"name": name}, headers=platform.auth(Role.ADMIN)
    )
    assert created.status_code == 201, created.text
    organization_id: str = created.json()["id"]
    return organization_id


# Every route answers (or opens its stream) well within this.
ANSWER_SECONDS = 15


def test_every_route_of_the_gateway_can_be_called_with_another_organisations_ids(
    settings: Settings,
) -> None:
    """Fails fast, without the platform, on a route ``tenancy_calls`` cannot fill."""
    document = build_gateway(settings).openapi()
    unfillable = []
    for method, path, operation in operations(document):
        try:
            call_for(document, path, method, operation, placeholder_tenant())
        except Unfillable as error:
            unfillable.append(str(error))
    assert unfillable == []


# Organisation B's data, in every service


async def _created(response: httpx.Response, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
async def tenant_b(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], sandbox: httpx.AsyncClient
) -> Tenant:
    """Organisation B with data in every service, written through the gateway by B's staff."""
    gateway = platform.gateway
    organization_id = await new_org(platform, "Cantina Colli Eugubini")
    engagement_id = await stored_engagement(platform, organization_id)
    staff = platform.auth(Role.MANAGER, orgs=[organization_id])
    account: SandboxAccount = await connect_sandbox(platform, sandbox, organization_id)

    photo = await upload(platform, organization_id, jpeg(1080, 1350), "image/jpeg")
    item = await _created(
        await gateway.post(
            "/v1/content-items",
            json={
                "organization_id": organization_id,
                "engagement_id": engagement_id,
                "kind": "image",
                "title": "Vendemmia",
                "body": "Sabato si vendemmia insieme!",
                "media_ids": [photo["id"]],
                "variants": [{"channel": "sandbox"}, {"channel": "instagram"}],
            },
            headers=staff,
        )
    )
    await _created(
        await gateway.post(
            f"/v1/engagements/{engagement_id}/plan", json=plan_body(organization_id), headers=staff
        )
    )
    calendar = await _created(
        await gateway.get(f"/v1/engagements/{engagement_id}/plan", headers=staff), 200
    )
    slot_id = next(slot["id"] for period in calendar["periods"] for slot in period["slots"])
    await _created(
        await gateway.put(
            f"/v1/engagements/{engagement_id}/deliverables/brief", json=brief_body(), headers=staff
        )
    )
    contest = await _created(
        await gateway.post(
            f"/v1/engagements/{engagement_id}/contests", json=contest_rules(), headers=staff
        )
    )
    asset = await _created(
        await gateway.post(
            f"/v1/organizations/{organization_id}/assets", json=asset_body(), headers=staff
        )
    )
    publication = await schedule(platform, account, in_seconds=30 * 86400)
    query = await _created(
        await gateway.post(
            "/v1/listening/queries",
            json=query_body(organization_id, engagement_id=engagement_id),
            headers=staff,
        )
    )
    source = await _created(
        await gateway.post(
            "/v1/listening/sources",
            json=JSON_BODIES[("POST", "/v1/listening/sources")](placeholder_tenant())
            | {"organization_id": organization_id, "engagement_id": engagement_id},
            headers=staff,
        )
    )
    rule = await _created(
        await gateway.post(
            f"/v1/listening/engagements/{engagement_id}/alert-rules",
            json={"kind": "keyword", "name": "Complaints", "keywords": ["rimborso"]},
            headers=staff,
        )
    )
    channel = await _created(
        await gateway.post(
            "/v1/listening/notifications/channels",
            json=JSON_BODIES[("POST", "/v1/listening/notifications/channels")](placeholder_tenant())
            | {"organization_id": organization_id, "engagement_id": engagement_id},
            headers=staff,
        )
    )
    saved_reply = await _created(
        await gateway.post(
            "/v1/listening/saved-replies",
            json={"organization_id": organization_id, "title": "Orari", "text": "Dalle 9 alle 18"},
            headers=staff,
        )
    )
    touchpoint = await _created(
        await gateway.post(
            f"/v1/engagements/{engagement_id}/touchpoints",
            json={
                "kind": "print",
                "name": "Wine list",
                "destination_url": "https://cantina.example/vini",
                "channels": ["instagram"],
            },
            headers=staff,
        )
    )
    outreach = f"/v1/engagements/{engagement_id}/outreach/contacts"
    contact = await _created(
        await gateway.post(
            outreach,
            json={"kind": "person", "platform": "instagram", "handle": "cantina_amici"},
            headers=staff,
        )
    )
    training = f"/v1/engagements/{engagement_id}/training"
    participant = await _created(
        await gateway.post(f"{training}/participants", json={"name": "Giulia"}, headers=staff)
    )
    competence = await _created(
        await gateway.post(
            f"{training}/competences", json={"title": "Answers within the SLA"}, headers=staff
        )
    )
    session = await _created(
        await gateway.post(
            f"{training}/sessions",
            json={
                "title": "Answering comments",
                "starts_at": "2027-03-10T10:00:00+01:00",
                "participant_ids": [participant["id"]],
            },
            headers=staff,
        )
    )
    site = await _created(
        await gateway.post(
            f"/v1/engagements/{engagement_id}/watched-sites",
            json=JSON_BODIES[("POST", "/v1/engagements/{engagement_id}/watched-sites")](
                placeholder_tenant()
            ),
            headers=staff,
        )
    )
    report = await _created(
        await gateway.post(
            f"/v1/engagements/{engagement_id}/reports",
            json={
                "from": "2027-03-01T00:00:00+01:00",
                "to": "2027-03-08T00:00:00+01:00",
                "recipients": [],
            },
            headers=staff,
        ),
        202,
    )
    mention_id, conversation_id, reply_id, alert_id, dead_letter_id = await insert_listening_rows(
        sessions, organization_id, engagement_id
    )
    tenant = Tenant(
        organization_id=organization_id,
        engagement_id=engagement_id,
        item_id=item["id"],
        variant_id=next(v["id"] for v in item["variants"] if v["channel"] == "sandbox"),
        media_id=str(photo["id"]),
        slot_id=slot_id,
        contest_id=contest["id"],
        asset_id=asset["id"],
        connection_id=account.connection_id,
        publication_id=publication["id"],
        report_id=report["id"],
        query_id=query["id"],
        source_id=source["id"],
        rule_id=rule["id"],
        alert_id=alert_id,
        channel_id=channel["id"],
        saved_reply_id=saved_reply["id"],
        mention_id=mention_id,
        conversation_id=conversation_id,
        reply_id=reply_id,
        dead_letter_id=dead_letter_id,
        touchpoint_id=touchpoint["id"],
        contact_id=contact["id"],
        participant_id=participant["id"],
        competence_id=competence["id"],
        session_id=session["id"],
        site_id=site["id"],
    )
    await wait_until_settled(sessions, tenant)
    return tenant


# The walk


class NoAnswer(Exception):
    """A route that kept the caller waiting."""


async def _send(gateway: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    try:
        async with asyncio.timeout(ANSWER_SECONDS):
            return await _request(gateway, call, headers)
    except (TimeoutError, httpx.TimeoutException) as error:
        raise NoAnswer(f"{call.method} {call.url}: no answer within {ANSWER_SECONDS} s") from error


async def _request(
    gateway: httpx.AsyncClient, call: Call, headers: dict[str, str]
) -> httpx.Response:
    request_headers = dict(headers)
    if call.content_type is not None:
        request_headers["Content-Type"] = call.content_type
    if call.streams:
        # An event stream that opened would never end: the status line is the answer.
        async with gateway.stream(
            call.method, call.url, params=call.params, headers=request_headers
        ) as response:
            if response.status_code != 200:
                await response.aread()
            return response
    return await gateway.request(
        call.method,
        call.url,
        params=call.params,
        json=call.json,
        content=call.content,
        headers=request_headers,
    )


def _answer(response: httpx.Response) -> tuple[int, str | None]:
    """What a response tells: its status and, for a problem, its type."""
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        return response.status_code, response.json().get("type")
    return response.status_code, None


def _leaked_ids(call: Call, response: httpx.Response, b: Tenant) -> list[str]:
    if call.streams:
        return []
    return [identifier for identifier in b.ids() if identifier in response.text]


async def test_a_principal_of_another_organisation_gets_404_or_403_on_every_route(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], tenant_b: Tenant
) -> None:
    b = tenant_b
    organization_a = await new_org(platform, "Agriturismo La Quercia")
    a = {"Authorization": f"Bearer {platform.token(*Role, orgs=[organization_a])}"}
    owned = await rows_of(sessions, b)
    # B has data in every service, and the snapshot sees it.
    assert {table.split(".")[0] for table in owned} == set(SERVICE_SCHEMAS), sorted(owned)
    document = (await platform.gateway.get("/openapi.json")).json()
    walked = operations(document)
    calls = [call_for(document, path, method, operation, b) for method, path, operation in walked]
    failures: list[str] = []
    statuses: dict[int, int] = {}
    ghosts = placeholder_tenant()
    for call, (method, path, operation) in zip(calls, walked, strict=True):
        before = await rows_of(sessions, b) if call.method != "GET" else None
        response = await _send(platform.gateway, call, a)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        name = f"{call.method} {call.path}"
        if response.status_code >= 500 or (
            call.names_in_path(b) and response.status_code not in (403, 404)
        ):
            failures.append(f"{name}: {response.status_code} {response.text[:300]}")
        elif response.is_success and (leaked := _leaked_ids(call, response, b)):
            failures.append(f"{name}: {response.status_code} answers B's {leaked}")
        # B's records are answered as records that do not exist: nothing tells them apart.
        ghost = call_for(document, path, method, operation, ghosts)
        unknown = await _send(platform.gateway, ghost, a)
        if _answer(response) != _answer(unknown):
            failures.append(
                f"{name}: B's ids answer {_answer(response)}, unknown ids {_answer(unknown)}"
            )
        if before is not None:
            # A write refused may still have set something off: give it a moment to show.
            await asyncio.sleep(0.05)
            failures += [
                f"{name}: changed B's {change}"
                for change in changes_between(before, await rows_of(sessions, b))
            ]
    print(
        f"tenancy walk: {len(calls)} operations of {len(document['paths'])} paths, {statuses}; "
        f"B: {sum(map(len, owned.values()))} rows in {len(owned)} tables"
    )
    assert failures == [], "\n".join(failures)
    assert len(calls) >= 140

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

A route whose parameters the tables below cannot fill with B's ids fails the test, so that a
new route cannot slip by untested.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.gateway.app import build_app as build_gateway
from services.listening.models import (
    Alert,
    Conversation,
    ConversationMessage,
    DeadLetter,
    Mention,
)
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.settings import Settings
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import stored_engagement
from tests.publisher_helpers import SandboxAccount, connect_sandbox, schedule
from tests.test_content_media import jpeg, upload
from tests.test_contest_api import rules as contest_rules
from tests.test_listening_queries import query_body
from tests.test_plan_api import plan_body
from tests.test_strategy_assets import account as asset_body
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import brief_body
from tests.test_thin_thread import engagement_body


async def new_org(platform: Platform, name: str = "Agriturismo La Quercia") -> str:
    """A client organisation, created by an agency admin."""
    created = await platform.gateway.post(
        "/v1/organizations", json={"name": name}, headers=platform.auth(Role.ADMIN)
    )
    assert created.status_code == 201, created.text
    organization_id: str = created.json()["id"]
    return organization_id


HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Routes answered without a principal: the gateway's own, naming no organisation, and a
# touchpoint's tracked link, for anyone holding it (its code is the credential).
UNSCOPED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/t/{code}"})
SERVICE_SCHEMAS = ("strategy", "content", "publisher", "listening", "reporting")
# Rows kept by the machinery, not by anyone's request: the outboxes (their relay marks them
# published), the consumers' processed events and the services' copies of other services' facts.
MACHINERY_TABLES = frozenset({"outbox", "processed_events", "alembic_version"})
T0 = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
# Every route answers (or opens its stream) well within this.
ANSWER_SECONDS = 15


@dataclass(frozen=True)
class Tenant:
    """Organisation B's ids: one of everything a route may name."""

    organization_id: str
    engagement_id: str
    item_id: str
    variant_id: str
    media_id: str
    slot_id: str
    contest_id: str
    asset_id: str
    connection_id: str
    publication_id: str
    report_id: str
    query_id: str
    source_id: str
    rule_id: str
    alert_id: str
    channel_id: str
    saved_reply_id: str
    mention_id: str
    conversation_id: str
    reply_id: str
    dead_letter_id: str
    touchpoint_id: str

    def ids(self) -> list[str]:
        return [getattr(self, field.name) for field in fields(self)]


# How each path parameter (and id query parameter, and id field of a body) is filled with B's.
ID_PARAMETERS: dict[str, Callable[[Tenant], str]] = {
    "organization_id": lambda b: b.organization_id,
    "engagement_id": lambda b: b.engagement_id,
    "item_id": lambda b: b.item_id,
    "variant_id": lambda b: b.variant_id,
    "media_id": lambda b: b.media_id,
    "slot_id": lambda b: b.slot_id,
    "contest_id": lambda b: b.contest_id,
    "asset_id": lambda b: b.asset_id,
    "connection_id": lambda b: b.connection_id,
    "publication_id": lambda b: b.publication_id,
    "report_id": lambda b: b.report_id,
    "query_id": lambda b: b.query_id,
    "source_id": lambda b: b.source_id,
    "rule_id": lambda b: b.rule_id,
    "alert_id": lambda b: b.alert_id,
    "channel_id": lambda b: b.channel_id,
    "saved_reply_id": lambda b: b.saved_reply_id,
    "mention_id": lambda b: b.mention_id,
    "conversation_id": lambda b: b.conversation_id,
    "reply_id": lambda b: b.reply_id,
    "touchpoint_id": lambda b: b.touchpoint_id,
}
# Path parameters that are not ids: a value B's data has.
NAMED_PARAMETERS: dict[str, str] = {
    "kind": "brief",  # B's brief deliverable
    "version": "1",
    "channel": "sandbox",  # B's item's variant
    "number": "1",  # a contest's first draw
    "format": "html",  # a report's document
    # The lifecycle's tasks live in the engagement's workflow; B's engagement is stored without
    # one, and the engagement, B's, is what the gateway checks first.
    "task_id": "seeding-brief",
}
# Query parameters a route requires that are not ids.
REQUIRED_QUERY_VALUES: dict[str, str] = {
    "from": "2027-03-01T00:00:00+01:00",
    "to": "2027-03-08T00:00:00+01:00",
    "filename": "photo.jpg",
}
# List fields of bodies that name B's records.
ID_LIST_FIELDS: dict[str, Callable[[Tenant], list[str]]] = {
    "media_ids": lambda b: [b.media_id],
    "query_ids": lambda b: [b.query_id],
    "engagement_ids": lambda b: [b.engagement_id],
}
# Bodies the schema alone cannot make valid (rules across fields), from the services' own tests.
JSON_BODIES: dict[tuple[str, str], Callable[[Tenant], dict[str, Any]]] = {
    ("POST", "/v1/engagements"): lambda b: engagement_body(b.organization_id),
    ("POST", "/v1/engagements/{engagement_id}/plan"): lambda b: plan_body(b.organization_id),
    ("POST", "/v1/engagements/{engagement_id}/contests"): lambda b: contest_rules(),
    ("PUT", "/v1/contests/{contest_id}"): lambda b: contest_rules(),
    ("PUT", "/v1/engagements/{engagement_id}/deliverables/{kind}"): lambda b: brief_body(),
    ("POST", "/v1/engagements/{engagement_id}/channel-mix"): lambda b: mix_inputs(),
    ("POST", "/v1/listening/queries"): lambda b: query_body(
        b.organization_id, engagement_id=b.engagement_id
    ),
    ("POST", "/v1/organizations/{organization_id}/assets"): lambda b: asset_body(),
    ("PUT", "/v1/organizations/{organization_id}/assets/{asset_id}"): lambda b: asset_body(),
    ("POST", "/v1/listening/sources"): lambda b: {
        "organization_id": b.organization_id,
        "engagement_id": b.engagement_id,
        "kind": "rss",
        "name": "Their press",
        "settings": {"url": "https://news.example/feed.xml"},
    },
    ("POST", "/v1/listening/notifications/channels"): lambda b: {
        "organization_id": b.organization_id,
        "engagement_id": b.engagement_id,
        "kind": "email",
        "name": "Their crisis desk",
        "events": ["listening.alert_raised"],
        "recipients": ["desk@example.org"],
    },
    ("POST", "/v1/engagements/{engagement_id}/reports"): lambda b: {
        "from": "2027-03-01T00:00:00+01:00",
        "to": "2027-03-08T00:00:00+01:00",
    },
}
# Bodies of the routes that take raw bytes (uploads and imports), by media type.
RAW_BODIES: dict[str, bytes] = {
    "image/jpeg": jpeg(64, 80),
    "text/csv": b"title,kind\r\nVendemmia,text\r\n",
    "application/json": b"[]",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def sample(document: dict[str, Any], schema: dict[str, Any], name: str, b: Tenant) -> Any:
    """The smallest valid value of ``schema`` as the OpenAPI states it, naming B's records."""
    schema = _resolve(document, schema)
    if name in ID_PARAMETERS:
        return ID_PARAMETERS[name](b)
    if name in ID_LIST_FIELDS:
        return ID_LIST_FIELDS[name](b)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    for union in ("oneOf", "anyOf", "allOf"):
        if union in schema:
            options = [
                option
                for option in schema[union]
                if _resolve(document, option).get("type") != "null"
            ]
            return sample(document, options[0], name, b)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return {
            key: sample(document, value, key, b)
            for key, value in properties.items()
            if key in required or key in ID_PARAMETERS or key in ID_LIST_FIELDS
        }
    if kind == "array":
        count = max(schema.get("minItems", 0), 1)
        items = _resolve(document, schema.get("items", {}))
        if "enum" in items:
            return items["enum"][:count]
        return [sample(document, items, name, b) for _ in range(count)]
    if kind == "integer":
        return max(schema.get("minimum", 1), schema.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return float(schema.get("minimum", 1))
    if kind == "boolean":
        return False
    if kind == "string":
        return _string(schema)
    return None


def _string(schema: dict[str, Any]) -> str:
    formats = {
        "date-time": (T0 + timedelta(days=30)).isoformat(),
        "date": "2027-03-01",
        "uuid": str(uuid.uuid4()),
        "email": "desk@example.org",
        "uri": "https://example.org/page",
        "decimal": "1.00",
    }
    named: str | None = formats.get(schema.get("format", ""))
    if named is not None:
        return named
    length: int = max(schema.get("minLength", 0), 6)
    longest: int = schema.get("maxLength", length)
    return ("sample" * length)[: min(length, longest)]


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # as documented
    url: str
    params: dict[str, str]
    json: Any = None
    content: bytes | None = None
    content_type: str | None = None
    streams: bool = False

    def names_in_path(self, b: Tenant) -> bool:
        """Whether the path names one of B's records: the route is about one of them."""
        return any(identifier in self.url for identifier in b.ids())


class Unfillable(Exception):
    """A route has a parameter the tables cannot fill with B's ids: add it to them."""


def call_for(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any], b: Tenant
) -> Call:
    url = path
    params: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        name, where = parameter["name"], parameter["in"]
        if where == "path":
            if name in ID_PARAMETERS:
                value = ID_PARAMETERS[name](b)
            elif name in NAMED_PARAMETERS:
                value = NAMED_PARAMETERS[name]
            else:
                raise Unfillable(f"{method} {path}: path parameter {name!r}")
            url = url.replace("{" + name + "}", value)
        elif where == "query":
            if name in ID_PARAMETERS:
                params[name] = ID_PARAMETERS[name](b)
            elif parameter.get("required"):
                if name not in REQUIRED_QUERY_VALUES:
                    raise Unfillable(f"{method} {path}: required query parameter {name!r}")
                params[name] = REQUIRED_QUERY_VALUES[name]
    if "{" in url:
        raise Unfillable(f"{method} {path}: undocumented path parameter in {url}")
    responses = operation.get("responses", {})
    streams = any("text/event-stream" in answer.get("content", {}) for answer in responses.values())
    body = operation.get("requestBody")
    if body is None:
        return Call(method, path, url, params, streams=streams)
    content: dict[str, Any] = body.get("content", {})
    if "application/json" in content and (method, path) in JSON_BODIES:
        return Call(method, path, url, params, json=JSON_BODIES[(method, path)](b))
    if "application/json" in content and "schema" in content["application/json"]:
        json_body = sample(document, content["application/json"]["schema"], "", b)
        return Call(method, path, url, params, json=json_body)
    for media_type in content:
        if media_type in RAW_BODIES:
            return Call(
                method,
                path,
                url,
                params,
                content=RAW_BODIES[media_type],
                content_type=media_type,
            )
    raise Unfillable(f"{method} {path}: no body for {sorted(content)}")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if path not in UNSCOPED_PATHS
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def placeholder_tenant() -> Tenant:
    return Tenant(*(str(uuid.uuid4()) for _ in fields(Tenant)))


def test_every_route_of_the_gateway_can_be_called_with_another_organisations_ids(
    settings: Settings,
) -> None:
    """Fails fast, without the platform, on a route the tables below cannot fill."""
    document = build_gateway(settings).openapi()
    unfillable = []
    for method, path, operation in operations(document):
        try:
            call_for(document, path, method, operation, placeholder_tenant())
        except Unfillable as error:
            unfillable.append(str(error))
    assert unfillable == []


# Organisation B's data, in every service


async def _insert_listening_rows(
    sessions: async_sessionmaker[AsyncSession], organization_id: str, engagement_id: str
) -> tuple[str, str, str, str, str]:
    """A mention, its conversation with a reply awaiting review, an alert and a dead letter,
    written as the listening worker's consumers and alerts round write them."""
    organization, engagement = uuid.UUID(organization_id), uuid.UUID(engagement_id)
    mention = Mention(
        organization_id=organization,
        engagement_ids=[engagement],
        query_ids=[],
        source="sandbox",
        external_id=uuid.uuid4().hex,
        author_handle="giulia.r",
        text="Avete posti per sabato sera?",
        published_at=T0,
        hashtags=[],
        accounts=[],
        language="it",
        sentiment_label="neutral",
        sentiment_model_version="test",
    )
    conversation = Conversation(
        organization_id=organization,
        engagement_id=engagement,
        source="sandbox",
        author_handle="giulia.r",
        first_mention_id=mention.id,
        category="question",
        triage_reason="asks a question",
        triaged_by="rules",
        state="open",
        opened_at=T0,
        due_soon_at=T0 + timedelta(days=3650),
        first_response_due_at=T0 + timedelta(days=3650),
        escalate_at=T0 + timedelta(days=3650),
        updated_at=T0,
    )
    async with session_scope(sessions, SYSTEM) as session:
        session.add(mention)
        await session.flush()
        conversation.first_mention_id = mention.id
        session.add(conversation)
        await session.flush()
        reply = ConversationMessage(
            organization_id=organization,
            conversation_id=conversation.id,
            direction="out",
            author="client",
            text="Sì, vi aspettiamo!",
            status="awaiting_review",
            created_at=T0,
        )
        alert = Alert(
            organization_id=organization,
            engagement_id=engagement,
            rule_id=uuid.uuid4(),
            kind="keyword",
            rule_name="Food safety",
            window_start=T0 - timedelta(hours=1),
            window_end=T0,
            status="open",
            evidence={},
            responsible_role="manager",
            raised_at=T0,
        )
        dead_letter = DeadLetter(
            organization_id=organization,
            consumer="listening-ingestion",
            event_id=uuid.uuid4().hex,
            event_type="listening.raw_mentions",
            reason="unreadable",
            payload={},
        )
        session.add_all(
            [
                ConversationMessage(
                    organization_id=organization,
                    conversation_id=conversation.id,
                    direction="in",
                    mention_id=mention.id,
                    external_id=mention.external_id,
                    author="giulia.r",
                    text=mention.text,
                    status="received",
                    created_at=T0,
                ),
                reply,
                alert,
                dead_letter,
            ]
        )
        await session.flush()
        return (
            str(mention.id),
            str(conversation.id),
            str(reply.id),
            str(alert.id),
            str(dead_letter.id),
        )


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
    mention_id, conversation_id, reply_id, alert_id, dead_letter_id = await _insert_listening_rows(
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
    )
    await _settled(sessions, tenant)
    return tenant


# B's rows


async def _tables(session: AsyncSession) -> list[str]:
    found = await session.execute(
        text(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema = ANY(:schemas) AND table_type = 'BASE TABLE' "
            "ORDER BY 1"
        ),
        {"schemas": list(SERVICE_SCHEMAS)},
    )
    return [name for name in found.scalars() if name.split(".", 1)[1] not in MACHINERY_TABLES]


async def rows_of(sessions: async_sessionmaker[AsyncSession], b: Tenant) -> dict[str, list[str]]:
    """Every row of every service that names one of B's records, as JSON: what B owns."""
    pattern = "|".join(re.escape(identifier) for identifier in b.ids())
    snapshot: dict[str, list[str]] = {}
    async with sessions() as session:
        every_table = " UNION ALL ".join(
            f"SELECT '{table}', to_jsonb(t)::text FROM {table} t "  # noqa: S608 - catalogue names
            "WHERE to_jsonb(t)::text ~ :pattern"
            for table in await _tables(session)
        )
        rows = await session.execute(text(every_table + " ORDER BY 1, 2"), {"pattern": pattern})
        for table, row in rows.all():
            snapshot.setdefault(table, []).append(row)
    return snapshot


async def _settled(sessions: async_sessionmaker[AsyncSession], b: Tenant) -> None:
    """Wait until the services' consumers and workflows are done with B's setup (its report
    generated, the read models fed): two snapshots a second apart agree."""
    previous: dict[str, list[str]] = {}

    async def still() -> bool:
        nonlocal previous
        current = await rows_of(sessions, b)
        settled = current == previous
        previous = current
        return settled

    await wait_until(still, timeout=60, interval=1.0)


def _changes(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    changed = []
    for table in sorted(set(before) | set(after)):
        gone = set(before.get(table, [])) - set(after.get(table, []))
        new = set(after.get(table, [])) - set(before.get(table, []))
        changed += [f"{table}: - {row[:300]}" for row in sorted(gone)]
        changed += [f"{table}: + {row[:300]}" for row in sorted(new)]
    return changed


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
                for change in _changes(before, await rows_of(sessions, b))
            ]
    print(
        f"tenancy walk: {len(calls)} operations of {len(document['paths'])} paths, {statuses}; "
        f"B: {sum(map(len, owned.values()))} rows in {len(owned)} tables"
    )
    assert failures == [], "\n".join(failures)
    assert len(calls) >= 140

"""How every route of the gateway's OpenAPI is called with organisation B's ids: a value for
each path parameter, id query parameter and id field of a body, from the tables below, and the
bodies the schema alone cannot make valid. A route they cannot fill raises ``Unfillable``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.test_content_media import jpeg
from tests.test_contest_api import rules as contest_rules
from tests.test_listening_queries import query_body
from tests.test_plan_api import plan_body
from tests.test_strategy_assets import account as asset_body
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import brief_body
from tests.test_thin_thread import engagement_body

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Routes answered without a principal: the gateway's own, naming no organisation, and a
# touchpoint's tracked link, for anyone holding it (its code is the credential).
UNSCOPED_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/t/{code}"})
T0 = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)


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
    contact_id: str
    participant_id: str
    competence_id: str
    session_id: str
    site_id: str

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
    "contact_id": lambda b: b.contact_id,
    "participant_id": lambda b: b.participant_id,
    "competence_id": lambda b: b.competence_id,
    "session_id": lambda b: b.session_id,
    "site_id": lambda b: b.site_id,
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
    # A Foursquare venue is no record of B's: the engagement, B's, is what is checked first.
    "fsq_id": "4b5a1d8af964a520f6b428e3",
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
    "participant_ids": lambda b: [b.participant_id],
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
    ("POST", "/v1/engagements/{engagement_id}/watched-sites"): lambda b: {
        "url": "https://cantina.example/feed.xml",
        "channels": ["instagram"],
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

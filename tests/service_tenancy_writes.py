"""The services' own tenancy table: every write route that names an engagement, in the path or
the body, with a request naming organisation B's engagement on behalf of organisation A's staff
(``Intruder``). ``tests/test_service_tenancy.py`` sends each and checks the refusal."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.settings import ServiceName
from tests.test_contest_api import rules as contest_rules
from tests.test_listening_queries import query_body
from tests.test_plan_api import plan_body
from tests.test_strategy_channel_mix import mix_inputs
from tests.test_strategy_deliverables import brief_body
from tests.test_touchpoints import touchpoint_body


@dataclass(frozen=True)
class Intruder:
    """Organisation A's staff naming organisation B's engagement."""

    organization_id: str
    engagement_id: str
    plan_slot_id: str
    item_id: str
    connection_id: str
    variant_id: str
    touchpoint_id: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Write:
    service: ServiceName
    method: str
    path: str
    request: Callable[[Intruder], dict[str, Any]]


# Every write route that names an engagement, in the path or the body (the import names it in
# its rows), with a request that names organisation B's engagement on behalf of organisation A.
WRITES = [
    Write(
        "content",
        "POST",
        "/content-items",
        lambda a: {
            "json": {
                "organization_id": a.organization_id,
                "engagement_id": a.engagement_id,
                "kind": "text",
                "title": "Vendemmia",
            }
        },
    ),
    Write(
        "content",
        "PATCH",
        "/content-items/{item_id}",
        lambda a: {"json": {"engagement_id": a.engagement_id}},
    ),
    Write(
        "content",
        "POST",
        "/content-items/import",
        lambda a: {
            "params": {"organization_id": a.organization_id},
            "content": f"title,kind,engagement_id\r\nVendemmia,text,{a.engagement_id}\r\n",
            "headers": {"Content-Type": "text/csv"},
        },
    ),
    Write(
        "content",
        "POST",
        "/engagements/{engagement_id}/plan",
        lambda a: {"json": plan_body(a.organization_id)},
    ),
    Write(
        "content",
        "PUT",
        "/engagements/{engagement_id}/plan/slots/{slot_id}",
        lambda a: {"json": {"variant_id": str(uuid.uuid4())}},
    ),
    Write("content", "POST", "/engagements/{engagement_id}/plan/approval", lambda a: {"json": {}}),
    Write(
        "content",
        "POST",
        "/engagements/{engagement_id}/contests",
        lambda a: {"json": contest_rules()},
    ),
    Write(
        "strategy",
        "PUT",
        "/engagements/{engagement_id}/deliverables/{kind}",
        lambda a: {"json": brief_body(), "path": {"kind": "brief"}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/deliverables/{kind}/versions/{version}/approve",
        lambda a: {"json": {"comment": ""}, "path": {"kind": "brief", "version": 1}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/channel-mix",
        lambda a: {"json": mix_inputs()},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/touchpoints",
        lambda a: {"json": touchpoint_body()},
    ),
    Write(
        "strategy",
        "PATCH",
        "/engagements/{engagement_id}/touchpoints/{touchpoint_id}",
        lambda a: {"json": {"name": "Insegna"}},
    ),
    Write(
        "strategy",
        "DELETE",
        "/engagements/{engagement_id}/touchpoints/{touchpoint_id}",
        lambda a: {},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/handbook/versions",
        lambda a: {},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/outreach/contacts",
        lambda a: {"json": {"kind": "person", "platform": "instagram", "handle": "cantina"}},
    ),
    Write(
        "strategy",
        "PATCH",
        "/engagements/{engagement_id}/outreach/contacts/{contact_id}",
        lambda a: {"json": {"notes": "Met at the fair"}, "path": {"contact_id": uuid.uuid4()}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/outreach/contacts/{contact_id}/steps",
        lambda a: {"json": {"status": "contacted"}, "path": {"contact_id": uuid.uuid4()}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/training/participants",
        lambda a: {"json": {"name": "Giulia"}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/training/competences",
        lambda a: {"json": {"title": "Answers within the SLA"}},
    ),
    Write(
        "strategy",
        "PUT",
        "/engagements/{engagement_id}/training/participants/{participant_id}/competences/"
        "{competence_id}",
        lambda a: {
            "json": {},
            "path": {"participant_id": uuid.uuid4(), "competence_id": uuid.uuid4()},
        },
    ),
    Write(
        "strategy",
        "DELETE",
        "/engagements/{engagement_id}/training/participants/{participant_id}/competences/"
        "{competence_id}",
        lambda a: {"path": {"participant_id": uuid.uuid4(), "competence_id": uuid.uuid4()}},
    ),
    Write(
        "strategy",
        "POST",
        "/engagements/{engagement_id}/training/sessions",
        lambda a: {"json": {"title": "Answering", "starts_at": "2027-03-10T10:00:00+01:00"}},
    ),
    Write(
        "strategy",
        "PATCH",
        "/engagements/{engagement_id}/training/sessions/{session_id}",
        lambda a: {"json": {"title": "Answering"}, "path": {"session_id": uuid.uuid4()}},
    ),
    Write(
        "strategy",
        "PUT",
        "/engagements/{engagement_id}/training/sessions/{session_id}/attendance",
        lambda a: {
            "json": {"attendance": [{"participant_id": str(uuid.uuid4()), "present": True}]},
            "path": {"session_id": uuid.uuid4()},
        },
    ),
    Write(
        "content",
        "POST",
        "/engagements/{engagement_id}/watched-sites",
        lambda a: {"json": {"url": "https://cantina.example/feed.xml", "channels": ["instagram"]}},
    ),
    Write(
        "content",
        "DELETE",
        "/engagements/{engagement_id}/watched-sites/{site_id}",
        lambda a: {"path": {"site_id": uuid.uuid4()}},
    ),
    Write(
        "content",
        "POST",
        "/engagements/{engagement_id}/watched-sites/{site_id}/poll",
        lambda a: {"path": {"site_id": uuid.uuid4()}},
    ),
    Write(
        "content",
        "POST",
        "/content-items/spotify",
        lambda a: {
            "json": {
                "organization_id": a.organization_id,
                "engagement_id": a.engagement_id,
                "reference": "https://open.spotify.com/show/5CfCWKI5pZ28U0uOzXkDHe",
            }
        },
    ),
    Write(
        "publisher",
        "POST",
        "/publications",
        lambda a: {
            "json": {
                "organization_id": a.organization_id,
                "engagement_id": a.engagement_id,
                "connection_id": a.connection_id,
                "variant_id": a.variant_id,
                "due_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            }
        },
    ),
    Write(
        "listening",
        "POST",
        "/listening/queries",
        lambda a: {"json": query_body(a.organization_id, engagement_id=a.engagement_id)},
    ),
    Write(
        "listening",
        "POST",
        "/listening/sources",
        lambda a: {
            "json": {
                "organization_id": a.organization_id,
                "engagement_id": a.engagement_id,
                "kind": "rss",
                "name": "Their engagement's press",
                "settings": {"url": "https://news.example/feed.xml"},
            }
        },
    ),
    Write(
        "listening",
        "POST",
        "/listening/engagements/{engagement_id}/alert-rules",
        lambda a: {"json": {"kind": "keyword", "name": "Complaints", "keywords": ["rimborso"]}},
    ),
    Write(
        "listening",
        "PUT",
        "/listening/engagements/{engagement_id}/inbox-settings",
        lambda a: {"json": {"target_first_response_minutes": 30}},
    ),
    Write(
        "listening",
        "POST",
        "/listening/notifications/channels",
        lambda a: {
            "json": {
                "organization_id": a.organization_id,
                "engagement_id": a.engagement_id,
                "kind": "email",
                "name": "Their crisis desk",
                "events": ["listening.alert_raised"],
                "recipients": ["desk@example.org"],
            }
        },
    ),
    Write(
        "reporting",
        "POST",
        "/engagements/{engagement_id}/reports",
        lambda a: {
            "json": {"from": "2027-02-01T00:00:00+01:00", "to": "2027-02-08T00:00:00+01:00"}
        },
    ),
]

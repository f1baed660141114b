"""Two organisations, their engagements (created through the gateway) and mentions (published
to the stream as a source publishes them), and their readers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from benchmarks.gateway_read.config import ENGAGEMENTS, MENTIONS, READY_SECONDS
from benchmarks.gateway_read.load import Caller, Tenant
from services.listening.contracts import RawMention
from services.listening.intake import publish_raw_mentions
from shared.auth import Role, issue_dev_token
from shared.events.jetstream import connect_nats
from shared.settings import Settings

PUBLISHED_FROM = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def created_by(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST ``body``, again while the gateway answers 503 (its Temporal connection or a service
    still starting: it refuses before writing anything)."""
    async with asyncio.timeout(READY_SECONDS):
        while True:
            answer = await gateway.post(path, json=body, headers=headers)
            if answer.status_code != 503:
                break
            await asyncio.sleep(1)
    answer.raise_for_status()
    created: dict[str, Any] = answer.json()
    return created


async def seed(settings: Settings, gateway: httpx.AsyncClient, name: str) -> Tenant:
    """An organisation with ``ENGAGEMENTS`` engagements, created through the gateway as an
    agency admin and manager would, and its reader: ``client_viewer`` there and nowhere else."""
    staff = {
        "Authorization": "Bearer "
        + issue_dev_token(settings, "bench-staff", [Role.ADMIN, Role.MANAGER], ["*"])
    }
    created = await created_by(gateway, "/v1/organizations", {"name": f"Agriturismo {name}"}, staff)
    organization_id = str(created["id"])
    engagement_ids = []
    for _ in range(ENGAGEMENTS):
        engagement = await created_by(
            gateway,
            "/v1/engagements",
            {
                "organization_id": organization_id,
                "mode": "realizzazione",
                "channels": ["sandbox", "instagram"],
                "starts_on": "2027-01-04",
                "ends_on": "2027-06-30",
            },
            staff,
        )
        engagement_ids.append(str(engagement["id"]))
    await publish_mentions(settings, organization_id, engagement_ids[0])
    token = issue_dev_token(
        settings, f"bench-reader-{name}", [], [], org_roles={organization_id: [Role.CLIENT_VIEWER]}
    )
    return Tenant(Caller(name, organization_id, token), tuple(engagement_ids))


async def publish_mentions(settings: Settings, organization_id: str, engagement_id: str) -> None:
    """``MENTIONS`` comments on the engagement's posts, as the listening pipeline receives them."""
    mentions = [
        RawMention.model_validate(
            {
                "organization_id": organization_id,
                "source": "instagram",
                "external_id": f"bench-{uuid.uuid4().hex}",
                "author": {"handle": f"@ospite{number % 7}", "display_name": "Ospite"},
                "text": f"Cena splendida all'agriturismo, torneremo presto ({number})",
                "url": f"https://instagram.example/p/{number}",
                "published_at": PUBLISHED_FROM + timedelta(minutes=number),
                "language": "it",
                "engagement_id": engagement_id,
            }
        )
        for number in range(MENTIONS)
    ]
    nats = await connect_nats(settings, "bench-gateway-read-mentions")
    try:
        await publish_raw_mentions(nats.jetstream(), settings, mentions)
    finally:
        await nats.close()


def _ready(route: str, answer: httpx.Response) -> bool:
    if answer.status_code != 200:
        return False
    if route == "engagement_detail":
        return answer.json().get("state") is not None
    return len(answer.json()) >= min(MENTIONS, 50)


async def wait_readable(gateway: httpx.AsyncClient, tenants: Sequence[Tenant]) -> None:
    """Until every engagement's detail answers with its workflow's state, and every
    organisation's mentions are stored."""
    async with asyncio.timeout(READY_SECONDS):
        for tenant in tenants:
            for route in ("engagement_detail", "mention_list"):
                for path in tenant.read(route).paths:
                    while True:
                        answer = await gateway.get(path, headers=tenant.caller.headers)
                        if _ready(route, answer):
                            break
                        await asyncio.sleep(0.5)

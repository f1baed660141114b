"""Two organisations and their engagements, created through the gateway, and their readers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from benchmarks.gateway_read.config import ENGAGEMENTS, READY_SECONDS
from benchmarks.gateway_read.load import Caller, Tenant
from shared.auth import Role, issue_dev_token
from shared.settings import Settings


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
    token = issue_dev_token(
        settings, f"bench-reader-{name}", [], [], org_roles={organization_id: [Role.CLIENT_VIEWER]}
    )
    return Tenant(Caller(name, organization_id, token), tuple(engagement_ids))


async def wait_readable(gateway: httpx.AsyncClient, tenants: Sequence[Tenant]) -> None:
    """Until every engagement's detail answers with its workflow's state."""
    async with asyncio.timeout(READY_SECONDS):
        for tenant in tenants:
            for path in tenant.read("engagement_detail").paths:
                while True:
                    answer = await gateway.get(path, headers=tenant.caller.headers)
                    if answer.status_code == 200 and answer.json().get("state") is not None:
                        break
                    await asyncio.sleep(0.5)

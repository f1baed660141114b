"""Engagements tests start through the gateway (the lifecycle runs), and those other services'
tests only name (stored by the strategy service, no lifecycle)."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.conftest import Platform
from tests.test_thin_thread import create_org, engagement_body


async def started_engagement(
    platform: Platform, organization_id: str, **changes: object
) -> dict[str, Any]:
    """An engagement of ``organization_id`` created through the gateway, so its lifecycle
    starts (``changes`` override fields of ``engagement_body``): the gateway's answer."""
    created = await platform.gateway.post(
        "/v1/engagements",
        json={**engagement_body(organization_id), **changes},
        headers=platform.auth(Role.MANAGER),
    )
    assert created.status_code == 201, created.text
    engagement: dict[str, Any] = created.json()
    return engagement


async def new_engagement(platform: Platform) -> tuple[str, str]:
    """(organisation id, engagement id) of a fresh client and its started engagement."""
    organization_id = await create_org(platform)
    engagement = await started_engagement(platform, organization_id)
    return organization_id, engagement["id"]


async def engagement_state(platform: Platform, engagement_id: str) -> dict[str, Any]:
    """The engagement's lifecycle state as the gateway reads it from its workflow."""
    read = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    state: dict[str, Any] = read.json()["state"]
    return state


async def stored_engagement(platform: Platform, organization_id: str) -> str:
    """An engagement of ``organization_id`` as strategy stores it, without its workflow: the
    services learn it from its ``engagement_created`` event, as they learn any engagement."""
    response = await platform.gateway.post(
        f"{platform.settings.service_url('strategy')}/engagements",
        json=engagement_body(organization_id),
        headers=platform.auth(Role.MANAGER),
    )
    assert response.status_code == 201, response.text
    engagement_id: str = response.json()["id"]
    return engagement_id

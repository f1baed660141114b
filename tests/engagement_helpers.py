"""Engagements that other services' tests name: stored by the strategy service, no lifecycle."""

from __future__ import annotations

from shared.auth import Role
from tests.conftest import Platform
from tests.test_thin_thread import engagement_body


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

"""Approved content for the publisher's tests: a post publishes an approved variant, so a test
that schedules one first writes, submits and approves it through the gateway."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.conftest import Platform
from tests.test_content_items import create_item, post_body

POST_TEXT = "Vendemmia 2026: vi aspettiamo in cantina!"


async def review(
    platform: Platform, item_id: str, action: str, role: Role, organization_id: str | None = None
) -> dict[str, Any]:
    """Submit, approve or reject the item as ``role`` (a client's role: in ``organization_id``,
    the item's)."""
    moved = await platform.gateway.post(
        f"/v1/content-items/{item_id}/{action}",
        json={"comment": "ok"} if action == "reject" else {},
        headers=platform.auth(role, orgs=[organization_id] if organization_id else None),
    )
    assert moved.status_code == 200, moved.text
    item: dict[str, Any] = moved.json()
    return item


async def variant_in_review(
    platform: Platform, organization_id: str, channel: str = "sandbox", **fields: Any
) -> tuple[str, str]:
    """(item id, variant id) of a text post on ``channel``, submitted for review. ``fields`` are
    the item's (``body``, ``link``, ``media_ids``, ``client_approval_required`` ...) and
    ``variant``, the variant's own."""
    variant = {"channel": channel, **fields.pop("variant", {})}
    fields.setdefault("body", POST_TEXT)
    item = await create_item(platform, post_body(organization_id, variants=[variant], **fields))
    await review(platform, item["id"], "submit", Role.EDITOR)
    return item["id"], item["variants"][0]["id"]


async def approved_variant(
    platform: Platform, organization_id: str, channel: str = "sandbox", **fields: Any
) -> str:
    """The id of a variant on ``channel`` the agency has approved (see ``variant_in_review``)."""
    item_id, variant_id = await variant_in_review(platform, organization_id, channel, **fields)
    await review(platform, item_id, "approve", Role.MANAGER)
    return variant_id

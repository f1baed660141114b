"""Real content for the tests of what uses it (the editorial plan), made through the gateway."""

from __future__ import annotations

from tests.conftest import Platform
from tests.test_content_items import create_item, post_body
from tests.test_content_media import jpeg, upload


async def new_variant(platform: Platform, organization_id: str, channel: str) -> str:
    """The id of the one variant, on ``channel``, of a fresh photo post of the organisation.

    Its 4:5 JPEG suits the channels the plan tests use: Instagram, which needs one medium,
    Facebook and X.
    """
    photo = await upload(platform, organization_id, jpeg(1080, 1350), "image/jpeg")
    item = await create_item(
        platform,
        post_body(
            organization_id, kind="image", media_ids=[photo["id"]], variants=[{"channel": channel}]
        ),
    )
    [variant] = item["variants"]
    assert variant["channel"] == channel
    variant_id: str = variant["id"]
    return variant_id

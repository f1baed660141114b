"""A variant's preview through the gateway: the feed's cut and "see more", the image cropped to
the ratio the feed shows, the link as the platform shows it; tenancy and bad paths."""

from __future__ import annotations

from typing import Any

from shared.auth import Role
from tests.conftest import Platform
from tests.test_content_items import create_item, post_body
from tests.test_content_media import jpeg, upload
from tests.test_thin_thread import create_org

PROBLEM = "application/problem+json"
LONG_TEXT = (
    "Sabato 12 si vendemmia insieme nella vigna alta: portate cappello e scarpe comode, "
    "al resto pensiamo noi. Dopo la raccolta pranzo sotto la quercia con i vini dell'anno "
    "scorso, e per i bambini la pigiatura dell'uva a piedi nudi. Posti limitati, prenotate "
    "in messaggio privato o al numero in bio. #vendemmia #umbria"
)


def preview_path(item_id: str, channel: str) -> str:
    return f"/v1/content-items/{item_id}/variants/{channel}/preview"


async def photo_item(platform: Platform, organization_id: str, width: int, height: int) -> Any:
    photo = await upload(platform, organization_id, jpeg(width, height), "image/jpeg")
    return await create_item(
        platform,
        post_body(
            organization_id,
            kind="image",
            body=LONG_TEXT,
            media_ids=[photo["id"]],
            variants=[{"channel": "instagram"}, {"channel": "x", "text": "Vendemmia sabato 12!"}],
        ),
    )


async def test_instagram_cuts_the_caption_at_its_more_and_shows_a_fitting_photo_whole(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    item = await photo_item(platform, organization_id, 1080, 1350)
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])

    response = await platform.gateway.get(preview_path(item["id"], "instagram"), headers=viewer)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    # 125 characters at most, cut on the space before the limit, then Instagram's "more".
    shown = LONG_TEXT[:125].rsplit(" ", 1)[0]
    assert f'{shown}… <span class="more">more</span>' in page
    assert LONG_TEXT[130:160] not in page
    assert f"{len(LONG_TEXT)} characters of text, {len(shown)} shown" in page
    # 4:5 is inside Instagram's 4:5..1.91:1: nothing cut.
    assert f'data-media-id="{item["media_ids"][0]}"' in page
    assert "1080x1350, shown whole" in page
    assert "aspect-ratio: 1080 / 1350" in page


async def test_x_crops_a_portrait_photo_to_sixteen_by_nine_and_keeps_a_short_post_whole(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    item = await photo_item(platform, organization_id, 1080, 1350)

    response = await platform.gateway.get(
        preview_path(item["id"], "x"), headers=platform.auth(Role.EDITOR, orgs=[organization_id])
    )

    assert response.status_code == 200, response.text
    page = response.text
    assert "Vendemmia sabato 12!</div>" in page
    assert "Show more" not in page
    # 1080 / (16/9) = 607.5, rounded: 608 rows kept, (1350 - 608) // 2 = 371 cut at each end.
    assert "1080x1350 shown as 1080x608 (16:9): 371 px cut at top and bottom" in page
    assert "aspect-ratio: 1080 / 608" in page


async def test_a_link_shows_as_a_card_where_the_platform_makes_one_and_text_is_escaped(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    item = await create_item(
        platform,
        post_body(
            organization_id,
            kind="link",
            title="La vendemmia 2027",
            body="<script>alert(1)</script> Tutto sulla festa",
            link="https://www.laquercia.example/vendemmia?utm_source=x",
            variants=[{"channel": "sandbox"}],
        ),
    )
    headers = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])

    card = await platform.gateway.get(preview_path(item["id"], "sandbox"), headers=headers)

    assert card.status_code == 200, card.text
    page = card.text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tutto sulla festa" in page
    assert '<a class="card" href="https://www.laquercia.example/vendemmia?utm_source=x"' in page
    assert '<div class="domain">laquercia.example</div>' in page
    assert '<div class="ctitle">La vendemmia 2027</div>' in page


async def test_unknown_channels_missing_variants_and_other_organisations_items(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    other_id = await create_org(platform, "Cantina Rivale")
    item = await photo_item(platform, organization_id, 1080, 1350)
    own = platform.auth(Role.MANAGER, orgs=[organization_id])

    unknown = await platform.gateway.get(preview_path(item["id"], "myspace"), headers=own)
    assert unknown.status_code == 422, unknown.text
    assert unknown.headers["content-type"].startswith(PROBLEM)
    assert any(error["field"] == "path.channel" for error in unknown.json()["errors"])

    no_variant = await platform.gateway.get(preview_path(item["id"], "youtube"), headers=own)
    assert no_variant.status_code == 404, no_variant.text
    assert no_variant.headers["content-type"].startswith(PROBLEM)

    stranger = platform.auth(Role.MANAGER, orgs=[other_id])
    hidden = await platform.gateway.get(preview_path(item["id"], "instagram"), headers=stranger)
    assert hidden.status_code == 404, hidden.text
    assert LONG_TEXT[:40] not in hidden.text

    bad_id = await platform.gateway.get(preview_path("not-a-uuid", "instagram"), headers=own)
    assert bad_id.status_code == 422, bad_id.text

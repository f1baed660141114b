"""Pinterest connector against the fake Pinterest API v5 (tests/fakes/pinterest.py)."""

from __future__ import annotations

from services.publisher.connectors.base import MediaRef
from tests.fakes import pinterest
from tests.fakes.cases import TEXT, open_case
from tests.fakes.common import VALID_TOKEN


async def test_a_pin_carries_board_title_description_link_and_image_source() -> None:
    async with open_case("pinterest") as case:
        result = await case.connector.publish(case.credentials, case.request)

        [seen] = case.fake.requests("publish")
        assert (seen.method, seen.path) == ("POST", "/v5/pins")
        assert seen.payload == {
            "board_id": pinterest.BOARD_ID,
            "title": "Vendemmia 2026",
            "description": TEXT,
            "link": "https://laquercia.example/vendemmia",
            "media_source": {"source_type": "image_url", "url": case.request.media[0].url},
        }
        assert seen.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        assert result.url == f"https://www.pinterest.com/pin/{result.platform_post_id}/"


async def test_several_images_make_a_carousel_pin() -> None:
    async with open_case("pinterest") as case:
        urls = ["https://cdn.example/1.jpg", "https://cdn.example/2.jpg"]
        images = [MediaRef(url=url, mime_type="image/jpeg", size_bytes=1) for url in urls]
        await case.connector.publish(
            case.credentials, case.request.model_copy(update={"media": images})
        )

        [seen] = case.fake.requests("publish")
        assert seen.payload["media_source"] == {
            "source_type": "multiple_image_urls",
            "items": [{"url": url} for url in urls],
        }


async def test_post_metrics_come_from_the_pins_lifetime_metrics() -> None:
    async with open_case("pinterest") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.impressions, metrics.saves, metrics.likes, metrics.comments) == (
            310,
            12,
            9,
            1,
        )
        [seen] = case.fake.requests("read")
        assert seen.query == {"pin_metrics": "true"}


async def test_refresh_authenticates_the_app_with_basic_auth() -> None:
    async with open_case("pinterest") as case:
        renewed = await case.connector.refresh(case.credentials)

        assert renewed.access_token == "pinterest-access-renewed"
        assert renewed.refresh_token == pinterest.REFRESH_TOKEN
        [seen] = case.fake.requests("token")
        assert seen.headers["authorization"].startswith("Basic ")
        assert "client_secret" not in seen.payload

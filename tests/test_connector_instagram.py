"""Instagram connector against the fake Instagram Graph API (tests/fakes/instagram.py)."""

from __future__ import annotations

import pytest

from services.publisher.connectors.base import (
    ContentRejectedError,
    Credentials,
    MediaRef,
    RetryableError,
)
from services.publisher.connectors.facebook import GraphClient, MetaConnectError
from services.publisher.connectors.instagram import InstagramConnector, connect_account
from tests.fakes import graph, instagram
from tests.fakes.cases import TEXT, app, open_case
from tests.fakes.common import VALID_TOKEN, Fault

PREFIX = f"/v21.0/{instagram.IG_USER_ID}"


def video(name: str = "reel.mp4") -> MediaRef:
    return MediaRef(url=f"https://cdn.example/{name}", mime_type="video/mp4", size_bytes=10)


async def test_an_image_is_a_container_then_a_publish_of_that_container() -> None:
    async with open_case("instagram") as case:
        result = await case.connector.publish(case.credentials, case.request)

        [container] = case.fake.requests("container")
        assert (container.method, container.path) == ("POST", f"{PREFIX}/media")
        assert container.payload == {"image_url": case.request.media[0].url, "caption": TEXT}
        [published] = case.fake.requests("publish")
        assert published.path == f"{PREFIX}/media_publish"
        assert set(published.payload) == {"creation_id"}
        quota = case.fake.requests("read")[0]
        assert quota.path == f"{PREFIX}/content_publishing_limit"
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_a_reel_waits_until_its_container_is_finished() -> None:
    async with open_case("instagram") as case:
        request = case.request.model_copy(update={"media": [video()]})
        result = await case.connector.publish(case.credentials, request)

        [container] = case.fake.requests("container")
        assert container.payload["media_type"] == "REELS"
        assert container.payload["video_url"] == "https://cdn.example/reel.mp4"
        checks = [
            s for s in case.fake.requests("read") if s.query.get("fields") == "status_code,status"
        ]
        assert len(checks) == 2
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_a_carousel_is_made_of_child_containers() -> None:
    async with open_case("instagram") as case:
        photo = case.request.media[0]
        request = case.request.model_copy(update={"media": [photo, photo]})
        await case.connector.publish(case.credentials, request)

        first, second, parent = case.fake.requests("container")
        assert first.payload == {"image_url": photo.url, "is_carousel_item": "true"}
        assert second.payload == first.payload
        assert parent.payload["media_type"] == "CAROUSEL"
        assert parent.payload["caption"] == TEXT
        assert len(parent.payload["children"].split(",")) == 2


async def test_a_container_in_error_is_rejected_content_and_nothing_is_published() -> None:
    async with open_case("instagram") as case:
        assert isinstance(case.fake, instagram.FakeInstagram)
        case.fake.video_outcome = "ERROR"
        request = case.request.model_copy(update={"media": [video()]})
        with pytest.raises(ContentRejectedError, match="2207026"):
            await case.connector.publish(case.credentials, request)
        assert case.fake.requests("publish") == []


async def test_a_container_still_processing_is_retryable_and_nothing_is_published() -> None:
    async with open_case("instagram") as case:
        connector = InstagramConnector(case.http, base_url=case.base_url, poll_attempts=1)
        request = case.request.model_copy(update={"media": [video()]})
        with pytest.raises(RetryableError, match="still processing"):
            await connector.publish(case.credentials, request)
        assert case.fake.live_posts() == []


async def test_a_lost_answer_while_creating_the_container_is_safe_to_retry() -> None:
    async with open_case("instagram") as case:
        case.fake.fail_next("container", Fault.SLOW_AFTER_ACCEPT)
        with pytest.raises(RetryableError, match="before publishing"):
            await case.connector.publish(case.credentials, case.request)
        assert case.fake.live_posts() == []


async def test_a_reached_publishing_limit_is_retryable_before_any_container() -> None:
    async with open_case("instagram") as case:
        assert isinstance(case.fake, instagram.FakeInstagram)
        case.fake.quota_usage = instagram.QUOTA_TOTAL
        with pytest.raises(RetryableError) as raised:
            await case.connector.publish(case.credentials, case.request)
        assert raised.value.retry_after == 3600
        assert case.fake.requests("container") == []


async def test_post_metrics_map_the_media_insights() -> None:
    async with open_case("instagram") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.impressions, metrics.reach, metrics.likes) == (900, 640, 51)
        assert (metrics.comments, metrics.shares, metrics.saves) == (6, 4, 9)


async def test_refresh_exchanges_the_token() -> None:
    async with open_case("instagram") as case:
        renewed = await case.connector.refresh(case.credentials)
        assert renewed.access_token == "long-lived-token"


async def test_a_login_connects_the_instagram_account_linked_to_the_page() -> None:
    async with open_case("instagram") as case:
        client = GraphClient(
            case.http, case.base_url, app(graph.APP_ID, graph.APP_SECRET), name="instagram"
        )
        login = Credentials(access_token=graph.SHORT_LIVED_TOKEN)
        connected = await connect_account(client, login, instagram.LINKED_PAGE_ID)

        assert (connected.account_id, connected.display_name) == (
            instagram.IG_USER_ID,
            instagram.IG_USERNAME,
        )
        assert connected.credentials.access_token == VALID_TOKEN
        assert connected.credentials.expires_at is None
        assert connected.credentials.extra["page_id"] == instagram.LINKED_PAGE_ID
        [page] = case.fake.requests("page")
        assert page.path == f"/v21.0/{instagram.LINKED_PAGE_ID}"
        assert "instagram_business_account" in page.query["fields"]
        assert page.headers["authorization"] == f"Bearer {graph.LONG_LIVED_TOKEN}"

        result = await case.connector.publish(connected.credentials, case.request)
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_a_page_without_an_instagram_account_cannot_be_connected() -> None:
    async with open_case("instagram") as case:
        client = GraphClient(
            case.http, case.base_url, app(graph.APP_ID, graph.APP_SECRET), name="instagram"
        )
        login = Credentials(access_token=graph.SHORT_LIVED_TOKEN)
        with pytest.raises(MetaConnectError) as refused:
            await connect_account(client, login, instagram.UNLINKED_PAGE_ID)

        assert refused.value.kind == "oauth-instagram-not-linked"

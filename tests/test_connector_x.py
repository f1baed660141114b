"""X connector against the fake X API v2 (tests/fakes/x.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from services.publisher.connectors.base import (
    AuthError,
    ContentRejectedError,
    MediaRef,
    RetryableError,
)
from services.publisher.connectors.x import XConnector, classify_x
from tests.fakes import x
from tests.fakes.cases import Case, open_case
from tests.fakes.common import VALID_TOKEN, Fault


def media(case: Case, name: str, mime_type: str, size: int) -> MediaRef:
    case.fake.media[name] = b"\x01" * size
    return MediaRef(url=f"{case.base_url}/media/{name}", mime_type=mime_type, size_bytes=size)


async def test_a_post_sends_the_text_with_its_link_as_json() -> None:
    async with open_case("x") as case:
        request = case.request.model_copy(
            update={"text": "Prenotate!", "link": "https://q.example"}
        )
        result = await case.connector.publish(case.credentials, request)

        [seen] = case.fake.requests("publish")
        assert (seen.method, seen.path) == ("POST", "/2/tweets")
        assert seen.payload == {"text": "Prenotate!\nhttps://q.example"}
        assert seen.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        assert result.url == f"https://x.com/i/web/status/{result.platform_post_id}"


async def test_images_are_uploaded_in_chunks_and_attached() -> None:
    async with open_case("x") as case:
        connector = XConnector(case.http, base_url=case.base_url, chunk_size=1000)
        photo = media(case, "photo.png", "image/png", 2500)
        request = case.request.model_copy(update={"media": [photo]})
        await connector.publish(case.credentials, request)

        initialize, *appends, finalize = case.fake.requests("upload")
        assert initialize.payload == {
            "media_type": "image/png",
            "total_bytes": 2500,
            "media_category": "tweet_image",
        }
        assert [a.payload["segment_index"] for a in appends] == ["0", "1", "2"]
        assert finalize.path.endswith("/finalize")
        [tweet] = case.fake.requests("publish")
        media_id = appends[0].path.split("/")[-2]
        assert tweet.payload["media"] == {"media_ids": [media_id]}


async def test_a_video_is_attached_only_once_processing_succeeded() -> None:
    async with open_case("x") as case:
        clip = media(case, "clip.mp4", "video/mp4", 3000)
        request = case.request.model_copy(update={"media": [clip]})
        result = await case.connector.publish(case.credentials, request)

        statuses = [s for s in case.fake.requests("read") if s.query.get("command") == "STATUS"]
        assert len(statuses) == 1
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_a_lost_media_upload_answer_is_safe_to_retry_and_posts_nothing() -> None:
    async with open_case("x") as case:
        photo = media(case, "photo.png", "image/png", 100)
        case.fake.fail_next("upload", Fault.SLOW_AFTER_ACCEPT, skip=1)
        with pytest.raises(RetryableError, match="before publishing"):
            await case.connector.publish(
                case.credentials, case.request.model_copy(update={"media": [photo]})
            )
        assert case.fake.live_posts() == []


async def test_duplicate_content_is_rejected() -> None:
    async with open_case("x") as case:
        await case.connector.publish(case.credentials, case.request)
        with pytest.raises(ContentRejectedError, match="duplicate"):
            await case.connector.publish(case.credentials, case.request)
        assert len(case.fake.live_posts()) == 1


async def test_post_metrics_map_public_metrics() -> None:
    async with open_case("x") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.impressions, metrics.likes, metrics.comments) == (730, 14, 3)
        assert (metrics.shares, metrics.saves) == (3, 5)
        [seen] = case.fake.requests("read")
        assert seen.query == {"tweet.fields": "public_metrics"}


async def test_metrics_of_a_deleted_post_are_rejected_not_retried() -> None:
    async with open_case("x") as case:
        with pytest.raises(ContentRejectedError, match="no longer exists"):
            await case.connector.post_metrics(case.credentials, "404404")


async def test_refresh_uses_basic_auth_and_keeps_the_rotated_refresh_token() -> None:
    async with open_case("x") as case:
        assert isinstance(case.fake, x.FakeX)
        renewed = await case.connector.refresh(case.credentials)

        assert renewed.refresh_token == case.fake.refresh_token != x.REFRESH_TOKEN
        [seen] = case.fake.requests("token")
        assert seen.headers["authorization"].startswith("Basic ")
        assert seen.payload == {"grant_type": "refresh_token", "refresh_token": x.REFRESH_TOKEN}
        with pytest.raises(AuthError):
            await case.connector.refresh(case.credentials)


async def test_refresh_without_an_app_asks_for_reauthorisation() -> None:
    async with open_case("x") as case:
        with pytest.raises(AuthError, match="no X app"):
            await XConnector(case.http, base_url=case.base_url).refresh(case.credentials)


def test_the_daily_user_limit_waits_for_its_own_reset() -> None:
    reset = int(time.time()) + 5000
    response = httpx.Response(
        429,
        json={"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank"},
        headers={
            "x-rate-limit-reset": str(int(time.time()) + 60),
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": str(reset),
        },
    )
    error = classify_x(response, True)
    assert isinstance(error, RetryableError)
    assert error.retry_after == pytest.approx(5000, abs=2)


def test_a_forbidden_client_needs_reauthorisation() -> None:
    response = httpx.Response(
        403,
        json={
            "title": "Client Forbidden",
            "detail": "This request must be made using an approved developer account.",
            "type": "https://api.twitter.com/2/problems/client-forbidden",
        },
    )
    assert isinstance(classify_x(response, True), AuthError)

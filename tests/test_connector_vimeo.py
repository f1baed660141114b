"""Vimeo connector against the fake Vimeo API (tests/fakes/vimeo.py): the tus upload, resumed
after lost answers, and a failed upload leaving no half video behind."""

from __future__ import annotations

import pytest

from services.publisher.connectors.base import AuthError, RetryableError, UnknownOutcomeError
from tests.fakes import vimeo
from tests.fakes.cases import TEXT, open_case
from tests.fakes.common import VALID_TOKEN, Fault


def stored_bytes(fake: object, video_id: str) -> bytes:
    assert isinstance(fake, vimeo.FakeVimeo)
    data: bytes = fake.videos[video_id]["data"]
    return data


async def test_a_video_is_created_for_tus_then_its_bytes_are_patched_in_order() -> None:
    async with open_case("vimeo") as case:
        result = await case.connector.publish(case.credentials, case.request)

        [create] = case.fake.requests("publish")
        assert (create.method, create.path) == ("POST", "/me/videos")
        assert create.payload == {
            "upload": {"approach": "tus", "size": 250_000},
            "name": "La vendemmia",
            "description": TEXT,
            "privacy": {"view": "anybody"},
        }
        assert create.headers["accept"] == "application/vnd.vimeo.*+json;version=3.4"
        assert create.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        patches = case.fake.requests("upload")
        assert [p.payload["offset"] for p in patches] == ["0", "100000", "200000"]
        assert all("authorization" not in p.headers for p in patches)
        assert patches[0].headers["content-type"] == "application/offset+octet-stream"
        assert (result.state, result.url) == (
            "processing",
            f"https://vimeo.com/{result.platform_post_id}",
        )
        assert stored_bytes(case.fake, result.platform_post_id) == case.fake.media["clip.mp4"]


async def test_a_lost_patch_answer_is_resumed_from_the_servers_offset() -> None:
    async with open_case("vimeo") as case:
        case.fake.fail_next("upload", Fault.SLOW_AFTER_ACCEPT, skip=1)
        result = await case.connector.publish(case.credentials, case.request)

        assert any(seen.method == "HEAD" for seen in case.fake.requests("upload"))
        assert case.fake.live_posts() == [result.platform_post_id]
        assert stored_bytes(case.fake, result.platform_post_id) == case.fake.media["clip.mp4"]


async def test_an_upload_that_keeps_failing_deletes_the_video_and_is_retryable() -> None:
    async with open_case("vimeo") as case:
        case.fake.fail_next("upload", Fault.SERVER_ERROR, times=10, skip=1)
        with pytest.raises(RetryableError):
            await case.connector.publish(case.credentials, case.request)
        assert case.fake.live_posts() == []
        assert len(case.fake.requests("delete")) == 1


async def test_a_lost_answer_on_creation_leaves_no_half_video_after_the_check() -> None:
    async with open_case("vimeo") as case:
        case.fake.fail_next("publish", Fault.SLOW_AFTER_ACCEPT)
        with pytest.raises(UnknownOutcomeError):
            await case.connector.publish(case.credentials, case.request)
        assert len(case.fake.live_posts()) == 1

        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state == "not_found"
        assert case.fake.live_posts() == []
        result = await case.connector.publish(case.credentials, case.request)
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_post_metrics_map_plays_likes_and_comments() -> None:
    async with open_case("vimeo") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.video_views, metrics.likes, metrics.comments) == (42, 3, 1)


async def test_refresh_verifies_the_non_expiring_token() -> None:
    async with open_case("vimeo") as case:
        assert await case.connector.refresh(case.credentials) == case.credentials
        case.fake.fail_next("token", Fault.EXPIRED_TOKEN)
        with pytest.raises(AuthError):
            await case.connector.refresh(case.credentials)

"""Mastodon connector against a fake instance (tests/fakes/mastodon.py)."""

from __future__ import annotations

import pytest

from services.publisher.connectors.base import (
    AuthError,
    ContentRejectedError,
    Credentials,
    MediaRef,
)
from tests.fakes.cases import TEXT, Case, open_case
from tests.fakes.common import VALID_TOKEN, Fault


def media(case: Case, name: str, mime_type: str) -> MediaRef:
    case.fake.media[name] = b"\x02" * 500
    return MediaRef(url=f"{case.base_url}/media/{name}", mime_type=mime_type, size_bytes=500)


async def test_a_status_carries_the_idempotency_key_of_the_request() -> None:
    async with open_case("mastodon") as case:
        request = case.request.model_copy(update={"privacy": "unlisted"})
        result = await case.connector.publish(case.credentials, request)

        [seen] = case.fake.requests("publish")
        assert (seen.method, seen.path) == ("POST", "/api/v1/statuses")
        assert seen.payload == {"status": TEXT, "visibility": "unlisted"}
        assert seen.headers["idempotency-key"] == request.idempotency_key
        assert seen.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        assert result.url == f"https://mastodon.example/@quercia/{result.platform_post_id}"


async def test_the_instance_answers_a_repeated_key_with_the_same_status() -> None:
    async with open_case("mastodon") as case:
        first = await case.connector.publish(case.credentials, case.request)
        second = await case.connector.publish(case.credentials, case.request)

        assert first.platform_post_id == second.platform_post_id
        assert case.fake.live_posts() == [first.platform_post_id]


async def test_media_are_uploaded_first_and_video_waits_for_processing() -> None:
    async with open_case("mastodon") as case:
        photo, clip = media(case, "p.jpg", "image/jpeg"), media(case, "c.mp4", "video/mp4")
        request = case.request.model_copy(update={"media": [photo, clip]})
        await case.connector.publish(case.credentials, request)

        assert len(case.fake.requests("upload")) == 2
        polls = [s for s in case.fake.requests("read") if s.path.startswith("/api/v1/media/")]
        assert len(polls) == 2
        [status] = case.fake.requests("publish")
        assert len(status.payload["media_ids"]) == 2


async def test_a_text_over_the_instance_limit_is_rejected_content() -> None:
    async with open_case("mastodon") as case:
        with pytest.raises(ContentRejectedError, match="character limit"):
            await case.connector.publish(
                case.credentials, case.request.model_copy(update={"text": "a" * 501})
            )


async def test_a_connection_without_its_instance_needs_reauthorisation() -> None:
    async with open_case("mastodon") as case:
        with pytest.raises(AuthError, match="instance_url"):
            await case.connector.publish(Credentials(access_token=VALID_TOKEN), case.request)


async def test_post_metrics_map_favourites_reblogs_and_replies() -> None:
    async with open_case("mastodon") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.likes, metrics.shares, metrics.comments) == (8, 2, 1)


async def test_refresh_verifies_the_non_expiring_token() -> None:
    async with open_case("mastodon") as case:
        assert await case.connector.refresh(case.credentials) == case.credentials
        case.fake.fail_next("token", Fault.EXPIRED_TOKEN)
        with pytest.raises(AuthError):
            await case.connector.refresh(case.credentials)

"""YouTube connector against the fake YouTube Data API (tests/fakes/youtube.py): the resumable
upload, resumed after lost answers, and the rest of the contract."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from services.publisher.connectors.base import (
    ContentRejectedError,
    RetryableError,
    UnknownOutcomeError,
)
from services.publisher.connectors.youtube import (
    CHUNK_QUANTUM,
    YouTubeConnector,
)
from shared.rate_limits import QUOTA_ZONE, seconds_until_quota_reset
from tests.fakes import youtube
from tests.fakes.cases import TEXT, open_case
from tests.fakes.common import VALID_TOKEN, Fault

SIZE = 2 * CHUNK_QUANTUM + 1000


async def test_the_upload_starts_with_the_video_resource_and_sends_ranged_chunks() -> None:
    async with open_case("youtube") as case:
        result = await case.connector.publish(case.credentials, case.request)

        [start] = case.fake.requests("start")
        assert start.query == {"uploadType": "resumable", "part": "snippet,status"}
        assert start.payload == {
            "snippet": {
                "title": "La vendemmia",
                "description": TEXT,
                "tags": ["vino", "Val d'Orcia"],
            },
            "status": {"privacyStatus": "unlisted"},
        }
        assert start.headers["x-upload-content-length"] == str(SIZE)
        assert start.headers["x-upload-content-type"] == "video/mp4"
        assert start.headers["authorization"] == f"Bearer {VALID_TOKEN}"
        ranges = [seen.payload["range"] for seen in case.fake.requests("upload")]
        assert ranges == [
            f"bytes 0-{CHUNK_QUANTUM - 1}/{SIZE}",
            f"bytes {CHUNK_QUANTUM}-{2 * CHUNK_QUANTUM - 1}/{SIZE}",
            f"bytes {2 * CHUNK_QUANTUM}-{SIZE - 1}/{SIZE}",
        ]
        assert result.state == "processing"
        assert result.url == f"https://www.youtube.com/watch?v={result.platform_post_id}"
        assert case.fake.live_posts() == [result.platform_post_id]


@pytest.mark.parametrize("fault", [Fault.SLOW_AFTER_ACCEPT, Fault.SERVER_ERROR, Fault.MALFORMED])
async def test_a_chunk_whose_answer_is_lost_is_resumed_and_the_video_exists_once(
    fault: Fault,
) -> None:
    async with open_case("youtube") as case:
        case.fake.fail_next("upload", fault, skip=2)
        result = await case.connector.publish(case.credentials, case.request)

        ranges = [seen.payload["range"] for seen in case.fake.requests("upload")]
        assert f"bytes */{SIZE}" in ranges
        assert case.fake.live_posts() == [result.platform_post_id]


async def test_when_even_the_resume_query_is_lost_the_outcome_is_unknown_then_found_once() -> None:
    async with open_case("youtube") as case:
        case.fake.fail_next("upload", Fault.SLOW_AFTER_ACCEPT, times=5, skip=2)
        with pytest.raises(UnknownOutcomeError):
            await case.connector.publish(case.credentials, case.request)

        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state == "processing"
        assert case.fake.live_posts() == [status.platform_post_id]


async def test_a_server_error_when_starting_is_safe_to_retry() -> None:
    async with open_case("youtube") as case:
        case.fake.fail_next("start", Fault.SERVER_ERROR)
        with pytest.raises(RetryableError, match="before publishing"):
            await case.connector.publish(case.credentials, case.request)
        assert case.fake.live_posts() == []


async def test_check_status_finds_nothing_when_no_upload_completed() -> None:
    async with open_case("youtube") as case:
        status = await case.connector.check_status(case.credentials, case.request)
        assert status.state == "not_found"


async def test_post_metrics_read_the_statistics_strings_as_numbers() -> None:
    async with open_case("youtube") as case:
        result = await case.connector.publish(case.credentials, case.request)
        metrics = await case.connector.post_metrics(case.credentials, result.platform_post_id)

        assert (metrics.video_views, metrics.likes, metrics.comments) == (345, 21, 4)
        with pytest.raises(ContentRejectedError):
            await case.connector.post_metrics(case.credentials, "gone")


async def test_refresh_keeps_the_refresh_token_google_does_not_resend() -> None:
    async with open_case("youtube") as case:
        renewed = await case.connector.refresh(case.credentials)

        assert renewed.access_token == "google-access-renewed"
        assert renewed.refresh_token == youtube.REFRESH_TOKEN
        [seen] = case.fake.requests("token")
        assert seen.payload["client_id"] == youtube.CLIENT_ID


async def test_chunks_must_be_multiples_of_256_kib() -> None:
    async with httpx.AsyncClient() as http:
        with pytest.raises(ValueError, match="multiple"):
            YouTubeConnector(http, chunk_size=1000)


@pytest.mark.parametrize(
    ("local", "hours"),
    [
        # An ordinary day, the day DST starts (23 hours) and the day it ends (25 hours).
        (datetime(2026, 6, 10, 12, 0, tzinfo=QUOTA_ZONE), 12),
        (datetime(2026, 3, 8, 0, 30, tzinfo=QUOTA_ZONE), 22.5),
        (datetime(2026, 11, 1, 0, 30, tzinfo=QUOTA_ZONE), 24.5),
    ],
)
def test_the_quota_resets_at_pacific_midnight_in_real_hours(local: datetime, hours: float) -> None:
    assert seconds_until_quota_reset(local.astimezone(UTC)) == hours * 3600

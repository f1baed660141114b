"""The YouTube comments reader against the fake commentThreads API
(tests/fakes/youtube_comments.py), served in process through ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import BaseModel, SecretStr, ValidationError

from services.listening.contracts import SourceKind
from services.listening.sources import youtube as reader_module
from services.listening.sources.readers import (
    Cursor,
    Page,
    RateLimited,
    SourceError,
    SourceMalformed,
    SourceRefused,
    SourceScope,
    SourceUnavailable,
)
from services.listening.sources.registry import READERS
from services.listening.sources.youtube import (
    YouTubeCommentsReader,
    YouTubeCommentsSettings,
)
from shared.rate_limits import seconds_until_quota_reset
from tests.fakes.common import Fault
from tests.fakes.youtube import CHANNEL_ID
from tests.fakes.youtube_comments import API_KEY, DISABLED_VIDEO, FakeYouTubeComments

BASE_URL = "http://youtube.fake"
KEY = SecretStr(API_KEY)
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
SCOPE = SourceScope(
    source_id=str(uuid.uuid4()),
    organization_id=str(uuid.uuid4()),
    engagement_id=str(uuid.uuid4()),
)
CHANNEL = YouTubeCommentsSettings(channel_id=CHANNEL_ID)


@dataclass
class Setup:
    fake: FakeYouTubeComments
    reader: YouTubeCommentsReader

    async def read(
        self,
        cursor: Cursor | None = None,
        settings: BaseModel = CHANNEL,
        key: SecretStr = KEY,
    ) -> Page:
        return await self.reader.read(SCOPE, settings, key, cursor or {}, SINCE)


@pytest.fixture
async def youtube() -> AsyncIterator[Setup]:
    fake = FakeYouTubeComments()
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport) as http:
        yield Setup(fake, YouTubeCommentsReader(http, BASE_URL))


def at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


def assert_key_hidden(error: SourceError) -> None:
    assert API_KEY not in error.reason
    assert API_KEY not in str(error)


def test_youtube_sources_are_polled_by_this_reader() -> None:
    assert READERS[SourceKind.YOUTUBE] is YouTubeCommentsReader
    assert YouTubeCommentsReader.Settings is YouTubeCommentsSettings
    assert YouTubeCommentsReader.needs_credentials


def test_settings_name_a_channel_or_videos() -> None:
    assert YouTubeCommentsSettings(video_ids=["vid1", "vid2"]).video_ids == ["vid1", "vid2"]
    with pytest.raises(ValidationError, match="either channel_id or video_ids"):
        YouTubeCommentsSettings()
    with pytest.raises(ValidationError, match="either channel_id or video_ids"):
        YouTubeCommentsSettings(channel_id=CHANNEL_ID, video_ids=["vid1"])
    with pytest.raises(ValidationError):
        YouTubeCommentsSettings(channel_id="UC x/../")


async def test_comments_are_read_across_pages_oldest_first_with_the_key_in_a_header(
    youtube: Setup,
) -> None:
    ids = [youtube.fake.comment(at(minute), f"Commento {minute}") for minute in range(1, 251)]
    page = await youtube.read()

    assert [mention.external_id for mention in page.mentions] == ids
    requests = youtube.fake.requests("read")
    assert len(requests) == 3
    first = requests[0]
    assert first.query == {
        "part": "snippet",
        "order": "time",
        "maxResults": "100",
        "textFormat": "plainText",
        "allThreadsRelatedToChannelId": CHANNEL_ID,
    }
    assert first.headers["x-goog-api-key"] == API_KEY
    assert all("key" not in seen.query for seen in requests)
    assert "pageToken" in requests[1].query
    assert page.wait_seconds is None


async def test_a_comment_becomes_a_raw_mention(youtube: Setup) -> None:
    comment_id = youtube.fake.comment(
        at(5),
        "Che vista! #vendemmia con @quercia",
        video_id="vid2",
        author="@giulia",
        author_channel="UCgiulia0000000000000000",
    )
    [mention] = (await youtube.read()).mentions

    assert mention.source is SourceKind.YOUTUBE
    assert mention.external_id == comment_id
    assert str(mention.organization_id) == SCOPE.organization_id
    assert str(mention.engagement_id) == SCOPE.engagement_id
    assert mention.text == "Che vista! #vendemmia con @quercia"
    assert (mention.author.handle, mention.author.display_name) == ("@giulia", "@giulia")
    assert mention.url == f"https://www.youtube.com/watch?v=vid2&lc={comment_id}"
    assert mention.published_at == at(5)
    assert (mention.hashtags, mention.accounts) == (["vendemmia"], ["quercia"])


async def test_a_first_read_starts_after_since_and_stops_walking_there(youtube: Setup) -> None:
    for minute in range(-250, 0):
        youtube.fake.comment(at(minute), "before the backfill")
    recent = youtube.fake.comment(at(3), "after")
    page = await youtube.read()

    assert [mention.external_id for mention in page.mentions] == [recent]
    assert len(youtube.fake.requests("read")) == 1


async def test_the_next_poll_resumes_after_the_cursor_without_duplicates_or_gaps(
    youtube: Setup,
) -> None:
    for minute in range(1, 151):
        youtube.fake.comment(at(minute))
    first = await youtube.read()
    # Posted in the same second as the newest one read, then later.
    same_second = youtube.fake.comment(at(150))
    later = [youtube.fake.comment(at(151)), youtube.fake.comment(at(152))]
    youtube.fake.seen.clear()

    second = await youtube.read(first.cursor)

    assert [mention.external_id for mention in second.mentions] == [same_second, *later]
    assert len(youtube.fake.seen) == 1
    third = await youtube.read(second.cursor)
    assert third.mentions == []
    assert third.cursor == second.cursor


async def test_a_backlog_larger_than_a_poll_is_read_over_several_polls_oldest_first(
    youtube: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_MENTIONS_PER_POLL", 150)
    ids = [youtube.fake.comment(at(minute // 3)) for minute in range(400)]

    cursor: Cursor = {}
    read: list[str] = []
    for expected in (150, 150, 100, 0):
        page = await youtube.read(cursor)
        assert len(page.mentions) == expected
        read += [mention.external_id for mention in page.mentions]
        cursor = page.cursor

    assert read == ids


async def test_each_video_keeps_its_own_cursor(youtube: Setup) -> None:
    settings = YouTubeCommentsSettings(video_ids=["vid1", "vid2"])
    youtube.fake.comment(at(1), video_id="vid1")
    youtube.fake.comment(at(9), video_id="vid2")
    first = await youtube.read(settings=settings)
    late_on_first_video = youtube.fake.comment(at(5), video_id="vid1")

    second = await youtube.read(first.cursor, settings=settings)

    assert len(first.mentions) == 2
    assert [mention.external_id for mention in second.mentions] == [late_on_first_video]
    assert {seen.query["videoId"] for seen in youtube.fake.requests("read")} == {"vid1", "vid2"}


async def test_a_spent_quota_waits_until_midnight_pacific(youtube: Setup) -> None:
    youtube.fake.fail_next("read", Fault.RATE_LIMITED)
    with pytest.raises(RateLimited) as raised:
        await youtube.read()

    expected = seconds_until_quota_reset()
    assert expected <= raised.value.retry_after <= expected + 5
    assert raised.value.page is None


def test_the_quota_resets_at_midnight_pacific_on_short_and_long_days() -> None:
    # 10:00 UTC on 3 December is 02:00 PST.
    assert seconds_until_quota_reset(datetime(2026, 12, 3, 10, tzinfo=UTC)) == 22 * 3600
    # Midnight PST on 8 March 2026, the day clocks go forward: 23 hours.
    assert seconds_until_quota_reset(datetime(2026, 3, 8, 8, tzinfo=UTC)) == 23 * 3600
    # Midnight PDT on 1 November 2026, the day clocks go back: 25 hours.
    assert seconds_until_quota_reset(datetime(2026, 11, 1, 7, tzinfo=UTC)) == 25 * 3600


async def test_a_short_term_rate_limit_waits_a_minute(youtube: Setup) -> None:
    youtube.fake.quota_reason = "rateLimitExceeded"
    youtube.fake.fail_next("read", Fault.RATE_LIMITED)
    with pytest.raises(RateLimited) as raised:
        await youtube.read()
    assert raised.value.retry_after == 60


async def test_a_limit_after_some_videos_keeps_what_they_gave(youtube: Setup) -> None:
    settings = YouTubeCommentsSettings(video_ids=["vid1", "vid2"])
    read_first = youtube.fake.comment(at(1), video_id="vid1")
    youtube.fake.comment(at(2), video_id="vid2")
    youtube.fake.fail_next("read", Fault.RATE_LIMITED, skip=1)
    with pytest.raises(RateLimited) as raised:
        await youtube.read(settings=settings)

    partial = raised.value.page
    assert partial is not None
    assert [mention.external_id for mention in partial.mentions] == [read_first]
    assert set(partial.cursor["streams"]) == {"video:vid1"}
    rest = await youtube.read(partial.cursor, settings=settings)
    assert [mention.published_at for mention in rest.mentions] == [at(2)]


async def test_a_wrong_key_is_refused_without_showing_it(youtube: Setup) -> None:
    with pytest.raises(SourceRefused) as raised:
        await youtube.read(key=SecretStr("AIzaSy-wrong-key-123"))
    assert raised.value.status == 400
    assert "AIzaSy-wrong-key-123" not in raised.value.reason


@pytest.mark.parametrize(
    ("settings", "status", "reason"),
    [
        (YouTubeCommentsSettings(channel_id="UCunknown"), 404, "channelNotFound"),
        (YouTubeCommentsSettings(video_ids=["missing"]), 404, "videoNotFound"),
        (YouTubeCommentsSettings(video_ids=[DISABLED_VIDEO]), 403, "commentsDisabled"),
    ],
)
async def test_what_youtube_refuses_names_its_reason(
    youtube: Setup, settings: YouTubeCommentsSettings, status: int, reason: str
) -> None:
    with pytest.raises(SourceRefused) as raised:
        await youtube.read(settings=settings)
    assert raised.value.status == status
    assert reason in raised.value.reason
    assert_key_hidden(raised.value)


async def test_a_server_error_is_unavailable(youtube: Setup) -> None:
    youtube.fake.fail_next("read", Fault.SERVER_ERROR)
    with pytest.raises(SourceUnavailable) as raised:
        await youtube.read()
    assert raised.value.status == 503
    assert_key_hidden(raised.value)


async def test_a_body_that_is_not_a_thread_list_is_malformed(youtube: Setup) -> None:
    youtube.fake.fail_next("read", Fault.MALFORMED)
    with pytest.raises(SourceMalformed) as raised:
        await youtube.read()
    assert_key_hidden(raised.value)


async def test_an_unreachable_api_is_unavailable_without_the_key() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        reader = YouTubeCommentsReader(http, BASE_URL)
        with pytest.raises(SourceUnavailable) as raised:
            await reader.read(SCOPE, CHANNEL, KEY, {}, SINCE)
    assert raised.value.reason == "YouTube commentThreads: ConnectError"


async def test_without_a_key_the_source_is_refused(youtube: Setup) -> None:
    with pytest.raises(SourceRefused, match="API key"):
        await youtube.reader.read(SCOPE, CHANNEL, None, {}, SINCE)
    assert youtube.fake.seen == []


@pytest.mark.parametrize("cursor", [{"streams": ["channel"]}, {"streams": {"channel": "x"}}])
async def test_an_unreadable_cursor_is_malformed(youtube: Setup, cursor: Cursor) -> None:
    with pytest.raises(SourceMalformed, match="cursor"):
        await youtube.read(cursor)

"""The X recent-search reader against the fake search API (tests/fakes/x_search.py), served in
process through ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from services.listening.contracts import Coordinates, SourceKind
from services.listening.sources import x as reader_module
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
from services.listening.sources.x import XSearchReader, XSearchSettings
from tests.fakes.common import VALID_TOKEN, Fault
from tests.fakes.x import RESET_IN_SECONDS, problem
from tests.fakes.x_search import SNOWFLAKE_EPOCH_MS, FakeXSearch

BASE_URL = "http://x.fake"
TOKEN = SecretStr(VALID_TOKEN)
SCOPE = SourceScope(source_id=str(uuid.uuid4()), organization_id=str(uuid.uuid4()))
SEARCH = XSearchSettings(query="@quercia OR #vendemmia -is:retweet")
# Recent search reaches 7 days back: the tests' posts are two days old.
SINCE = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)


@dataclass
class Setup:
    fake: FakeXSearch
    reader: XSearchReader
    author: str

    async def read(
        self, cursor: Cursor | None = None, since: datetime = SINCE, token: SecretStr = TOKEN
    ) -> Page:
        return await self.reader.read(SCOPE, SEARCH, token, cursor or {}, since)

    def posts(self, count: int, start: int = 1) -> list[str]:
        return [
            self.fake.post(self.author, f"Post {n}", at(n // 2))
            for n in range(start, start + count)
        ]


@pytest.fixture
async def x() -> AsyncIterator[Setup]:
    fake = FakeXSearch()
    author = fake.user("giulia_r", "Giulia R.", "Montepulciano, Toscana")
    transport = httpx.ASGITransport(app=fake.app)
    async with httpx.AsyncClient(transport=transport) as http:
        yield Setup(fake, XSearchReader(http, BASE_URL), author)


def at(minutes: int) -> datetime:
    return SINCE + timedelta(minutes=minutes)


def ids(page: Page) -> list[str]:
    return [mention.external_id for mention in page.mentions]


def assert_token_hidden(error: SourceError) -> None:
    assert VALID_TOKEN not in error.reason
    assert VALID_TOKEN not in str(error)


def test_x_sources_are_polled_by_this_reader() -> None:
    assert READERS[SourceKind.X] is XSearchReader
    assert XSearchReader.Settings is XSearchSettings
    assert XSearchReader.needs_credentials


def test_a_query_is_at_most_512_characters() -> None:
    XSearchSettings(query="#" + "v" * 511)
    with pytest.raises(ValidationError):
        XSearchSettings(query="#" + "v" * 512)
    with pytest.raises(ValidationError):
        XSearchSettings(query="")


async def test_posts_are_read_across_pages_oldest_first_with_the_fields_asked(x: Setup) -> None:
    posted = x.posts(250)
    page = await x.read()

    assert ids(page) == posted
    assert page.cursor == {"newest_id": posted[-1], "hole": None}
    first, second, third = x.fake.requests("read")
    assert first.query == {
        "query": SEARCH.query,
        "max_results": "100",
        "tweet.fields": "created_at,lang,geo,entities,author_id",
        "expansions": "author_id",
        "user.fields": "username,name,location",
        "start_time": SINCE.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert first.headers["authorization"] == f"Bearer {VALID_TOKEN}"
    assert "next_token" in second.query
    assert "next_token" in third.query
    assert page.wait_seconds is None


async def test_a_post_becomes_a_raw_mention(x: Setup) -> None:
    post_id = x.fake.post(
        x.author,
        "Vendemmia alla @quercia #vendemmia #toscana",
        at(3),
        hashtags=("vendemmia", "toscana"),
        mentions=("quercia",),
        point=(11.78, 43.09),
    )
    [mention] = (await x.read()).mentions

    assert mention.source is SourceKind.X
    assert mention.external_id == post_id
    assert str(mention.organization_id) == SCOPE.organization_id
    assert mention.engagement_id is None
    assert mention.author.handle == "giulia_r"
    assert mention.author.display_name == "Giulia R."
    assert mention.author.profile_location == "Montepulciano, Toscana"
    assert mention.url == f"https://x.com/giulia_r/status/{post_id}"
    assert mention.published_at == at(3)
    assert mention.language == "it"
    assert mention.hashtags == ["vendemmia", "toscana"]
    assert mention.accounts == ["quercia"]
    assert mention.coordinates == Coordinates(latitude=43.09, longitude=11.78)


async def test_a_post_without_a_language_or_point_has_none(x: Setup) -> None:
    x.fake.post(x.author, "🍇🍷", at(1), lang="und")
    [mention] = (await x.read()).mentions
    assert mention.language is None
    assert mention.coordinates is None
    assert mention.hashtags == []


async def test_a_first_read_starts_at_since_within_the_last_seven_days(x: Setup) -> None:
    x.fake.post(x.author, "before", at(-10))
    after = x.fake.post(x.author, "after", at(10))
    assert ids(await x.read()) == [after]

    x.fake.seen.clear()
    long_ago = datetime.now(UTC) - timedelta(days=30)
    assert len((await x.read(since=long_ago)).mentions) == 2
    [seen] = x.fake.requests("read")
    start = datetime.fromisoformat(seen.query["start_time"])
    assert start > datetime.now(UTC) - timedelta(days=7)


async def test_the_next_poll_asks_since_the_newest_post_without_duplicates_or_gaps(
    x: Setup,
) -> None:
    x.posts(30)
    first = await x.read()
    later = x.posts(5, start=31)
    x.fake.seen.clear()

    second = await x.read(first.cursor)

    assert ids(second) == later
    [seen] = x.fake.requests("read")
    assert seen.query["since_id"] == first.cursor["newest_id"]
    assert "start_time" not in seen.query
    third = await x.read(second.cursor)
    assert third.mentions == []
    assert third.cursor == second.cursor


async def test_a_backlog_larger_than_a_poll_is_read_once_over_several_polls(
    x: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reader_module, "MAX_MENTIONS_PER_POLL", 150)
    posted = x.posts(400)

    cursor: Cursor = {}
    read: list[str] = []
    for poll in range(4):
        page = await x.read(cursor)
        assert len(page.mentions) == 100
        assert ids(page) == sorted(ids(page), key=int)
        read += ids(page)
        cursor = page.cursor
        if poll == 0:
            # Posted while the backlog is read: read once the backlog is done.
            newer = x.posts(3, start=401)
    assert cursor == {"newest_id": posted[-1], "hole": None}
    assert ids(await x.read(cursor)) == newer
    assert sorted(read, key=int) == posted


async def test_a_rate_limited_search_waits_until_the_reset(x: Setup) -> None:
    x.fake.fail_next("read", Fault.RATE_LIMITED)
    with pytest.raises(RateLimited) as raised:
        await x.read()
    assert RESET_IN_SECONDS - 5 <= raised.value.retry_after <= RESET_IN_SECONDS
    assert raised.value.page is None


async def test_a_limit_in_the_middle_of_a_poll_keeps_what_was_read(x: Setup) -> None:
    posted = x.posts(250)
    x.fake.fail_next("read", Fault.RATE_LIMITED, skip=1)
    with pytest.raises(RateLimited) as raised:
        await x.read()

    partial = raised.value.page
    assert partial is not None
    assert ids(partial) == posted[150:]
    rest = await x.read(partial.cursor)
    assert ids(rest) == posted[:150]
    assert rest.cursor == {"newest_id": posted[-1], "hole": None}


async def test_the_last_request_allowed_says_how_long_to_wait(x: Setup) -> None:
    posted = x.posts(250)
    x.fake.remaining = 1
    page = await x.read()

    assert ids(page) == posted[150:]
    assert page.wait_seconds is not None
    assert RESET_IN_SECONDS - 5 <= page.wait_seconds <= RESET_IN_SECONDS
    assert len(x.fake.requests("read")) == 1
    with pytest.raises(RateLimited):
        await x.read(page.cursor)
    x.fake.remaining = 450
    rest = await x.read(page.cursor)
    assert ids(rest) == posted[:150]


async def test_a_wrong_token_is_refused_without_showing_it(x: Setup) -> None:
    with pytest.raises(SourceRefused) as raised:
        await x.read(token=SecretStr("x-app-bearer-wrong"))
    assert raised.value.status == 401
    assert "x-app-bearer-wrong" not in raised.value.reason
    assert raised.value.reason == "X recent search: HTTP 401 Unauthorized"


async def test_a_forbidden_app_is_refused(x: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    forbidden = problem(
        403,
        "Client Forbidden",
        "This request must be made using an approved developer account.",
        "https://api.twitter.com/2/problems/client-forbidden",
    )
    monkeypatch.setattr(x.fake, "expired_token", lambda: forbidden)
    x.fake.fail_next("read", Fault.EXPIRED_TOKEN)
    with pytest.raises(SourceRefused) as raised:
        await x.read()
    assert raised.value.status == 403
    assert "Client Forbidden" in raised.value.reason
    assert_token_hidden(raised.value)


async def test_a_server_error_is_unavailable(x: Setup) -> None:
    x.fake.fail_next("read", Fault.SERVER_ERROR)
    with pytest.raises(SourceUnavailable) as raised:
        await x.read()
    assert raised.value.status == 503
    assert_token_hidden(raised.value)


async def test_a_body_that_is_not_a_search_result_is_malformed(x: Setup) -> None:
    x.fake.fail_next("read", Fault.MALFORMED)
    with pytest.raises(SourceMalformed) as raised:
        await x.read()
    assert_token_hidden(raised.value)


async def test_an_unreadable_cursor_is_malformed(x: Setup) -> None:
    with pytest.raises(SourceMalformed, match="cursor"):
        await x.read({"newest_id": ["not", "an", "id"]})


async def test_without_a_token_the_source_is_refused(x: Setup) -> None:
    with pytest.raises(SourceRefused, match="bearer token"):
        await x.reader.read(SCOPE, SEARCH, None, {}, SINCE)
    assert x.fake.seen == []


def snowflake(moment: datetime) -> str:
    return str((int(moment.timestamp() * 1000) - SNOWFLAKE_EPOCH_MS) << 22)


async def test_a_cursor_older_than_recent_search_reaches_asks_from_seven_days_ago(
    x: Setup,
) -> None:
    recent = x.fake.post(x.author, "back again", at(1))
    ten_days_ago = snowflake(datetime.now(UTC) - timedelta(days=10))
    stale_hole = {
        "since_id": ten_days_ago,
        "until_id": snowflake(datetime.now(UTC) - timedelta(days=9)),
    }

    page = await x.read({"newest_id": ten_days_ago, "hole": stale_hole})

    assert ids(page) == [recent]
    assert page.cursor == {"newest_id": recent, "hole": None}
    [seen] = x.fake.requests("read")
    assert "since_id" not in seen.query
    assert "until_id" not in seen.query
    assert datetime.fromisoformat(seen.query["start_time"]) > datetime.now(UTC) - timedelta(days=7)

"""The Mastodon reader against a local instance (tests/fakes/mastodon_timelines.py), asked
through safe_fetch over real HTTP on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from services.listening.contracts import SourceKind
from services.listening.sources import mastodon
from services.listening.sources.mastodon import MastodonReader, MastodonSettings
from services.listening.sources.readers import (
    Cursor,
    Page,
    RateLimited,
    SourceRefused,
    SourceScope,
)
from services.listening.sources.registry import READERS
from tests.fakes.common import VALID_TOKEN, serve
from tests.fakes.mastodon_timelines import RESET_IN_SECONDS, FakeTimelines

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
TOKEN = SecretStr(VALID_TOKEN)


@dataclass
class Instance:
    fake: FakeTimelines
    base_url: str
    reader: MastodonReader
    scope: SourceScope

    async def read(
        self,
        cursor: Cursor | None = None,
        *,
        since: datetime = LONG_AGO,
        token: SecretStr = TOKEN,
        **settings: Any,
    ) -> Page:
        config = MastodonSettings.model_validate(
            {"instance_url": self.base_url, "hashtags": ["vendemmia"], **settings}
        )
        return await self.reader.read(self.scope, config, token, cursor or {}, since)


@asynccontextmanager
async def instance() -> AsyncIterator[Instance]:
    fake = FakeTimelines()
    async with serve(fake.app) as base_url, httpx.AsyncClient() as http:
        scope = SourceScope(source_id=str(uuid.uuid4()), organization_id=str(uuid.uuid4()))
        yield Instance(fake, base_url, MastodonReader(http, None, allow_loopback=True), scope)


def ids(page: Page) -> list[str]:
    return [mention.external_id.rsplit("/", 1)[-1] for mention in page.mentions]


def posted_ids(fake: FakeTimelines) -> list[str]:
    return [status["id"] for status in fake.statuses]


async def test_a_status_becomes_a_mention_with_its_text_tags_and_accounts() -> None:
    async with instance() as case:
        status = case.fake.post(
            "Vendemmia alla Quercia!\n\nFoto: https://laquercia.example/foto",
            tags=("vendemmia",),
            mentions=("quercia",),
            acct="marco@other.example",
        )
        [mention] = (await case.read()).mentions

    assert mention.source is SourceKind.MASTODON
    assert mention.external_id == status["uri"]
    assert mention.url == status["url"]
    assert mention.text == (
        "Vendemmia alla Quercia!\nFoto: https://laquercia.example/foto #vendemmia"
    )
    assert mention.author.handle == "marco@other.example"
    assert mention.author.display_name == "Marco@Other.Example"
    assert mention.hashtags == ["vendemmia"]
    assert mention.accounts == ["quercia"]
    assert mention.language == "it"
    assert mention.published_at == datetime.fromisoformat(status["created_at"])


async def test_a_local_account_is_named_with_the_instances_host() -> None:
    async with instance() as case:
        case.fake.post("ciao", tags=("vendemmia",), acct="giulia")
        [mention] = (await case.read()).mentions
    assert mention.author.handle == "giulia@127.0.0.1"


async def test_a_first_read_pages_backwards_over_more_than_forty_statuses() -> None:
    async with instance() as case:
        for number in range(95):
            case.fake.post(f"post {number}", tags=("vendemmia",))
        case.fake.post("another topic", tags=("olio",))
        page = await case.read()

        requests = case.fake.requests("/api/v1/timelines/tag/vendemmia")
    tagged = [s["id"] for s in case.fake.statuses if s["tags"][0]["name"] == "vendemmia"]
    assert ids(page) == tagged
    assert page.cursor == {"tag:vendemmia": {"newest": tagged[-1]}}
    assert [r.query.get("max_id") for r in requests] == [
        None,
        [tagged[55]],
        [tagged[15]],
        [tagged[0]],
    ]
    assert all(r.query["limit"] == ["40"] for r in requests)


async def test_a_read_after_a_gap_of_a_hundred_statuses_misses_none_and_repeats_none() -> None:
    async with instance() as case:
        for number in range(10):
            case.fake.post(f"before {number}", tags=("vendemmia",))
        first = await case.read()
        for number in range(100):
            case.fake.post(f"during {number}", tags=("vendemmia",))
        case.fake.seen.clear()
        second = await case.read(first.cursor)
        third = await case.read(second.cursor)

        forward = [r.query.get("min_id") for r in case.fake.requests("/api/v1/timelines")]
    everything = posted_ids(case.fake)
    assert ids(first) == everything[:10]
    assert ids(second) == everything[10:]
    assert third.mentions == []
    # Forward from the cursor, a page of 40 after another, until a page is not full.
    assert forward[:3] == [[everything[9]], [everything[49]], [everything[89]]]
    assert second.cursor["tag:vendemmia"] == {"newest": everything[-1]}


async def test_a_poll_reads_at_most_its_share_and_the_next_goes_on_from_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mastodon, "MAX_MENTIONS_PER_POLL", 30)
    async with instance() as case:
        for number in range(50):
            case.fake.post(f"old {number}", tags=("vendemmia",))
        backfill = [await case.read()]
        while backfill[-1].cursor["tag:vendemmia"].get("backfill_before"):
            backfill.append(await case.read(backfill[-1].cursor))
        for number in range(70):
            case.fake.post(f"new {number}", tags=("vendemmia",))
        forward = [await case.read(backfill[-1].cursor)]
        while forward[-1].mentions:
            forward.append(await case.read(forward[-1].cursor))

    everything = posted_ids(case.fake)
    assert [len(page.mentions) for page in backfill] == [30, 20]
    assert sorted(i for page in backfill for i in ids(page)) == everything[:50]
    assert [len(page.mentions) for page in forward] == [30, 30, 10, 0]
    assert [i for page in forward for i in ids(page)] == everything[50:]


async def test_the_backfill_stops_at_since() -> None:
    async with instance() as case:
        start = case.fake.started
        for day in range(10):
            case.fake.post(f"day {day}", tags=("vendemmia",), at=start + timedelta(days=day))
        page = await case.read(since=start + timedelta(days=7))
    assert [m.text.split(" #")[0] for m in page.mentions] == ["day 7", "day 8", "day 9"]


async def test_the_accounts_mentions_are_read_from_its_notifications() -> None:
    async with instance() as case:
        case.fake.post("not about us", tags=("olio",))
        mentioned = case.fake.mention("grazie per la cena", tags=("vendemmia",))
        first = await case.read(mentions_of_account=True)
        later = case.fake.mention("torneremo")
        second = await case.read(first.cursor, mentions_of_account=True)

        [asked, *_] = case.fake.requests("/api/v1/notifications")
    # The status mentioning us is also in #vendemmia: read once.
    assert [m.external_id for m in first.mentions] == [mentioned["uri"]]
    assert asked.query["types[]"] == ["mention"]
    assert first.cursor["notifications"] == {"newest": "1"}
    assert [m.external_id for m in second.mentions] == [later["uri"]]
    assert second.mentions[0].text == "@quercia torneremo"


async def test_mentions_alone_need_no_hashtag() -> None:
    async with instance() as case:
        case.fake.mention("ciao")
        page = await case.read(hashtags=[], mentions_of_account=True)
    assert len(page.mentions) == 1
    assert set(page.cursor) == {"notifications"}


async def test_a_refused_token_is_refused_and_the_reason_does_not_show_it() -> None:
    async with instance() as case:
        case.fake.post("x", tags=("vendemmia",))
        with pytest.raises(SourceRefused) as refused:
            await case.read(token=SecretStr("revoked-secret-token"))

        [seen] = case.fake.seen
    assert refused.value.reason == "#vendemmia timeline: HTTP 401"
    assert refused.value.status == 401
    assert seen.headers["authorization"] == "Bearer revoked-secret-token"
    assert all("revoked" not in value for values in seen.query.values() for value in values)


async def test_the_token_travels_only_in_the_authorization_header() -> None:
    async with instance() as case:
        await case.read(mentions_of_account=True)
        seen = case.fake.seen
    assert {r.headers["authorization"] for r in seen} == {f"Bearer {VALID_TOKEN}"}
    assert all(VALID_TOKEN not in str(r.query) for r in seen)


async def test_a_429_asks_to_wait_until_the_reset_and_keeps_what_was_read() -> None:
    async with instance() as case:
        for number in range(60):
            case.fake.post(f"post {number}", tags=("vendemmia",))
        case.fake.throttled_after = 1
        with pytest.raises(RateLimited) as limited:
            await case.read()

    assert RESET_IN_SECONDS - 5 <= limited.value.retry_after <= RESET_IN_SECONDS
    page = limited.value.page
    assert page is not None
    everything = posted_ids(case.fake)
    assert ids(page) == everything[20:]
    assert page.cursor == {
        "tag:vendemmia": {"newest": everything[-1], "backfill_before": everything[20]}
    }


async def test_an_exhausted_budget_sets_the_wait_and_stops_asking() -> None:
    async with instance() as case:
        for number in range(60):
            case.fake.post(f"post {number}", tags=("vendemmia",), mentions=("quercia",))
        case.fake.rate_limit_remaining = 1
        page = await case.read(mentions_of_account=True)

        asked = len(case.fake.seen)
    assert asked == 1
    assert len(page.mentions) == 40
    assert page.wait_seconds is not None
    assert RESET_IN_SECONDS - 5 <= page.wait_seconds <= RESET_IN_SECONDS
    # The rest of the backfill and the mentions are read on the next poll.
    assert page.cursor["tag:vendemmia"]["backfill_before"] == case.fake.statuses[20]["id"]
    assert page.cursor["notifications"] == {}


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://10.0.0.1", "private"), ("http://169.254.169.254", "metadata")],
)
async def test_an_instance_at_a_private_address_is_refused(url: str, reason: str) -> None:
    async with httpx.AsyncClient() as http:
        reader = MastodonReader(http, None)
        config = MastodonSettings.model_validate({"instance_url": url, "hashtags": ["x"]})
        scope = SourceScope(source_id="s", organization_id=str(uuid.uuid4()))
        with pytest.raises(SourceRefused) as refused:
            await reader.read(scope, config, TOKEN, {}, LONG_AGO)
    assert refused.value.reason == f"#x timeline: the URL is refused ({reason})"


async def test_a_source_without_a_token_is_refused() -> None:
    async with instance() as case:
        with pytest.raises(SourceRefused, match="no access token"):
            await case.reader.read(
                case.scope,
                MastodonSettings.model_validate({"instance_url": case.base_url, "hashtags": ["a"]}),
                None,
                {},
                LONG_AGO,
            )


def test_settings_need_a_hashtag_or_the_mentions() -> None:
    with pytest.raises(ValidationError, match="mentions_of_account"):
        MastodonSettings.model_validate({"instance_url": "https://mastodon.social"})
    settings = MastodonSettings.model_validate(
        {"instance_url": "https://mastodon.social", "hashtags": ["#Vendemmia", "vendemmia", "olio"]}
    )
    assert settings.hashtags == ["vendemmia", "olio"]
    with pytest.raises(ValidationError):
        MastodonSettings.model_validate(
            {"instance_url": "https://mastodon.social", "hashtags": ["not a tag"]}
        )


def test_the_registry_polls_mastodon_sources_with_this_reader() -> None:
    assert READERS[SourceKind.MASTODON] is MastodonReader
    assert MastodonReader.needs_credentials

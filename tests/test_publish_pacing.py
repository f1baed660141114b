"""Each account's posts wait for its rate limit on the publisher worker (``pacing.py``) instead of
being sent to be refused: after a 429 with ``Retry-After`` nothing more of that account is sent
before it, while another account's posts go on; where the platform tells its budget
(``X-RateLimit-*``) the posts are paced to stay within it; a wait longer than the caller can
afford is answered at once; end to end through the batches, posts over a tight sandbox limit
are published once each without a refusal. And the claim a post's turn leads to, in one
statement when the post is waiting, decided by the row when it is not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.publish_posts import connect, schedule
from benchmarks.publish_sandbox import Account
from services.publisher.connectors.base import Credentials, PublishRequest, RetryableError
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.models import Connection, Publication
from services.publisher.pacing import AccountPacer, WaitTooLongError
from services.publisher.publishing import PostMovedError, Publisher, PublishFailedError
from services.sandbox.limits import TokenBucket
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.media_links import MediaLinks
from shared.rate_limits import rate_budget
from shared.settings import Settings
from tests.conftest import Platform
from tests.publisher_helpers import SandboxAccount, connect_sandbox, settled
from tests.publisher_helpers import schedule as schedule_through_the_api
from tests.test_publisher_tokens import new_key, vault_of
from tests.test_thin_thread import create_org

CREDENTIALS = Credentials(access_token="token")


@dataclass
class FakePlatform:
    """Answers each account's posts as ``answer`` says; notes when each request arrived."""

    answer: Callable[[str, float], httpx.Response]
    sent: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def handle(self, request: httpx.Request) -> httpx.Response:
        account = request.url.path.split("/")[3]
        now = time.monotonic()
        response = self.answer(account, now)
        self.sent.setdefault(account, []).append((now, response.status_code))
        return response

    def connector(self) -> SandboxConnector:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))
        return SandboxConnector("http://sandbox.test", http=http)


def created(account: str, number: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        201,
        headers=headers,
        json={
            "id": f"{account}-{number}",
            "account_id": account,
            "text": "hello",
            "title": None,
            "link": None,
            "media": [],
            "tags": [],
            "idempotency_key": None,
            "url": f"http://sandbox.test/{account}/{number}",
            "created_at": datetime.now(UTC).isoformat(),
        },
    )


def request(account: str, number: int) -> PublishRequest:
    return PublishRequest(
        idempotency_key=f"{account}-{number}", channel=Channel.SANDBOX, account_id=account
    )


async def publish_paced(
    pacer: AccountPacer, connector: SandboxConnector, account: str, number: int
) -> int:
    """Publish one post in its account's turns, trying again after each refusal as its batch
    would; the number of refusals it met."""
    refused = 0
    while True:
        async with pacer.turn(account, longest=30):
            try:
                await connector.publish(CREDENTIALS, request(account, number))
                return refused
            except RetryableError:
                refused += 1


async def test_after_a_refusal_nothing_of_that_account_is_sent_before_its_retry_after() -> None:
    refused_at: list[float] = []

    def answer(account: str, now: float) -> httpx.Response:
        if account == "slow" and not refused_at:
            refused_at.append(now)
            return httpx.Response(429, headers={"Retry-After": "1"}, json={"title": "slow down"})
        return created(account, int(now * 1e6))

    platform = FakePlatform(answer)
    connector = platform.connector()
    pacer = AccountPacer()
    refusals = await asyncio.gather(
        *(publish_paced(pacer, connector, "slow", number) for number in range(6)),
        *(publish_paced(pacer, connector, "other", number) for number in range(6)),
    )

    assert sum(refusals) == 1, "only the first post of the account was refused"
    slow = platform.sent["slow"]
    assert [status for _, status in slow].count(201) == 6
    refusal = refused_at[0]
    assert all(sent >= refusal + 1.0 for sent, _ in slow[1:]), (
        "nothing of the refused account sent before its Retry-After",
        [round(sent - refusal, 3) for sent, _ in slow],
    )
    other = platform.sent["other"]
    assert [status for _, status in other] == [201] * 6
    assert max(sent for sent, _ in other) < refusal + 1.0, "the other account went on meanwhile"


async def test_posts_are_paced_within_the_budget_the_platform_tells() -> None:
    """A token bucket per account (the sandbox's own), its X-RateLimit-* headers on every answer:
    more posts than its burst are all published with no refusal."""
    buckets = {name: TokenBucket(rate_per_second=20, burst=5, now=time.time()) for name in "ab"}

    def answer(account: str, now: float) -> httpx.Response:
        decision = buckets[account].take(time.time())
        if not decision.allowed:
            return httpx.Response(429, headers=decision.headers(), json={"title": "slow down"})
        return created(account, int(now * 1e6), decision.headers())

    platform = FakePlatform(answer)
    connector = platform.connector()
    pacer = AccountPacer()
    started = time.monotonic()
    refusals = await asyncio.gather(
        *(publish_paced(pacer, connector, name, number) for name in "ab" for number in range(25))
    )

    assert sum(refusals) == 0, platform.sent
    for name in "ab":
        assert [status for _, status in platform.sent[name]] == [201] * 25
    # 25 posts over a burst of 5 refilled at 20/s take at least a second at the platform's pace.
    assert time.monotonic() - started >= 1.0


async def test_an_answer_without_budget_headers_after_a_spent_budget_holds_nothing() -> None:
    """The first answer spends the budget (reset in a second); the next, after the reset, tells
    no budget (a proxy's page): the posts behind it are not left waiting for a word that will
    not come."""
    answers = 0

    def answer(account: str, now: float) -> httpx.Response:
        nonlocal answers
        answers += 1
        if answers == 1:
            budget = {"RateLimit-Limit": "1", "RateLimit-Remaining": "0", "RateLimit-Reset": "1"}
            return created(account, answers, budget)
        return created(account, answers)

    platform = FakePlatform(answer)
    connector = platform.connector()
    pacer = AccountPacer()
    started = time.monotonic()
    refusals = await asyncio.gather(
        *(publish_paced(pacer, connector, "quiet", number) for number in range(4))
    )
    assert refusals == [0, 0, 0, 0]
    assert [status for _, status in platform.sent["quiet"]] == [201] * 4
    assert 1.0 <= time.monotonic() - started < 5.0, "waited for the reset, and no longer"


async def test_a_wait_longer_than_the_caller_can_afford_is_answered_at_once() -> None:
    def answer(account: str, now: float) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "600"}, json={"title": "quota"})

    connector = FakePlatform(answer).connector()
    pacer = AccountPacer()
    async with pacer.turn("quota", longest=30):
        with pytest.raises(RetryableError):
            await connector.publish(CREDENTIALS, request("quota", 1))

    started = time.monotonic()
    with pytest.raises(WaitTooLongError) as waiting:
        async with pacer.turn("quota", longest=30):
            pytest.fail("no turn within the Retry-After")
    assert time.monotonic() - started < 0.5
    assert 590 < waiting.value.retry_after <= 600
    # Another account is not held by it.
    async with pacer.turn("elsewhere", longest=0):
        pass


async def test_a_post_cancelled_while_it_waits_leaves_the_next_its_turn() -> None:
    """The first answer tells the budget, so a second post waits for it; cancelled meanwhile
    (its batch's activity cancelled), it takes nothing from the posts behind it."""
    pacer = AccountPacer()
    first = pacer.turn("account", longest=5)
    await first.__aenter__()
    cancelled = asyncio.create_task(_take_a_turn(pacer))
    behind = asyncio.create_task(_take_a_turn(pacer))
    await asyncio.sleep(0.05)
    assert not cancelled.done(), "waiting for the first answer"
    assert not behind.done(), "waiting for the first answer"
    cancelled.cancel()
    await first.__aexit__(None, None, None)
    assert await asyncio.wait_for(behind, timeout=1) == "sent"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def _take_a_turn(pacer: AccountPacer) -> str:
    async with pacer.turn("account", longest=5):
        return "sent"


def test_budget_headers_of_each_platform_are_read() -> None:
    now = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    x = rate_budget(
        {
            "x-rate-limit-limit": "100",
            "x-rate-limit-remaining": "7",
            "x-rate-limit-reset": str(int(now.timestamp()) + 90),
        },
        now,
    )
    assert x is not None
    assert (x.limit, x.remaining, x.reset_seconds) == (100, 7, 90)
    mastodon = rate_budget(
        {
            "x-ratelimit-limit": "300",
            "x-ratelimit-remaining": "0",
            "x-ratelimit-reset": "2026-12-04T09:05:00.000Z",
        },
        now,
    )
    assert mastodon is not None
    assert (mastodon.remaining, mastodon.reset_seconds) == (0, 300)
    assert rate_budget({"x-ratelimit-remaining": "3"}, now) is None, "a partial budget"
    assert (
        rate_budget(
            {"x-ratelimit-limit": "²", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "5"}, now
        )
        is None
    )
    assert rate_budget({}, now) is None


async def test_posts_over_a_tight_sandbox_limit_are_published_once_without_refusals(
    platform: Platform, account: SandboxAccount, sandbox: httpx.AsyncClient
) -> None:
    other = await connect_sandbox(platform, sandbox, await create_org(platform, "Frantoio"))
    await account.approved_variant(platform)
    await other.approved_variant(platform)
    before = (await sandbox.get("/sandbox/stats")).json()["rejected_rate_limited"]
    await account.faults(rate_limit_per_second=2, rate_limit_burst=2)
    try:
        posts = [await schedule_through_the_api(platform, account, in_seconds=3) for _ in range(8)]
        others = [await schedule_through_the_api(platform, other, in_seconds=3) for _ in range(2)]
        done = [await settled(platform, post["id"], timeout=60) for post in posts + others]
    finally:
        await account.faults(rate_limit_per_second=1000, rate_limit_burst=1000)

    assert [post["status"] for post in done] == ["published"] * 10, done
    assert all(post["attempts"] == 1 for post in done), "none refused and tried again"
    after = (await sandbox.get("/sandbox/stats")).json()["rejected_rate_limited"]
    assert after == before, "the sandbox refused none"
    for post in posts:
        assert len(await account.posts(post["idempotency_key"])) == 1
    published = sorted(datetime.fromisoformat(post["published_at"]) for post in done[:8])
    # Two at once, then two a second: the last of eight at least two seconds after the first.
    assert (published[-1] - published[0]).total_seconds() >= 2.0
    other_published = max(datetime.fromisoformat(post["published_at"]) for post in done[8:])
    assert other_published < published[-1], "the other account did not wait for this one"


async def test_the_claim_takes_only_a_waiting_post_due_when_its_batch_holds_it(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The claim in one statement (``repository.claim_waiting``) and the reading it falls back
    to: a waiting post is claimed and published once; a moved, a settled and a post whose token
    no key reads are decided by the row, and the last asks for re-authorisation."""
    vault = vault_of(new_key())
    account = Account("claimed", Credentials(access_token="token"))
    organization_id, [connection_id] = await connect(sessions, vault, [account])
    waiting, moved, unreadable = await schedule(
        sessions, settings, organization_id, [connection_id], 3
    )
    platform = FakePlatform(lambda name, now: created(name, int(now * 1e6)))
    connector = platform.connector()
    publisher = Publisher(sessions, vault, lambda _: connector, MediaLinks.from_settings(settings))

    outcome = await publisher.publish(waiting.id, due_at=waiting.due_at)
    assert outcome.status == "published"
    again = await publisher.publish(waiting.id, due_at=waiting.due_at)
    assert again.platform_post_id == outcome.platform_post_id, "settled: not sent again"
    with pytest.raises(PostMovedError):
        await publisher.publish(moved.id, due_at=moved.due_at + timedelta(seconds=1))
    assert len(platform.sent["claimed"]) == 1

    other_keys = Publisher(
        sessions, vault_of(new_key()), lambda _: connector, MediaLinks.from_settings(settings)
    )
    with pytest.raises(PublishFailedError) as failed:
        await other_keys.publish(unreadable.id, due_at=unreadable.due_at)
    assert failed.value.failure_class == "auth"
    async with session_scope(sessions, SYSTEM) as session:
        rows = {
            publication.id: publication
            for publication in await session.scalars(
                select(Publication).where(Publication.organization_id == organization_id)
            )
        }
        connection = await session.get(Connection, connection_id)
    assert (rows[waiting.id].status, rows[waiting.id].attempts) == ("published", 1)
    assert (rows[moved.id].status, rows[moved.id].attempts) == ("scheduled", 0)
    assert (rows[unreadable.id].status, rows[unreadable.id].attempts) == ("failed", 0)
    assert connection is not None
    assert connection.status == "needs_reauth"
    assert len(platform.sent["claimed"]) == 1, "nothing sent with an unreadable token"

"""The publisher reads a connected channel's comments and mentions for listening
(``publisher.read_conversations``), run as an activity against a real sandbox whose clock the
test moves: what arrives after a post, reads that resume where the last one ended, and the
failures a listening workflow must tell apart."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from services.publisher import connections
from services.publisher.activities import PublisherActivities
from services.publisher.connectors.base import Connector, Credentials, PublishRequest
from services.publisher.connectors.registry import connector_for
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.contracts import (
    ConversationsRead,
    PlatformConversation,
    ReadConversations,
)
from services.publisher.crypto import TokenVault
from services.publisher.models import Connection
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Channel
from shared.media_links import MediaLinks
from shared.settings import Settings
from tests.test_sandbox_server import REDIRECT_URI, FakeClock, running_sandbox, sandbox_settings

# Long-lived tokens: the test moves the sandbox's clock by simulated days.
TOKEN_TTL_SECONDS = 10**7


@dataclass
class Listened:
    """A sandbox with a clock the test moves, an account of it connected to an organisation,
    and the publisher's activities reading through a connector pointed at that sandbox."""

    clock: FakeClock
    admin: httpx.AsyncClient
    connector: SandboxConnector
    activities: PublisherActivities
    sessions: async_sessionmaker[AsyncSession]
    vault: TokenVault
    organization_id: uuid.UUID
    connection_id: uuid.UUID
    account_id: str
    credentials: Credentials

    async def publish(self, text: str) -> str:
        request = PublishRequest(
            idempotency_key=f"{uuid.uuid4()}:sandbox",
            channel=Channel.SANDBOX,
            account_id=self.account_id,
            text=text,
        )
        result = await self.connector.publish(self.credentials, request)
        return result.platform_post_id

    async def read(
        self, since: datetime | None = None, limit: int = 200, **fields: Any
    ) -> ConversationsRead:
        command = ReadConversations(
            organization_id=fields.pop("organization_id", self.organization_id),
            connection_id=fields.pop("connection_id", self.connection_id),
            since=since,
            limit=limit,
        )
        read: ConversationsRead = await ActivityEnvironment().run(
            self.activities.read_conversations, command
        )
        return read

    async def refused(self, **fields: Any) -> ApplicationError:
        with pytest.raises(ApplicationError) as raised:
            await self.read(**fields)
        return raised.value

    async def connection(self) -> Connection:
        async with session_scope(self.sessions, SYSTEM) as session:
            found = await session.get(Connection, self.connection_id)
        assert found is not None
        return found

    async def faults(self, **body: Any) -> None:
        answer = await self.admin.post("/sandbox/faults", json=body)
        assert answer.status_code == 200, answer.text


async def store(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    organization_id: uuid.UUID,
    channel: Channel,
    account_id: str,
    credentials: Credentials,
) -> uuid.UUID:
    async with session_scope(sessions, SYSTEM) as session:
        connection = await connections.store_connection(
            session,
            organization_id=organization_id,
            channel=channel.value,
            account_id=account_id,
            display_name=None,
            credentials=credentials,
            vault=vault,
            connected_by="tester",
        )
        return connection.id


@asynccontextmanager
async def listened(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession], **sandbox: Any
) -> AsyncIterator[Listened]:
    clock = FakeClock()
    # The connector keeps to posts of the last 30 days by the real clock: start there.
    clock.now = datetime.now(UTC)
    sandbox_config = sandbox_settings(
        tmp_path, access_token_ttl_seconds=TOKEN_TTL_SECONDS, **sandbox
    )
    async with (
        running_sandbox(sandbox_config, clock) as base_url,
        httpx.AsyncClient(base_url=base_url, trust_env=False) as admin,
        httpx.AsyncClient(trust_env=False) as http,
    ):
        connector = SandboxConnector(base_url, http=http)
        account = await admin.post("/v1/accounts", json={"name": "Cantina del Poggio"})
        redirect = await admin.get(connector.authorize_url(REDIRECT_URI, "s", account.json()["id"]))
        code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
        account_id, credentials = await connector.exchange_code(code, REDIRECT_URI)

        def connectors(channel: str) -> Connector:
            if channel == Channel.SANDBOX.value:
                return connector
            return connector_for(Channel(channel), http, settings)

        vault = TokenVault(settings.publisher)
        organization_id = uuid.uuid4()
        connection_id = await store(
            sessions, vault, organization_id, Channel.SANDBOX, account_id, credentials
        )
        activities = PublisherActivities(
            sessions, vault, connectors, MediaLinks.from_settings(settings)
        )
        yield Listened(
            clock,
            admin,
            connector,
            activities,
            sessions,
            vault,
            organization_id,
            connection_id,
            account_id,
            credentials,
        )


def created(read: ConversationsRead) -> list[datetime]:
    return [item.created_at for item in read.conversations]


async def everything(rig: Listened) -> list[PlatformConversation]:
    whole = await rig.read(limit=1000)
    assert len(whole.conversations) < 1000, "the whole history fits one read"
    return whole.conversations


async def test_comments_and_mentions_arrive_and_a_read_from_newest_returns_only_newer(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        nothing_yet = await rig.read()
        assert nothing_yet.conversations == []
        assert nothing_yet.newest is None
        posts = [await rig.publish(f"Vendemmia, giorno {day}") for day in (1, 2, 3)]
        rig.clock.advance(minutes=20)  # 20 simulated hours

        first = await rig.read()

        assert first.channel == "sandbox"
        assert first.account_handle
        kinds = {item.kind for item in first.conversations}
        assert kinds == {"comment", "mention"}, "comments on the posts and mentions arrived"
        assert created(first) == sorted(created(first)), "oldest first"
        assert first.newest == first.conversations[-1].created_at
        assert first.retry_after is None
        for item in first.conversations:
            assert "simulated_sentiment" not in item.model_dump()
            assert item.author_id
            assert item.author_handle
            assert item.text
            assert item.language in ("it", "en")
            if item.kind == "comment":
                assert item.post_external_id in posts
            else:
                assert item.post_external_id is None

        rig.clock.advance(minutes=20)
        second = await rig.read(since=first.newest)

        assert second.conversations, "more came since"
        assert all(moment > first.conversations[-1].created_at for moment in created(second))
        seen = {item.external_id for item in first.conversations}
        assert seen.isdisjoint(item.external_id for item in second.conversations)
        assert first.conversations + second.conversations == await everything(rig)

        rig.clock.advance(seconds=1)
        quiet = await rig.read(since=second.newest)
        if not quiet.conversations:
            assert quiet.newest == second.newest, "an empty read keeps the request's since"


async def test_a_limited_read_resumes_from_newest_and_loses_nothing(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        for day in (1, 2):
            await rig.publish(f"Frantoio aperto, giorno {day}")
        rig.clock.advance(minutes=30)
        whole = await everything(rig)
        assert len(whole) > 7

        pages: list[list[PlatformConversation]] = []
        since = None
        while True:
            read = await rig.read(since=since, limit=3)
            if not read.conversations:
                break
            assert len(read.conversations) <= 3
            pages.append(read.conversations)
            since = read.newest

        assert [item for page in pages for item in page] == whole
        for page, following in itertools.pairwise(pages):
            # A page is short only where a cut would part conversations of one instant (the
            # sandbox dates comments of different posts alike): the next read takes them all.
            if len(page) < 3:
                assert following[0].created_at == following[1].created_at


async def test_another_organisations_connection_is_not_found(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        for fields in ({"organization_id": uuid.uuid4()}, {"connection_id": uuid.uuid4()}):
            error = await rig.refused(**fields)
            assert error.type == "not-found"
            assert error.non_retryable


async def test_a_channel_without_the_capability_is_refused_for_good(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        mastodon = await store(
            sessions, rig.vault, rig.organization_id, Channel.MASTODON, "109", rig.credentials
        )
        error = await rig.refused(connection_id=mastodon)
        assert error.type == "conversations-not-supported"
        assert error.non_retryable
        assert "not supported for mastodon" in str(error)


async def test_an_expired_token_is_refreshed_before_the_read(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        expired = await rig.admin.post(f"/sandbox/accounts/{rig.account_id}/expire-tokens")
        assert expired.status_code == 204

        await rig.read()

        connection = await rig.connection()
        assert connection.status == "active"
        fresh = rig.vault.open(connection.token_ciphertext)
        assert fresh.access_token != rig.credentials.access_token


async def test_a_revoked_authorisation_needs_reauthorisation_for_good(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        revoked = await rig.admin.post(f"/sandbox/accounts/{rig.account_id}/revoke-tokens")
        assert revoked.status_code == 204

        error = await rig.refused()

        assert error.type == "needs-reauth"
        assert error.non_retryable
        assert (await rig.connection()).status == "needs_reauth"
        again = await rig.refused()
        assert again.type == "needs-reauth", "refused before the platform is asked"


async def test_a_throttled_read_answers_what_nothing_older_can_be_missing_from(
    tmp_path: Path, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with listened(tmp_path, settings, sessions) as rig:
        rig.clock.advance(minutes=12)  # mentions before the post
        post_at = rig.clock.now
        await rig.publish("Degustazione in cantina")
        rig.clock.advance(minutes=12)
        # Three requests, then 429 until the (frozen) clock moves: the account, its posts and
        # its mentions are read, the post's comments are not.
        await rig.faults(rate_limit_per_second=1.0, rate_limit_burst=3)
        rig.clock.advance(seconds=10)

        partial = await rig.read()

        assert partial.retry_after is not None
        assert partial.conversations, "the mentions older than the post"
        assert all(item.created_at <= post_at for item in partial.conversations)

        await rig.faults(rate_limit_burst=2)
        rig.clock.advance(seconds=10)
        error = await rig.refused()
        assert error.type == "platform-rate-limited"
        assert not error.non_retryable
        assert error.next_retry_delay == timedelta(seconds=1)

        await rig.faults(rate_limit_per_second=1000.0, rate_limit_burst=1000)
        rig.clock.advance(seconds=10)
        rest = await rig.read(since=partial.newest)
        assert partial.conversations + rest.conversations == await everything(rig)

"""What the publisher does on a schedule, run as ``PublisherMaintenanceWorkflow`` through Temporal
on the real workers: refresh tokens before they expire (or ask for re-authorisation), and collect
post and account metrics for the reporting service."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from nats.aio.client import Client as NatsClient
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.connectors.base import Credentials
from services.publisher.contracts import MAINTENANCE_WORKFLOW, MaintenanceInput, MaintenanceResult
from services.publisher.crypto import TokenVault
from services.publisher.events import SAMPLES_PER_EVENT, AccountSample, PostSample
from services.publisher.metrics import sampled_events
from services.publisher.models import AccountMetricsSample, Connection, PostMetricsSample
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.settings import PublisherSettings
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.publisher_helpers import SandboxAccount, schedule, settled
from tests.test_thin_thread import create_org


async def run_maintenance(platform: Platform, refresh_within_seconds: int) -> MaintenanceResult:
    prefix = platform.settings.temporal.task_queue_prefix
    result: MaintenanceResult = await platform.temporal.execute_workflow(
        MAINTENANCE_WORKFLOW,
        MaintenanceInput(refresh_within_seconds=refresh_within_seconds, task_queue_prefix=prefix),
        id=f"maintenance-test-{uuid.uuid4()}",
        task_queue=prefix + task_queues.WORKFLOWS,
        result_type=MaintenanceResult,
        # A failing activity is retried forever: a regression must fail the test, not hang it.
        execution_timeout=timedelta(seconds=60),
    )
    return result


async def stored_credentials(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], connection_id: str
) -> tuple[Connection, Credentials]:
    async with session_scope(sessions, SYSTEM) as session:
        connection = await session.get(Connection, uuid.UUID(connection_id))
    assert connection is not None
    return connection, TokenVault(platform.settings.publisher).open(connection.token_ciphertext)


async def expire_access_token(
    account: SandboxAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The sandbox expires the account's access tokens now, and the connection knows it (as it
    would from the ``expires_in`` of a short-lived token)."""
    expired = await account.sandbox.post(f"/sandbox/accounts/{account.account_id}/expire-tokens")
    assert expired.status_code == 204
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == uuid.UUID(account.connection_id))
            .values(expires_at=datetime.now(UTC))
        )


async def published_events(
    platform: Platform, nats_client: NatsClient, event: str
) -> list[dict[str, Any]]:
    events = platform.settings.events
    messages = await stream_messages(
        nats_client.jetstream(), events.stream, f"{events.subject_prefix}.publisher.{event}.*"
    )
    return [json.loads(msg.data)["data"] for msg in messages]


async def test_an_expiring_token_is_refreshed_and_publishing_goes_on(
    platform: Platform, account: SandboxAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, before = await stored_credentials(platform, sessions, account.connection_id)
    await expire_access_token(account, sessions)
    refused = await account.sandbox.get(
        f"/v1/accounts/{account.account_id}/posts",
        headers={"Authorization": f"Bearer {before.access_token}"},
    )
    assert refused.status_code == 401, "the old access token no longer works"

    result = await run_maintenance(platform, refresh_within_seconds=300)

    assert result.tokens.refreshed >= 1
    connection, after = await stored_credentials(platform, sessions, account.connection_id)
    assert connection.status == "active"
    assert connection.expires_at is not None
    assert connection.expires_at > datetime.now(UTC) + timedelta(minutes=50)
    assert after.access_token != before.access_token
    assert after.refresh_token not in (None, before.refresh_token), "sandbox rotates it"
    account.access_token = after.access_token
    publication = await schedule(platform, account, in_seconds=0.5)
    done = await settled(platform, publication["id"])
    assert done["status"] == "published", done
    assert len(await account.posts(publication["idempotency_key"])) == 1


async def test_a_revoked_refresh_token_asks_for_reauthorisation(
    platform: Platform,
    account: SandboxAccount,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    await expire_access_token(account, sessions)
    revoked = await account.sandbox.post(f"/sandbox/accounts/{account.account_id}/revoke-tokens")
    assert revoked.status_code == 204

    result = await run_maintenance(platform, refresh_within_seconds=300)

    assert result.tokens.needs_reauth >= 1
    read = await platform.gateway.get(
        f"/v1/connections/{account.connection_id}", headers=platform.auth(Role.MANAGER)
    )
    assert read.json()["status"] == "needs_reauth"
    found: list[dict[str, Any]] = []

    async def announced() -> bool:
        found[:] = [
            data
            for data in await published_events(platform, nats_client, "channel_needs_reauth")
            if data["connection_id"] == account.connection_id
        ]
        return bool(found)

    await wait_until(announced, timeout=10, interval=0.2)
    assert len(found) == 1
    assert found[0]["organization_id"] == account.organization_id
    assert found[0]["account_id"] == account.account_id
    assert "refresh" in found[0]["reason"]


async def test_metrics_of_published_posts_and_accounts_are_collected(
    platform: Platform,
    account: SandboxAccount,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
) -> None:
    publication = await schedule(platform, account, in_seconds=0.3)
    assert (await settled(platform, publication["id"]))["status"] == "published"
    started = datetime.now(UTC)

    first = await run_maintenance(platform, refresh_within_seconds=0)
    second = await run_maintenance(platform, refresh_within_seconds=0)

    for result in (first, second):
        assert result.metrics.posts >= 1
        assert result.metrics.accounts >= 1
    manager = platform.auth(Role.MANAGER)
    read = await platform.gateway.get(
        f"/v1/publications/{publication['id']}/metrics", headers=manager
    )
    assert read.status_code == 200, read.text
    samples = read.json()
    assert len(samples) == 2
    moments = [datetime.fromisoformat(sample["collected_at"]) for sample in samples]
    assert started <= moments[0] < moments[1] <= datetime.now(UTC)
    for sample in samples:
        assert sample["publication_id"] == publication["id"]
        for figure in ("impressions", "reach", "likes", "comments", "shares", "saves"):
            assert isinstance(sample[figure], int), figure
            assert sample[figure] >= 0, figure
        assert sample["video_views"] is None, "a text post has no video views"
    async with session_scope(sessions, SYSTEM) as session:
        followers = (
            await session.scalars(
                select(AccountMetricsSample).where(
                    AccountMetricsSample.connection_id == uuid.UUID(account.connection_id)
                )
            )
        ).all()
        stored = await session.scalar(
            select(PostMetricsSample.organization_id).where(
                PostMetricsSample.publication_id == uuid.UUID(publication["id"])
            )
        )
    assert [sample.collected_at for sample in followers] == moments
    assert all(sample.followers is not None for sample in followers)
    assert str(stored) == account.organization_id

    outsider = platform.auth(Role.CLIENT_VIEWER, orgs=[await create_org(platform)])
    hidden = await platform.gateway.get(
        f"/v1/publications/{publication['id']}/metrics", headers=outsider
    )
    assert hidden.status_code == 404
    own = platform.auth(Role.CLIENT_VIEWER, orgs=[account.organization_id])
    shown = await platform.gateway.get(f"/v1/publications/{publication['id']}/metrics", headers=own)
    assert shown.json() == samples

    found: list[dict[str, Any]] = []

    async def announced() -> bool:
        found[:] = [
            data
            for data in await published_events(platform, nats_client, "metrics_collected")
            if data["organization_id"] == account.organization_id
        ]
        return len(found) == 2

    await wait_until(announced, timeout=10, interval=0.2)
    assert [datetime.fromisoformat(data["collected_at"]) for data in found] == moments
    assert all(data["posts"] == 1 and data["accounts"] == 1 for data in found)

    # The samples themselves, for the reporting service's read model.
    sampled = [
        data
        for data in await published_events(platform, nats_client, "metrics_sampled")
        if data["organization_id"] == account.organization_id
    ]
    assert [datetime.fromisoformat(data["collected_at"]) for data in sampled] == moments
    for data, sample in zip(sampled, samples, strict=True):
        assert data["chunk"] == 0
        assert data["posts"] == [sample]
        [followers] = data["accounts"]
        assert followers["connection_id"] == account.connection_id
        assert followers["channel"] == "sandbox"
        assert followers["collected_at"] == data["collected_at"]
        assert isinstance(followers["followers"], int)


def test_a_collection_of_many_samples_is_announced_in_chunks() -> None:
    organization_id, collected_at = uuid.uuid4(), datetime.now(UTC)
    samples: list[PostSample | AccountSample] = [
        PostSample(publication_id=uuid.uuid4(), collected_at=collected_at, likes=index)
        for index in range(SAMPLES_PER_EVENT + 1)
    ]
    samples.append(
        AccountSample(
            connection_id=uuid.uuid4(), channel="sandbox", collected_at=collected_at, followers=7
        )
    )

    chunks = sampled_events(organization_id, collected_at, samples)
    again = sampled_events(organization_id, collected_at, samples)

    assert [len(event.data["posts"]) for event in chunks] == [SAMPLES_PER_EVENT, 1]
    assert [len(event.data["accounts"]) for event in chunks] == [0, 1]
    assert [event.data["chunk"] for event in chunks] == [0, 1]
    assert [event.id for event in chunks] == [event.id for event in again]
    assert len({event.id for event in chunks}) == 2


async def test_a_connection_no_key_can_open_does_not_stop_the_collection(
    platform: Platform, account: SandboxAccount, sessions: async_sessionmaker[AsyncSession]
) -> None:
    stranger = TokenVault(PublisherSettings(token_keys=[SecretStr(Fernet.generate_key().decode())]))
    async with session_scope(sessions, SYSTEM) as session:
        session.add(
            Connection(
                organization_id=uuid.UUID(account.organization_id),
                channel="sandbox",
                account_id=f"acct-unreadable-{uuid.uuid4().hex[:6]}",
                token_ciphertext=stranger.seal(Credentials(access_token="sealed-elsewhere")),
            )
        )
    publication = await schedule(platform, account, in_seconds=0.3)
    assert (await settled(platform, publication["id"]))["status"] == "published"

    result = await run_maintenance(platform, refresh_within_seconds=0)

    assert result.metrics.failures >= 1
    read = await platform.gateway.get(
        f"/v1/publications/{publication['id']}/metrics", headers=platform.auth(Role.MANAGER)
    )
    assert len(read.json()) == 1, "the readable connection's post was still measured"

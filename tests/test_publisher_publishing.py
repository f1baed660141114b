"""Scheduled publishing to the sandbox platform through the gateway: on time, exactly once,
reschedulable and cancellable until it starts, with failures classified."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from nats.aio.client import Client as NatsClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.publisher.models import Connection
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.publisher_helpers import SandboxAccount, schedule, settled


async def test_a_scheduled_post_is_published_once_on_time(
    platform: Platform, account: SandboxAccount, nats_client: NatsClient
) -> None:
    publication = await schedule(platform, account, in_seconds=1.5)
    assert publication["status"] == "scheduled"
    done = await settled(platform, publication["id"])

    assert done["status"] == "published", done
    assert done["attempts"] == 1
    published_at = datetime.fromisoformat(done["published_at"])
    due_at = datetime.fromisoformat(done["due_at"])
    assert published_at >= due_at, "never early"
    assert published_at - due_at < timedelta(seconds=10), "on time"
    posts = await account.posts(publication["idempotency_key"])
    assert [post["id"] for post in posts] == [done["platform_post_id"]]

    events = platform.settings.events
    subject = f"{events.subject_prefix}.publisher.post_published.*"
    published = [
        json.loads(msg.data)
        for msg in await stream_messages(nats_client.jetstream(), events.stream, subject)
        if json.loads(msg.data)["data"]["publication_id"] == publication["id"]
    ]
    assert len(published) == 1
    assert published[0]["data"]["platform_post_id"] == done["platform_post_id"]


async def test_an_answer_lost_after_acceptance_is_checked_not_reposted(
    platform: Platform, account: SandboxAccount
) -> None:
    # The sandbox creates the post, then answers with a garbled body: the outcome is unknown.
    await account.faults(accept_then_timeout={"count": 1, "mode": "malformed"})
    publication = await schedule(platform, account, in_seconds=0.5)
    done = await settled(platform, publication["id"])

    assert done["status"] == "published", done
    assert len(await account.posts(publication["idempotency_key"])) == 1


async def test_an_answer_that_times_out_after_acceptance_is_published_once(
    platform: Platform, account: SandboxAccount
) -> None:
    await account.faults(accept_then_timeout={"count": 1, "mode": "delay", "delay_seconds": 5})
    publication = await schedule(platform, account, in_seconds=0.5)
    done = await settled(platform, publication["id"], timeout=45)

    assert done["status"] == "published", done
    assert len(await account.posts(publication["idempotency_key"])) == 1


async def test_platform_failures_known_not_to_have_happened_are_retried(
    platform: Platform, account: SandboxAccount
) -> None:
    await account.faults(failure_rate=1.0)
    publication = await schedule(platform, account, in_seconds=0.2)

    async def failed_once() -> bool:
        read = await platform.gateway.get(
            f"/v1/publications/{publication['id']}", headers=platform.auth(Role.MANAGER)
        )
        return bool(read.json()["failure_class"] == "retryable")

    await wait_until(failed_once, timeout=15, interval=0.2)
    await account.faults(failure_rate=0.0)
    done = await settled(platform, publication["id"], timeout=30)
    assert done["status"] == "published", done
    assert done["attempts"] >= 2
    assert len(await account.posts(publication["idempotency_key"])) == 1


async def test_a_revoked_token_fails_the_post_and_asks_for_reauthorisation(
    platform: Platform,
    account: SandboxAccount,
    sandbox: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    revoked = await sandbox.post(f"/sandbox/accounts/{account.account_id}/revoke-tokens")
    assert revoked.status_code == 204
    publication = await schedule(platform, account, in_seconds=0.2)
    done = await settled(platform, publication["id"])

    assert done["status"] == "failed"
    assert done["failure_class"] == "auth"
    connection = await platform.gateway.get(
        f"/v1/connections/{account.connection_id}", headers=platform.auth(Role.MANAGER)
    )
    assert connection.json()["status"] == "needs_reauth"
    refused = await platform.gateway.post(
        "/v1/publications",
        json={
            "organization_id": account.organization_id,
            "connection_id": account.connection_id,
            "variant_id": publication["variant_id"],
            "due_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        headers=platform.auth(Role.EDITOR),
    )
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:engage:problem:connection-needs-reauth"
    async with session_scope(sessions, SYSTEM) as session:
        status = await session.scalar(
            select(Connection.status).where(Connection.id == account.connection_id)
        )
    assert status == "needs_reauth"


async def test_rescheduling_moves_the_post_and_cancelling_withdraws_it(
    platform: Platform, account: SandboxAccount
) -> None:
    editor = platform.auth(Role.EDITOR)
    later = await schedule(platform, account, in_seconds=3600)
    sooner = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    moved = await platform.gateway.post(
        f"/v1/publications/{later['id']}/reschedule", json={"due_at": sooner}, headers=editor
    )
    assert moved.status_code == 200, moved.text
    done = await settled(platform, later["id"])
    assert done["status"] == "published"
    assert datetime.fromisoformat(done["published_at"]) < datetime.now(UTC)

    too_late = await platform.gateway.post(
        f"/v1/publications/{later['id']}/cancel",
        json={"reason": "changed our mind"},
        headers=editor,
    )
    assert too_late.status_code == 409
    assert too_late.json()["type"] == "urn:engage:problem:publication-not-waiting"

    cancelled = await schedule(platform, account, in_seconds=3600)
    answer = await platform.gateway.post(
        f"/v1/publications/{cancelled['id']}/cancel",
        json={"reason": "event postponed"},
        headers=editor,
    )
    assert answer.status_code == 200, answer.text
    assert (await settled(platform, cancelled["id"]))["status"] == "cancelled"
    assert await account.posts(cancelled["idempotency_key"]) == []
    twice = await platform.gateway.post(
        f"/v1/publications/{cancelled['id']}/cancel", json={"reason": "again"}, headers=editor
    )
    assert twice.status_code == 409

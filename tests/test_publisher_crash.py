"""Exactly once under a real crash: the publisher's worker process is killed (SIGKILL) after the
sandbox accepted a post and before the worker could record it; a new worker process finds the
post on the platform instead of sending it again.

The worker runs as ``python -m engage worker publisher`` with a task-queue prefix of its own, so
the in-process workers of the ``platform`` fixture never take its tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.worker import Worker

from services.publisher import publications
from services.publisher.contracts import MAINTENANCE_SCHEDULE_ID
from services.publisher.models import Publication
from services.publisher.scheduling import Scheduler
from services.publisher.schemas import PublicationCreate
from shared import task_queues
from shared.auth import Principal, Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.errors import DependencyUnavailableError
from shared.media_links import MediaLinks
from shared.settings import Settings
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.publisher_helpers import SandboxAccount, connect_sandbox, settled
from tests.test_thin_thread import create_org
from tests.worker_processes import WorkerProcess, worker_environment
from workflows.publishing.batch import PublishBatchWorkflow

# Short, so that Temporal gives the dead worker's attempt to the next worker within seconds.
PUBLISH_TIMEOUT_SECONDS = 8.0
# Longer than the whole test: the killed worker must still be waiting for the held answer.
HELD_ANSWER_SECONDS = 120.0


def worker_settings(platform: Platform) -> Settings:
    settings = platform.settings
    return settings.model_copy(
        update={
            "temporal": settings.temporal.model_copy(
                update={"task_queue_prefix": f"crash{uuid.uuid4().hex[:8]}-"}
            ),
            "publisher": settings.publisher.model_copy(
                update={
                    "publish_timeout_seconds": PUBLISH_TIMEOUT_SECONDS,
                    "request_timeout_seconds": HELD_ANSWER_SECONDS,
                }
            ),
        }
    )


def publisher_environment(settings: Settings, scratch: Path) -> dict[str, str]:
    publisher = settings.publisher
    return worker_environment(
        settings,
        scratch,
        {
            "ENGAGE_PORTS__SANDBOX": str(settings.ports.sandbox),
            "ENGAGE_PUBLISHER__API_BASE_URLS": json.dumps(publisher.api_base_urls),
            "ENGAGE_PUBLISHER__TOKEN_KEYS": json.dumps(
                [key.get_secret_value() for key in publisher.token_keys]
            ),
            "ENGAGE_PUBLISHER__REQUEST_TIMEOUT_SECONDS": str(publisher.request_timeout_seconds),
            # The worker keeps a maintenance schedule; it must not fire during the test.
            "ENGAGE_PUBLISHER__METRICS_INTERVAL_SECONDS": "86400",
        },
    )


async def sandbox_stats(sandbox: httpx.AsyncClient) -> dict[str, int]:
    stats: dict[str, int] = (await sandbox.get("/sandbox/stats")).json()
    return stats


async def place_publication(
    platform: Platform, sessions: async_sessionmaker[AsyncSession], account: SandboxAccount
) -> Publication:
    """The publisher's own scheduling rules write the row; the test starts its workflow."""
    editor = Principal(subject="crash-test", roles=frozenset({Role.EDITOR}), all_organizations=True)
    variant_id = await account.approved_variant(platform)
    async with session_scope(sessions, SYSTEM) as session:
        return await publications.schedule_publication(
            session,
            editor,
            PublicationCreate(
                organization_id=uuid.UUID(account.organization_id),
                connection_id=uuid.UUID(account.connection_id),
                variant_id=uuid.UUID(variant_id),
                due_at=datetime.now(UTC),
            ),
            MediaLinks.from_settings(platform.settings),
        )


async def publication_status(
    sessions: async_sessionmaker[AsyncSession], publication_id: uuid.UUID
) -> str:
    async with session_scope(sessions, SYSTEM) as session:
        publication = await session.get(Publication, publication_id)
    assert publication is not None
    return publication.status


async def start_workflow(settings: Settings, publication: Publication) -> None:
    """Through the publisher's own scheduler, so the publish timeout comes from its settings."""
    scheduler = Scheduler(settings)
    scheduler.start_connecting()
    try:
        async with asyncio.timeout(10):
            while True:
                try:
                    scheduler.require_connection()
                    break
                except DependencyUnavailableError:
                    await asyncio.sleep(0.05)
        await scheduler.start(publication)
    finally:
        await scheduler.close()


async def test_a_worker_killed_after_the_platform_accepted_a_post_does_not_post_it_twice(
    platform: Platform,
    sandbox: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    tmp_path: Path,
) -> None:
    account = await connect_sandbox(platform, sandbox, await create_org(platform))
    settings = worker_settings(platform)
    prefix = settings.temporal.task_queue_prefix
    worker = WorkerProcess(
        "publisher",
        platform.temporal,
        f"{prefix}{task_queues.PUBLISHER}-sandbox",
        TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        publisher_environment(settings, tmp_path),
        tmp_path / "worker.log",
    )
    workflows = Worker(
        platform.temporal,
        task_queue=prefix + task_queues.WORKFLOWS,
        workflows=[PublishBatchWorkflow],
    )
    try:
        await worker.start()
        async with workflows:
            await account.faults(
                accept_then_timeout={
                    "count": 1,
                    "mode": "delay",
                    "delay_seconds": HELD_ANSWER_SECONDS,
                }
            )
            before = await sandbox_stats(sandbox)
            publication = await place_publication(platform, sessions, account)
            await start_workflow(settings, publication)

            async def accepted_and_held() -> bool:
                stats = await sandbox_stats(sandbox)
                applied = before["accept_then_timeout_applied"] + 1
                return stats["accept_then_timeout_applied"] == applied

            await wait_until(accepted_and_held, timeout=30, interval=0.1)
            assert len(await account.posts(publication.idempotency_key)) == 1
            assert await publication_status(sessions, publication.id) == "publishing"
            assert await worker.kill() == -signal.SIGKILL
            held = await sandbox_stats(sandbox)

            await worker.start()
            done = await settled(platform, str(publication.id), timeout=60)
    finally:
        await worker.stop()
        with contextlib.suppress(Exception):
            await platform.temporal.get_schedule_handle(prefix + MAINTENANCE_SCHEDULE_ID).delete()

    assert done["status"] == "published", done
    assert done["attempts"] == 1, "sent once; the second worker only asked the platform"
    posts = await account.posts(publication.idempotency_key)
    assert [post["id"] for post in posts] == [done["platform_post_id"]]
    after = await sandbox_stats(sandbox)
    assert after["duplicates_prevented"] == held["duplicates_prevented"], "no second POST at all"
    assert after["accepted_posts"] == held["accepted_posts"]

    events = platform.settings.events

    async def announced_once() -> bool:
        messages = await stream_messages(
            nats_client.jetstream(),
            events.stream,
            f"{events.subject_prefix}.publisher.post_published.*",
        )
        mine = [m for m in messages if json.loads(m.data)["data"]["publication_id"] == done["id"]]
        assert len(mine) <= 1
        return len(mine) == 1

    await wait_until(announced_once, timeout=15, interval=0.3)

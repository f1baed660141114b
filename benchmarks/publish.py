"""Scheduled publishing at scale: N posts due at one instant across five sandbox accounts,
published by the real publisher activities and ``PublishPostWorkflow`` on a Temporal dev server.

The baseline is the sandbox's own ceiling, measured in the same run with the same rate limits:
as many posts sent straight to it over kept-alive connections as fast as it accepts them, with no
scheduling, database, workflow or connector in between. The sandbox runs in its own process, as
``make up`` runs it; the publisher and workflow workers run in this one.

``BENCH_PUBLISH_POSTS`` lowers N (default 10,000) for a quick run; every figure names the N used.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from benchmarks.common import report, scratch_settings
from services.publisher import service
from services.publisher import worker as publisher_worker
from services.publisher.connectors.base import Credentials
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.crypto import TokenVault
from services.publisher.models import Publication
from services.publisher.schemas import PublicationCreate
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.domain import Channel
from shared.settings import Settings
from workflows.publishing.messages import WORKFLOW_NAME, PublishPostInput
from workflows.publishing.workflow import PublishPostWorkflow

BENCHMARK = "publish"
POSTS = int(os.environ.get("BENCH_PUBLISH_POSTS", "10000"))
ACCOUNTS = 5
# What a real platform allows one account: sustained posts per second and burst.
RATE_LIMIT_PER_SECOND = 50.0
RATE_LIMIT_BURST = 100
# Senders per account when measuring the ceiling, and their pause after a 429.
SENDERS_PER_ACCOUNT = 8
BACKOFF_SECONDS = 0.01
INSERT_BATCH = 500
STARTS_IN_FLIGHT = 64
# Time allowed to start each workflow before the common due time (the dev server's start rate).
START_SECONDS_PER_POST = 0.01
# Posts still unsettled after this long without any post settling are counted as lost.
STALL = timedelta(minutes=2)
REDIRECT_URI = "https://bench.atlantide.example/callback"
SETTLED = ("published", "failed", "cancelled", "withdrawn")


@dataclass(frozen=True)
class Account:
    account_id: str
    credentials: Credentials


def bench_settings(settings: Settings, data_dir: str, port: int) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": data_dir,
            "ports": settings.ports.model_copy(update={"sandbox": port}),
            "temporal": settings.temporal.model_copy(
                update={"task_queue_prefix": f"bench-{uuid.uuid4().hex[:8]}-"}
            ),
            "sandbox": settings.sandbox.model_copy(
                update={
                    "rate_limit_per_second": RATE_LIMIT_PER_SECOND,
                    "rate_limit_burst": RATE_LIMIT_BURST,
                    "failure_rate": 0.0,
                }
            ),
            "publisher": settings.publisher.model_copy(
                update={
                    "api_base_urls": {"sandbox": f"http://127.0.0.1:{port}"},
                }
            ),
        }
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def sandbox_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox platform in a process of its own, configured through the environment."""
    env = {
        **os.environ,
        "ENGAGE_DATA_DIR": settings.data_dir,
        "ENGAGE_PORTS__SANDBOX": str(settings.ports.sandbox),
        "ENGAGE_SANDBOX__RATE_LIMIT_PER_SECOND": str(RATE_LIMIT_PER_SECOND),
        "ENGAGE_SANDBOX__RATE_LIMIT_BURST": str(RATE_LIMIT_BURST),
        "ENGAGE_SANDBOX__FAILURE_RATE": "0",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "uvicorn", "services.sandbox.main:app", "--no-access-log"),
        *("--port", str(settings.ports.sandbox), "--log-level", "warning"),
        env=env,
    )
    base_url = f"http://127.0.0.1:{settings.ports.sandbox}"
    try:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30) as client:
            await _wait_for(client)
            yield client
    finally:
        process.terminate()
        await process.wait()


async def _wait_for(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(30):
        while True:
            with contextlib.suppress(httpx.TransportError):
                if (await client.get("/")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def sign_up(sandbox: httpx.AsyncClient, connector: SandboxConnector, name: str) -> Account:
    created = await sandbox.post("/v1/accounts", json={"name": name})
    created.raise_for_status()
    redirect = await sandbox.get(
        connector.authorize_url(REDIRECT_URI, "bench-state", created.json()["id"])
    )
    code = parse_qs(urlsplit(redirect.headers["location"]).query)["code"][0]
    account_id, credentials = await connector.exchange_code(code, REDIRECT_URI)
    return Account(account_id, credentials)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure_ceiling(
    sandbox: httpx.AsyncClient, accounts: list[Account]
) -> tuple[float, list[float]]:
    """Posts per second the sandbox accepts when pushed over kept-alive connections, and how long
    after the start each was accepted."""
    accepted: list[float] = []
    started = time.perf_counter()

    async def send(account: Account) -> None:
        headers = {"Authorization": f"Bearer {account.credentials.access_token}"}
        while len(accepted) < POSTS:
            answer = await sandbox.post(
                f"/v1/accounts/{account.account_id}/posts",
                json={"text": "Ceiling probe", "media": [], "tags": []},
                headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
            )
            if answer.status_code == 429:
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            answer.raise_for_status()
            accepted.append(time.perf_counter() - started)

    await asyncio.gather(
        *(send(account) for account in accounts for _ in range(SENDERS_PER_ACCOUNT))
    )
    return len(accepted) / (time.perf_counter() - started), accepted


async def connect(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, accounts: list[Account]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A client organisation with one connection per account."""
    organization_id = uuid.uuid4()
    async with session_scope(sessions, SYSTEM) as session:
        connections = [
            await service.store_connection(
                session,
                organization_id=organization_id,
                channel=Channel.SANDBOX.value,
                account_id=account.account_id,
                display_name=f"bench {n}",
                credentials=account.credentials,
                vault=vault,
            )
            for n, account in enumerate(accounts)
        ]
        return organization_id, [connection.id for connection in connections]


async def schedule(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    connections: list[uuid.UUID],
) -> list[Publication]:
    """POSTS publications through the API's code path, spread evenly over the accounts."""
    placeholder = datetime.now(UTC) + timedelta(days=1)
    placed: list[Publication] = []
    for first in range(0, POSTS, INSERT_BATCH):
        async with session_scope(sessions, SYSTEM) as session:
            for n in range(first, min(first + INSERT_BATCH, POSTS)):
                data = PublicationCreate(
                    organization_id=organization_id,
                    connection_id=connections[n % len(connections)],
                    variant_id=uuid.uuid4(),
                    slot_id=uuid.uuid4(),
                    due_at=placeholder,
                    text=f"Benchmark post {n}",
                )
                publication, _ = await service.place_publication(session, data)
                placed.append(publication)
    return placed


async def set_due(sessions: async_sessionmaker[AsyncSession], due_at: datetime) -> None:
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(update(Publication).values(due_at=due_at))


async def start_workflows(
    client: Client, settings: Settings, publications: list[Publication], due_at: datetime
) -> None:
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)
    prefix = settings.temporal.task_queue_prefix

    async def start(publication: Publication) -> None:
        async with in_flight:
            await client.start_workflow(
                WORKFLOW_NAME,
                PublishPostInput(
                    publication_id=publication.id,
                    channel=Channel.SANDBOX.value,
                    due_at=due_at,
                    task_queue_prefix=prefix,
                    publish_timeout_seconds=settings.publisher.publish_timeout_seconds,
                ),
                id=publication.workflow_id,
                task_queue=prefix + task_queues.WORKFLOWS,
            )

    await asyncio.gather(*(start(publication) for publication in publications))


async def wait_settled(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Until every post is settled, or no post has settled for ``STALL`` (the rest are lost)."""
    settled, progress_at = -1, time.monotonic()
    while settled < POSTS and time.monotonic() - progress_at < STALL.total_seconds():
        await asyncio.sleep(1)
        async with session_scope(sessions, SYSTEM) as session:
            now_settled = await session.scalar(
                select(func.count()).where(Publication.status.in_(SETTLED))
            )
        if now_settled != settled:
            settled, progress_at = now_settled or 0, time.monotonic()


async def latenesses(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[datetime, float]]:
    """(published at, seconds after due) of every published post."""
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.execute(
            select(Publication.published_at, Publication.due_at).where(
                Publication.status == "published"
            )
        )
        return [
            (published_at, (published_at - due_at).total_seconds())
            for published_at, due_at in rows.all()
            if published_at is not None
        ]


async def posts_per_key(sandbox: httpx.AsyncClient, accounts: list[Account]) -> Counter[str]:
    """How many live posts the sandbox holds for each idempotency key, over every account."""
    counts: Counter[str] = Counter()
    for account in accounts:
        cursor: str | None = None
        while cursor != "":
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = await sandbox.get(
                f"/v1/accounts/{account.account_id}/posts",
                params=params,
                headers={"Authorization": f"Bearer {account.credentials.access_token}"},
            )
            if page.status_code == 429:
                await asyncio.sleep(float(page.headers.get("Retry-After", "1")))
                continue
            page.raise_for_status()
            body = page.json()
            counts.update(post["idempotency_key"] for post in body["data"])
            cursor = body.get("next_cursor") or ""
    return counts


@contextlib.asynccontextmanager
async def publisher_workers(
    client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[None]:
    """The publisher's activity workers and the workflow worker, in this process."""
    async with httpx.AsyncClient(timeout=settings.publisher.request_timeout_seconds) as http:
        activities = publisher_worker.build_activities(sessions, settings, http)
        queues = publisher_worker.queues(activities, settings)
        async with contextlib.AsyncExitStack() as running:
            for queue in queues:
                await running.enter_async_context(
                    Worker(
                        client,
                        task_queue=settings.task_queue(queue.task_queue),
                        activities=queue.activities,
                        max_concurrent_activities=queue.max_concurrent,
                    )
                )
            await running.enter_async_context(
                Worker(
                    client,
                    task_queue=settings.task_queue(task_queues.WORKFLOWS),
                    workflows=[PublishPostWorkflow],
                )
            )
            yield


async def run() -> None:
    async with contextlib.AsyncExitStack() as stack:
        scratch = await stack.enter_async_context(scratch_settings("publisher"))
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-publish-"))
        settings = bench_settings(scratch, data_dir, free_port())
        sandbox = await stack.enter_async_context(sandbox_process(settings))
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
            data_converter=pydantic_data_converter,
            dev_server_log_level="error",
        )
        stack.push_async_callback(env.shutdown)
        engine = create_engine(settings)
        stack.push_async_callback(engine.dispose)
        sessions = create_session_factory(engine)
        await measure(settings, sandbox, env.client, sessions)


async def measure(
    settings: Settings,
    sandbox: httpx.AsyncClient,
    client: Client,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    connector = SandboxConnector.from_settings(settings)
    probes = [await sign_up(sandbox, connector, f"Ceiling {n}") for n in range(ACCOUNTS)]
    ceiling, accepted_after = await measure_ceiling(sandbox, probes)

    accounts = [await sign_up(sandbox, connector, f"Publisher {n}") for n in range(ACCOUNTS)]
    organization_id, connections = await connect(sessions, TokenVault(settings.publisher), accounts)
    publications = await schedule(sessions, organization_id, connections)
    async with publisher_workers(client, settings, sessions):
        lead = timedelta(seconds=10 + POSTS * START_SECONDS_PER_POST)
        due_at = datetime.now(UTC) + lead
        await set_due(sessions, due_at)
        await start_workflows(client, settings, publications, due_at)
        started_after_due = max(0.0, (datetime.now(UTC) - due_at).total_seconds())
        await asyncio.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
        await wait_settled(sessions)
    published = await latenesses(sessions)
    keys = {publication.idempotency_key for publication in publications}
    per_key = await posts_per_key(sandbox, accounts)
    stats = (await sandbox.get("/sandbox/stats")).json()

    run = {"posts": POSTS, "accounts": ACCOUNTS}
    last_published = max((at for at, _ in published), default=due_at)
    rate = len(published) / max((last_published - due_at).total_seconds(), 1e-3)
    report(
        BENCHMARK,
        "posts_published_per_second",
        round(rate, 1),
        "posts/s",
        **run,
        rate_limit_per_second=RATE_LIMIT_PER_SECOND,
        rate_limit_burst=RATE_LIMIT_BURST,
        platform_concurrency=settings.publisher.platform_concurrency,
        workflows_started_after_due_seconds=round(started_after_due, 1),
        sandbox_rejected_rate_limited=stats["rejected_rate_limited"],
        baseline="sandbox_accept_ceiling",
        baseline_value=round(ceiling, 1),
        ratio=round(rate / ceiling, 3),
    )
    delays = [lateness for _, lateness in published] or [float("nan")]
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        report(
            BENCHMARK,
            f"lateness_{name}",
            round(percentile(delays, share), 2),
            "s",
            **run,
            baseline=f"sandbox_ceiling_acceptance_delay_{name}",
            baseline_value=round(percentile(accepted_after, share), 2),
        )
    report(
        BENCHMARK,
        "duplicate_posts",
        sum(count - 1 for key, count in per_key.items() if key in keys and count > 1),
        "posts",
        **run,
        sandbox_posts=sum(per_key.values()),
        sandbox_duplicates_prevented=stats["duplicates_prevented"],
        baseline="required",
        baseline_value=0,
    )
    report(
        BENCHMARK,
        "lost_posts",
        POSTS - len(published),
        "posts",
        **run,
        baseline="required",
        baseline_value=0,
    )

"""Scheduled publishing at scale: N posts due at one instant across five sandbox accounts,
published by ``PublishPostWorkflow`` and the publisher's ``publisher.publish`` activity.

The platform runs as ``make up`` runs it, each part a process of its own: a Temporal dev server
(in memory), ``engage worker workflows``, ``engage worker publisher`` (the sandbox's task queue,
``ENGAGE_PUBLISHER__PLATFORM_CONCURRENCY`` publishes at a time, and its outbox relay) and the
sandbox, on a scratch database and stream. This process records one approved variant in the
publisher's read model (as content's ``item_approved`` would), places the posts of it, each in a
slot of its own, through the API's code path (``publications.place_publication``), starts each
post's workflow with the API's ``Scheduler``, and waits for the posts to settle.

The baseline is the sandbox's own ceiling, measured first in the same run with the same rate
limits: as many posts sent straight to it over kept-alive connections as fast as it accepts
them, with no scheduling, database, workflow or connector in between. On a free machine that
ceiling is the sandbox's rate limit (5 accounts x 50 posts/s after a burst of 100 each: about
260 posts/s at N = 10,000); on a busy one, CPU.

What bounds the ratio is CPU. ``cpu_ms_per_post`` gives each process's CPU per post, from the
first start until every post settled; on the 2-core development machine (issue 4's runs) a post
took about 70-90 ms: the Temporal dev server 35-50 (a start, three workflow tasks, a timer and an
activity task, each through its SQLite), the workflow worker 15-18 (a sandboxed workflow
instance per post), the publisher worker 15-19 (two transactions, the sandbox call, the relayed
``post_published``), the sandbox about 4, and PostgreSQL. Two cores therefore publish at most
some 25-40 posts/s, a ratio near 0.1, and less when other processes share the machine
(``rest`` in ``cpu_ms_per_post``, ``machine_busy_cores``). Runs with 32 publishes at a time,
20 workflow task pollers or a 20,000-workflow cache kept the same CPU per post, and their rate
moved with the other load on the machine, not with the setting.

Two scenarios run on the same platform, one after the other, each with accounts of its own:
``publish`` (N posts due at one instant over five accounts) and ``publish_1000`` (1,000 posts due
at the start of the same minute over 20 accounts, as agencies schedule campaigns on the hour),
each against its own ceiling (the same posts over the same number of fresh accounts).
``cpu_ms_per_post`` names each process: ``workflows`` (the workflow worker), ``publisher``,
``temporal`` (the dev server), ``postgres`` (the scratch database's backends), ``sandbox`` and
``rest`` (everything else on the machine, other people's load included).

``BENCH_PUBLISH_POSTS`` lowers N (default 10,000) for a quick run; every figure names the N used.
``BENCH_PUBLISH_SCENARIOS`` (comma-separated, default both) runs only some scenarios.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
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
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks import publish_batch_workflow as batch_design
from benchmarks.common import report, scratch_settings, scratch_stream
from benchmarks.cpu import CpuMeter
from benchmarks.workers import (
    ACTIVITY_QUEUE,
    WORKFLOW_QUEUE,
    WorkerProcess,
    engage_worker,
    free_port,
    running_workers,
    temporal_dev_server,
)
from services.content.events import ITEM_APPROVED, ApprovedVariantFact, ItemApproved
from services.content.events import SOURCE as CONTENT_SOURCE
from services.publisher import approvals, connections, publications
from services.publisher.connectors.base import Credentials
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.contracts import platform_queue
from services.publisher.crypto import TokenVault
from services.publisher.models import Publication
from services.publisher.scheduling import Scheduler
from services.publisher.schemas import PublicationCreate
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.domain import Channel
from shared.errors import DependencyUnavailableError
from shared.events.envelope import new_event
from shared.media_links import MediaLinks
from shared.settings import Settings

BENCHMARK = "publish"


@dataclass(frozen=True)
class Scenario:
    """``posts`` due at one instant over ``accounts`` accounts (each post in a slot of its own);
    ``on_the_minute``: the instant is the start of a minute."""

    name: str
    posts: int
    accounts: int
    on_the_minute: bool = False
    # "post": the product (a workflow per post); "batch": the stand-in of the batch design.
    design: str = "post"


POSTS = int(os.environ.get("BENCH_PUBLISH_POSTS", "10000"))
SCENARIOS = {
    "publish": Scenario("publish", POSTS, 5),
    "publish_1000": Scenario("publish_1000", 1000, 20, on_the_minute=True),
    "publish_batch": Scenario("publish_batch", POSTS, 5, design="batch"),
    "publish_1000_batch": Scenario("publish_1000_batch", 1000, 20, True, design="batch"),
}
CHOSEN = [
    name.strip()
    for name in os.environ.get("BENCH_PUBLISH_SCENARIOS", "publish,publish_1000").split(",")
    if name.strip()
]
# What a real platform allows one account: sustained posts per second and burst.
RATE_LIMIT_PER_SECOND = 50.0
RATE_LIMIT_BURST = 100
# Senders over all accounts when measuring the ceiling (at least two an account), and their pause
# after a 429. More than about 100 connections at once time out on a loaded machine.
SENDERS = 40
BACKOFF_SECONDS = 0.01
INSERT_BATCH = 500
INSERTS_IN_FLIGHT = 4
STARTS_IN_FLIGHT = 64
# Time allowed to start each workflow before the common due time (the dev server's start rate).
START_SECONDS_PER_POST = 0.01
# Posts still unsettled after this long without any post settling are counted as lost.
STALL = timedelta(minutes=2)
REDIRECT_URI = "https://bench.atlantide.example/callback"
SETTLED = ("published", "failed", "cancelled")
# The workers' settings beyond the scratch ones. The maintenance schedule (token refresh and
# metrics collection over every published post) runs weekly, so it never runs during the
# measurement and competes with the posts for the sandbox's rate limit.
WORKER_SETTINGS = {"ENGAGE_PUBLISHER__METRICS_INTERVAL_SECONDS": str(7 * 24 * 3600)}


@dataclass(frozen=True)
class Account:
    account_id: str
    credentials: Credentials


def bench_settings(settings: Settings, data_dir: Path, port: int, temporal: str) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": str(data_dir),
            "ports": settings.ports.model_copy(update={"sandbox": port}),
            "temporal": settings.temporal.model_copy(
                update={"address": temporal, "task_queue_prefix": f"bench-{uuid.uuid4().hex[:8]}-"}
            ),
            "sandbox": settings.sandbox.model_copy(
                update={
                    "rate_limit_per_second": RATE_LIMIT_PER_SECOND,
                    "rate_limit_burst": RATE_LIMIT_BURST,
                    "failure_rate": 0.0,
                }
            ),
            "publisher": settings.publisher.model_copy(
                update={"api_base_urls": {"sandbox": f"http://127.0.0.1:{port}"}}
            ),
        }
    )


@dataclass(frozen=True)
class Sandbox:
    client: httpx.AsyncClient
    pid: int


@contextlib.asynccontextmanager
async def sandbox_process(settings: Settings) -> AsyncIterator[Sandbox]:
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
            yield Sandbox(client, process.pid)
    finally:
        process.terminate()
        await process.wait()


async def _wait_for(client: httpx.AsyncClient) -> None:
    # Importing the sandbox takes over 30 s on a loaded 2-core machine.
    async with asyncio.timeout(180):
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
    sandbox: httpx.AsyncClient, accounts: list[Account], posts: int
) -> tuple[float, list[float]]:
    """Posts per second the sandbox accepts when pushed over kept-alive connections, and how long
    after the start each was accepted."""
    accepted: list[float] = []
    started = time.perf_counter()

    async def send(account: Account) -> None:
        headers = {"Authorization": f"Bearer {account.credentials.access_token}"}
        while len(accepted) < posts:
            try:
                answer = await sandbox.post(
                    f"/v1/accounts/{account.account_id}/posts",
                    json={"text": "Ceiling probe", "media": [], "tags": []},
                    headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                )
            except httpx.TransportError:
                # A connection refused or timed out by a saturated machine: try again.
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            if answer.status_code == 429:
                await asyncio.sleep(BACKOFF_SECONDS)
                continue
            answer.raise_for_status()
            accepted.append(time.perf_counter() - started)

    senders = max(2, SENDERS / len(accounts))
    await asyncio.gather(*(send(account) for account in accounts for _ in range(int(senders))))
    return len(accepted) / (time.perf_counter() - started), accepted


async def connect(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, accounts: list[Account]
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """A client organisation with one connection per account."""
    organization_id = uuid.uuid4()
    async with session_scope(sessions, SYSTEM) as session:
        stored = [
            await connections.store_connection(
                session,
                organization_id=organization_id,
                channel=Channel.SANDBOX.value,
                account_id=account.account_id,
                display_name=f"bench {n}",
                credentials=account.credentials,
                vault=vault,
                connected_by="bench",
            )
            for n, account in enumerate(accounts)
        ]
        return organization_id, [connection.id for connection in stored]


async def approve_variant(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> uuid.UUID:
    """A sandbox variant the publisher knows as approved, as content's ``item_approved`` would
    have told it (every post publishes it, each in a slot of its own)."""
    variant_id = uuid.uuid4()
    approved = ItemApproved(
        item_id=uuid.uuid4(),
        organization_id=organization_id,
        engagement_id=None,
        agency_approved_by="bench",
        client_approved_by=None,
        variants=[
            ApprovedVariantFact(
                variant_id=variant_id,
                channel=Channel.SANDBOX,
                text="Benchmark post",
                title=None,
                link=None,
                media=[],
            )
        ],
    )
    async with session_scope(sessions, SYSTEM) as session:
        await approvals.record_approval(
            session, new_event(ITEM_APPROVED, approved, source=CONTENT_SOURCE)
        )
    return variant_id


async def schedule(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    organization_id: uuid.UUID,
    connection_ids: list[uuid.UUID],
    posts: int,
) -> list[Publication]:
    """``posts`` publications through the API's code path, spread evenly over the accounts."""
    placeholder = datetime.now(UTC) + timedelta(days=1)
    in_flight = asyncio.Semaphore(INSERTS_IN_FLIGHT)
    variant_id = await approve_variant(sessions, organization_id)
    links = MediaLinks.from_settings(settings)

    async def place(first: int) -> list[Publication]:
        placed: list[Publication] = []
        async with in_flight, session_scope(sessions, SYSTEM) as session:
            for n in range(first, min(first + INSERT_BATCH, posts)):
                data = PublicationCreate(
                    organization_id=organization_id,
                    connection_id=connection_ids[n % len(connection_ids)],
                    variant_id=variant_id,
                    slot_id=uuid.uuid4(),
                    due_at=placeholder,
                )
                publication, _ = await publications.place_publication(session, data, links)
                placed.append(publication)
        return placed

    batches = await asyncio.gather(*(place(first) for first in range(0, posts, INSERT_BATCH)))
    return [publication for batch in batches for publication in batch]


async def set_due(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    publications: list[Publication],
    due_at: datetime,
) -> None:
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            update(Publication)
            .where(Publication.organization_id == organization_id)
            .values(due_at=due_at)
        )
    for publication in publications:
        publication.due_at = due_at


@contextlib.asynccontextmanager
async def connected_scheduler(settings: Settings) -> AsyncIterator[Scheduler]:
    """The publisher API's scheduler, connected as the API connects it."""
    scheduler = Scheduler(settings)
    scheduler.start_connecting()
    try:
        async with asyncio.timeout(30):
            while True:
                with contextlib.suppress(DependencyUnavailableError):
                    scheduler.require_connection()
                    break
                await asyncio.sleep(0.05)
        yield scheduler
    finally:
        await scheduler.close()


async def start_workflows(
    scheduler: Scheduler, settings: Settings, publications: list[Publication], design: str
) -> None:
    """Each post's workflow, started as the API starts it once the post is placed; in the batch
    design, each post added by signal-with-start to its account's and due minute's workflow."""
    in_flight = asyncio.Semaphore(STARTS_IN_FLIGHT)
    prefix = settings.temporal.task_queue_prefix

    async def start(publication: Publication) -> None:
        async with in_flight:
            if design == "post":
                await scheduler.start(publication)
                return
            await scheduler.client.start_workflow(
                batch_design.BATCH_WORKFLOW,
                batch_design.BatchInput(due_at=publication.due_at, task_queue_prefix=prefix),
                id=batch_design.batch_workflow_id(publication.connection_id, publication.due_at),
                task_queue=prefix + batch_design.WORKFLOW_QUEUE,
                start_signal=batch_design.ADD_POST_SIGNAL,
                start_signal_args=[publication.id],
            )

    await asyncio.gather(*(start(publication) for publication in publications))


async def wait_settled(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, posts: int
) -> None:
    """Until every post is settled, or no post has settled for ``STALL`` (the rest are lost)."""
    settled, progress_at = -1, time.monotonic()
    while settled < posts and time.monotonic() - progress_at < STALL.total_seconds():
        await asyncio.sleep(1)
        async with session_scope(sessions, SYSTEM) as session:
            now_settled = await session.scalar(
                select(func.count()).where(
                    Publication.organization_id == organization_id,
                    Publication.status.in_(SETTLED),
                )
            )
        if now_settled != settled:
            settled, progress_at = now_settled or 0, time.monotonic()


async def latenesses(
    sessions: async_sessionmaker[AsyncSession], organization_id: uuid.UUID
) -> list[tuple[datetime, float]]:
    """(published at, seconds after due) of every published post of the organisation."""
    async with session_scope(sessions, SYSTEM) as session:
        rows = await session.execute(
            select(Publication.published_at, Publication.due_at).where(
                Publication.organization_id == organization_id,
                Publication.status == "published",
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


def platform_workers(settings: Settings, batch_design_too: bool) -> list[WorkerProcess]:
    """The workflow worker, and the publisher's worker (whose sandbox queue publishes); with
    ``batch_design_too`` the batch design's two stand-in processes as well."""
    workers = [
        engage_worker("workflows", settings.task_queue(task_queues.WORKFLOWS), WORKFLOW_QUEUE),
        engage_worker(
            "publisher",
            settings.task_queue(platform_queue(Channel.SANDBOX.value)),
            ACTIVITY_QUEUE,
        ),
    ]
    if batch_design_too:
        prefix = settings.temporal.task_queue_prefix
        module = (sys.executable, "-m", "benchmarks.publish_batch")
        workers += [
            WorkerProcess(
                "batch_workflows",
                (*module, "workflows"),
                prefix + batch_design.WORKFLOW_QUEUE,
                WORKFLOW_QUEUE,
            ),
            WorkerProcess(
                "batch_publisher",
                (*module, "publisher"),
                prefix + batch_design.ACTIVITY_QUEUE,
                ACTIVITY_QUEUE,
            ),
        ]
    return workers


async def postgres_backends(sessions: async_sessionmaker[AsyncSession]) -> dict[str, list[int]]:
    """PostgreSQL's processes serving the scratch database (connections come and go)."""
    async with session_scope(sessions, SYSTEM) as session:
        found = await session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        )
        return {"postgres": list(found)}


async def run() -> None:
    unknown = [name for name in CHOSEN if name not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown publish scenario {', '.join(unknown)}")
    async with contextlib.AsyncExitStack() as stack:
        scratch = await stack.enter_async_context(scratch_settings("publisher"))
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-publish-")))
        temporal = await stack.enter_async_context(temporal_dev_server(scratch, data_dir))
        settings = bench_settings(scratch, data_dir, free_port(), temporal.address)
        # The stream the publisher's outbox relay publishes to.
        await stack.enter_async_context(scratch_stream(settings, "bench-publish"))
        sandbox = await stack.enter_async_context(sandbox_process(settings))
        engine = create_engine(settings)
        stack.push_async_callback(engine.dispose)
        sessions = create_session_factory(engine)
        workers = await stack.enter_async_context(
            running_workers(
                temporal.client,
                settings,
                platform_workers(
                    settings, any(SCENARIOS[name].design == "batch" for name in CHOSEN)
                ),
                data_dir,
                extra_env=WORKER_SETTINGS,
            )
        )
        scheduler = await stack.enter_async_context(connected_scheduler(settings))
        pids = {**workers.pids, "sandbox": sandbox.pid, "temporal": temporal.pid}
        for name in CHOSEN:
            await measure(
                SCENARIOS[name], settings, sandbox.client, scheduler, sessions, CpuMeter(pids)
            )


def due_instant(scenario: Scenario) -> datetime:
    """Late enough for every workflow to start first; the start of a minute if asked."""
    due_at = datetime.now(UTC) + timedelta(seconds=10 + scenario.posts * START_SECONDS_PER_POST)
    if scenario.on_the_minute:
        due_at = due_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return due_at


async def measure(
    scenario: Scenario,
    settings: Settings,
    sandbox: httpx.AsyncClient,
    scheduler: Scheduler,
    sessions: async_sessionmaker[AsyncSession],
    cpu: CpuMeter,
) -> None:
    connector = SandboxConnector.from_settings(settings)
    tag = scenario.name
    probes = [
        await sign_up(sandbox, connector, f"{tag} ceiling {n}") for n in range(scenario.accounts)
    ]
    ceiling, accepted_after = await measure_ceiling(sandbox, probes, scenario.posts)

    accounts = [
        await sign_up(sandbox, connector, f"{tag} publisher {n}") for n in range(scenario.accounts)
    ]
    organization_id, connection_ids = await connect(
        sessions, TokenVault(settings.publisher), accounts
    )
    placed = await schedule(sessions, settings, organization_id, connection_ids, scenario.posts)
    due_at = due_instant(scenario)
    await set_due(sessions, organization_id, placed, due_at)
    # Metered from the first start: each post's first workflow task runs while the rest start.
    metered_from = time.perf_counter()
    cpu.start(await postgres_backends(sessions))
    await start_workflows(scheduler, settings, placed, scenario.design)
    started_after_due = max(0.0, (datetime.now(UTC) - due_at).total_seconds())
    await asyncio.sleep(max(0.0, (due_at - datetime.now(UTC)).total_seconds()))
    await wait_settled(sessions, organization_id, scenario.posts)
    cpu_use = cpu.stop(await postgres_backends(sessions))
    metered = time.perf_counter() - metered_from
    cpu_ms_per_post = {
        name: round(cores * metered / scenario.posts * 1000, 1)
        for name, cores in cpu_use.items()
        if name not in ("cores", "machine_busy_cores")
    }
    published = await latenesses(sessions, organization_id)
    keys = {publication.idempotency_key for publication in placed}
    per_key = await posts_per_key(sandbox, accounts)
    stats = (await sandbox.get("/sandbox/stats")).json()

    run = {"posts": scenario.posts, "accounts": scenario.accounts, "design": scenario.design}
    last_published = max((at for at, _ in published), default=due_at)
    rate = len(published) / max((last_published - due_at).total_seconds(), 1e-3)
    report(
        tag,
        "posts_published_per_second",
        round(rate, 1),
        "posts/s",
        **run,
        rate_limit_per_second=RATE_LIMIT_PER_SECOND,
        rate_limit_burst=RATE_LIMIT_BURST,
        platform_concurrency=settings.publisher.platform_concurrency,
        workflows_started_after_due_seconds=round(started_after_due, 1),
        cpu_ms_per_post=cpu_ms_per_post,
        cpu_ms_per_post_total=round(
            sum(value for name, value in cpu_ms_per_post.items() if name != "rest"), 1
        ),
        machine_busy_cores=cpu_use.get("machine_busy_cores"),
        load_averages=[round(value, 2) for value in os.getloadavg()],
        sandbox_rejected_rate_limited=stats["rejected_rate_limited"],
        baseline="sandbox_accept_ceiling",
        baseline_value=round(ceiling, 1),
        ratio=round(rate / ceiling, 3),
    )
    delays = [lateness for _, lateness in published] or [float("nan")]
    for name, share in (("p50", 0.5), ("p99", 0.99)):
        report(
            tag,
            f"lateness_{name}",
            round(percentile(delays, share), 2),
            "s",
            **run,
            baseline=f"sandbox_ceiling_acceptance_delay_{name}",
            baseline_value=round(percentile(accepted_after, share), 2),
        )
    report(
        tag,
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
        tag,
        "lost_posts",
        scenario.posts - len(published),
        "posts",
        **run,
        baseline="required",
        baseline_value=0,
    )

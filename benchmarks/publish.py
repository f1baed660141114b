"""Scheduled publishing at scale: N posts due at one instant across five sandbox accounts,
published by ``PublishBatchWorkflow`` (one per account and due minute) and the publisher's
``publisher.publish_batch`` activity.

The platform runs as ``make up`` runs it, each part a process of its own: a Temporal dev server
(in memory), ``engage worker workflows``, ``engage worker publisher`` (the sandbox's task queue,
``ENGAGE_PUBLISHER__PLATFORM_CONCURRENCY`` publishes at a time, and its outbox relay) and the
sandbox, on a scratch database and stream. This process records one approved variant in the
publisher's read model (as content's ``item_approved`` would), places the posts of it, each in a
slot of its own, through the API's code path (``publications.place_publication``), hands each to
its batch with the API's ``Scheduler`` (``publish_posts.py``), and waits for the posts to settle.
The sandbox, its accounts and the ceiling are in ``publish_sandbox.py``.

The baseline is the sandbox's own ceiling, measured first in the same run with the same rate
limits: as many posts sent straight to it over kept-alive connections as fast as it accepts
them, with no scheduling, database, workflow or connector in between. On a free machine that
ceiling is the sandbox's rate limit (5 accounts x 50 posts/s after a burst of 100 each: about
260 posts/s at N = 10,000); on a busy one, CPU.

What bounds the ratio is CPU. ``cpu_ms_per_post`` gives each process's CPU per post, from the
first hand-over until every post settled. With a workflow per post (before issue 18's change) a
post took 70-130 ms on the 2-core development machine, over half of it in the Temporal dev
server and the workflow worker; with batches each post costs the server a signal and a share of
one timer and one activity, and most of what is left is the publisher's own work (two
transactions, the sandbox call, the relayed ``post_published``), the sandbox and PostgreSQL
(figures in ``docs/benchmarks.md``). ``rest`` in ``cpu_ms_per_post`` and
``machine_busy_cores`` say how much else ran on the machine.

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
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from benchmarks.common import percentile, report, scratch_settings, scratch_stream
from benchmarks.cpu import CpuMeter
from benchmarks.publish_posts import (
    connect,
    connected_scheduler,
    latenesses,
    postgres_backends,
    schedule,
    set_due,
    start_workflows,
    wait_settled,
)
from benchmarks.publish_sandbox import (
    RATE_LIMIT_BURST,
    RATE_LIMIT_PER_SECOND,
    bench_settings,
    measure_ceiling,
    posts_per_key,
    sandbox_process,
    sign_up,
)
from benchmarks.workers import (
    ACTIVITY_QUEUE,
    WORKFLOW_QUEUE,
    WorkerProcess,
    engage_worker,
    free_port,
    running_workers,
    temporal_dev_server,
)
from services.publisher.connectors.sandbox import SandboxConnector
from services.publisher.contracts import platform_queue
from services.publisher.crypto import TokenVault
from services.publisher.scheduling import Scheduler
from shared import task_queues
from shared.db.session import create_engine, create_session_factory
from shared.domain import Channel
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


POSTS = int(os.environ.get("BENCH_PUBLISH_POSTS", "10000"))
SCENARIOS = {
    "publish": Scenario("publish", POSTS, 5),
    "publish_1000": Scenario("publish_1000", 1000, 20, on_the_minute=True),
}
CHOSEN = [
    name.strip()
    for name in os.environ.get("BENCH_PUBLISH_SCENARIOS", "publish,publish_1000").split(",")
    if name.strip()
]
# Time allowed to hand each post to its batch before the common due time.
START_SECONDS_PER_POST = 0.01
# The workers' settings beyond the scratch ones. The maintenance schedule (token refresh and
# metrics collection over every published post) runs weekly, so it never runs during the
# measurement and competes with the posts for the sandbox's rate limit.
WORKER_SETTINGS = {"ENGAGE_PUBLISHER__METRICS_INTERVAL_SECONDS": str(7 * 24 * 3600)}


def platform_workers(settings: Settings) -> list[WorkerProcess]:
    """The workflow worker, and the publisher's worker (whose sandbox queue publishes)."""
    return [
        engage_worker("workflows", settings.task_queue(task_queues.WORKFLOWS), WORKFLOW_QUEUE),
        engage_worker(
            "publisher",
            settings.task_queue(platform_queue(Channel.SANDBOX.value)),
            ACTIVITY_QUEUE,
        ),
    ]


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
                platform_workers(settings),
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


async def sandbox_stats(sandbox: httpx.AsyncClient) -> dict[str, int]:
    """The sandbox's counters since it started (``/sandbox/stats``)."""
    stats: dict[str, int] = (await sandbox.get("/sandbox/stats")).json()
    return stats


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
    before = await sandbox_stats(sandbox)
    probes = [
        await sign_up(sandbox, connector, f"{tag} ceiling {n}") for n in range(scenario.accounts)
    ]
    ceiling, accepted_after = await measure_ceiling(sandbox, probes, scenario.posts)
    # The sandbox's counters run for the whole run: this scenario's are the differences.
    after_ceiling = await sandbox_stats(sandbox)

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
    await start_workflows(scheduler, placed)
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
    stats = await sandbox_stats(sandbox)
    published = await latenesses(sessions, organization_id)
    keys = {publication.idempotency_key for publication in placed}
    per_key = await posts_per_key(sandbox, accounts)

    run = {"posts": scenario.posts, "accounts": scenario.accounts, "design": "batch"}
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
        # The publisher's requests refused for the rate limit, and the ceiling's (which backs
        # off and sends again on each refusal), each in this scenario only.
        sandbox_rejected_rate_limited=stats["rejected_rate_limited"]
        - after_ceiling["rejected_rate_limited"],
        ceiling_rejected_rate_limited=after_ceiling["rejected_rate_limited"]
        - before["rejected_rate_limited"],
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
        sandbox_duplicates_prevented=stats["duplicates_prevented"]
        - after_ceiling["duplicates_prevented"],
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

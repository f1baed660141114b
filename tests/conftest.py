"""Fixtures on real servers: PostgreSQL, NATS JetStream and a Temporal dev server.

PostgreSQL and NATS are used where settings point when they answer, otherwise started from the
wheels (``engage.infra``). Each test run gets its own database, stream, subject prefix and task
queue prefix, so runs and tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from engage import infra
from engage.bootstrap import drop_database, ensure_database
from services.content import worker as content_worker
from services.content.app import build_app as build_content
from services.content.contests import mention_entries as content_contest_entries
from services.content.models import OutboxEvent as ContentOutboxEvent
from services.content.models import engagements as content_engagements
from services.gateway.app import build_app as build_gateway
from services.listening import worker as listening_worker
from services.listening.app import build_app as build_listening
from services.listening.ingestion import ingestion as listening_ingestion
from services.listening.models import OutboxEvent as ListeningOutboxEvent
from services.listening.models import engagements as listening_engagements
from services.publisher import approvals as publisher_approvals
from services.publisher import worker as publisher_worker
from services.publisher.app import build_app as build_publisher
from services.publisher.models import OutboxEvent as PublisherOutboxEvent
from services.publisher.models import engagements as publisher_engagements
from services.reporting.app import build_app as build_reporting
from services.reporting.models import OutboxEvent as ReportingOutboxEvent
from services.reporting.models import engagements as reporting_engagements
from services.reporting.readmodel.subscriptions import SUBSCRIPTIONS as REPORTING_READ_MODEL
from services.reporting.reports.activities import ReportActivities
from services.reporting.reports.schedules import report_schedule_consumer
from services.sandbox.app import build_app as build_sandbox
from services.strategy import listening_facts as strategy_listening_facts
from services.strategy import worker as strategy_worker
from services.strategy.app import build_app as build_strategy
from services.strategy.models import OutboxEvent
from shared import task_queues
from shared.auth import CLIENT_ROLES, Role, issue_dev_token
from shared.db.migrations import upgrade, upgrade_all
from shared.db.roles import drop_roles, ensure_roles, service_database_url
from shared.db.session import create_engine, create_session_factory
from shared.events.jetstream import connect_nats, ensure_stream
from shared.events.relay import OutboxRelay
from shared.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from shared.settings import (
    DATA_SERVICES,
    Credential,
    DatabaseRolesSettings,
    EventSettings,
    RateLimitSettings,
    ServiceName,
    Settings,
    TemporalSettings,
    TokenBucketSettings,
)
from shared.telemetry import temporal_interceptors
from tests.activity_probe import ActivityProbeWorkflow, run_activity
from workflows.worker import WORKFLOWS

if TYPE_CHECKING:
    from tests.publisher_helpers import SandboxAccount

RUN_ID = uuid.uuid4().hex[:8]
GENEROUS_BUCKET = TokenBucketSettings(per_second=100_000.0, burst=100_000)
# What the services' workers consume, besides relaying their outboxes.
SUBSCRIPTIONS = [
    content_engagements.subscription,
    content_contest_entries.subscription,
    listening_engagements.subscription,
    listening_ingestion.subscription,
    *publisher_approvals.SUBSCRIPTIONS,
    publisher_engagements.subscription,
    *strategy_listening_facts.SUBSCRIPTIONS,
    reporting_engagements.subscription,
    *REPORTING_READ_MODEL,
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def isolated_event_settings(tag: str) -> EventSettings:
    """A stream and subject prefix of the test's own (``ENGAGE`` itself is left to ``make up``)."""
    return EventSettings(
        stream=f"ENGAGE_{tag}".upper(), subject_prefix=f"t{tag}", relay_poll_seconds=0.05
    )


@pytest.fixture(scope="session")
async def base_settings(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Settings]:
    configured = Settings()
    database = make_url(configured.database_url).set(database=f"engage_test_{RUN_ID}")
    settings = configured.model_copy(
        update={
            "environment": "test",
            "database_url": database.render_as_string(hide_password=False),
            "data_dir": str(tmp_path_factory.mktemp("engage-data")),
            "events": isolated_event_settings(RUN_ID),
            "temporal": TemporalSettings(task_queue_prefix=f"t{RUN_ID}-"),
            # Roles of the run's own (roles are the server's, shared by concurrent runs).
            "database_roles": DatabaseRolesSettings(
                **{s: Credential(user=f"t{RUN_ID}_{s}") for s in DATA_SERVICES}
            ),
        }
    )
    started = [await infra.start_postgres(settings), await infra.start_nats(settings)]
    await ensure_database(settings)
    await upgrade_all(DATA_SERVICES, settings.database_url)
    await ensure_roles(settings)
    yield settings
    await drop_database(settings)
    await drop_roles(settings)
    for process in started:
        if process is not None:
            await infra.stop_process(process)


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    binary = Path(sys.executable).parent / "temporal"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary),
        data_converter=pydantic_data_converter,
        interceptors=temporal_interceptors(),
        dev_server_log_level="error",
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def settings(base_settings: Settings, temporal_env: WorkflowEnvironment) -> Settings:
    target = temporal_env.client.service_client.config.target_host
    ports = base_settings.ports.model_copy(
        update={
            name: free_port()
            for name in (
                "gateway",
                "strategy",
                "content",
                "publisher",
                "listening",
                "reporting",
                "sandbox",
            )
        }
    )
    return base_settings.model_copy(
        update={
            "temporal": base_settings.temporal.model_copy(update={"address": target}),
            "ports": ports,
            "publisher": base_settings.publisher.model_copy(
                update={
                    "api_base_urls": {"sandbox": f"http://127.0.0.1:{ports.sandbox}"},
                    # Short, so that an answer the sandbox holds back times out quickly.
                    "request_timeout_seconds": 2.0,
                }
            ),
            # Generous limits: tests about rate limiting set their own faults.
            "sandbox": base_settings.sandbox.model_copy(
                update={"rate_limit_per_second": 1000.0, "rate_limit_burst": 1000}
            ),
            # The tests all call as one subject: the gateway's own limits are tested on their own.
            "gateway": base_settings.gateway.model_copy(
                update={
                    "rate_limits": RateLimitSettings(
                        read=GENEROUS_BUCKET,
                        write=GENEROUS_BUCKET,
                        upload=GENEROUS_BUCKET,
                        stream=GENEROUS_BUCKET,
                    )
                }
            ),
        }
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture
async def nats_client(settings: Settings) -> AsyncIterator[NatsClient]:
    client = await connect_nats(settings, "tests")
    yield client
    await client.close()


@pytest.fixture
async def isolated_events(
    settings: Settings, nats_client: NatsClient
) -> AsyncIterator[EventSettings]:
    """A stream of this test's own, deleted afterwards."""
    events = isolated_event_settings(uuid.uuid4().hex[:10])
    js = nats_client.jetstream()
    await ensure_stream(js, events)
    yield events
    await js.delete_stream(events.stream)


@pytest.fixture
async def fresh_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A database of this test's own with the strategy schema: for tests that drain an outbox."""
    url = make_url(settings.database_url).set(database=f"engage_test_{uuid.uuid4().hex[:12]}")
    database_url = url.render_as_string(hide_password=False)
    scoped = settings.model_copy(update={"database_url": database_url})
    await ensure_database(scoped)
    await asyncio.to_thread(upgrade, "strategy", database_url)
    engine = create_engine(scoped)
    yield create_session_factory(engine)
    await engine.dispose()
    await drop_database(scoped)


def as_role(settings: Settings, service: ServiceName) -> Settings:
    """The settings of a service's processes: its database as the service's role."""
    return settings.model_copy(update={"database_url": service_database_url(settings, service)})


async def _serve(app: FastAPI, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=SERVER_GRACE_SECONDS,
            timeout_keep_alive=SERVER_KEEP_ALIVE_SECONDS,
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return server, task


# A request a test left waiting (its client gave up) must not hold the servers' shutdown.
SERVER_GRACE_SECONDS = 5
TEARDOWN_SECONDS = 60


@dataclass
class Platform:
    """The platform running in-process: strategy and gateway over HTTP, workers, the relay."""

    settings: Settings
    gateway: httpx.AsyncClient
    temporal: Client

    async def run_activity(self, task_queue: str, activity: str, argument: BaseModel) -> Any:
        """Run a service's activity through Temporal on its real task queue."""
        return await run_activity(
            self.temporal,
            self.settings.task_queue(task_queues.WORKFLOWS),
            self.settings.task_queue(task_queue),
            activity,
            argument,
        )

    def token(self, *roles: Role, orgs: list[str] | None = None, **kwargs: object) -> str:
        """Roles in ``orgs``; without them, agency roles in every organisation and client roles
        in an organisation of their own (``*`` grants no client role)."""
        if orgs is None:
            orgs = [str(uuid.uuid4()) if set(roles) & CLIENT_ROLES else "*"]
        return issue_dev_token(self.settings, "tester", list(roles), orgs, **kwargs)  # type: ignore[arg-type]

    def auth(self, *roles: Role, orgs: list[str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(*roles, orgs=orgs)}"}


@pytest.fixture(scope="session")
async def platform(
    settings: Settings,
    temporal_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[Platform]:
    servers = [
        # Each service's API connects as the service's own role, as under ``engage up``.
        await _serve(build_strategy(as_role(settings, "strategy")), settings.ports.strategy),
        await _serve(build_content(as_role(settings, "content")), settings.ports.content),
        await _serve(build_publisher(as_role(settings, "publisher")), settings.ports.publisher),
        await _serve(build_listening(as_role(settings, "listening")), settings.ports.listening),
        await _serve(build_reporting(as_role(settings, "reporting")), settings.ports.reporting),
        await _serve(build_sandbox(settings), settings.ports.sandbox),
        await _serve(build_gateway(settings), settings.ports.gateway),
    ]
    http = httpx.AsyncClient(timeout=settings.publisher.request_timeout_seconds)
    client = temporal_env.client
    relay_nats = await connect_nats(settings, "platform-relay")
    publisher_queues = publisher_worker.queues(
        publisher_worker.build_activities(sessions, settings, http, lambda: client), settings
    )
    workers = [
        Worker(client, task_queue=settings.task_queue(queue), activities=offered)
        for queue, offered in (
            (task_queues.STRATEGY, strategy_worker.activities(sessions)),
            (task_queues.CONTENT, content_worker.activities(sessions, settings)),
            (
                task_queues.LISTENING,
                listening_worker.activities(sessions, settings, http, relay_nats.jetstream),
            ),
            (task_queues.REPORTING, ReportActivities(sessions, settings).all()),
        )
        if offered
    ]
    workers += [
        Worker(
            client,
            task_queue=settings.task_queue(queue.task_queue),
            activities=queue.activities,
            max_concurrent_activities=queue.max_concurrent,
        )
        for queue in publisher_queues
    ]
    workers.append(
        Worker(
            client,
            task_queue=settings.task_queue(task_queues.WORKFLOWS),
            workflows=[*WORKFLOWS, ActivityProbeWorkflow],
        )
    )
    await ensure_stream(relay_nats.jetstream(), settings.events)
    stop = asyncio.Event()
    relays = [
        asyncio.create_task(
            OutboxRelay(sessions, model, relay_nats.jetstream(), settings.events).run(stop)
        )
        for model in (
            OutboxEvent,
            ContentOutboxEvent,
            PublisherOutboxEvent,
            ListeningOutboxEvent,
            ReportingOutboxEvent,
        )
    ]
    # The services' read models, fed as their workers feed them.
    consumers = [
        asyncio.create_task(
            subscription.consumer(relay_nats.jetstream(), sessions, settings.events).run(stop)
        )
        for subscription in SUBSCRIPTIONS
    ]
    # Each engagement's periodic reports' schedule, kept from the lifecycle's facts.
    consumers.append(
        asyncio.create_task(
            report_schedule_consumer(client, relay_nats.jetstream(), sessions, settings).run(stop)
        )
    )
    async with contextlib.AsyncExitStack() as running:
        for worker in workers:
            await running.enter_async_context(worker)
        gateway = await running.enter_async_context(
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{settings.ports.gateway}",
                timeout=30,
                # The tests read right after changing things outside the gateway (activities,
                # the database), which its read cache may show up to a second later by design:
                # they ask for the service's answer, as a client may (tests/test_gateway_read_
                # cache.py reads without it).
                headers={"Cache-Control": "no-cache"},
            )
        )
        await wait_until(lambda: _ready(gateway), timeout=30)
        yield Platform(settings=settings, gateway=gateway, temporal=client)
        watchdog = asyncio.create_task(_report_stuck_teardown())
    stop.set()
    await asyncio.gather(*relays, *consumers)
    await relay_nats.jetstream().delete_stream(settings.events.stream)
    await relay_nats.close()
    await http.aclose()
    for server, task in servers:
        server.should_exit = True
        await task
    watchdog.cancel()


async def _report_stuck_teardown() -> None:
    """Print where every task waits if the platform takes more than a minute to stop."""
    await asyncio.sleep(TEARDOWN_SECONDS)
    print(f"platform teardown still running after {TEARDOWN_SECONDS} s:", file=sys.stderr)
    for task in asyncio.all_tasks():
        task.print_stack(file=sys.stderr)


async def _ready(gateway: httpx.AsyncClient) -> bool:
    return (await gateway.get("/readyz")).status_code == 200


async def wait_until(
    condition: Callable[[], Awaitable[bool]], timeout: float = 10.0, interval: float = 0.05
) -> None:
    """Poll ``condition`` until it holds; fail the test when it never does."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(interval)


@pytest.fixture
async def sandbox(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client to the platform's sandbox; no fault stays armed for the next test."""
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{platform.settings.ports.sandbox}", trust_env=False
    ) as client:
        yield client
        await client.post(
            "/sandbox/faults", json={"failure_rate": 0, "accept_then_timeout": {"count": 0}}
        )


@pytest.fixture
async def account(platform: Platform, sandbox: httpx.AsyncClient) -> SandboxAccount:
    """A sandbox account of a new organisation, connected through the gateway."""
    # Imported here: the helpers build on this module's fixtures and types.
    from tests.publisher_helpers import connect_sandbox
    from tests.test_thin_thread import create_org

    return await connect_sandbox(platform, sandbox, await create_org(platform))

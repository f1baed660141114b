"""The whole platform as ``engage up`` runs it, but private and breakable.

PostgreSQL, NATS and the Temporal dev server are started from the venv's wheels by
``engage.infra`` on free ports with their data under a scratch directory (never the machine's
shared servers); the services, the sandbox and the workers are the supervisor's own child
processes (``engage.supervisor.child_specs``), each in a process group of its own, logging to
``<scratch>/logs/<name>.log``. Like the supervisor, a child that exits is started again after a
short delay; unlike it, any process can be killed on purpose (SIGKILL to its whole group), and
the infrastructure can be killed, stalled and restarted. ``close`` stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from engage import infra, nats_auth
from engage.bootstrap import prepare
from engage.infra import EmbeddedProcess
from engage.supervisor import (
    RESTART_WINDOW_SECONDS,
    ChildSpec,
    child_component,
    child_specs,
    restart_delay,
)
from engage.supervisor import child_environment as supervisor_environment
from shared import task_queues
from shared.settings import (
    NotificationsSettings,
    Ports,
    SandboxSettings,
    Settings,
    TemporalSettings,
)
from shared.temporal import connect_temporal

REPOSITORY = Path(__file__).resolve().parents[1]
READY_SECONDS = 300.0
STOP_GRACE_SECONDS = 10.0
POLL_SECONDS = 0.2
# The sandbox is the outside world (a social network): its throttle would slow the checks'
# reads, not the platform's behaviour under faults.
SANDBOX_REQUESTS_PER_SECOND = 200.0
# The task queue whose pollers show that a worker process is back (its pid in the identity).
WORKER_QUEUES = {
    "workflows": (task_queues.WORKFLOWS, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
    "strategy": (task_queues.STRATEGY, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    "content": (task_queues.CONTENT, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    "publisher": (task_queues.PUBLISHER, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    "listening": (task_queues.LISTENING, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    "reporting": (task_queues.REPORTING, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
}
INFRASTRUCTURE = ("postgres", "nats", "temporal")


def private_settings(scratch: Path) -> Settings:
    """Settings of a platform of our own: every port free, every file under ``scratch``."""
    port = free_port
    return Settings(
        environment="dev",
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port()}/engage_chaos",
        nats_url=f"nats://127.0.0.1:{port()}",
        data_dir=str(scratch / "data"),
        ports=Ports(
            gateway=port(),
            strategy=port(),
            content=port(),
            publisher=port(),
            listening=port(),
            reporting=port(),
            sandbox=port(),
        ),
        temporal=TemporalSettings(address=f"127.0.0.1:{port()}", ui_port=port()),
        notifications=NotificationsSettings(smtp_port=port()),
        sandbox=SandboxSettings(
            rate_limit_per_second=SANDBOX_REQUESTS_PER_SECOND,
            rate_limit_burst=int(SANDBOX_REQUESTS_PER_SECOND),
        ),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]
        return found


def child_environment(settings: Settings, scratch: Path, spec: ChildSpec) -> dict[str, str]:
    """What the supervisor gives the child (its service's PostgreSQL role, its component's NATS
    user), and the private ports and directories; none of the caller's own ``ENGAGE_*``."""
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("ENGAGE_")}
    pinned = {
        key: value
        for key, value in supervisor_environment(
            settings, child_component(spec), nats_users=True
        ).items()
        if key.startswith("ENGAGE_") and os.environ.get(key) != value
    }
    ports = {
        f"ENGAGE_PORTS__{name.upper()}": str(value)
        for name, value in settings.ports.model_dump().items()
    }
    return (
        inherited
        | ports
        | {
            "PYTHONUNBUFFERED": "1",
            # Worker heartbeat files apart from those of a `make up` on the same machine.
            "TMPDIR": str(scratch),
            "ENGAGE_ENVIRONMENT": settings.environment,
            "ENGAGE_DATA_DIR": settings.data_dir,
            "ENGAGE_TEMPORAL__UI_PORT": str(settings.temporal.ui_port),
            "ENGAGE_NOTIFICATIONS__SMTP_PORT": str(settings.notifications.smtp_port),
            "ENGAGE_SANDBOX__RATE_LIMIT_PER_SECOND": str(settings.sandbox.rate_limit_per_second),
            "ENGAGE_SANDBOX__RATE_LIMIT_BURST": str(settings.sandbox.rate_limit_burst),
        }
        # The supervisor's own: the URLs, the service's role and the component's NATS user.
        | pinned
    )


@dataclass
class Child:
    """One ``python -m engage ...`` process the platform keeps running."""

    name: str
    args: tuple[str, ...]
    port: int | None
    environment: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    watcher: asyncio.Task[None] | None = None
    starts: int = 0
    # Exits nobody asked for (the process died on its own), with their codes.
    unexpected_exits: list[int] = field(default_factory=list)
    kill_requested: bool = False
    # When it was last started again (the supervisor's backoff counts those of the last minute).
    restarted_at: list[float] = field(default_factory=list)
    respawned: asyncio.Event = field(default_factory=asyncio.Event)


class Platform:
    """Start with ``start``; ``close`` stops every process it started, whatever happened."""

    def __init__(self, settings: Settings, scratch: Path, down_seconds: float) -> None:
        self.settings = settings
        self.scratch = scratch
        self.logs = scratch / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.down_seconds = down_seconds
        self.infrastructure: dict[str, EmbeddedProcess] = {}
        self.children = {
            spec.name: Child(
                spec.name, spec.args, spec.port, child_environment(settings, scratch, spec)
            )
            for spec in child_specs(settings)
        }
        self.temporal: Client | None = None
        self._stopping = False
        self._stalled: EmbeddedProcess | None = None

    @property
    def admin_settings(self) -> Settings:
        """The settings connecting to NATS as its admin (the stream's set-up, the checks)."""
        return nats_auth.as_component(self.settings, nats_auth.ADMIN)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ports.gateway}"

    # --- start and stop -----------------------------------------------------------------------

    async def start(self) -> None:
        started = await asyncio.gather(
            infra.start_postgres(self.settings),
            infra.start_nats(self.settings, users=True),
            infra.start_temporal(self.settings),
            return_exceptions=True,
        )
        for name, handle in zip(INFRASTRUCTURE, started, strict=True):
            if isinstance(handle, EmbeddedProcess):
                self.infrastructure[name] = handle
        failures = [result for result in started if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        missing = [name for name in INFRASTRUCTURE if name not in self.infrastructure]
        if missing:
            raise RuntimeError(f"{', '.join(missing)} already answered on a private port")
        await prepare(self.admin_settings)
        self.temporal = await connect_temporal(self.settings)
        for child in self.children.values():
            await self._spawn(child)
            child.watcher = asyncio.create_task(self._watch(child))
        await asyncio.gather(*(self.wait_ready(name) for name in self.children))

    async def close(self) -> None:
        self._stopping = True
        if self._stalled is not None:
            self._signal(self._stalled.process.pid, signal.SIGCONT, whole_group=False)
        watchers = [child.watcher for child in self.children.values() if child.watcher]
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        running = [c.process for c in self.children.values() if c.process is not None]
        await asyncio.gather(
            *(infra.terminate_group(process, STOP_GRACE_SECONDS) for process in running),
            return_exceptions=True,
        )
        for name in reversed(INFRASTRUCTURE):
            handle = self.infrastructure.pop(name, None)
            if handle is not None:
                with contextlib.suppress(Exception):
                    await infra.stop_process(handle, STOP_GRACE_SECONDS)

    # --- children -----------------------------------------------------------------------------

    async def _spawn(self, child: Child) -> None:
        with (self.logs / f"{child.name.replace(' ', '-')}.log").open("ab") as log:
            banner = f"--- chaos: start {child.starts + 1} at {time.strftime('%T')} ---\n"
            log.write(banner.encode())
            log.flush()
            child.process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "engage", *child.args),
                cwd=REPOSITORY,
                env=child.environment,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        child.starts += 1
        child.respawned.set()

    async def _watch(self, child: Child) -> None:
        """The supervisor's job: a child that exits is started again, after ``down_seconds``
        when we killed it, else after the supervisor's backoff."""
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if self._stopping:
                return
            child.respawned.clear()
            if child.kill_requested:
                child.kill_requested = False
                delay = self.down_seconds
            else:
                child.unexpected_exits.append(code)
                now = time.monotonic()
                recent = [at for at in child.restarted_at if now - at < RESTART_WINDOW_SECONDS]
                child.restarted_at = [*recent, now]
                delay = restart_delay(len(child.restarted_at))
            await asyncio.sleep(delay)
            await self._spawn(child)

    async def kill(self, name: str) -> float:
        """SIGKILL one child's whole group; seconds until it is back and ready."""
        child = self.children[name]
        assert child.process is not None
        started = time.monotonic()
        child.kill_requested = True
        self._signal(child.process.pid, signal.SIGKILL)
        await child.process.wait()
        await asyncio.wait_for(child.respawned.wait(), READY_SECONDS)
        await self.wait_ready(name)
        return time.monotonic() - started

    async def wait_ready(self, name: str, within: float = READY_SECONDS) -> None:
        """A service answers ``/readyz`` 200; a worker polls its task queue as its current pid."""
        child = self.children[name]
        deadline = time.monotonic() + within
        while not await self._ready(child):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready within {within:.0f}s; see {self.logs}")
            await asyncio.sleep(POLL_SECONDS)

    async def _ready(self, child: Child) -> bool:
        if child.process is None or child.process.returncode is not None:
            return False
        if child.port is not None:
            try:
                async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
                    answer = await client.get(f"http://127.0.0.1:{child.port}/readyz")
            except httpx.HTTPError:
                return False
            return answer.status_code == 200
        worker = child.args[-1]
        if worker not in WORKER_QUEUES or self.temporal is None:
            return True
        queue, queue_type = WORKER_QUEUES[worker]
        try:
            described = await self.temporal.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.temporal.namespace,
                    task_queue=TaskQueue(name=self.settings.task_queue(queue)),
                    task_queue_type=queue_type,
                ),
                timeout=timedelta(seconds=2),
            )
        except Exception:  # Temporal busy or away: not known to be ready yet
            return False
        identity = f"{child.process.pid}@"
        return any(poller.identity.startswith(identity) for poller in described.pollers)

    # --- infrastructure -----------------------------------------------------------------------

    async def kill_infrastructure(self, name: str, down_seconds: float) -> float:
        """SIGKILL a server's whole process group (PostgreSQL: the postmaster and every backend),
        then start it again on the same data; seconds until it answers."""
        handle = self.infrastructure.pop(name)
        started = time.monotonic()
        self._signal(handle.process.pid, signal.SIGKILL)
        await handle.process.wait()
        await asyncio.sleep(down_seconds)
        await self._start_infrastructure(name)
        return time.monotonic() - started

    async def restart_postgres(self, down_seconds: float) -> float:
        """A clean restart (fast shutdown, as an operator's restart does); seconds down."""
        handle = self.infrastructure.pop("postgres")
        started = time.monotonic()
        await infra.stop_process(handle, STOP_GRACE_SECONDS)
        await asyncio.sleep(down_seconds)
        await self._start_infrastructure("postgres")
        return time.monotonic() - started

    async def stall_nats(self, seconds: float) -> None:
        """SIGSTOP the NATS server for ``seconds``: connections stay open and nothing answers."""
        handle = self.infrastructure["nats"]
        self._stalled = handle
        self._signal(handle.process.pid, signal.SIGSTOP, whole_group=False)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._signal(handle.process.pid, signal.SIGCONT, whole_group=False)
            self._stalled = None

    async def _start_infrastructure(self, name: str) -> None:
        starts: dict[str, Callable[[Settings], Awaitable[EmbeddedProcess | None]]] = {
            "postgres": infra.start_postgres,
            "nats": partial(infra.start_nats, users=True),
            "temporal": infra.start_temporal,
        }
        handle = await starts[name](self.settings)
        if handle is None:
            raise RuntimeError(f"{name}: something else answers on its private port")
        self.infrastructure[name] = handle

    @staticmethod
    def _signal(pid: int, sig: signal.Signals, *, whole_group: bool = True) -> None:
        with contextlib.suppress(ProcessLookupError):
            if whole_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    def unexpected_exits(self) -> dict[str, list[int]]:
        return {name: c.unexpected_exits for name, c in self.children.items() if c.unexpected_exits}

"""The platform's own processes for a benchmark: a Temporal dev server, and ``engage worker``
processes reading the benchmark's scratch settings from their environment, as ``make up`` runs
them. Each logs to ``<scratch>/<name>.log`` and is stopped when the benchmark leaves its context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from benchmarks import memory
from shared.settings import Settings
from shared.temporal import connect_temporal

REPOSITORY = Path(__file__).resolve().parents[1]
READY_SECONDS = 120.0
STOP_SECONDS = 20.0
WORKFLOW_QUEUE = TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
ACTIVITY_QUEUE = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY


@dataclass(frozen=True)
class WorkerProcess:
    """One worker process, and a task queue it polls once it is ready."""

    name: str
    args: tuple[str, ...]
    queue: str
    queue_type: TaskQueueType.ValueType


def engage_worker(name: str, queue: str, queue_type: TaskQueueType.ValueType) -> WorkerProcess:
    """``engage worker <name>``, ready once it polls ``queue`` (already prefixed)."""
    return WorkerProcess(name, (sys.executable, "-m", "engage", "worker", name), queue, queue_type)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_environment(
    settings: Settings, scratch: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The benchmark's scratch settings for a worker process, which reads them as ``make up``'s
    workers read theirs: from ``ENGAGE_*`` variables (``extra`` adds or overrides some)."""
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        # Heartbeat files of their own, apart from those of a `make up` on the same machine.
        "TMPDIR": str(scratch),
        # A deployed worker runs compiled bytecode (the image compiles it at build time); the
        # workflow sandbox imports the workflow modules again for every run, so without a cache
        # it would compile them again each time. The cache stays in the scratch directory.
        "PYTHONPYCACHEPREFIX": str(scratch / "pycache"),
        "ENGAGE_DATA_DIR": settings.data_dir,
        "ENGAGE_DATABASE_URL": settings.database_url,
        "ENGAGE_DATABASE_POOL_SIZE": str(settings.database_pool_size),
        "ENGAGE_NATS_URL": settings.nats_url,
        "ENGAGE_EVENTS__STREAM": settings.events.stream,
        "ENGAGE_EVENTS__SUBJECT_PREFIX": settings.events.subject_prefix,
        "ENGAGE_TEMPORAL__ADDRESS": settings.temporal.address,
        "ENGAGE_TEMPORAL__NAMESPACE": settings.temporal.namespace,
        "ENGAGE_TEMPORAL__TASK_QUEUE_PREFIX": settings.temporal.task_queue_prefix,
        "ENGAGE_PORTS__SANDBOX": str(settings.ports.sandbox),
        **(extra or {}),
    }
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    return environment


@dataclass
class RunningProcesses:
    processes: dict[str, asyncio.subprocess.Process]
    logs: Path

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.processes.items()}

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


async def _polled(client: Client, worker: WorkerProcess) -> bool:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=worker.queue),
            task_queue_type=worker.queue_type,
        )
    )
    return len(described.pollers) > 0


@contextlib.asynccontextmanager
async def _processes(logs: Path) -> AsyncIterator[RunningProcesses]:
    """Processes started into the yielded holder, each logging to ``<logs>/<name>.log``;
    SIGTERM (then SIGKILL) for every one on the way out."""
    running = RunningProcesses({}, logs)
    try:
        yield running
    finally:
        processes = list(running.processes.values())
        for name, process in running.processes.items():
            if process.returncode is None:
                memory.note(name, process.pid)
                process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_SECONDS):
                await asyncio.gather(*(process.wait() for process in processes))
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _spawn(
    running: RunningProcesses, name: str, args: Sequence[str], env: Mapping[str, str]
) -> asyncio.subprocess.Process:
    with (running.logs / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *args, cwd=REPOSITORY, env=dict(env), stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    running.processes[name] = process
    return process


@contextlib.asynccontextmanager
async def running_workers(
    client: Client,
    settings: Settings,
    workers: Sequence[WorkerProcess],
    logs: Path,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[RunningProcesses]:
    """Start every worker, wait until each polls its task queue, stop them all after."""
    environment = worker_environment(settings, logs, extra_env)
    async with _processes(logs) as running:
        for worker in workers:
            await _spawn(running, worker.name, worker.args, environment)
        deadline = time.monotonic() + READY_SECONDS
        for worker in workers:
            while not await _polled(client, worker):
                exited = running.processes[worker.name].returncode is not None
                if exited or time.monotonic() > deadline:
                    state = "exited" if exited else "does not poll its task queue"
                    raise RuntimeError(
                        f"worker {worker.name} {state}:\n{running.log_tail(worker.name)}"
                    )
                await asyncio.sleep(0.2)
        yield running


@dataclass(frozen=True)
class TemporalServer:
    client: Client
    address: str
    pid: int


@contextlib.asynccontextmanager
async def temporal_dev_server(settings: Settings, logs: Path) -> AsyncIterator[TemporalServer]:
    """``temporal server start-dev`` as ``make up`` starts it (``engage/infra.py``), but headless
    and in memory."""
    port = free_port()
    address = f"127.0.0.1:{port}"
    args = [
        str(Path(sys.executable).parent / "temporal"),
        *("server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)),
        *("--log-level", "warn"),
    ]
    target = settings.model_copy(
        update={"temporal": settings.temporal.model_copy(update={"address": address})}
    )
    async with _processes(logs) as running:
        process = await _spawn(running, "temporal", args, os.environ)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            try:
                client = await connect_temporal(target)
                break
            except RuntimeError as error:
                if process.returncode is not None or time.monotonic() > deadline:
                    tail = running.log_tail("temporal")
                    raise RuntimeError(f"temporal did not start:\n{tail}") from error
                await asyncio.sleep(0.2)
        yield TemporalServer(client, address, process.pid)

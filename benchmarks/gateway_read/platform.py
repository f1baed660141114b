"""The platform as ``make up`` runs it, on scratch settings, with the baseline and a second,
rate-limited gateway beside it; the CPU its processes use."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks import memory
from benchmarks.cpu import process_cpu_seconds
from benchmarks.gateway_read.config import (
    BASELINE,
    READ_BURST,
    READ_PER_SECOND,
    READY_SECONDS,
    REPOSITORY,
    STOP_SECONDS,
    UNCACHED,
    UNLIMITED_BUCKET,
)
from benchmarks.workers import free_port
from engage.bootstrap import drop_database
from shared.db.roles import drop_roles
from shared.db.session import create_engine
from shared.events.jetstream import connect_nats
from shared.keep_alive import SERVER_KEEP_ALIVE_SECONDS
from shared.settings import (
    DATA_SERVICES,
    Credential,
    DatabaseRolesSettings,
    EventSettings,
    Settings,
    TokenBucketSettings,
)


def scratch_settings(scratch: Path) -> Settings:
    """The configured settings on a scratch database, stream, queue prefix, roles, data
    directory and free ports."""
    tag = uuid.uuid4().hex[:8]
    configured = Settings()
    url = make_url(configured.database_url).set(database=f"engage_bench_{tag}")
    return configured.model_copy(
        update={
            "database_url": url.render_as_string(hide_password=False),
            "data_dir": str(scratch / "data"),
            "events": EventSettings(stream=f"BENCH_{tag}".upper(), subject_prefix=f"b{tag}"),
            "ports": configured.ports.model_copy(
                update={name: free_port() for name in configured.ports.model_dump()}
            ),
            "temporal": configured.temporal.model_copy(
                update={
                    "address": f"127.0.0.1:{free_port()}",
                    "ui_port": free_port(),
                    "task_queue_prefix": f"bench-{tag}-",
                }
            ),
            "notifications": configured.notifications.model_copy(update={"smtp_port": free_port()}),
            "database_roles": DatabaseRolesSettings(
                **{s: Credential(user=f"b{tag}_{s}") for s in DATA_SERVICES}
            ),
        }
    )


def platform_environment(settings: Settings) -> dict[str, str]:
    """``settings`` as ``ENGAGE_*`` variables, which ``engage up`` and its children read."""
    ports = {
        f"ENGAGE_PORTS__{name.upper()}": str(port)
        for name, port in settings.ports.model_dump().items()
    }
    roles = {
        f"ENGAGE_DATABASE_ROLES__{service.upper()}__USER": getattr(
            settings.database_roles, service
        ).user
        for service in DATA_SERVICES
    }
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "ENGAGE_DATABASE_URL": settings.database_url,
        "ENGAGE_DATA_DIR": settings.data_dir,
        "ENGAGE_EVENTS__STREAM": settings.events.stream,
        "ENGAGE_EVENTS__SUBJECT_PREFIX": settings.events.subject_prefix,
        "ENGAGE_TEMPORAL__ADDRESS": settings.temporal.address,
        "ENGAGE_TEMPORAL__UI_PORT": str(settings.temporal.ui_port),
        "ENGAGE_TEMPORAL__TASK_QUEUE_PREFIX": settings.temporal.task_queue_prefix,
        "ENGAGE_NOTIFICATIONS__SMTP_PORT": str(settings.notifications.smtp_port),
        **ports,
        **roles,
    }


def unlimited(environment: Mapping[str, str]) -> dict[str, str]:
    """``environment`` with every gateway bucket out of reach."""
    buckets = {
        f"ENGAGE_GATEWAY__RATE_LIMITS__{route_class}__{key}": value
        for route_class in ("READ", "WRITE", "UPLOAD", "STREAM")
        for key, value in UNLIMITED_BUCKET.items()
    }
    return {**environment, **buckets}


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.asynccontextmanager
async def process(
    args: Sequence[str], environment: Mapping[str, str], log: Path, ready_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A process of its own session, ready once ``ready_url`` answers 200; SIGTERM (then
    SIGKILL) on the way out."""
    with log.open("wb") as output:
        started = await asyncio.create_subprocess_exec(
            *args,
            cwd=REPOSITORY,
            env=dict(environment),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
            deadline = time.monotonic() + READY_SECONDS
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(ready_url)).status_code == 200:
                        break
                if started.returncode is not None or time.monotonic() > deadline:
                    state = "exited" if started.returncode is not None else "is not ready"
                    raise RuntimeError(f"{' '.join(args)} {state}:\n{_tail(log)}")
                await asyncio.sleep(0.5)
        yield started
    finally:
        if started.returncode is None:
            started.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_SECONDS):
                    await started.wait()
        if started.returncode is None:
            os.killpg(started.pid, signal.SIGKILL)
            await started.wait()


def children(parent: int) -> dict[str, int]:
    """The processes ``parent`` started, by what they run: ``gateway``, ``worker workflows``,
    ``temporal``, ``smtp``, ..."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            args = [part.decode() for part in (entry / "cmdline").read_bytes().split(b"\0") if part]
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) != parent or not args:
            continue
        if "engage" in args:
            command = args[args.index("engage") + 1 :]
            name = command[-1] if command[0] == "serve" else " ".join(command)
        elif "aiosmtpd" in args:
            name = "smtp"
        else:
            name = Path(args[0]).name
        found[name] = int(entry.name)
    return found


def memory_name(name: str) -> str:
    """The name ``benchmarks.memory`` knows a process by (``children``' name, or the one given
    here): a service's API ``<service>-api``, its worker ``<service>``, as the other benchmarks
    name their workers; the processes no Deployment runs keep a name of their own."""
    if name.startswith("worker "):
        return name.removeprefix("worker ")
    if name in DATA_SERVICES:
        return f"{name}-api"
    return {
        "limited_gateway": "gateway-rate-limited",
        "uncached_gateway": "gateway-uncached",
        "supervisor": "engage-up",
        BASELINE: "bare-uvicorn",
    }.get(name, name)


@dataclass
class Platform:
    settings: Settings
    gateway_url: str
    baseline_url: str
    limited_gateway_url: str
    # The read budget of that gateway's callers.
    read_budget: TokenBucketSettings
    # A gateway with the read cache off, in front of the same services (None: not started).
    uncached_gateway_url: str | None
    # Processes by name whose CPU is reported; PostgreSQL's backends are looked up each time.
    pids: dict[str, int]

    async def postgres_backends(self) -> list[int]:
        engine = create_engine(self.settings)
        try:
            async with engine.connect() as connection:
                found = await connection.execute(
                    text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
                )
                return [int(pid) for (pid,) in found]
        finally:
            await engine.dispose()


@contextlib.asynccontextmanager
async def running_platform(scratch: Path) -> AsyncIterator[Platform]:
    """``engage up`` on scratch settings, the bare baseline and a second gateway with the
    configured rate limits; everything stopped and the scratch data dropped after."""
    settings = scratch_settings(scratch)
    environment = platform_environment(settings)
    limited_port, baseline_port, uncached_port = free_port(), free_port(), free_port()
    configured = settings.gateway.rate_limits.read
    read_budget = TokenBucketSettings(
        per_second=float(READ_PER_SECOND or configured.per_second),
        burst=int(READ_BURST or configured.burst),
    )
    limited_environment = {
        "ENGAGE_GATEWAY__RATE_LIMITS__READ__PER_SECOND": str(read_budget.per_second),
        "ENGAGE_GATEWAY__RATE_LIMITS__READ__BURST": str(read_budget.burst),
    }
    gateway_url = f"http://127.0.0.1:{settings.ports.gateway}"
    limited_url = f"http://127.0.0.1:{limited_port}"
    baseline_url = f"http://127.0.0.1:{baseline_port}"
    uncached_url = f"http://127.0.0.1:{uncached_port}"
    engage = (sys.executable, "-m", "engage")
    uncached_environment = {
        **unlimited(environment),
        "ENGAGE_GATEWAY__READ_CACHE_SECONDS": "0",
        "ENGAGE_PORTS__GATEWAY": str(uncached_port),
    }
    try:
        async with (
            process(
                (*engage, "up"),
                unlimited(environment),
                scratch / "engage-up.log",
                f"{gateway_url}/readyz",
            ) as up,
            process(
                (*engage, "serve", "gateway"),
                {**environment, **limited_environment, "ENGAGE_PORTS__GATEWAY": str(limited_port)},
                scratch / "limited-gateway.log",
                f"{limited_url}/readyz",
            ) as limited,
            process(
                (
                    *(
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "benchmarks.gateway_read.baseline:baseline_app",
                    ),
                    *("--host", "127.0.0.1", "--port", str(baseline_port)),
                    *("--no-access-log", "--log-level", "warning"),
                    *("--timeout-keep-alive", str(SERVER_KEEP_ALIVE_SECONDS)),
                ),
                environment,
                scratch / "bare-uvicorn.log",
                f"{baseline_url}/v1/ping",
            ) as baseline,
            contextlib.AsyncExitStack() as optional,
        ):
            started = {"supervisor": up.pid, "limited_gateway": limited.pid, BASELINE: baseline.pid}
            if UNCACHED:
                uncached = await optional.enter_async_context(
                    process(
                        (*engage, "serve", "gateway"),
                        uncached_environment,
                        scratch / "uncached-gateway.log",
                        f"{uncached_url}/readyz",
                    )
                )
                started["uncached_gateway"] = uncached.pid
            pids = {**children(up.pid), **started, "load_generator": os.getpid()}
            try:
                yield Platform(
                    settings,
                    gateway_url,
                    baseline_url,
                    limited_url,
                    read_budget,
                    uncached_url if UNCACHED else None,
                    pids,
                )
            finally:
                # Looked up again: a child the supervisor restarted has another pid by now.
                for name, pid in {**children(up.pid), **started}.items():
                    memory.note(memory_name(name), pid)
    finally:
        await drop_database(settings)
        await drop_roles(settings)
        with contextlib.suppress(Exception):
            nats = await connect_nats(settings, "bench-gateway-read")
            try:
                await nats.jetstream().delete_stream(settings.events.stream)
            finally:
                await nats.close()


async def cpu_seconds(platform: Platform) -> dict[str, dict[int, float]]:
    groups = {name: [pid] for name, pid in platform.pids.items()}
    groups["postgres"] = await platform.postgres_backends()
    return {name: {pid: process_cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}


def cpu_ms_per_request(
    before: Mapping[str, Mapping[int, float]],
    after: Mapping[str, Mapping[int, float]],
    requests: int,
) -> dict[str, float]:
    """Each process's CPU over the window per request answered (a PostgreSQL backend that
    appeared meanwhile counts from its start)."""
    if not requests:
        return {}
    used = {
        name: sum(seconds - before.get(name, {}).get(pid, 0.0) for pid, seconds in pids.items())
        for name, pids in after.items()
    }
    return {name: round(1000 * s / requests, 3) for name, s in used.items() if s > 0}

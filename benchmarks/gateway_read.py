"""The gateway's read path under load, with every answer checked for tenancy, and its rate
limits under a flood (issue 18 "Gateway reads", issue 15 "Load").

The platform runs as ``make up`` runs it: ``engage up`` as a subprocess, on a scratch database,
stream, task-queue prefix, PostgreSQL roles and data directory, with free ports for every
service, the sandbox, SMTP and the Temporal dev server it starts (its log is
``<scratch>/engage-up.log``). Its gateway's read budget is raised out of the way
(``ENGAGE_GATEWAY__RATE_LIMITS__*``): the throughput phase measures the read path, limiter
included, not the limit. Two organisations A and B, each with a few engagements
(``BENCH_GATEWAY_ENGAGEMENTS``, 3), are created through the gateway with development tokens; the
readers then hold ``client_viewer`` in their own organisation only (the token's ``org_roles``).

**Throughput.** A closed-loop load generator in this process (``BENCH_GATEWAY_CONNECTIONS``
workers, 64, each with an ``httpx.AsyncClient`` and kept-alive connection of its own, for
``BENCH_GATEWAY_SECONDS``, 10, after a short unmeasured warm-up) reads, one route after the
other: ``GET /v1/organizations/{id}`` (``organization``), ``GET /v1/engagements``
(``engagement_list``) and ``GET /v1/engagements/{id}`` (``engagement_detail``, a workflow query
per read). Half the workers call as A with A's ids, half as B with B's. Every 2xx answer is
checked: the organisation's ``id``, the engagement's ``organization_id`` and every listed
engagement's must be the caller's, else it counts as a leak (an answer whose owner cannot be
read counts as one too). The baseline, in the same run with the same generator, is a bare
uvicorn process serving one trivial JSON route of a one-route FastAPI app (``bare_uvicorn``).

Per route: ``<route>_requests_per_second`` with ``ratio`` to the baseline (issue 18's target
0.2), ``errors`` (non-2xx answers and transport errors by status or exception), ``leaks`` (must
be 0), ``checked`` (records whose owner was compared) and ``cpu_ms_per_request`` per process
(``gateway``, ``strategy``, ``worker workflows``, ``temporal``, ``postgres`` (the scratch
database's backends), ``load_generator`` (this process), ...; CPU seconds over the measured
window divided by the requests answered); ``<route>_latency_p99`` in ms with the baseline's p99
(``p50`` too). The generator is Python (about 1.7 CPU-ms per request): on a small machine it
bounds the baseline's rate long before uvicorn does, so read the ratio with the
``load_generator`` CPU beside it. Where ``wrk`` is installed (``BENCH_GATEWAY_WRK=0`` skips it)
the same phase runs again with it, one thread, as A only and without the tenancy check:
``<route>_requests_per_second_wrk`` against the bare route under ``wrk`` (``bare_uvicorn_wrk``),
with ``non_2xx`` and ``socket_errors`` (connections lost, answers later than 30 s).

**Rate limits before saturation.** A second gateway process (``engage serve gateway`` on another
port, in front of the same services) keeps the configured read budget (20/s, burst 100 unless
``ENGAGE_GATEWAY__RATE_LIMITS__READ__*`` says otherwise; ``BENCH_GATEWAY_READ_PER_SECOND`` and
``BENCH_GATEWAY_READ_BURST`` set it for this gateway alone, e.g. below what a busy machine can
serve). First a well-behaved principal of B
reads at half its budget, alone, for ``BENCH_GATEWAY_SECONDS``; then the same again while one
principal of A floods it closed-loop with ``BENCH_GATEWAY_FLOOD_CONNECTIONS`` (32) workers.
``flooder_rate_limited_share``: the share of A's answers that were 429 (``without_retry_after``
must be 0, ``server_errors`` too; ``offered_over_budget`` is A's requests over what its bucket
allows in the time, burst included: below 1 the flood never overran its budget, and the share
is 0 by construction, as on a machine too busy to send it); ``well_behaved_latency_p99``: B's
p99 under the flood against B alone (``errors``: B's non-2xx answers, which must be none, no 429
and no 5xx).

Read the figures with the machine's load: every process here shares the same cores, so on a
busy machine both the gateway and the baseline lose, and not in the same proportion.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from benchmarks.common import report
from benchmarks.cpu import process_cpu_seconds
from benchmarks.workers import free_port
from engage.bootstrap import drop_database
from shared.auth import Role, issue_dev_token
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

BENCHMARK = "gateway_read"
BASELINE = "bare_uvicorn"
SECONDS = float(os.environ.get("BENCH_GATEWAY_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_GATEWAY_CONNECTIONS", "64"))
FLOOD_CONNECTIONS = int(os.environ.get("BENCH_GATEWAY_FLOOD_CONNECTIONS", "32"))
ENGAGEMENTS = int(os.environ.get("BENCH_GATEWAY_ENGAGEMENTS", "3"))
WARM_UP_SECONDS = min(2.0, SECONDS / 5)
# The well-behaved caller's rate, as a share of its read budget.
WELL_BEHAVED_SHARE = 0.5
TARGET_RATIO = 0.2
READY_SECONDS = 300.0
STOP_SECONDS = 60.0
REQUEST_TIMEOUT_SECONDS = 30.0
# ``wrk``'s cross-check of the throughput phase, when it is installed (``0`` skips it).
WRK = shutil.which("wrk") if os.environ.get("BENCH_GATEWAY_WRK", "1") != "0" else None
WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# The rate-limited gateway's read budget, when not the configured one.
READ_PER_SECOND = os.environ.get("BENCH_GATEWAY_READ_PER_SECOND")
READ_BURST = os.environ.get("BENCH_GATEWAY_READ_BURST")
# The throughput gateway's budget: far above anything this generator can send.
UNLIMITED_BUCKET = {"PER_SECOND": "1000000", "BURST": "1000000"}
REPOSITORY = Path(__file__).resolve().parents[1]
ROUTES = ("organization", "engagement_list", "engagement_detail")

# --- the baseline ----------------------------------------------------------------------------

baseline_app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@baseline_app.get("/v1/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


# --- what a caller reads, and the tenancy check --------------------------------------------

Owners = Callable[[Any], list[str]]


def organization_owner(body: Any) -> list[str]:
    """An organisation belongs to itself."""
    return [str(body["id"])]


def record_owner(body: Any) -> list[str]:
    return [str(body["organization_id"])]


def list_owners(body: Any) -> list[str]:
    return [str(item["organization_id"]) for item in body]


@dataclass(frozen=True)
class Read:
    """A request a caller repeats (its workers take ``paths`` in turn), and how to find who owns
    each record of a 2xx answer (None: nothing to check, the baseline)."""

    paths: tuple[str, ...]
    owners: Owners | None


@dataclass(frozen=True)
class Caller:
    """A principal of one organisation (None: the baseline's anonymous caller)."""

    name: str
    organization_id: str | None
    token: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


@dataclass(frozen=True)
class Tenant:
    """An organisation, its engagements and its reader."""

    caller: Caller
    engagement_ids: tuple[str, ...]

    def read(self, route: str) -> Read:
        organization_id = self.caller.organization_id
        if route == "organization":
            return Read((f"/v1/organizations/{organization_id}",), organization_owner)
        if route == "engagement_list":
            return Read(("/v1/engagements",), list_owners)
        if route == "engagement_detail":
            paths = tuple(f"/v1/engagements/{id_}" for id_ in self.engagement_ids)
            return Read(paths, record_owner)
        raise ValueError(f"unknown route {route!r}; one of {', '.join(ROUTES)}")


@dataclass
class Tally:
    """What one caller's answers were."""

    latencies: list[float] = field(default_factory=list)
    # Non-2xx answers by status, transport errors by exception name.
    errors: Counter[str] = field(default_factory=Counter)
    # Records of a 2xx answer owned by another organisation (or whose owner cannot be read).
    leaks: int = 0
    # Records whose owner was compared with the caller's organisation.
    checked: int = 0
    without_retry_after: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate_limited(self) -> int:
        return self.errors["429"]

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.errors.items() if status.startswith("5"))

    def merge(self, other: Tally) -> Tally:
        return Tally(
            [*self.latencies, *other.latencies],
            self.errors + other.errors,
            self.leaks + other.leaks,
            self.checked + other.checked,
            self.without_retry_after + other.without_retry_after,
        )


def check(tally: Tally, caller: Caller, read: Read, response: httpx.Response) -> None:
    """Count ``response`` in ``tally``: an error unless 2xx; a 2xx answer's records must all
    belong to the caller's organisation."""
    if not 200 <= response.status_code < 300:
        tally.errors[str(response.status_code)] += 1
        if response.status_code == 429 and "retry-after" not in response.headers:
            tally.without_retry_after += 1
        return
    if read.owners is None:
        return
    try:
        owners = read.owners(response.json())
    except (ValueError, KeyError, TypeError):
        tally.leaks += 1
        return
    tally.checked += len(owners)
    tally.leaks += sum(owner != caller.organization_id for owner in owners)


async def request(
    client: httpx.AsyncClient, caller: Caller, read: Read, path: str, tally: Tally
) -> None:
    started = time.perf_counter()
    try:
        response = await client.get(path, headers=caller.headers)
    except httpx.HTTPError as error:
        tally.latencies.append(time.perf_counter() - started)
        tally.errors[type(error).__name__] += 1
        return
    tally.latencies.append(time.perf_counter() - started)
    check(tally, caller, read, response)


@dataclass
class LoadResult:
    """Each caller's tally over ``seconds`` of load."""

    tallies: dict[str, Tally]
    seconds: float

    @property
    def total(self) -> Tally:
        merged = Tally()
        for tally in self.tallies.values():
            merged = merged.merge(tally)
        return merged


async def closed_loop(
    clients: Sequence[httpx.AsyncClient], reads: Sequence[tuple[Caller, Read]], seconds: float
) -> LoadResult:
    """A worker per client, worker ``i`` as ``reads[i % len(reads)]``, each sending its next
    request as soon as the last is answered, for ``seconds``."""
    tallies = {caller.name: Tally() for caller, _ in reads}
    deadline = time.perf_counter() + seconds

    async def worker(n: int, client: httpx.AsyncClient) -> None:
        caller, read = reads[n % len(reads)]
        path = read.paths[(n // len(reads)) % len(read.paths)]
        while time.perf_counter() < deadline:
            await request(client, caller, read, path, tallies[caller.name])

    started = time.perf_counter()
    await asyncio.gather(*(worker(n, client) for n, client in enumerate(clients)))
    return LoadResult(tallies, time.perf_counter() - started)


async def paced(
    client: httpx.AsyncClient, caller: Caller, read: Read, rate: float, seconds: float
) -> LoadResult:
    """An open loop: a request every ``1 / rate`` s for ``seconds``, whatever the answers take."""
    tally = Tally()
    started = time.perf_counter()
    sent: list[asyncio.Task[None]] = []
    for n in range(max(1, int(rate * seconds))):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        path = read.paths[n % len(read.paths)]
        sent.append(asyncio.create_task(request(client, caller, read, path, tally)))
    await asyncio.gather(*sent)
    return LoadResult({caller.name: tally}, time.perf_counter() - started)


def percentile_ms(values: Sequence[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))], 2)


def summary(result: LoadResult) -> dict[str, Any]:
    """The figures of one phase: rate, latency, errors and the tenancy check."""
    total = result.total
    return {
        "requests": total.requests,
        "requests_per_second": round(total.requests / result.seconds, 1) if result.seconds else 0,
        "p50_ms": percentile_ms(total.latencies, 0.5),
        "p99_ms": percentile_ms(total.latencies, 0.99),
        "errors": dict(total.errors),
        "rate_limited": total.rate_limited,
        "server_errors": total.server_errors,
        "without_retry_after": total.without_retry_after,
        "leaks": total.leaks,
        "checked": total.checked,
    }


def load_client(
    base_url: str, connections: int, tls: ssl.SSLContext | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        trust_env=False,
        verify=tls or ssl.create_default_context(),
        timeout=REQUEST_TIMEOUT_SECONDS,
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


@contextlib.asynccontextmanager
async def load_clients(base_url: str, count: int) -> AsyncIterator[list[httpx.AsyncClient]]:
    """A client of one kept-alive connection per worker. httpx's pool spends CPU per request in
    proportion to the requests it holds: 64 workers sharing one client cost the generator about
    12 CPU-ms per request against about 1.7 with a client each (on the development machine).
    The clients share one TLS context (each would load the CA bundle)."""
    tls = ssl.create_default_context()
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(load_client(base_url, 1, tls)) for _ in range(count)]


# --- the platform ----------------------------------------------------------------------------


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


@dataclass
class Platform:
    settings: Settings
    gateway_url: str
    baseline_url: str
    limited_gateway_url: str
    # The read budget of that gateway's callers.
    read_budget: TokenBucketSettings
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
    limited_port, baseline_port = free_port(), free_port()
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
    engage = (sys.executable, "-m", "engage")
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
                    *(sys.executable, "-m", "uvicorn", "benchmarks.gateway_read:baseline_app"),
                    *("--host", "127.0.0.1", "--port", str(baseline_port)),
                    *("--no-access-log", "--log-level", "warning"),
                    *("--timeout-keep-alive", str(SERVER_KEEP_ALIVE_SECONDS)),
                ),
                environment,
                scratch / "bare-uvicorn.log",
                f"{baseline_url}/v1/ping",
            ) as baseline,
        ):
            pids = {
                **children(up.pid),
                "supervisor": up.pid,
                "limited_gateway": limited.pid,
                BASELINE: baseline.pid,
                "load_generator": os.getpid(),
            }
            yield Platform(settings, gateway_url, baseline_url, limited_url, read_budget, pids)
    finally:
        await drop_database(settings)
        await drop_roles(settings)
        with contextlib.suppress(Exception):
            nats = await connect_nats(settings, "bench-gateway-read")
            try:
                await nats.jetstream().delete_stream(settings.events.stream)
            finally:
                await nats.close()


# --- seeding ---------------------------------------------------------------------------------


async def created_by(
    gateway: httpx.AsyncClient, path: str, body: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """POST ``body``, again while the gateway answers 503 (its Temporal connection or a service
    still starting: it refuses before writing anything)."""
    async with asyncio.timeout(READY_SECONDS):
        while True:
            answer = await gateway.post(path, json=body, headers=headers)
            if answer.status_code != 503:
                break
            await asyncio.sleep(1)
    answer.raise_for_status()
    created: dict[str, Any] = answer.json()
    return created


async def seed(settings: Settings, gateway: httpx.AsyncClient, name: str) -> Tenant:
    """An organisation with ``ENGAGEMENTS`` engagements, created through the gateway as an
    agency admin and manager would, and its reader: ``client_viewer`` there and nowhere else."""
    staff = {
        "Authorization": "Bearer "
        + issue_dev_token(settings, "bench-staff", [Role.ADMIN, Role.MANAGER], ["*"])
    }
    created = await created_by(gateway, "/v1/organizations", {"name": f"Agriturismo {name}"}, staff)
    organization_id = str(created["id"])
    engagement_ids = []
    for _ in range(ENGAGEMENTS):
        engagement = await created_by(
            gateway,
            "/v1/engagements",
            {
                "organization_id": organization_id,
                "mode": "realizzazione",
                "channels": ["sandbox", "instagram"],
                "starts_on": "2027-01-04",
                "ends_on": "2027-06-30",
            },
            staff,
        )
        engagement_ids.append(str(engagement["id"]))
    token = issue_dev_token(
        settings, f"bench-reader-{name}", [], [], org_roles={organization_id: [Role.CLIENT_VIEWER]}
    )
    return Tenant(Caller(name, organization_id, token), tuple(engagement_ids))


async def wait_readable(gateway: httpx.AsyncClient, tenants: Sequence[Tenant]) -> None:
    """Until every engagement's detail answers with its workflow's state."""
    async with asyncio.timeout(READY_SECONDS):
        for tenant in tenants:
            for path in tenant.read("engagement_detail").paths:
                while True:
                    answer = await gateway.get(path, headers=tenant.caller.headers)
                    if answer.status_code == 200 and answer.json().get("state") is not None:
                        break
                    await asyncio.sleep(0.5)


# --- measuring -------------------------------------------------------------------------------


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


async def measured(
    platform: Platform, base_url: str, reads: Sequence[tuple[Caller, Read]]
) -> tuple[dict[str, Any], dict[str, float]]:
    """A warm-up, then ``SECONDS`` of closed-loop load: its summary and CPU per request."""
    async with load_clients(base_url, CONNECTIONS) as clients:
        await closed_loop(clients, reads, WARM_UP_SECONDS)
        before = await cpu_seconds(platform)
        result = await closed_loop(clients, reads, SECONDS)
        after = await cpu_seconds(platform)
    return summary(result), cpu_ms_per_request(before, after, result.total.requests)


async def throughput(platform: Platform, tenants: Sequence[Tenant]) -> None:
    anonymous = Caller("baseline", None, None)
    baseline, baseline_cpu = await measured(
        platform, platform.baseline_url, [(anonymous, Read(("/v1/ping",), None))]
    )
    common = {"connections": CONNECTIONS, "seconds": SECONDS, "baseline": BASELINE}
    leaks = checked = 0
    for route in ROUTES:
        reads = [(tenant.caller, tenant.read(route)) for tenant in tenants]
        figures, cpu = await measured(platform, platform.gateway_url, reads)
        leaks, checked = leaks + figures["leaks"], checked + figures["checked"]
        rate, baseline_rate = figures["requests_per_second"], baseline["requests_per_second"]
        report(
            BENCHMARK,
            f"{route}_requests_per_second",
            rate,
            "requests/s",
            **common,
            baseline_value=baseline_rate,
            ratio=round(rate / baseline_rate, 3) if baseline_rate else None,
            target_ratio=TARGET_RATIO,
            requests=figures["requests"],
            p50_ms=figures["p50_ms"],
            p99_ms=figures["p99_ms"],
            errors=figures["errors"],
            leaks=figures["leaks"],
            checked=figures["checked"],
            cpu_ms_per_request=cpu,
            baseline_cpu_ms_per_request=baseline_cpu,
        )
        report(
            BENCHMARK,
            f"{route}_latency_p99",
            figures["p99_ms"],
            "ms",
            **common,
            p50=figures["p50_ms"],
            baseline_value=baseline["p99_ms"],
            baseline_p50=baseline["p50_ms"],
            ratio=round(figures["p99_ms"] / baseline["p99_ms"], 2) if baseline["p99_ms"] else None,
        )
    report(
        BENCHMARK,
        "tenancy_leaks",
        leaks,
        "records",
        checked=checked,
        callers=[tenant.caller.name for tenant in tenants],
        target=0,
    )


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    # Connections that failed, and requests unanswered within the timeout.
    socket_errors: int


def parse_wrk(output: str) -> WrkResult:
    """The figures of ``wrk --latency``'s report."""

    def latency(share: str) -> float:
        found = re.search(rf"^\s*{share}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if found is None:
            raise ValueError(f"no {share}% latency in wrk's output:\n{output}")
        return round(float(found[1]) * WRK_UNITS[found[2]], 2)

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    requests = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    if rate is None or requests is None:
        raise ValueError(f"no rate in wrk's output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(requests[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket.groups()) if socket else 0,
    )


async def wrk(executable: str, url: str, headers: Mapping[str, str]) -> WrkResult:
    """``wrk`` on one URL: one thread, ``CONNECTIONS`` connections, ``SECONDS``."""
    args = [executable, "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(SECONDS))}s", "--latency"]
    # wrk's own timeout (2 s) would drop the slow answers from the latencies.
    args += ["--timeout", f"{round(REQUEST_TIMEOUT_SECONDS)}s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    ran = await asyncio.create_subprocess_exec(
        *args, url, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await ran.communicate()
    return parse_wrk(output.decode(errors="replace"))


async def wrk_cross_check(executable: str, platform: Platform, tenant: Tenant) -> None:
    """The throughput phase again with ``wrk`` as the load generator, as A only (one URL per
    run: the first engagement for the detail) and without the tenancy check: what the routes
    serve when the generator costs next to nothing."""
    baseline = await wrk(executable, f"{platform.baseline_url}/v1/ping", {})
    for route in ROUTES:
        path = tenant.read(route).paths[0]
        figures = await wrk(executable, f"{platform.gateway_url}{path}", tenant.caller.headers)
        report(
            BENCHMARK,
            f"{route}_requests_per_second_wrk",
            figures.requests_per_second,
            "requests/s",
            connections=CONNECTIONS,
            seconds=SECONDS,
            threads=1,
            baseline="bare_uvicorn_wrk",
            baseline_value=baseline.requests_per_second,
            ratio=round(figures.requests_per_second / baseline.requests_per_second, 3)
            if baseline.requests_per_second
            else None,
            target_ratio=TARGET_RATIO,
            requests=figures.requests,
            non_2xx=figures.non_2xx,
            socket_errors=figures.socket_errors,
            p50_ms=figures.p50_ms,
            p99_ms=figures.p99_ms,
            baseline_p50_ms=baseline.p50_ms,
            baseline_p99_ms=baseline.p99_ms,
        )


async def rate_limits(platform: Platform, flooder: Tenant, well_behaved: Tenant) -> None:
    budget = platform.read_budget
    rate = WELL_BEHAVED_SHARE * budget.per_second
    # A principal of its own, whose bucket the throughput phase has not touched.
    flooding = Caller(
        f"{flooder.caller.name}-flood",
        flooder.caller.organization_id,
        issue_dev_token(
            platform.settings,
            "bench-flood",
            [],
            [],
            org_roles={str(flooder.caller.organization_id): [Role.CLIENT_VIEWER]},
        ),
    )
    behaving = well_behaved.caller
    flood_read = flooder.read("engagement_list")
    steady_read = well_behaved.read("engagement_list")
    url = platform.limited_gateway_url
    async with (
        load_clients(url, FLOOD_CONNECTIONS) as flooders,
        load_client(url, CONNECTIONS) as client,
    ):
        alone = summary(await paced(client, behaving, steady_read, rate, SECONDS))
        flood, steady = await asyncio.gather(
            closed_loop(flooders, [(flooding, flood_read)], SECONDS),
            paced(client, behaving, steady_read, rate, SECONDS),
        )
    flooded, beside = summary(flood), summary(steady)
    budget_figures = {"read_per_second": budget.per_second, "read_burst": budget.burst}
    # What the bucket let through at most over the flood: past 1, the flood did overrun it.
    allowed = budget.burst + budget.per_second * flood.seconds
    report(
        BENCHMARK,
        "flooder_rate_limited_share",
        round(flooded["rate_limited"] / flooded["requests"], 3) if flooded["requests"] else 0,
        "share",
        route="engagement_list",
        connections=FLOOD_CONNECTIONS,
        seconds=SECONDS,
        budget=budget_figures,
        requests=flooded["requests"],
        requests_per_second=flooded["requests_per_second"],
        offered_over_budget=round(flooded["requests"] / allowed, 2),
        rate_limited=flooded["rate_limited"],
        without_retry_after=flooded["without_retry_after"],
        server_errors=flooded["server_errors"],
        errors=flooded["errors"],
        leaks=flooded["leaks"],
    )
    report(
        BENCHMARK,
        "well_behaved_latency_p99",
        beside["p99_ms"],
        "ms",
        route="engagement_list",
        requests_per_second=rate,
        seconds=SECONDS,
        budget=budget_figures,
        p50=beside["p50_ms"],
        requests=beside["requests"],
        errors=beside["errors"],
        rate_limited=beside["rate_limited"],
        server_errors=beside["server_errors"],
        leaks=beside["leaks"],
        baseline="well_behaved_alone",
        baseline_value=alone["p99_ms"],
        baseline_p50=alone["p50_ms"],
        baseline_errors=alone["errors"],
        ratio=round(beside["p99_ms"] / alone["p99_ms"], 2) if alone["p99_ms"] else None,
        target_errors=0,
    )


async def run() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as folder:
        async with running_platform(Path(folder)) as platform:
            async with httpx.AsyncClient(
                base_url=platform.gateway_url, trust_env=False, timeout=REQUEST_TIMEOUT_SECONDS
            ) as gateway:
                tenants = [await seed(platform.settings, gateway, name) for name in ("A", "B")]
                await wait_readable(gateway, tenants)
            await throughput(platform, tenants)
            if WRK is not None:
                await wrk_cross_check(WRK, platform, tenants[0])
            await rate_limits(platform, tenants[0], tenants[1])

"""The benchmark's own load generator: what a caller reads, the tenancy check of every answer,
closed and open loops of ``httpx`` clients, and their figures."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.gateway_read.config import REQUEST_TIMEOUT_SECONDS, ROUTES

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
        if route == "mention_list":
            path = f"/v1/listening/engagements/{self.engagement_ids[0]}/mentions"
            return Read((path,), list_owners)
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

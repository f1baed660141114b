"""The benchmark's phases, each measured the same way (``phase``: the CPU of every process over
the window, per request answered) and reported against the bare baseline the same way
(``report_against``)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from benchmarks.common import report
from benchmarks.gateway_read.config import (
    BASELINE,
    BENCHMARK,
    CONNECTIONS,
    FLOOD_CONNECTIONS,
    HEY,
    OPEN_LOOP_RATE,
    OPEN_LOOP_WORKERS,
    REQUEST_TIMEOUT_SECONDS,
    ROUTES,
    RUNS,
    SECONDS,
    TARGET_OPEN_LOOP_P99_MS,
    TARGET_RATIO,
    TARGET_SPREAD,
    WARM_UP_SECONDS,
    WELL_BEHAVED_SHARE,
    WRK,
)
from benchmarks.gateway_read.generators import hey, per_worker_rate, wrk
from benchmarks.gateway_read.load import (
    Caller,
    LoadResult,
    Read,
    Tenant,
    closed_loop,
    load_client,
    load_clients,
    paced,
    summary,
)
from benchmarks.gateway_read.platform import (
    Platform,
    cpu_ms_per_request,
    cpu_seconds,
    running_platform,
)
from benchmarks.gateway_read.seeding import seed, wait_readable
from shared.auth import Role, issue_dev_token

Result = TypeVar("Result")


@dataclass(frozen=True)
class Figures:
    """One phase's answers, whichever generator sent them."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    # CPU-ms per request answered, by process.
    cpu: dict[str, float]
    # What else the generator tells (errors, leaks, ...), reported as they are.
    details: dict[str, Any]


async def phase(
    platform: Platform, generate: Callable[[], Awaitable[Result]], requests: Callable[[Result], int]
) -> tuple[Result, dict[str, float]]:
    """``generate``'s result, and each process's CPU over it per request answered."""
    before = await cpu_seconds(platform)
    result = await generate()
    after = await cpu_seconds(platform)
    return result, cpu_ms_per_request(before, after, requests(result))


def ratio(value: float, baseline: float, digits: int = 3) -> float | None:
    return round(value / baseline, digits) if baseline else None


def report_against(metric: str, figures: Figures, against: Figures, **common: Any) -> None:
    """``metric``, a rate in requests/s, with its ratio to the baseline's."""
    report(
        BENCHMARK,
        metric,
        figures.requests_per_second,
        "requests/s",
        **common,
        baseline_value=against.requests_per_second,
        ratio=ratio(figures.requests_per_second, against.requests_per_second),
        target_ratio=TARGET_RATIO,
        requests=figures.requests,
        p50_ms=figures.p50_ms,
        p99_ms=figures.p99_ms,
        **figures.details,
        cpu_ms_per_request=figures.cpu,
        baseline_cpu_ms_per_request=against.cpu,
    )


# --- closed loop, this process's generator, every answer checked ------------------------------


async def httpx_phase(
    platform: Platform, base_url: str, reads: Sequence[tuple[Caller, Read]]
) -> Figures:
    """A warm-up, then ``SECONDS`` of closed-loop load from ``CONNECTIONS`` workers."""
    async with load_clients(base_url, CONNECTIONS) as clients:
        await closed_loop(clients, reads, WARM_UP_SECONDS)
        result, cpu = await phase(platform, lambda: closed_loop(clients, reads, SECONDS), _answered)
    figures = summary(result)
    return Figures(
        figures["requests_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        figures["requests"],
        cpu,
        {key: figures[key] for key in ("errors", "leaks", "checked")},
    )


def _answered(result: LoadResult) -> int:
    return result.total.requests


def cache_on(platform: Platform) -> dict[str, Any]:
    """What a line measured through the platform's gateway says of its read cache."""
    seconds = platform.settings.gateway.read_cache_seconds
    return {"cache": "on" if seconds > 0 else "off", "read_cache_seconds": seconds}


CACHE_OFF = {"cache": "off", "read_cache_seconds": 0.0}


async def throughput(platform: Platform, tenants: Sequence[Tenant]) -> None:
    anonymous = Caller("baseline", None, None)
    baseline = await httpx_phase(
        platform, platform.baseline_url, [(anonymous, Read(("/v1/ping",), None))]
    )
    common = {
        "connections": CONNECTIONS,
        "seconds": SECONDS,
        "baseline": BASELINE,
        **cache_on(platform),
    }
    leaks = checked = 0
    for route in ROUTES:
        reads = [(tenant.caller, tenant.read(route)) for tenant in tenants]
        figures = await httpx_phase(platform, platform.gateway_url, reads)
        leaks += figures.details["leaks"]
        checked += figures.details["checked"]
        report_against(f"{route}_requests_per_second", figures, baseline, **common)
        if platform.uncached_gateway_url is not None:
            # The same reads through a gateway without the cache: two principals reading the
            # same few records are the cache's best case, so its figure goes beside this one.
            uncached = await httpx_phase(platform, platform.uncached_gateway_url, reads)
            leaks += uncached.details["leaks"]
            checked += uncached.details["checked"]
            report_against(
                f"{route}_requests_per_second_uncached",
                uncached,
                baseline,
                **{**common, **CACHE_OFF},
                cached_requests_per_second=figures.requests_per_second,
            )
        report(
            BENCHMARK,
            f"{route}_latency_p99",
            figures.p99_ms,
            "ms",
            **common,
            p50=figures.p50_ms,
            baseline_value=baseline.p99_ms,
            baseline_p50=baseline.p50_ms,
            ratio=ratio(figures.p99_ms, baseline.p99_ms, 2),
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


# --- wrk: closed loop at next to no generator CPU, run after run ------------------------------


async def wrk_phase(platform: Platform, executable: str, url: str, caller: Caller) -> Figures:
    result, cpu = await phase(
        platform, lambda: wrk(executable, url, caller.headers), lambda ran: ran.requests
    )
    return Figures(
        result.requests_per_second,
        result.p50_ms,
        result.p99_ms,
        result.requests,
        cpu,
        {"non_2xx": result.non_2xx, "socket_errors": result.socket_errors},
    )


def spread(rates: Sequence[float]) -> float:
    """(highest - lowest) / highest: how far apart runs of the same load landed."""
    return round((max(rates) - min(rates)) / max(rates), 3) if rates and max(rates) else 0.0


async def wrk_runs(executable: str, platform: Platform, tenant: Tenant) -> None:
    """The throughput phase again with ``wrk``, as A only (one URL per route: the first
    engagement for the detail) and without the tenancy check, ``RUNS`` times in a row per
    route: each run's rate, and their spread ((highest - lowest) / highest).

    Each run follows a run of the bare route: the machine's own speed moves between runs (the
    bare route alone, nothing else running, went from 11,836 to 8,330 requests/s over eight
    10-second runs on 4 Dec), so the spread is reported with the bare route's spread over the
    same minutes as its baseline, and each run's ratio is to the bare run just before it. The
    ratios move as much as the rates: the machine's speed changes within a run's length."""
    anonymous = Caller("baseline", None, None)
    bare_url = f"{platform.baseline_url}/v1/ping"
    common = {"connections": CONNECTIONS, "seconds": SECONDS, "threads": 1, **cache_on(platform)}
    for route in ROUTES:
        path = tenant.read(route).paths[0]
        url = f"{platform.gateway_url}{path}"
        bare_runs: list[Figures] = []
        runs: list[Figures] = []
        for _ in range(RUNS):
            bare_runs.append(await wrk_phase(platform, executable, bare_url, anonymous))
            runs.append(await wrk_phase(platform, executable, url, tenant.caller))
        middle = sorted(range(RUNS), key=lambda n: runs[n].requests_per_second)[RUNS // 2]
        if platform.uncached_gateway_url is not None:
            # One URL, one token: all but one read a second are the cache's; once without it.
            uncached = await wrk_phase(
                platform, executable, f"{platform.uncached_gateway_url}{path}", tenant.caller
            )
            report_against(
                f"{route}_requests_per_second_wrk_uncached",
                uncached,
                bare_runs[-1],
                **{**common, **CACHE_OFF},
                baseline="bare_uvicorn_wrk",
            )
        rates = [run.requests_per_second for run in runs]
        bare_rates = [run.requests_per_second for run in bare_runs]
        ratios = [ratio(rate, bare) or 0.0 for rate, bare in zip(rates, bare_rates, strict=True)]
        report_against(
            f"{route}_requests_per_second_wrk",
            runs[middle],
            bare_runs[middle],
            **common,
            baseline="bare_uvicorn_wrk",
            runs=rates,
            baseline_runs=bare_rates,
            run_ratios=ratios,
        )
        report(
            BENCHMARK,
            f"{route}_wrk_run_spread",
            spread(rates),
            "share",
            runs=rates,
            baseline="bare_uvicorn_wrk_run_spread",
            baseline_value=spread(bare_rates),
            baseline_runs=bare_rates,
            p99_ms=[run.p99_ms for run in runs],
            gateway_cpu_ms_per_request=[run.cpu.get("gateway") for run in runs],
            bare_cpu_ms_per_request=[run.cpu.get(BASELINE) for run in bare_runs],
            **cache_on(platform),
            target=TARGET_SPREAD,
        )


# --- hey: an open loop at a fixed rate ---------------------------------------------------------


async def hey_phase(
    platform: Platform, executable: str, url: str, caller: Caller, rate: float
) -> Figures:
    result, cpu = await phase(
        platform, lambda: hey(executable, url, caller.headers, rate), lambda ran: ran.requests
    )
    return Figures(
        result.requests_per_second,
        result.p50_ms,
        result.p99_ms,
        result.requests,
        cpu,
        {"statuses": result.statuses, "non_2xx": result.non_2xx, "errors": result.errors},
    )


async def open_loop(executable: str, platform: Platform, tenant: Tenant) -> None:
    """Each route read at ``OPEN_LOOP_RATE`` requests/s whatever its answers take, as A:
    ``<route>_open_loop_latency_p99`` against the bare route at the same rate."""
    anonymous = Caller("baseline", None, None)
    baseline = await hey_phase(
        platform, executable, f"{platform.baseline_url}/v1/ping", anonymous, OPEN_LOOP_RATE
    )

    def report_open_loop(metric: str, figures: Figures, cache: dict[str, Any]) -> None:
        report(
            BENCHMARK,
            metric,
            figures.p99_ms,
            "ms",
            offered_per_second=OPEN_LOOP_RATE,
            workers=OPEN_LOOP_WORKERS,
            **cache,
            per_worker_per_second=per_worker_rate(OPEN_LOOP_RATE, OPEN_LOOP_WORKERS),
            seconds=SECONDS,
            requests_per_second=figures.requests_per_second,
            requests=figures.requests,
            p50=figures.p50_ms,
            **figures.details,
            cpu_ms_per_request=figures.cpu,
            baseline="bare_uvicorn_hey",
            baseline_value=baseline.p99_ms,
            baseline_requests_per_second=baseline.requests_per_second,
            target=TARGET_OPEN_LOOP_P99_MS,
        )

    for route in ROUTES:
        url = f"{platform.gateway_url}{tenant.read(route).paths[0]}"
        figures = await hey_phase(platform, executable, url, tenant.caller, OPEN_LOOP_RATE)
        report_open_loop(f"{route}_open_loop_latency_p99", figures, cache_on(platform))
    if platform.uncached_gateway_url is not None:
        url = f"{platform.uncached_gateway_url}{tenant.read('organization').paths[0]}"
        figures = await hey_phase(platform, executable, url, tenant.caller, OPEN_LOOP_RATE)
        report_open_loop("organization_open_loop_latency_p99_uncached", figures, CACHE_OFF)


# --- rate limits before saturation -------------------------------------------------------------


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
    # The limited gateway keeps the configured read cache: the limiter answers before it.
    budget_figures = {
        "read_per_second": budget.per_second,
        "read_burst": budget.burst,
        **cache_on(platform),
    }
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
                await wrk_runs(WRK, platform, tenants[0])
            if HEY is not None:
                await open_loop(HEY, platform, tenants[0])
            await rate_limits(platform, tenants[0], tenants[1])

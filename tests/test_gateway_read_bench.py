"""The ``gateway_read`` benchmark's load generator and tenancy check, run for a second against
the test platform, and shown able to fail: a record of another organisation counts as a leak,
another organisation's id as a refusal, an unreadable answer as a leak."""

from __future__ import annotations

from collections import Counter

import httpx

from benchmarks import memory
from benchmarks.gateway_read import (
    ROUTES,
    Caller,
    LoadResult,
    Read,
    Tally,
    check,
    closed_loop,
    list_owners,
    load_clients,
    parse_hey,
    parse_wrk,
    per_worker_rate,
    record_owner,
    seed,
    summary,
)
from benchmarks.gateway_read.config import REPOSITORY
from benchmarks.gateway_read.phases import spread
from benchmarks.gateway_read.platform import memory_name
from engage.supervisor import child_specs
from shared.auth import Role
from shared.settings import Settings
from tests.conftest import Platform

A_ORG = "00000000-0000-0000-0000-00000000000a"
A = Caller("A", A_ORG, "token-a")


async def test_a_second_of_load_on_every_route_leaks_nothing(platform: Platform) -> None:
    tenants = [await seed(platform.settings, platform.gateway, name) for name in ("A", "B")]
    reads = [(tenant.caller, tenant.read(route)) for route in ROUTES for tenant in tenants]
    async with load_clients(str(platform.gateway.base_url), 12) as clients:
        result = await closed_loop(clients, reads, 1.0)

    figures = summary(result)
    assert figures["requests"] >= len(reads)
    assert figures["errors"] == {}
    assert figures["leaks"] == 0
    # Every answer named at least one record, each compared with its caller's organisation
    # (each list holds the caller's three engagements).
    assert figures["checked"] >= figures["requests"]
    assert set(result.tallies) == {"A", "B"}
    assert all(tally.requests > 0 for tally in result.tallies.values())
    assert figures["requests_per_second"] > 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]


async def test_the_checker_counts_another_organisations_records(platform: Platform) -> None:
    a, b = [await seed(platform.settings, platform.gateway, name) for name in ("A", "B")]
    # A caller of A holding a manager's role in every organisation: the gateway rightly answers
    # with B's records too, and the checker, expecting A's only, counts each of them.
    agency = Caller("A", a.caller.organization_id, platform.token(Role.MANAGER))
    reads = [
        (agency, a.read("engagement_list")),
        (agency, b.read("organization")),
        (agency, b.read("engagement_detail")),
    ]
    async with load_clients(str(platform.gateway.base_url), 3) as clients:
        result = await closed_loop(clients, reads, 0.5)

    figures = summary(result)
    assert figures["errors"] == {}
    # Each B organisation and B engagement answered is one leak; each list holds B's three.
    assert figures["leaks"] >= figures["requests"]


async def test_the_checker_counts_a_refusal_of_another_organisations_id(
    platform: Platform,
) -> None:
    a, b = [await seed(platform.settings, platform.gateway, name) for name in ("A", "B")]
    reads = [(a.caller, b.read("engagement_detail")), (a.caller, b.read("organization"))]
    async with load_clients(str(platform.gateway.base_url), 2) as clients:
        result = await closed_loop(clients, reads, 0.5)

    figures = summary(result)
    assert figures["leaks"] == 0
    assert figures["checked"] == 0
    assert figures["errors"] == {"404": figures["requests"]}


def test_an_answer_whose_owner_cannot_be_read_is_a_leak() -> None:
    tally = Tally()
    check(tally, A, Read(("/v1/engagements",), list_owners), httpx.Response(200, json={"x": 1}))
    check(tally, A, Read(("/v1/engagements/1",), record_owner), httpx.Response(200, text="<p>"))
    assert tally.leaks == 2


def test_a_429_without_retry_after_is_counted_and_errors_are_shaped() -> None:
    tally = Tally(latencies=[0.001 * n for n in range(1, 101)])
    read = Read(("/v1/ping",), None)
    check(tally, A, read, httpx.Response(429, headers={"Retry-After": "1"}))
    check(tally, A, read, httpx.Response(429))
    check(tally, A, read, httpx.Response(503))
    check(tally, A, read, httpx.Response(200, json={"anything": "at all"}))

    figures = summary(LoadResult({"A": tally}, seconds=2.0))
    assert figures["requests"] == 100
    assert figures["requests_per_second"] == 50.0
    assert figures["p50_ms"] == 51.0
    assert figures["p99_ms"] == 100.0
    assert figures["errors"] == {"429": 2, "503": 1}
    assert figures["rate_limited"] == 2
    assert figures["without_retry_after"] == 1
    assert figures["server_errors"] == 1
    assert figures["leaks"] == 0


def test_tallies_of_several_callers_add_up() -> None:
    first = Tally([0.01], Counter({"404": 1}), leaks=1, checked=3)
    second = Tally([0.02, 0.03], Counter({"404": 2, "429": 1}), checked=2, without_retry_after=1)
    total = LoadResult({"A": first, "B": second}, seconds=1.0).total
    assert total.requests == 3
    assert total.errors == Counter({"404": 3, "429": 1})
    assert (total.leaks, total.checked, total.without_retry_after) == (1, 5, 1)


WRK_REPORT = """Running 5s test @ http://127.0.0.1:8000/v1/engagements
  1 threads and 64 connections
  Latency Distribution
     50%    1.00s
     75%    1.50s
     90%    1.80s
     99%  785.12us
  77 requests in 5.02s, 1.70MB read
  Socket errors: connect 0, read 1, write 0, timeout 12
  Non-2xx or 3xx responses: 3
Requests/sec:     15.28
Transfer/sec:    577.39KB
"""


def test_wrk_report_is_read_with_its_units_and_errors() -> None:
    figures = parse_wrk(WRK_REPORT)
    assert figures.requests_per_second == 15.28
    assert (figures.p50_ms, figures.p99_ms) == (1000.0, 0.79)
    assert (figures.requests, figures.non_2xx, figures.socket_errors) == (77, 3, 13)


HEY_REPORT = """
Summary:
  Total:	5.0123 secs
  Slowest:	0.2113 secs
  Fastest:	0.0021 secs
  Average:	0.0154 secs
  Requests/sec:	297.4400

Latency distribution:
  10% in 0.0040 secs
  50% in 0.0081 secs
  99% in 0.0456 secs

Status code distribution:
  [200]	1480 responses
  [503]	6 responses

Error distribution:
  [4]	Get "http://127.0.0.1:8000/v1/engagements": context deadline exceeded
  [1]	Get "http://127.0.0.1:8000/v1/engagements": EOF
"""


def test_hey_report_is_read_with_its_statuses_and_errors() -> None:
    figures = parse_hey(HEY_REPORT)
    assert figures.requests_per_second == 297.44
    assert (figures.p50_ms, figures.p99_ms) == (8.1, 45.6)
    assert figures.statuses == {"200": 1480, "503": 6}
    assert (figures.errors, figures.non_2xx, figures.requests) == (5, 6, 1491)


def test_the_open_loop_rate_is_shared_among_hey_workers() -> None:
    # hey's -q is each worker's rate: 300 requests/s over 50 workers is 6 each.
    assert per_worker_rate(300, 50) == 6
    assert per_worker_rate(300, 64) * 64 == 300


def test_the_run_spread_is_the_gap_between_the_fastest_and_slowest_run_over_the_fastest() -> None:
    assert spread([4000.0, 3600.0, 3800.0]) == 0.1
    assert spread([3600.0, 4000.0]) == spread([4000.0, 3600.0])
    assert spread([4000.0]) == 0.0
    # No run answered anything: no spread to speak of, and no division by zero.
    assert spread([0.0, 0.0]) == 0.0
    assert spread([]) == 0.0


def test_every_process_engage_up_starts_is_noted_under_its_deployments_name() -> None:
    # As ``children`` names them: ``gateway``, ``strategy``, ..., ``worker strategy``, ...
    started = [
        spec.args[-1] if spec.args[0] == "serve" else " ".join(spec.args)
        for spec in child_specs(Settings())
    ]
    deployments = {name: memory.DEPLOYMENT_OF.get(memory_name(name)) for name in started}
    assert deployments["gateway"] == "gateway"
    assert deployments["strategy"] == "strategy"
    assert deployments["worker strategy"] == "strategy-worker"
    assert deployments["worker workflows"] == "workflow-worker"
    # The sandbox is no pod of ours; every other process is one of deploy/k8s's Deployments,
    # and each of those is measured.
    assert deployments.pop("sandbox") is None
    manifests = {path.stem for path in (REPOSITORY / "deploy" / "k8s" / "base").glob("*.yaml")}
    assert set(deployments.values()) == manifests - {"configmap", "kustomization", "migrations-job"}
    assert memory.DEPLOYMENT_OF[memory_name("limited_gateway")] == "gateway"
    # The benchmark's own processes keep names of their own, beside no limit.
    assert {memory_name(name) for name in ("supervisor", "bare_uvicorn", "temporal")} == {
        "engage-up",
        "bare-uvicorn",
        "temporal",
    }

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
``BENCH_GATEWAY_SECONDS``, 10, after a short unmeasured warm-up) reads, one route after the other:
``GET /v1/organizations/{id}`` (``organization``), ``GET /v1/engagements`` (``engagement_list``),
``GET /v1/engagements/{id}`` (``engagement_detail``, composed by the gateway from strategy's
engagement and its workflow's live state) and ``GET /v1/listening/engagements/{id}/mentions``
(``mention_list``: the first page of ``BENCH_GATEWAY_MENTIONS``, 60, mentions of the organisation's
first engagement, published to the stream as a source publishes them and stored by the listening
worker before the phases). Half the workers call as A with A's ids, half as B with B's. Every 2xx
answer is checked: the organisation's ``id``, the engagement's ``organization_id`` and every listed
engagement's and mention's must be the caller's, else it counts as a leak (an answer whose owner
cannot be read counts as one too). The baseline, in the same run with the same generator, is a bare
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
the same phase runs again with it, one thread, as A only and without the tenancy check,
``BENCH_GATEWAY_RUNS`` (3) times in a row per route, each run after a run of the bare route:
``<route>_requests_per_second_wrk`` (the median run, each run's rate in ``runs``) against the
bare run before it (``bare_uvicorn_wrk``; every pair's ratio in ``run_ratios``), with
``non_2xx``, ``socket_errors`` (connections lost, answers later than 30 s) and CPU per request;
``<route>_wrk_run_spread``, (highest - lowest) / highest of those runs (issue 18's target:
within 10 %), against the bare route's spread over the same minutes (the machine's own).

**Open loop.** Where ``hey`` is installed (``BENCH_GATEWAY_HEY=0`` skips it), each route as A at
a fixed ``BENCH_GATEWAY_OPEN_LOOP_RATE`` (300) requests/s, whatever the answers take, for
``BENCH_GATEWAY_SECONDS``: ``hey -c 10 -q 30`` (``-q`` is each worker's rate: the total over
``BENCH_GATEWAY_OPEN_LOOP_WORKERS``, 10; hey's workers tick together, so more workers send
larger bursts, see ``config``). ``<route>_open_loop_latency_p99`` in ms (issue 18's
target: under 50), with the rate reached (below the offered rate when answers come later than
a worker's interval), the answers by status, and the bare route's p99 at the same rate.

**Read cache.** The gateway keeps a caller's answers for ``read_cache_seconds`` (1 by default;
``services/gateway/read_cache.py``), and the phases above, two principals reading a few records
over and over, are its best case. So every line says ``cache`` and ``read_cache_seconds``, and
a third gateway process (``engage serve gateway``, same services, unlimited buckets,
``ENGAGE_GATEWAY__READ_CACHE_SECONDS=0``; ``BENCH_GATEWAY_UNCACHED=0`` skips it) is measured in
the same run without it: ``<route>_requests_per_second_uncached`` (the httpx phase, tenancy
checked, with the cached figure beside it), ``<route>_requests_per_second_wrk_uncached`` (one
``wrk`` run) and ``organization_open_loop_latency_p99_uncached``, each with the CPU of every
process (the third gateway's as ``uncached_gateway``).

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

Modules: ``config`` (the environment variables), ``baseline`` (the bare app), ``load`` (this
process's generator and the tenancy check), ``generators`` (``wrk`` and ``hey``), ``platform``
(``engage up`` on scratch settings, CPU per process), ``seeding``, ``phases`` (each phase, one
way of measuring and reporting).
"""

from benchmarks.gateway_read.baseline import baseline_app
from benchmarks.gateway_read.config import ROUTES
from benchmarks.gateway_read.generators import parse_hey, parse_wrk, per_worker_rate
from benchmarks.gateway_read.load import (
    Caller,
    LoadResult,
    Read,
    Tally,
    Tenant,
    check,
    closed_loop,
    list_owners,
    load_clients,
    organization_owner,
    record_owner,
    summary,
)
from benchmarks.gateway_read.phases import run
from benchmarks.gateway_read.seeding import seed

__all__ = [
    "ROUTES",
    "Caller",
    "LoadResult",
    "Read",
    "Tally",
    "Tenant",
    "baseline_app",
    "check",
    "closed_loop",
    "list_owners",
    "load_clients",
    "organization_owner",
    "parse_hey",
    "parse_wrk",
    "per_worker_rate",
    "record_owner",
    "run",
    "seed",
    "summary",
]

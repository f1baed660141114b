"""What the benchmark's environment variables set, and its fixed figures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
# ``wrk``'s cross-check of the throughput phase, when it is installed (``0`` skips it), run
# ``RUNS`` times in a row per route: the spread of those runs is a figure of its own.
WRK = shutil.which("wrk") if os.environ.get("BENCH_GATEWAY_WRK", "1") != "0" else None
RUNS = int(os.environ.get("BENCH_GATEWAY_RUNS", "3"))
TARGET_SPREAD = 0.1
# The open-loop phase: ``hey`` at a fixed total rate, spread over its workers (``hey -q`` is a
# rate per worker), when it is installed (``BENCH_GATEWAY_HEY=0`` skips it). hey's workers start
# together and tick together, so they send in bursts of one request each: 50 workers at 6/s
# are 50 requests at once every 166 ms, and the p99 measured is how long a burst of 50 takes to
# drain (the bare route's own p99 went from 5.3 ms with 10 workers to 20.7 with 50, 4 Dec).
# Ten workers at 30/s each are bursts of 10 every 33 ms: nearer the steady rate the target
# names, with slack for an answer up to 33 ms before a worker falls behind its rate.
HEY = shutil.which("hey") if os.environ.get("BENCH_GATEWAY_HEY", "1") != "0" else None
OPEN_LOOP_RATE = float(os.environ.get("BENCH_GATEWAY_OPEN_LOOP_RATE", "300"))
OPEN_LOOP_WORKERS = int(os.environ.get("BENCH_GATEWAY_OPEN_LOOP_WORKERS", "10"))
TARGET_OPEN_LOOP_P99_MS = 50.0
# The rate-limited gateway's read budget, when not the configured one.
READ_PER_SECOND = os.environ.get("BENCH_GATEWAY_READ_PER_SECOND")
READ_BURST = os.environ.get("BENCH_GATEWAY_READ_BURST")
# The throughput gateway's budget: far above anything this generator can send.
UNLIMITED_BUCKET = {"PER_SECOND": "1000000", "BURST": "1000000"}
# The read cache's cost and gain: each route's phases again against a third gateway process
# (``engage serve gateway``, same services, unlimited buckets) with the read cache off
# (``BENCH_GATEWAY_UNCACHED=0`` skips it): the httpx phase, one ``wrk`` run and the
# organisation's open loop, about 70 s in all.
UNCACHED = os.environ.get("BENCH_GATEWAY_UNCACHED", "1") != "0"
REPOSITORY = Path(__file__).resolve().parents[2]
ROUTES = ("organization", "engagement_list", "engagement_detail", "mention_list")
# Mentions stored for each organisation's first engagement: the mention list reads the first
# page of them (50, the route's default).
MENTIONS = int(os.environ.get("BENCH_GATEWAY_MENTIONS", "60"))

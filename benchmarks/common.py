"""What benchmarks share: a scratch database and stream, and the one output format."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from nats.js import JetStreamContext
from sqlalchemy.engine import make_url

from engage.bootstrap import drop_database, ensure_database
from shared.db.migrations import upgrade
from shared.events.jetstream import connect_nats, ensure_stream
from shared.settings import EventSettings, Settings

# Every line reported in this process, for the summary ``make bench`` ends with.
REPORTED: list[dict[str, Any]] = []


def report(benchmark: str, metric: str, value: float, unit: str, **details: Any) -> None:
    """One JSON line per figure, with its baseline among ``details`` and the machine's load
    average (one minute) when it was printed: the machine may be shared."""
    line = {
        "benchmark": benchmark,
        "metric": metric,
        "value": value,
        "unit": unit,
        **details,
        "load_average": round(os.getloadavg()[0], 2),
    }
    REPORTED.append(line)
    print(json.dumps(line), flush=True)


@asynccontextmanager
async def scratch_settings(*services: str) -> AsyncIterator[Settings]:
    """Settings pointing at a new database (migrated for ``services``) and a new stream."""
    tag = uuid.uuid4().hex[:8]
    configured = Settings()
    url = make_url(configured.database_url).set(database=f"engage_bench_{tag}")
    settings = configured.model_copy(
        update={
            "database_url": url.render_as_string(hide_password=False),
            "events": EventSettings(stream=f"BENCH_{tag}".upper(), subject_prefix=f"b{tag}"),
        }
    )
    await ensure_database(settings)
    for service in services:
        await asyncio.to_thread(upgrade, service, settings.database_url)
    try:
        yield settings
    finally:
        await drop_database(settings)


@asynccontextmanager
async def scratch_stream(settings: Settings, client_name: str) -> AsyncIterator[JetStreamContext]:
    """The settings' event stream, created for a benchmark and deleted after it."""
    nats = await connect_nats(settings, client_name)
    js = nats.jetstream()
    await ensure_stream(js, settings.events)
    try:
        yield js
    finally:
        await js.delete_stream(settings.events.stream)
        await nats.close()


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``values`` lie (nearest rank); NaN when there are none."""
    ordered = sorted(values) or [float("nan")]
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

"""The platform's metrics: every instrument, named ``engage_*``, in one place.

Instruments are OpenTelemetry's; ``shared.telemetry`` installs the process's meter provider,
which serves them as Prometheus text on ``/metrics`` (an API's own route, a worker's own port).
Code records through the instruments below, never through a meter of its own, so the names a
dashboard may use are exactly ``METRIC_NAMES``.

A measurement of something written to the database is recorded with ``on_commit``: a
transaction that rolls back (and is retried) counts nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Instrument, Observation
from opentelemetry.metrics import _Gauge as Gauge
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_meter = metrics.get_meter("atlantide-engage")

# Seconds: from a quick answer to a slow platform call or a late post.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0)

Kind = Literal["counter", "histogram", "gauge"]


@dataclass(frozen=True)
class Definition:
    """One instrument: its OpenTelemetry name, kind, unit (``1`` or ``s``) and description, and
    a histogram's bucket boundaries."""

    name: str
    kind: Kind
    unit: str
    description: str
    buckets: Sequence[float] | None = None
    # A counter added to on every request (``Tally``).
    per_request: bool = False

    @property
    def prometheus_name(self) -> str:
        """The exporter's name: seconds gain ``_seconds``, a counter ``_total`` (a histogram's
        series add ``_bucket``, ``_sum`` and ``_count`` to it)."""
        seconds = "_seconds" if self.unit == "s" else ""
        return self.name + seconds + ("_total" if self.kind == "counter" else "")

    def create(self) -> Instrument | Tally:
        if self.kind == "counter" and self.per_request:
            tally = Tally()
            _meter.create_observable_counter(
                self.name, [tally.observe], unit=self.unit, description=self.description
            )
            return tally
        if self.kind == "counter":
            return _meter.create_counter(self.name, unit=self.unit, description=self.description)
        if self.kind == "gauge":
            return _meter.create_gauge(self.name, unit=self.unit, description=self.description)
        return _meter.create_histogram(
            self.name,
            unit=self.unit,
            description=self.description,
            explicit_bucket_boundaries_advisory=self.buckets,
        )


class Tally:
    """A counter added to on every request: ``add`` adds to a total kept per attribute set
    (under a microsecond, where a ``Counter.add`` validates and hashes its attributes each time,
    about 8 µs: a tenth of a cached gateway read's cost with two of them; issue 18), and
    OpenTelemetry reads the totals as an observable counter when the metrics are collected. The
    exposition is a counter's, the same as ``Counter``'s."""

    def __init__(self) -> None:
        self._totals: dict[tuple[tuple[str, str], ...], float] = {}

    def add(self, amount: float, attributes: Mapping[str, str]) -> None:
        key = tuple(attributes.items())
        self._totals[key] = self._totals.get(key, 0) + amount

    def observe(self, options: CallbackOptions) -> Iterable[Observation]:
        # The same attributes added in another order are one series.
        merged: dict[frozenset[tuple[str, str]], float] = {}
        for key, total in list(self._totals.items()):
            attributes = frozenset(key)
            merged[attributes] = merged.get(attributes, 0) + total
        return [Observation(total, dict(attributes)) for attributes, total in merged.items()]


DEFINITIONS = (
    Definition(
        "engage_http_requests",
        "counter",
        "1",
        "HTTP requests answered, by route and status",
        per_request=True,
    ),
    Definition(
        "engage_http_request_duration",
        "histogram",
        "s",
        "Time to answer an HTTP request, by route",
        LATENCY_BUCKETS,
    ),
    Definition(
        "engage_outbox_backlog", "gauge", "1", "Events staged in an outbox, not yet published"
    ),
    Definition(
        "engage_outbox_oldest_pending_age",
        "gauge",
        "s",
        "Age of the oldest event an outbox has not published (0 when empty)",
    ),
    Definition(
        "engage_outbox_published", "counter", "1", "Events the relay published to JetStream"
    ),
    Definition(
        "engage_outbox_relay_lag",
        "histogram",
        "s",
        "From an event's commit to its publication by the relay",
        LATENCY_BUCKETS,
    ),
    Definition(
        "engage_consumer_lag",
        "gauge",
        "1",
        "Messages of a durable consumer's subjects not yet delivered to it",
    ),
    Definition(
        "engage_consumer_ack_pending",
        "gauge",
        "1",
        "Messages delivered to a durable consumer and not yet settled",
    ),
    Definition(
        "engage_consumer_messages",
        "counter",
        "1",
        "Messages a consumer settled, by outcome (ack, nak, term)",
    ),
    Definition(
        "engage_consumer_redeliveries",
        "counter",
        "1",
        "Messages a consumer received again (JetStream delivered them before)",
    ),
    Definition(
        "engage_publications",
        "counter",
        "1",
        "Publish outcomes, by channel, status (published, retrying, failed, unconfirmed) "
        "and failure class (auth, rate_limited, ..., none)",
    ),
    Definition(
        "engage_publication_lateness",
        "histogram",
        "s",
        "From a post's due time to its publication",
        LATENESS_BUCKETS,
    ),
    Definition(
        "engage_listening_mentions_ingested", "counter", "1", "Mentions stored by listening"
    ),
    Definition(
        "engage_sla_breaches", "counter", "1", "Conversations whose answer SLA was breached"
    ),
    Definition(
        "engage_temporal_reachable",
        "gauge",
        "1",
        "1 when the workflow worker's last read of Temporal's visibility succeeded, else 0",
    ),
    Definition(
        "engage_gateway_read_cache",
        "counter",
        "1",
        "Reads the gateway answered from its read cache (hit), from another read's call in "
        "flight (shared), or by asking the service (miss)",
        per_request=True,
    ),
    Definition(
        "engage_workflows",
        "gauge",
        "1",
        "Workflow executions by type and status, from Temporal's visibility",
    ),
)
_INSTRUMENTS = {definition.name: definition.create() for definition in DEFINITIONS}


def _counter(name: str) -> Counter:
    instrument = _INSTRUMENTS[name]
    assert isinstance(instrument, Counter), f"{name} is not a counter"
    return instrument


def _tally(name: str) -> Tally:
    instrument = _INSTRUMENTS[name]
    assert isinstance(instrument, Tally), f"{name} is not a counter added to per request"
    return instrument


def _histogram(name: str) -> Histogram:
    instrument = _INSTRUMENTS[name]
    assert isinstance(instrument, Histogram), f"{name} is not a histogram"
    return instrument


def _gauge(name: str) -> Gauge:
    instrument = _INSTRUMENTS[name]
    assert isinstance(instrument, Gauge), f"{name} is not a gauge"
    return instrument


HTTP_REQUESTS = _tally("engage_http_requests")
HTTP_DURATION = _histogram("engage_http_request_duration")
OUTBOX_BACKLOG = _gauge("engage_outbox_backlog")
OUTBOX_OLDEST_PENDING = _gauge("engage_outbox_oldest_pending_age")
OUTBOX_PUBLISHED = _counter("engage_outbox_published")
RELAY_LAG = _histogram("engage_outbox_relay_lag")
CONSUMER_LAG = _gauge("engage_consumer_lag")
CONSUMER_ACK_PENDING = _gauge("engage_consumer_ack_pending")
CONSUMER_MESSAGES = _counter("engage_consumer_messages")
CONSUMER_REDELIVERIES = _counter("engage_consumer_redeliveries")
PUBLICATIONS = _counter("engage_publications")
PUBLICATION_LATENESS = _histogram("engage_publication_lateness")
MENTIONS_INGESTED = _counter("engage_listening_mentions_ingested")
SLA_BREACHES = _counter("engage_sla_breaches")
TEMPORAL_REACHABLE = _gauge("engage_temporal_reachable")
WORKFLOWS = _gauge("engage_workflows")
GATEWAY_READ_CACHE = _tally("engage_gateway_read_cache")

# The Prometheus names of the instruments above: what dashboards and alerts may refer to.
METRIC_NAMES: Mapping[str, str] = {
    definition.prometheus_name: definition.kind for definition in DEFINITIONS
}

# What Temporal's visibility reports as ``ExecutionStatus``.
WORKFLOW_STATUSES = (
    "Running",
    "Completed",
    "Failed",
    "Canceled",
    "Terminated",
    "ContinuedAsNew",
    "TimedOut",
)

_PENDING = "engage_metrics_on_commit"


def on_commit(session: AsyncSession, record: Callable[[], None]) -> None:
    """Record a measurement once the session's transaction commits; forget it on rollback."""
    session.sync_session.info.setdefault(_PENDING, []).append(record)


@event.listens_for(Session, "after_commit")
def _record_committed(session: Session) -> None:
    for record in session.info.pop(_PENDING, []):
        record()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


def record_workflow_counts(
    workflow_type: str, counts: Sequence[tuple[str, int]], statuses: Sequence[str]
) -> None:
    """Set one workflow type's counts; a status with no execution reads 0, not its last value."""
    known = dict(counts)
    for status in dict.fromkeys([*statuses, *known]):
        WORKFLOWS.set(known.get(status, 0), {"workflow_type": workflow_type, "status": status})


class HttpMetrics:
    """ASGI middleware: each request counted and timed under its route's template (``/v1/x/{id}``,
    never the raw path, so an id does not become a series of its own)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            attributes: dict[str, Any] = {
                "service": self.service,
                "method": scope["method"],
                "route": route,
            }
            HTTP_DURATION.record(time.perf_counter() - started, attributes)
            HTTP_REQUESTS.add(1, {**attributes, "status": str(status)})

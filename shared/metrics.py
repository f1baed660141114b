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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import metrics
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_meter = metrics.get_meter("atlantide-engage")

# Seconds: from a quick answer to a slow platform call or a late post.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 14400.0)

HTTP_REQUESTS = _meter.create_counter(
    "engage_http_requests", unit="1", description="HTTP requests answered, by route and status"
)
HTTP_DURATION = _meter.create_histogram(
    "engage_http_request_duration",
    unit="s",
    description="Time to answer an HTTP request, by route",
    explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
)
OUTBOX_BACKLOG = _meter.create_gauge(
    "engage_outbox_backlog", unit="1", description="Events staged in an outbox, not yet published"
)
OUTBOX_OLDEST_PENDING = _meter.create_gauge(
    "engage_outbox_oldest_pending_age",
    unit="s",
    description="Age of the oldest event an outbox has not published (0 when empty)",
)
OUTBOX_PUBLISHED = _meter.create_counter(
    "engage_outbox_published", unit="1", description="Events the relay published to JetStream"
)
RELAY_LAG = _meter.create_histogram(
    "engage_outbox_relay_lag",
    unit="s",
    description="From an event's commit to its publication by the relay",
    explicit_bucket_boundaries_advisory=LATENCY_BUCKETS,
)
CONSUMER_LAG = _meter.create_gauge(
    "engage_consumer_lag",
    unit="1",
    description="Messages of a durable consumer's subjects not yet delivered to it",
)
CONSUMER_ACK_PENDING = _meter.create_gauge(
    "engage_consumer_ack_pending",
    unit="1",
    description="Messages delivered to a durable consumer and not yet settled",
)
CONSUMER_MESSAGES = _meter.create_counter(
    "engage_consumer_messages",
    unit="1",
    description="Messages a consumer settled, by outcome (ack, nak, term)",
)
CONSUMER_REDELIVERIES = _meter.create_counter(
    "engage_consumer_redeliveries",
    unit="1",
    description="Messages a consumer received again (JetStream delivered them before)",
)
PUBLICATIONS = _meter.create_counter(
    "engage_publications",
    unit="1",
    description="Publish outcomes, by channel, status (published, retrying, failed, unconfirmed) "
    "and failure class (auth, rate_limited, ..., none)",
)
PUBLICATION_LATENESS = _meter.create_histogram(
    "engage_publication_lateness",
    unit="s",
    description="From a post's due time to its publication",
    explicit_bucket_boundaries_advisory=LATENESS_BUCKETS,
)
MENTIONS_INGESTED = _meter.create_counter(
    "engage_listening_mentions_ingested", unit="1", description="Mentions stored by listening"
)
SLA_BREACHES = _meter.create_counter(
    "engage_sla_breaches", unit="1", description="Conversations whose answer SLA was breached"
)
TEMPORAL_REACHABLE = _meter.create_gauge(
    "engage_temporal_reachable",
    unit="1",
    description="1 when the workflow worker's last read of Temporal's visibility succeeded, else 0",
)
WORKFLOWS = _meter.create_gauge(
    "engage_workflows",
    unit="1",
    description="Workflow executions by type and status, from Temporal's visibility",
)

# The Prometheus names of the instruments above (a counter gains ``_total``; a histogram
# ``_bucket``, ``_sum`` and ``_count``): what dashboards and alerts may refer to.
METRIC_NAMES: Mapping[str, str] = {
    "engage_http_requests_total": "counter",
    "engage_http_request_duration_seconds": "histogram",
    "engage_outbox_backlog": "gauge",
    "engage_outbox_oldest_pending_age_seconds": "gauge",
    "engage_outbox_published_total": "counter",
    "engage_outbox_relay_lag_seconds": "histogram",
    "engage_consumer_lag": "gauge",
    "engage_consumer_ack_pending": "gauge",
    "engage_consumer_messages_total": "counter",
    "engage_consumer_redeliveries_total": "counter",
    "engage_publications_total": "counter",
    "engage_publication_lateness_seconds": "histogram",
    "engage_listening_mentions_ingested_total": "counter",
    "engage_sla_breaches_total": "counter",
    "engage_workflows": "gauge",
    "engage_temporal_reachable": "gauge",
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

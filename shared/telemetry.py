"""OpenTelemetry: one tracer and one meter provider per process; W3C context across HTTP, Temporal
and NATS; the metrics (``shared.metrics``) served as Prometheus text on ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import prometheus_client
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Sampler, SamplingResult
from opentelemetry.util.types import Attributes
from starlette.requests import Request
from starlette.responses import Response
from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio.contrib.opentelemetry import TracingInterceptor

from shared.logging_json import CONTEXT_FIELDS, log_context
from shared.metrics import HttpMetrics
from shared.settings import Settings

_configured: set[str] = set()


def setup_telemetry(service_name: str, settings: Settings) -> None:
    """Install the process's tracer and meter providers; spans go out over OTLP/HTTP only when
    configured, metrics are read by Prometheus from ``/metrics``."""
    if _configured:
        return
    resource = Resource.create({SERVICE_NAME: f"engage-{service_name}"})
    metrics.set_meter_provider(
        MeterProvider(
            resource=resource,
            metric_readers=[PrometheusMetricReader()],
            # Prometheus' text format carries no exemplars: sampling them is work for nothing.
            exemplar_filter=AlwaysOffExemplarFilter(),
        )
    )
    provider = RecordingWhenReceived(resource=resource)
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured.add(service_name)


class RecordingWhenReceived(TracerProvider):
    """The SDK's tracer provider, recording spans only once a span processor receives them.

    Without an exporter (no ``ENGAGE_OTLP_ENDPOINT``) every request's spans were built, given
    their attributes, timed and dropped: 30 to 70 µs of a cached gateway read's 170 (issue 18).
    Unrecorded, a span still has its trace and span ids: they are propagated (``traceparent``
    over HTTP, Temporal and NATS) and written in the log lines as before. With a processor (the
    OTLP exporter, a test's in-memory one) spans are sampled as the SDK's default sampler, or
    ``OTEL_TRACES_SAMPLER``, says."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource=resource)
        self.receives = False
        self.sampler = _WhenReceived(self, self.sampler)

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        super().add_span_processor(span_processor)
        self.receives = True


class _WhenReceived(Sampler):
    def __init__(self, provider: RecordingWhenReceived, sampler: Sampler) -> None:
        self._provider = provider
        self._sampler = sampler

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        sampler = self._sampler if self._provider.receives else ALWAYS_OFF
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"WhenReceived{{{self._sampler.get_description()}}}"


# Probes and scrapes: no span (they come every few seconds and say nothing about a request).
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def app_telemetry() -> TelemetryConfig:
    """``FastAPI(telemetry=...)`` for every app: FastAPI's own tracing, one server span per
    request named by the route its router chose (``GET /v1/engagements/{engagement_id}``),
    continuing the caller's ``traceparent``.

    Instead of opentelemetry-instrumentation-fastapi's middleware, which looked the route up
    again by matching the path against every route of the app on every request and opened a span
    per ASGI message: about a third of the gateway's CPU per forwarded read (py-spy, issue 18).
    Request metrics are ``HttpMetrics``' (``engage_http_*``), so FastAPI's own are off; so are
    its spans per dependency and endpoint, and its log records (the process logs its own)."""
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": False,
        "exclude": _untraced,
    }


def instrument_app(app: FastAPI, service: str) -> None:
    """Measure the app's requests; serve the process's metrics on ``/metrics``. The app traces
    its requests itself when built with ``telemetry=app_telemetry()``."""
    app.add_route("/metrics", _metrics, include_in_schema=False)
    app.add_middleware(HttpMetrics, service=service)


async def _metrics(_: Request) -> Response:
    return Response(
        prometheus_client.generate_latest(), media_type=prometheus_client.CONTENT_TYPE_LATEST
    )


def serve_metrics(port: int) -> None:
    """``/metrics`` on a port of its own, for a process without an HTTP API (a worker)."""
    prometheus_client.start_http_server(port)


def temporal_interceptors() -> list[temporal_client.Interceptor]:
    return [TracingInterceptor(), LogContextInterceptor()]


class LogContextInterceptor(temporal_client.Interceptor, temporal_worker.Interceptor):
    """An activity's log lines name the organisation and engagement its input names."""

    def intercept_activity(
        self, next: temporal_worker.ActivityInboundInterceptor
    ) -> temporal_worker.ActivityInboundInterceptor:
        return _ActivityLogContext(next)


class _ActivityLogContext(temporal_worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporal_worker.ExecuteActivityInput) -> Any:
        with log_context(**_named_ids(input.args)):
            return await super().execute_activity(input)


def _named_ids(args: Sequence[Any]) -> dict[str, object]:
    """The organisation and engagement ids of the first argument that has either."""
    for argument in args:
        found = {
            field: argument.get(field)
            if isinstance(argument, Mapping)
            else getattr(argument, field, None)
            for field in CONTEXT_FIELDS
        }
        if any(value is not None for value in found.values()):
            return found
    return {}


def current_trace_headers() -> dict[str, str]:
    """``traceparent``/``tracestate`` of the current span, for NATS or HTTP headers."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def context_from_headers(headers: Mapping[str, str] | None) -> otel_context.Context:
    return propagate.extract(dict(headers or {}))


def trace_links(contexts: Iterable[otel_context.Context]) -> list[trace.Link]:
    """Links to the spans ``contexts`` carry (those with one), e.g. a batch's messages'."""
    spans = (trace.get_current_span(context).get_span_context() for context in contexts)
    return [trace.Link(span) for span in spans if span.is_valid]


tracer = trace.get_tracer("atlantide-engage")

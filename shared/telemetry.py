"""OpenTelemetry: one tracer provider per process; W3C context across HTTP, Temporal and NATS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from temporalio.contrib.opentelemetry import TracingInterceptor

from shared.settings import Settings

_configured: set[str] = set()


def setup_telemetry(service_name: str, settings: Settings) -> None:
    """Install the process's tracer provider; export over OTLP/HTTP only when configured."""
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"engage-{service_name}"}))
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=f"{settings.otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _configured.add(service_name)


def instrument_app(app: FastAPI) -> None:
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")


def temporal_interceptors() -> list[TracingInterceptor]:
    return [TracingInterceptor()]


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

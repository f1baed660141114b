"""One request, one trace: gateway → strategy → workflow → activity → outbox relay → consumer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.reporting.readmodel.subscriptions import durable
from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages
from tests.test_thin_thread import create_org, engagement_body

# The reporting read model's consumer of ``phase_started`` (a batch consumer).
PHASE_STARTED_CONSUMER = durable("lifecycle.phase_started")


@pytest.fixture
def spans(platform: Platform) -> Iterator[InMemorySpanExporter]:
    """Every span the in-process platform ends while the test runs."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the platform installs the SDK's provider"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


def _port(span: ReadableSpan) -> object:
    attributes = span.attributes or {}
    return attributes.get("server.port", attributes.get("net.host.port"))


def _ancestry(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[ReadableSpan]:
    """``span`` and its parents up to the first one not recorded, innermost first."""
    chain = [span]
    while chain[-1].parent is not None and chain[-1].parent.span_id in by_id:
        chain.append(by_id[chain[-1].parent.span_id])
    return chain


async def test_one_trace_from_the_gateway_to_a_jetstream_consumer(
    platform: Platform, nats_client: NatsClient, spans: InMemorySpanExporter
) -> None:
    organization_id = await create_org(platform)
    trace_id = uuid.uuid4().hex
    caller_span = uuid.uuid4().hex[:16]
    headers = {**platform.auth(Role.MANAGER), "traceparent": f"00-{trace_id}-{caller_span}-01"}
    created = await platform.gateway.post(
        "/v1/engagements", json=engagement_body(organization_id), headers=headers
    )
    assert created.status_code == 201, created.text
    engagement_id = created.json()["id"]

    def ours() -> list[ReadableSpan]:
        return [
            span
            for span in spans.get_finished_spans()
            if span.context is not None and f"{span.context.trace_id:032x}" == trace_id
        ]

    def consumed() -> list[ReadableSpan]:
        return [
            span
            for span in ours()
            if span.kind is SpanKind.CONSUMER
            and (span.attributes or {}).get("engage.consumer") == PHASE_STARTED_CONSUMER
        ]

    async def phase_started_consumed() -> bool:
        return bool(consumed())

    await wait_until(phase_started_consumed, timeout=30)

    recorded = ours()
    server_ports = {_port(span) for span in recorded if span.kind is SpanKind.SERVER}
    assert {platform.settings.ports.gateway, platform.settings.ports.strategy} <= server_ports
    assert "RunWorkflow:EngagementWorkflow" in {span.name for span in recorded}

    by_id = {span.context.span_id: span for span in recorded if span.context is not None}
    chain = list(reversed(_ancestry(consumed()[0], by_id)))
    assert chain[0].parent is not None
    assert f"{chain[0].parent.span_id:016x}" == caller_span, "the chain reaches the caller"
    assert (chain[0].kind, _port(chain[0])) == (SpanKind.SERVER, platform.settings.ports.gateway)
    names = [span.name for span in chain]
    expected_in_order = [
        "POST /v1/engagements",
        "StartWorkflow:EngagementWorkflow",
        "StartActivity:strategy.record_lifecycle_events",
        "RunActivity:strategy.record_lifecycle_events",
        "publish ",
        "consume ",
    ]
    position = 0
    for name in names:
        if position < len(expected_in_order) and name.startswith(expected_in_order[position]):
            position += 1
    assert position == len(expected_in_order), names

    # The message in the stream carries the trace as well.
    events = platform.settings.events
    subject = f"{events.subject_prefix}.lifecycle.phase_started.*"
    messages = [
        msg
        for msg in await stream_messages(nats_client.jetstream(), events.stream, subject)
        if json.loads(msg.data)["data"]["engagement_id"] == engagement_id
    ]
    assert len(messages) == 1
    assert messages[0].headers is not None
    assert messages[0].headers["traceparent"].split("-")[1] == trace_id

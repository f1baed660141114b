"""What keeps telemetry cheap on the request path: spans recorded only once something receives
them, and per-request counters added to in process and read when the metrics are collected."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Sum
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared.metrics import Tally
from shared.telemetry import RecordingWhenReceived


def test_spans_are_recorded_only_once_a_processor_receives_them() -> None:
    provider = RecordingWhenReceived(Resource.create({}))
    tracer = provider.get_tracer("test")

    with tracer.start_as_current_span("unheard") as unheard:
        # Not recorded, yet a trace of its own: its ids are propagated and logged.
        assert not unheard.is_recording()
        assert unheard.get_span_context().is_valid

    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracer.start_as_current_span("heard") as heard:
        assert heard.is_recording()

    assert [span.name for span in exporter.get_finished_spans()] == ["heard"]


def test_a_tally_is_read_as_a_counter_one_series_per_attribute_set() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("test")
    tally = Tally()
    meter.create_observable_counter("engage_test_tally", [tally.observe])

    tally.add(1, {"outcome": "hit", "service": "gateway"})
    tally.add(2, {"service": "gateway", "outcome": "hit"})
    tally.add(1, {"outcome": "miss", "service": "gateway"})

    data = reader.get_metrics_data()
    assert data is not None
    (metric,) = [
        metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == "engage_test_tally"
    ]
    assert isinstance(metric.data, Sum)
    assert metric.data.is_monotonic
    totals = {
        point.attributes["outcome"]: point.value
        for point in metric.data.data_points
        if point.attributes is not None
    }
    assert totals == {"hit": 3, "miss": 1}

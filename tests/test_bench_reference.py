"""The guard ``make bench`` ends with: today's figures against the committed reference, a
warning naming any throughput that fell by more than a quarter; and the memory figures' limits
read from the rendered manifests."""

from __future__ import annotations

import json
from typing import Any

from benchmarks import memory, reference


def line(benchmark: str, metric: str, value: float, unit: str) -> dict[str, Any]:
    return {"benchmark": benchmark, "metric": metric, "value": value, "unit": unit}


TODAY = [
    line("outbox_relay", "events_per_second", 700.0, "events/s"),  # -30 %: warned
    line("listening_pipeline", "mentions_per_second", 8_000.0, "mentions/s"),  # -20 %
    line("listening_pipeline", "consumer_cpu_per_mention", 300.0, "us"),  # doubled, not a rate
    line("publish", "posts_published_per_second", 50.0, "posts/s"),  # no reference yet
    {"benchmark": "sentiment", "metric": "skipped", "value": "no data", "unit": ""},
]
REFERENCE = {
    "outbox_relay.events_per_second": 1_000.0,
    "listening_pipeline.mentions_per_second": 10_000.0,
    "listening_pipeline.consumer_cpu_per_mention": 150.0,
}


def test_a_throughput_that_fell_by_more_than_a_quarter_is_a_warning_naming_it() -> None:
    summary = reference.summary(TODAY, REFERENCE)

    warnings = [row for row in summary.splitlines() if row.startswith("WARNING")]
    assert len(warnings) == 1, summary
    assert "outbox_relay.events_per_second" in warnings[0]
    assert "30%" in warnings[0]


def test_the_table_has_every_figure_with_its_reference_and_change() -> None:
    rows = reference.summary(TODAY, REFERENCE).splitlines()

    assert rows[0].split() == ["figure", "today", "reference", "change"]
    by_figure = {row.split()[0]: row.split()[1:] for row in rows[1:5]}
    assert by_figure["outbox_relay.events_per_second"] == ["700", "events/s", "1000", "-30.0%"]
    assert by_figure["listening_pipeline.mentions_per_second"][-1] == "-20.0%"
    assert by_figure["listening_pipeline.consumer_cpu_per_mention"][-1] == "+100.0%"
    assert by_figure["publish.posts_published_per_second"] == ["50", "posts/s"]
    assert not any("sentiment" in row for row in rows), "a line without a number is no figure"


def test_a_rate_per_minute_is_a_throughput_too() -> None:
    today = [
        line("lifecycle", "engagements_completed_per_minute", 61.0, "engagements/min"),
        line("lifecycle", "approval_to_next_phase_started_p95", 0.9, "s"),  # tripled, no rate
    ]
    summary = reference.summary(
        today,
        {
            "lifecycle.engagements_completed_per_minute": 103.7,
            "lifecycle.approval_to_next_phase_started_p95": 0.3,
        },
    )

    warnings = [row for row in summary.splitlines() if row.startswith("WARNING")]
    assert len(warnings) == 1, summary
    assert "lifecycle.engagements_completed_per_minute fell 41%" in warnings[0]


def test_a_drop_of_exactly_a_quarter_or_a_rise_is_no_warning() -> None:
    steady = [
        line("outbox_relay", "events_per_second", 750.0, "events/s"),
        line("listening_pipeline", "mentions_per_second", 12_000.0, "mentions/s"),
    ]
    assert reference.warnings(reference.compare(steady, REFERENCE)) == []


def test_the_reference_file_names_its_machine_and_holds_numbers(tmp_path: Any) -> None:
    assert reference.load_reference(tmp_path / "none.json") == {}
    if reference.REFERENCE.exists():
        committed = json.loads(reference.REFERENCE.read_text())
        assert {"nproc", "cpu_model", "memory_total_mib", "date", "load_average"} <= set(
            committed["machine"]
        )
        assert all(isinstance(v, int | float) for v in reference.load_reference().values())


def deployment(name: str, memory_limit: str) -> dict[str, Any]:
    container = {"resources": {"limits": {"memory": memory_limit}}}
    return {
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def test_memory_limits_come_from_the_deployments_and_peaks_are_held_to_60_percent() -> None:
    documents = [
        {"kind": "ConfigMap", "metadata": {"name": "engage-config"}},
        deployment("listening-worker", "768Mi"),
        deployment("content", "1Gi"),
    ]
    limits = memory.memory_limits(documents)
    assert limits == {"listening-worker": 768 * 2**20, "content": 2**30}

    lines = memory.peak_lines({"listening-consumer": 500 * 2**20, "temporal": 90 * 2**20}, limits)
    consumer, temporal = lines
    assert consumer["deployment"] == "listening-worker"
    assert consumer["share_of_limit"] == round(500 / 768, 3)
    assert consumer["within_budget"] is False
    assert temporal["deployment"] is None
    assert "within_budget" not in temporal

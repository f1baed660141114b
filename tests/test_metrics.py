"""The platform's metrics, scraped as Prometheus scrapes them after a small scenario: requests
through the gateway (one refused), a mention ingested into a conversation whose SLA is breached,
a post published, an event redelivered to a consumer, an engagement's workflow counted."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.conversations import sla_steps
from services.listening.ingestion import ingestion as listening_ingestion
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.consumer import EffectConsumer, TransientError, spec_for
from shared.events.envelope import CloudEvent, new_event
from shared.metrics import METRIC_NAMES, on_commit
from shared.settings import EventSettings
from shared.telemetry import serve_metrics
from shared.worker import count_workflows
from tests.conftest import Platform, free_port, wait_until
from tests.engagement_helpers import started_engagement
from tests.publisher_helpers import connect_sandbox, schedule, settled
from tests.test_conversations import inbox_consumers, opened_conversation
from workflows.worker import WORKFLOWS

__all__ = ["inbox_consumers"]

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse(exposition: str) -> Samples:
    """Each sample's name (``…_total``, ``…_bucket``, ``…_count`` included) with its labels."""
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def scrape(platform: Platform) -> Samples:
    answer = await platform.gateway.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return parse(answer.text)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        value
        for found, value in samples.get(name, [])
        if all(found.get(key) == wanted for key, wanted in labels.items())
    )


def series_names(samples: Samples) -> set[str]:
    """The names dashboards use: a histogram by its base name, as ``METRIC_NAMES`` has it."""
    names = set(samples)
    for name in samples:
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                names.add(name.removesuffix(suffix))
    return names


async def redelivered_once(nats_client: NatsClient, events: EventSettings) -> str:
    """A consumer whose first attempt at an event fails for a while: the durable's name once
    the event is redelivered and handled."""
    attempts: list[str] = []

    async def flaky(event: CloudEvent) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:
            raise TransientError("the dependency is away", delay=0.1)

    js = nats_client.jetstream()
    durable = f"metrics-{uuid.uuid4().hex[:8]}"
    consumer = EffectConsumer(js, spec_for(durable, "metrics.probed", events), flaky)
    event = new_event("metrics.probed", {"organization_id": str(uuid.uuid4())}, source="tests")
    await js.publish(
        event.nats_subject(events.subject_prefix),
        event.model_dump_json().encode(),
        stream=events.stream,
        headers={"Nats-Msg-Id": event.id},
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))

    async def handled_twice() -> bool:
        return len(attempts) == 2

    try:
        await wait_until(handled_twice, timeout=15)
    finally:
        stop.set()
        await running
    return durable


async def test_the_named_metrics_are_scraped_with_the_scenario_in_them(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    sandbox: httpx.AsyncClient,
    isolated_events: EventSettings,
    inbox_consumers: None,
) -> None:
    refused = await platform.gateway.get("/v1/engagements")
    assert refused.status_code == 401
    organization_id, _, conversation = await opened_conversation(platform, sessions, nats_client)
    # Read twice as a client that lets the gateway's read cache answer (the platform's asks it
    # not to): a miss, then a hit.
    staff = {**platform.auth(Role.MANAGER, orgs=[organization_id]), "Cache-Control": "max-age=60"}
    for _ in range(2):
        kept = await platform.gateway.get(f"/v1/organizations/{organization_id}", headers=staff)
        assert kept.status_code == 200, kept.text
    async with session_scope(sessions, SYSTEM) as session:
        breached = await sla_steps.sla_breached(session, conversation.id, conversation.opened_at)
    assert breached.breached
    account = await connect_sandbox(platform, sandbox, organization_id)
    publication = await settled(platform, (await schedule(platform, account))["id"])
    assert publication["status"] == "published"
    durable = await redelivered_once(nats_client, isolated_events)
    await started_engagement(platform, organization_id)
    await count_workflows(
        platform.temporal, platform.settings.task_queue(task_queues.WORKFLOWS), WORKFLOWS
    )

    samples = await scrape(platform)

    assert set(METRIC_NAMES) <= series_names(samples), set(METRIC_NAMES) - series_names(samples)
    gateway = {"service": "gateway", "method": "GET", "route": "/v1/engagements"}
    assert total(samples, "engage_http_requests_total", **gateway, status="401") >= 1
    created = {"service": "gateway", "method": "POST", "route": "/v1/organizations"}
    assert total(samples, "engage_http_requests_total", **created, status="201") >= 1
    assert total(samples, "engage_http_request_duration_seconds_count", **created) >= 1
    assert total(samples, "engage_gateway_read_cache_total", outcome="miss") >= 1
    assert total(samples, "engage_gateway_read_cache_total", outcome="hit") >= 1
    # A route's template, never a raw path with an id in it.
    routes = {labels["route"] for labels, _ in samples["engage_http_requests_total"]}
    assert any(route.startswith("/v1/publications/{") for route in routes), routes
    assert not any(str(publication["id"]) in route for route in routes)

    assert total(samples, "engage_outbox_published_total", outbox="strategy") >= 1
    assert total(samples, "engage_outbox_relay_lag_seconds_count", outbox="listening") >= 1
    backlogs = {labels["outbox"]: value for labels, value in samples["engage_outbox_backlog"]}
    assert {"strategy", "content", "publisher", "listening", "reporting"} <= set(backlogs)
    assert all(value >= 0 for value in backlogs.values())

    lags = {labels["consumer"]: value for labels, value in samples["engage_consumer_lag"]}
    assert listening_ingestion.subscription.durable in lags, lags
    assert all(value >= 0 for value in lags.values())
    assert total(samples, "engage_consumer_redeliveries_total", consumer=durable) == 1
    assert total(samples, "engage_consumer_messages_total", consumer=durable, outcome="nak") == 1
    assert total(samples, "engage_consumer_messages_total", consumer=durable, outcome="ack") == 1

    published = {"channel": "sandbox", "status": "published", "failure_class": "none"}
    assert total(samples, "engage_publications_total", **published) >= 1
    assert total(samples, "engage_publication_lateness_seconds_count", channel="sandbox") >= 1
    assert total(samples, "engage_listening_mentions_ingested_total") >= 1
    assert total(samples, "engage_sla_breaches_total") >= 1

    running = total(
        samples, "engage_workflows", workflow_type="EngagementWorkflow", status="Running"
    )
    assert running >= 1
    assert total(samples, "engage_workflows", workflow_type="PublishBatchWorkflow") >= 1
    assert total(samples, "engage_temporal_reachable") == 1


async def test_a_measurement_waits_for_its_transaction_to_commit(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    recorded: list[str] = []

    def noting(what: str) -> Callable[[], None]:
        return lambda: recorded.append(what)

    with contextlib.suppress(RuntimeError):
        async with session_scope(sessions, SYSTEM) as session:
            await session.execute(text("SELECT 1"))
            on_commit(session, noting("rolled back"))
            raise RuntimeError("the unit of work fails")
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(text("SELECT 1"))
        on_commit(session, noting("committed"))
        assert recorded == []
    assert recorded == ["committed"]


@pytest.mark.usefixtures("platform")
async def test_a_worker_serves_the_metrics_on_its_own_port() -> None:
    port = free_port()
    serve_metrics(port)
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200
    assert "engage_http_requests_total" in parse(answer.text)

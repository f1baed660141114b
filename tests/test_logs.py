"""Logs are JSON lines with trace, span, organisation and engagement ids, and never a secret:
a scenario's logs, captured at DEBUG from every library, hold none of the test's tokens and
keys."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from opentelemetry import context as otel_context
from pydantic import BaseModel
from sqlalchemy.engine import make_url
from temporalio import activity
from temporalio.worker import Worker

from shared import task_queues
from shared.auth import Role
from shared.db.roles import service_database_url
from shared.events.consumer import EffectConsumer, spec_for
from shared.events.envelope import CloudEvent, new_event
from shared.logging_json import REDACTED, JsonFormatter, json_handler, secret_values
from shared.settings import DATA_SERVICES, EventSettings, Settings
from shared.telemetry import context_from_headers, current_trace_headers, tracer
from tests.activity_probe import run_activity
from tests.conftest import Platform, wait_until
from tests.publisher_helpers import connect_sandbox, schedule, settled
from tests.test_source_webhooks import add_source, inbound_item, signed
from tests.test_thin_thread import create_org

log = logging.getLogger(__name__)


@pytest.fixture
def captured(platform: Platform) -> Iterator[io.StringIO]:
    """Every record of every logger, as the platform's processes write them."""
    stream = io.StringIO()
    handler = json_handler("tests", platform.settings, stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def database_passwords(settings: Settings) -> list[str]:
    urls = [settings.database_url, *(service_database_url(settings, s) for s in DATA_SERVICES)]
    return [str(make_url(url).password) for url in urls if make_url(url).password]


async def test_a_scenario_logs_none_of_its_secrets(
    platform: Platform, sandbox: httpx.AsyncClient, captured: io.StringIO
) -> None:
    settings = platform.settings
    bearer = platform.token(Role.MANAGER)
    organization_id = await create_org(platform)
    account = await connect_sandbox(platform, sandbox, organization_id)
    publication = await settled(platform, (await schedule(platform, account))["id"])
    assert publication["status"] == "published"
    webhook_secret = f"partner-secret-{uuid.uuid4().hex}"
    source_id = await add_source(platform, organization_id, "webhook", {}, webhook_secret)
    path = f"{settings.service_url('listening')}/listening/sources/{source_id}/webhook"
    body = json.dumps({"mentions": [inbound_item("logged-1")]}).encode()
    async with httpx.AsyncClient(trust_env=False) as client:
        accepted = await client.post(path, content=body, headers=signed(body, webhook_secret))
        assert accepted.status_code == 200, accepted.text
        refused = await client.post(path, content=body, headers=signed(body, "guessed-secret"))
        assert refused.status_code == 401
    # A caller whose token is refused, and one whose token is accepted.
    assert (await platform.gateway.get("/v1/engagements")).status_code == 401
    listed = await platform.gateway.get(
        "/v1/engagements", headers={"Authorization": f"Bearer {bearer}"}
    )
    assert listed.status_code == 200
    # A careless line, as a library might write one: the formatter takes the secrets out.
    log.warning("connected to %s as %s with %s", settings.database_url, bearer, account)
    await asyncio.sleep(0.5)

    written = captured.getvalue()
    records = lines(captured)
    assert len(records) > 10, written[:2000]
    assert any("trace_id" in record and "span_id" in record for record in records)
    secrets = {
        "bearer token": bearer,
        "channel access token": account.access_token,
        "webhook secret": webhook_secret,
        **{f"token-sealing key {i}": key for i, key in enumerate(secret_values(settings))},
        **{f"database password {i}": p for i, p in enumerate(database_passwords(settings))},
    }
    assert len(secrets) >= 5
    leaked = {name for name, secret in secrets.items() if secret in written}
    assert not leaked, [line for line in written.splitlines() if any(s in line for s in leaked)]
    assert REDACTED in written


async def test_a_consumer_logs_in_its_events_trace_with_its_ids(
    platform: Platform,
    nats_client: NatsClient,
    isolated_events: EventSettings,
    captured: io.StringIO,
) -> None:
    organization_id, engagement_id = str(uuid.uuid4()), str(uuid.uuid4())
    handled: list[str] = []

    async def effect(event: CloudEvent) -> None:
        log.info("probe %s handled", event.id)
        handled.append(event.id)

    js = nats_client.jetstream()
    durable = f"logs-{uuid.uuid4().hex[:8]}"
    consumer = EffectConsumer(js, spec_for(durable, "logs.probed", isolated_events), effect)
    event = new_event(
        "logs.probed",
        {"organization_id": organization_id, "engagement_id": engagement_id},
        source="tests",
    )
    with tracer.start_as_current_span("producer") as producer:
        headers = {**current_trace_headers(), "Nats-Msg-Id": event.id}
        trace_id = f"{producer.get_span_context().trace_id:032x}"
    await js.publish(
        event.nats_subject(isolated_events.subject_prefix),
        event.model_dump_json().encode(),
        stream=isolated_events.stream,
        headers=headers,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))

    async def done() -> bool:
        return handled == [event.id]

    try:
        await wait_until(done, timeout=15)
    finally:
        stop.set()
        await running

    [line] = [record for record in lines(captured) if record["message"].startswith("probe ")]
    assert (line["organization_id"], line["engagement_id"]) == (organization_id, engagement_id)
    assert line["trace_id"] == trace_id
    assert line["span_id"] != f"{producer.get_span_context().span_id:016x}"
    assert (line["level"], line["logger"]) == ("info", __name__)


class Probe(BaseModel):
    organization_id: uuid.UUID
    engagement_id: uuid.UUID


@activity.defn(name="tests.log_probe")
async def log_probe(probe: Probe) -> str:
    log.info("activity probe of %s", probe.engagement_id)
    return "logged"


async def test_an_activity_logs_with_the_ids_its_input_names(
    platform: Platform, captured: io.StringIO
) -> None:
    probe = Probe(organization_id=uuid.uuid4(), engagement_id=uuid.uuid4())
    queue = f"logs-{uuid.uuid4().hex[:8]}"
    async with Worker(platform.temporal, task_queue=queue, activities=[log_probe]):
        workflows = platform.settings.task_queue(task_queues.WORKFLOWS)
        result = await run_activity(platform.temporal, workflows, queue, "tests.log_probe", probe)
    assert result == "logged"
    [line] = [
        record for record in lines(captured) if record["message"].startswith("activity probe")
    ]
    assert line["organization_id"] == str(probe.organization_id)
    assert line["engagement_id"] == str(probe.engagement_id)
    assert len(line["trace_id"]) == 32


def test_the_formatter_redacts_what_looks_like_a_credential() -> None:
    formatter = JsonFormatter("tests", ["sealing-key-0123456789"])
    token = otel_context.attach(context_from_headers({}))
    try:
        record = logging.LogRecord(
            "x",
            logging.INFO,
            __file__,
            1,
            "calling %s with Bearer abc.def-ghi and key %s, access_token=tok123&x=1, "
            '{"client_secret": "s3cr3t"} at eyJhbGciOi.eyJzdWIi.c2ln',
            ("postgresql://engage:hunter2@db:5432/engage", "sealing-key-0123456789"),
            None,
        )
        line = json.loads(formatter.format(record))
    finally:
        otel_context.detach(token)
    for secret in ("hunter2", "abc.def-ghi", "sealing-key", "tok123", "s3cr3t", "eyJhbGciOi"):
        assert secret not in line["message"], line["message"]
    assert "postgresql://engage:[redacted]@db:5432/engage" in line["message"]
    assert "x=1" in line["message"]
    assert "trace_id" not in line

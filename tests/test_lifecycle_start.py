"""Creating an engagement is one durable step: strategy's ``engagement_created`` event starts the
lifecycle even when the gateway stops between storing the engagement and starting its workflow."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError as ConsumerNotFoundError

from services.gateway.engagements import EngagementControl
from services.strategy.schemas import EngagementOut
from shared.auth import Role
from shared.events.consumer import TransientError, spec_for
from shared.events.envelope import new_event
from tests.conftest import Platform, wait_until
from tests.test_thin_thread import create_org, engagement_body
from workflows.lifecycle_start import (
    ENGAGEMENT_CREATED,
    START_HORIZON,
    lifecycle_start_consumer,
    lifecycle_starter,
)


async def _consumer_ready(nats_client: NatsClient, stream: str, durable: str) -> bool:
    try:
        await nats_client.jetstream().consumer_info(stream, durable)
    except ConsumerNotFoundError:
        return False
    return True


async def test_an_engagement_whose_gateway_stopped_before_its_workflow_still_starts(
    platform: Platform, nats_client: NatsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = platform.settings
    durable = f"test-starter-{uuid.uuid4().hex[:8]}"
    # Only events from now on: the session's stream holds every other test's engagements.
    spec = dataclasses.replace(
        spec_for(durable, ENGAGEMENT_CREATED, settings.events), deliver_policy=DeliverPolicy.NEW
    )
    consumer = lifecycle_start_consumer(
        platform.temporal, nats_client.jetstream(), settings, grace=timedelta(0), spec=spec
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await wait_until(lambda: _consumer_ready(nats_client, settings.events.stream, durable))

    async def gateway_stops(*_: object) -> None:
        raise RuntimeError("the gateway stopped before starting the workflow")

    monkeypatch.setattr(EngagementControl, "start", gateway_stops)
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    body = {**engagement_body(organization_id), "time_scale": 0.5}

    refused = await platform.gateway.post("/v1/engagements", json=body, headers=manager)

    assert refused.status_code == 500
    listed = await platform.gateway.get(
        "/v1/engagements", params={"organization_id": organization_id}, headers=manager
    )
    [stored] = listed.json()
    engagement = EngagementOut.model_validate(stored)
    monkeypatch.undo()

    async def lifecycle_running() -> bool:
        view = await platform.gateway.get(f"/v1/engagements/{engagement.id}", headers=manager)
        return bool(view.json()["state"])

    await wait_until(lifecycle_running, timeout=30)
    stop.set()
    await running
    view = (await platform.gateway.get(f"/v1/engagements/{engagement.id}", headers=manager)).json()
    assert (view["state"]["status"], view["state"]["phase"]) == ("running", "analysis")
    handle = platform.temporal.get_workflow_handle(engagement.workflow_id)
    history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert b'"time_scale":0.5' in started.input.payloads[0].data


async def test_the_worker_leaves_the_gateway_time_and_old_engagements_alone(
    platform: Platform,
) -> None:
    start = lifecycle_starter(platform.temporal, platform.settings, grace=timedelta(seconds=60))
    data = {
        "engagement_id": str(uuid.uuid4()),
        "organization_id": str(uuid.uuid4()),
        "mode": "realizzazione",
        "channels": ["sandbox"],
        "starts_on": "2026-12-01",
        "ends_on": "2027-05-31",
    }
    fresh = new_event(ENGAGEMENT_CREATED, data, source="test")
    old = fresh.model_copy(update={"time": datetime.now(UTC) - START_HORIZON - timedelta(hours=1)})

    with pytest.raises(TransientError) as waiting:
        await start(fresh)
    await start(old)

    assert waiting.value.delay is not None
    assert 0 < waiting.value.delay <= 60
    workflows = platform.temporal.list_workflows(
        f"WorkflowId = 'engagement-{data['engagement_id']}'"
    )
    assert [workflow async for workflow in workflows] == []

"""Gateway → strategy → EngagementWorkflow → activity → outbox → JetStream, over real servers."""

from __future__ import annotations

import json
import uuid

from nats.aio.client import Client as NatsClient

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.events_helpers import stream_messages

CLOUDEVENT_REQUIRED = {"id", "source", "type", "specversion", "time", "datacontenttype", "data"}


async def create_org(platform: Platform, name: str = "Agriturismo La Quercia") -> str:
    response = await platform.gateway.post(
        "/v1/organizations", json={"name": name}, headers=platform.auth(Role.ADMIN)
    )
    assert response.status_code == 201, response.text
    organization_id: str = response.json()["id"]
    return organization_id


def engagement_body(organization_id: str) -> dict[str, object]:
    return {
        "organization_id": organization_id,
        "mode": "realizzazione",
        "channels": ["sandbox", "instagram"],
        "starts_on": "2026-12-01",
        "ends_on": "2027-05-31",
    }


async def test_engagement_starts_its_workflow_and_emits_phase_started(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization_id = await create_org(platform)
    created = await platform.gateway.post(
        "/v1/engagements",
        json=engagement_body(organization_id),
        headers=platform.auth(Role.MANAGER),
    )
    assert created.status_code == 201, created.text
    engagement = created.json()
    assert engagement["workflow_id"] == f"engagement-{engagement['id']}"
    assert engagement["organization_id"] == organization_id

    read = await platform.gateway.get(
        f"/v1/engagements/{engagement['id']}", headers=platform.auth(Role.MANAGER)
    )
    assert read.status_code == 200, read.text
    state = read.json()["state"]
    assert (state["status"], state["phase"]) == ("running", "analysis")

    description = await platform.temporal.get_workflow_handle(engagement["workflow_id"]).describe()
    assert description.workflow_type == "EngagementWorkflow"

    js = nats_client.jetstream()
    events = platform.settings.events
    subject = f"{events.subject_prefix}.lifecycle.phase_started.*"

    async def phase_started_for_engagement() -> bool:
        return any(
            json.loads(msg.data)["data"]["engagement_id"] == engagement["id"]
            for msg in await stream_messages(js, events.stream, subject)
        )

    await wait_until(phase_started_for_engagement, timeout=15)
    matching = [
        msg
        for msg in await stream_messages(js, events.stream, subject)
        if json.loads(msg.data)["data"]["engagement_id"] == engagement["id"]
    ]
    assert len(matching) == 1
    msg = matching[0]
    envelope = json.loads(msg.data)
    assert envelope.keys() >= CLOUDEVENT_REQUIRED
    assert envelope["specversion"] == "1.0"
    assert envelope["type"] == "engage.lifecycle.phase_started.v1"
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["data"] == {
        "engagement_id": engagement["id"],
        "organization_id": organization_id,
        "phase": "analysis",
        "revision": 0,
    }
    uuid.UUID(envelope["id"])
    assert msg.headers is not None
    assert msg.headers["Nats-Msg-Id"] == envelope["id"]
    assert msg.headers["traceparent"].startswith("00-")


async def test_engagements_are_listed_per_organization(platform: Platform) -> None:
    first, second = (
        await create_org(platform, "Comune di Gubbio"),
        await create_org(platform, "Cantina"),
    )
    for organization_id in (first, second):
        response = await platform.gateway.post(
            "/v1/engagements",
            json=engagement_body(organization_id),
            headers=platform.auth(Role.MANAGER),
        )
        assert response.status_code == 201, response.text
    listed = await platform.gateway.get(
        "/v1/engagements",
        params={"organization_id": first},
        headers=platform.auth(Role.MANAGER),
    )
    assert listed.status_code == 200
    assert {item["organization_id"] for item in listed.json()} == {first}
    client_view = await platform.gateway.get(
        "/v1/engagements", headers=platform.auth(Role.CLIENT_VIEWER, orgs=[second])
    )
    assert {item["organization_id"] for item in client_view.json()} == {second}

"""Cancelling an engagement stops its listening queries for real
(``listening.stop_engagement_queries`` on the listening service's worker), and the stop is
recorded with its counts; another engagement's queries keep running."""

from __future__ import annotations

from shared.auth import Role
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement, stored_engagement
from tests.test_listening_queries import QUERIES, create_query
from tests.test_thin_thread import create_org


async def test_cancelling_an_engagement_stops_its_listening_queries(platform: Platform) -> None:
    organization_id = await create_org(platform)
    manager = platform.auth(Role.MANAGER)
    engagement_id = (await started_engagement(platform, organization_id))["id"]
    own = [
        await create_query(platform, organization_id, engagement_id=engagement_id, name=name)
        for name in ("Brand", "Harvest")
    ]
    other_engagement = await stored_engagement(platform, organization_id)
    other = await create_query(platform, organization_id, engagement_id=other_engagement)

    cancelled = await platform.gateway.post(
        f"/v1/engagements/{engagement_id}/cancel",
        json={"reason": "Contract ended early"},
        headers=manager,
    )

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    listed = await platform.gateway.get(
        QUERIES, params={"engagement_id": engagement_id}, headers=manager
    )
    assert sorted(q["id"] for q in listed.json()) == sorted(q["id"] for q in own)
    assert {(q["status"], q["stopped_by"], q["stop_reason"]) for q in listed.json()} == {
        ("stopped", "tester", "Contract ended early")
    }
    untouched = await platform.gateway.get(f"{QUERIES}/{other['id']}", headers=manager)
    assert untouched.json()["status"] == "active"
    read = await platform.gateway.get(f"/v1/engagements/{engagement_id}", headers=manager)
    listening = next(
        d for d in read.json()["state"]["deliverables"] if d["name"] == "listening_stop"
    )
    assert listening["reference"] == {
        "status": "done",
        "stopped": 2,
        "already_stopped": 0,
        "sources_stopped": 0,
    }

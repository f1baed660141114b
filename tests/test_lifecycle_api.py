"""The lifecycle through the gateway, on real servers: gates approved by the right roles, tasks,
pause, resume and cancel, the timeline, and the ``engage.lifecycle.*`` events on the stream."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from nats.aio.client import Client as NatsClient

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import engagement_state, started_engagement
from tests.events_helpers import stream_messages
from tests.test_thin_thread import create_org, engagement_body

PROBLEM = "application/problem+json"


async def start_engagement(platform: Platform, mode: str = "realizzazione") -> dict[str, Any]:
    return await started_engagement(platform, await create_org(platform), mode=mode)


async def wait_for_gate(platform: Platform, engagement_id: str, gate: str) -> dict[str, Any]:
    async def waiting() -> bool:
        state = await engagement_state(platform, engagement_id)
        return any(pending["gate"] == gate for pending in state["pending_approvals"])

    await wait_until(waiting, timeout=20)
    return await engagement_state(platform, engagement_id)


async def approve(
    platform: Platform, engagement: dict[str, Any], gate: str, headers: dict[str, str]
) -> None:
    await wait_for_gate(platform, engagement["id"], gate)
    response = await platform.gateway.post(
        f"/v1/engagements/{engagement['id']}/approvals",
        json={"gate": gate, "decision": "approve"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["gate"] == gate


async def lifecycle_events(
    nats_client: NatsClient, platform: Platform, engagement_id: str, name: str
) -> list[dict[str, Any]]:
    events = platform.settings.events
    subject = f"{events.subject_prefix}.lifecycle.{name}.*"
    found = [
        json.loads(msg.data)
        for msg in await stream_messages(nats_client.jetstream(), events.stream, subject)
    ]
    return [event for event in found if event["data"]["engagement_id"] == engagement_id]


async def test_gates_approved_by_the_right_roles_move_the_engagement_through_the_phases(
    platform: Platform, nats_client: NatsClient
) -> None:
    engagement = await start_engagement(platform)
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    await approve(platform, engagement, "brief", client)
    await approve(platform, engagement, "strategy", client)
    await approve(platform, engagement, "editorial_plan", platform.auth(Role.MANAGER))

    async def seeding() -> bool:
        phase: str = (await engagement_state(platform, engagement["id"]))["phase"]
        return phase == "seeding"

    await wait_until(seeding, timeout=20)
    state = await engagement_state(platform, engagement["id"])
    assert state["status"] == "running"
    assert {task["phase"] for task in state["open_tasks"]} >= {"analysis", "seeding"}
    assert all(task["owner"] == "agency" for task in state["open_tasks"])
    assert state["next_deadline"] == min(task["due_at"] for task in state["open_tasks"])
    setup_deliverables = {d["name"] for d in state["deliverables"] if d["phase"] == "setup"}
    assert setup_deliverables == {"channel_connections"}  # no editorial rules approved yet

    async def four_phases_published() -> bool:
        events = await lifecycle_events(nats_client, platform, engagement["id"], "phase_started")
        return len(events) >= 4

    await wait_until(four_phases_published, timeout=20)
    started = await lifecycle_events(nats_client, platform, engagement["id"], "phase_started")
    assert [event["data"]["phase"] for event in started] == [
        "analysis",
        "design",
        "setup",
        "seeding",
    ]
    assert started[1]["data"] == {
        "engagement_id": engagement["id"],
        "organization_id": engagement["organization_id"],
        "phase": "design",
        "revision": 0,
    }
    granted = await lifecycle_events(nats_client, platform, engagement["id"], "approval_granted")
    assert [(e["data"]["gate"], e["data"]["actor"]) for e in granted] == [
        ("brief", "tester"),
        ("strategy", "tester"),
        ("editorial_plan", "tester"),
    ]

    timeline = await platform.gateway.get(
        f"/v1/engagements/{engagement['id']}/timeline", headers=client
    )
    assert timeline.status_code == 200, timeline.text
    entries = timeline.json()
    assert entries[0]["event"] == "engagement_started"
    assert [e["occurred_at"] for e in entries] == sorted(e["occurred_at"] for e in entries)
    assert [e["details"]["gate"] for e in entries if e["event"] == "approval_requested"] == [
        "brief",
        "strategy",
        "editorial_plan",
    ]
    ids = Counter(entry["id"] for entry in entries)
    assert max(ids.values()) == 1
    created_tasks = [e for e in entries if e["event"] == "task_created"]
    assert len(created_tasks) == len(state["open_tasks"])


async def test_approval_refusals_are_problems_and_leave_no_trace(platform: Platform) -> None:
    engagement = await start_engagement(platform)
    await wait_for_gate(platform, engagement["id"], "brief")
    handle = platform.temporal.get_workflow_handle(engagement["workflow_id"])
    before = len((await handle.fetch_history()).events)
    url = f"/v1/engagements/{engagement['id']}/approvals"
    own_client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    other_client = platform.auth(Role.CLIENT_APPROVER, orgs=[str(uuid.uuid4())])
    approve_brief = {"gate": "brief", "decision": "approve"}

    editor = await platform.gateway.post(
        url, json=approve_brief, headers=platform.auth(Role.EDITOR)
    )
    stranger = await platform.gateway.post(url, json=approve_brief, headers=other_client)
    too_early = await platform.gateway.post(
        url, json={"gate": "go_live", "decision": "approve"}, headers=platform.auth(Role.MANAGER)
    )
    no_reason = await platform.gateway.post(
        url, json={"gate": "brief", "decision": "reject"}, headers=own_client
    )
    unknown_gate = await platform.gateway.post(
        url, json={"gate": "launch", "decision": "approve"}, headers=own_client
    )

    assert (editor.status_code, editor.json()["type"]) == (403, "urn:engage:problem:forbidden")
    # The permission matrix refuses an editor any approval before the gate's own rule is asked.
    assert editor.json()["required_roles"] == ["admin", "client_approver", "manager"]
    assert stranger.status_code == 404
    assert too_early.status_code == 409
    assert too_early.json()["waiting"] == ["brief"]
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "body.reason"
    assert unknown_gate.status_code == 422
    assert all(
        r.headers["content-type"] == PROBLEM
        for r in (editor, stranger, too_early, no_reason, unknown_gate)
    )
    assert len((await handle.fetch_history()).events) == before

    rejected = await platform.gateway.post(
        url,
        json={"gate": "brief", "decision": "reject", "reason": "Missing the wine tours"},
        headers=own_client,
    )
    assert rejected.status_code == 200, rejected.text
    state = await wait_for_gate(platform, engagement["id"], "brief")
    assert state["revision"] == 1
    assert state["decisions"][0]["reason"] == "Missing the wine tours"
    rework = [t for t in state["open_tasks"] if t["kind"] == "rework"]
    assert [t["description"] for t in rework] == ["Missing the wine tours"]


async def test_tasks_are_listed_and_completed_by_their_owners(platform: Platform) -> None:
    engagement = await start_engagement(platform, mode="formazione")
    await wait_for_gate(platform, engagement["id"], "brief")
    base = f"/v1/engagements/{engagement['id']}/tasks"
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    listed = await platform.gateway.get(base, params={"status": "open"}, headers=client)
    assert listed.status_code == 200, listed.text
    owners = {(task["kind"], task["owner"]) for task in listed.json()}
    assert owners == {("operational", "client"), ("training", "agency"), ("review", "agency")}
    work = next(task for task in listed.json() if task["owner"] == "client")

    by_agency = await platform.gateway.post(
        f"{base}/{work['id']}/complete", json={}, headers=platform.auth(Role.EDITOR)
    )
    done = await platform.gateway.post(
        f"{base}/{work['id']}/complete", json={"note": "Inventory shared"}, headers=client
    )
    again = await platform.gateway.post(f"{base}/{work['id']}/complete", json={}, headers=client)
    missing = await platform.gateway.post(f"{base}/nope/complete", json={}, headers=client)

    assert by_agency.status_code == 403
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["note"]) == ("completed", "Inventory shared")
    assert (again.status_code, missing.status_code) == (409, 404)
    completed = await platform.gateway.get(base, params={"status": "completed"}, headers=client)
    assert [task["id"] for task in completed.json()] == [work["id"]]

    waiting = await platform.gateway.get(
        "/v1/engagements",
        params={"organization_id": engagement["organization_id"], "waiting_for_me": "true"},
        headers=client,
    )
    assert [item["id"] for item in waiting.json()] == [engagement["id"]]


async def test_pause_resume_and_cancel_with_compensation(platform: Platform) -> None:
    engagement = await start_engagement(platform)
    await wait_for_gate(platform, engagement["id"], "brief")
    base = f"/v1/engagements/{engagement['id']}"
    manager = platform.auth(Role.MANAGER)
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])

    paused = await platform.gateway.post(
        f"{base}/pause", json={"reason": "Holidays"}, headers=manager
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    blocked = await platform.gateway.post(
        f"{base}/approvals", json={"gate": "brief", "decision": "approve"}, headers=client
    )
    assert blocked.status_code == 409
    by_client = await platform.gateway.post(f"{base}/resume", json={}, headers=client)
    assert by_client.status_code == 403
    listed = await platform.gateway.get(
        "/v1/engagements",
        params={"organization_id": engagement["organization_id"], "status": "paused"},
        headers=manager,
    )
    assert [item["id"] for item in listed.json()] == [engagement["id"]]

    resumed = await platform.gateway.post(f"{base}/resume", json={}, headers=manager)
    assert resumed.json()["status"] == "running"
    intervention = await platform.gateway.post(
        f"{base}/interventions", json={"title": "Answer a review"}, headers=client
    )
    assert intervention.status_code == 409  # only during post_launch

    no_reason = await platform.gateway.post(f"{base}/cancel", json={}, headers=manager)
    assert no_reason.status_code == 422
    cancelled = await platform.gateway.post(
        f"{base}/cancel", json={"reason": "Budget withdrawn"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"

    state = await engagement_state(platform, engagement["id"])
    assert state["status"] == "cancelled"
    assert state["open_tasks"] == []
    assert [d["name"] for d in state["deliverables"]][-3:] == [
        "scheduled_posts_withdrawal",
        "listening_stop",
        "final_report",
    ]
    after = await platform.gateway.post(f"{base}/pause", json={}, headers=manager)
    assert after.status_code == 409
    timeline = (await platform.gateway.get(f"{base}/timeline", headers=manager)).json()
    events = [entry["event"] for entry in timeline]
    assert events.count("engagement_paused") == events.count("engagement_resumed") == 1
    assert events[-1] == "engagement_cancelled"
    assert timeline[-1]["details"]["reason"] == "Budget withdrawn"


async def listed(
    platform: Platform, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    response = await platform.gateway.get("/v1/engagements", params=params, headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def summary_of(platform: Platform, engagement: dict[str, Any]) -> dict[str, Any] | None:
    items = await listed(
        platform, platform.auth(Role.MANAGER), organization_id=engagement["organization_id"]
    )
    state: dict[str, Any] | None = next(i["state"] for i in items if i["id"] == engagement["id"])
    return state


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _approvals(pending: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            p["gate"],
            p["phase"],
            p["revision"],
            sorted(p["approver_roles"]),
            p["missing_deliverables"],
            _instant(p["requested_at"]),
        )
        for p in pending
    ]


def as_summary(live: dict[str, Any]) -> dict[str, Any]:
    """What the list's summary must say, computed from the workflow's live state."""
    return {
        "status": live["status"],
        "phase": live["phase"],
        "revision": live["revision"],
        "pending_approvals": _approvals(live["pending_approvals"]),
        "open_task_count": len(live["open_tasks"]),
        "overdue_task_count": len(live["overdue_tasks"]),
        "next_deadline": _instant(live["next_deadline"]),
    }


async def summary_matches_engagement_state(platform: Platform, engagement: dict[str, Any]) -> None:
    """The summary catches up with the workflow's state once the step's facts are recorded."""
    last: dict[str, Any] = {}

    async def matches() -> bool:
        live = as_summary(await engagement_state(platform, engagement["id"]))
        state = await summary_of(platform, engagement)
        if state is None:
            return False
        last.update(live=live, state=state)
        return live == {
            **{key: state[key] for key in live},
            "pending_approvals": _approvals(state["pending_approvals"]),
            "next_deadline": _instant(state["next_deadline"]),
        }

    try:
        await wait_until(matches, timeout=20)
    except TimeoutError:
        raise AssertionError(f"the summary never matched the live state: {last}") from None


async def test_list_summaries_follow_the_workflow_state_step_by_step(platform: Platform) -> None:
    engagement = await start_engagement(platform, mode="affiancamento")
    base = f"/v1/engagements/{engagement['id']}"
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[engagement["organization_id"]])
    manager = platform.auth(Role.MANAGER)

    await wait_for_gate(platform, engagement["id"], "brief")
    await summary_matches_engagement_state(platform, engagement)
    before = await summary_of(platform, engagement)
    assert before is not None

    rejected = await platform.gateway.post(
        f"{base}/approvals",
        json={"gate": "brief", "decision": "reject", "reason": "Add the olive harvest"},
        headers=client,
    )
    assert rejected.status_code == 200, rejected.text
    await wait_for_gate(platform, engagement["id"], "brief")
    await summary_matches_engagement_state(platform, engagement)
    state = await summary_of(platform, engagement)
    assert state is not None
    assert state["revision"] == 1
    assert state["open_task_count"] == before["open_task_count"] + 1  # the rework task

    tasks = (await platform.gateway.get(f"{base}/tasks?status=open", headers=manager)).json()
    rework = next(task for task in tasks if task["kind"] == "rework")
    done = await platform.gateway.post(
        f"{base}/tasks/{rework['id']}/complete", json={}, headers=manager
    )
    assert done.status_code == 200, done.text
    await summary_matches_engagement_state(platform, engagement)

    await approve(platform, engagement, "brief", client)
    await wait_for_gate(platform, engagement["id"], "strategy")
    await summary_matches_engagement_state(platform, engagement)
    state = await summary_of(platform, engagement)
    assert state is not None
    assert (state["phase"], state["revision"]) == ("design", 0)
    assert [p["gate"] for p in state["pending_approvals"]] == ["strategy"]

    paused = await platform.gateway.post(f"{base}/pause", json={}, headers=manager)
    assert paused.status_code == 200, paused.text
    await summary_matches_engagement_state(platform, engagement)
    cancelled = await platform.gateway.post(
        f"{base}/cancel", json={"reason": "Season over"}, headers=manager
    )
    assert cancelled.status_code == 200, cancelled.text
    await summary_matches_engagement_state(platform, engagement)
    state = await summary_of(platform, engagement)
    assert state is not None
    assert (state["status"], state["pending_approvals"], state["open_task_count"]) == (
        "cancelled",
        [],
        0,
    )


async def test_list_filters_waiting_for_me_and_pages(platform: Platform) -> None:
    organization_id = await create_org(platform, "Cantina dei Colli")
    manager = platform.auth(Role.MANAGER)
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    created = []
    for _ in range(3):
        response = await platform.gateway.post(
            "/v1/engagements", json=engagement_body(organization_id), headers=manager
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    newest_first = [engagement["id"] for engagement in reversed(created)]
    for engagement in created:
        await wait_for_gate(platform, engagement["id"], "brief")
    first = created[0]
    await approve(platform, first, "brief", client)
    await wait_for_gate(platform, first["id"], "strategy")
    second = created[1]
    paused = await platform.gateway.post(
        f"/v1/engagements/{second['id']}/pause", json={}, headers=manager
    )
    assert paused.status_code == 200, paused.text

    async def ids(headers: dict[str, str], **params: str) -> list[str]:
        return [item["id"] for item in await listed(platform, headers, **params)]

    async def first_in_design() -> bool:
        return await ids(manager, organization_id=organization_id, phase="design") == [first["id"]]

    await wait_until(first_in_design, timeout=20)
    assert await ids(manager, organization_id=organization_id) == newest_first
    assert await ids(manager, organization_id=organization_id, phase="analysis") == [
        created[2]["id"],
        second["id"],
    ]
    assert await ids(manager, organization_id=organization_id, status="paused") == [second["id"]]
    assert await ids(manager, organization_id=organization_id, status="completed") == []
    # The running ones wait for their client's approval (strategy, brief); a paused engagement
    # takes no decision, and its operational tasks are the agency's (realizzazione).
    assert await ids(client, waiting_for_me="true") == [created[2]["id"], first["id"]]
    assert await ids(manager, organization_id=organization_id, waiting_for_me="true") == (
        newest_first
    )
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    assert await ids(viewer, waiting_for_me="true") == []
    assert await ids(viewer) == newest_first

    # Another organisation's client sees none of them, even when naming the organisation.
    stranger = platform.auth(Role.CLIENT_APPROVER, orgs=[await create_org(platform, "Altro")])
    assert await ids(stranger) == []
    assert await ids(stranger, organization_id=organization_id) == []
    assert await ids(stranger, waiting_for_me="true") == []

    page = await platform.gateway.get(
        "/v1/engagements",
        params={"organization_id": organization_id, "limit": 2},
        headers=manager,
    )
    assert [item["id"] for item in page.json()] == newest_first[:2]
    following = page.headers["link"].removeprefix("<").split(">;")[0]
    assert page.headers["link"].endswith('rel="next"')
    rest = await platform.gateway.get(following, headers=manager)
    assert [item["id"] for item in rest.json()] == newest_first[2:]
    assert "link" not in rest.headers
    listed_item = page.json()[0]
    assert set(listed_item["state"]) == {
        "status",
        "phase",
        "revision",
        "pending_approvals",
        "open_task_count",
        "overdue_task_count",
        "next_deadline",
        "updated_at",
    }

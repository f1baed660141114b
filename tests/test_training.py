"""Training and knowledge transfer through the gateway: participants from the client's staff,
sessions with dates and materials, attendance once a session has begun, a competence checklist
per person (checked by whom and when), the progress overall and per person, and the lifecycle's
knowledge-transfer checkpoints beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.auth import Role
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import started_engagement, stored_engagement
from tests.test_strategy_deliverables import outbox_envelopes
from tests.test_thin_thread import create_org

Json = dict[str, Any]


def training(engagement_id: str, rest: str) -> str:
    return f"/v1/engagements/{engagement_id}/training{rest}"


async def post(platform: Platform, client: Json, rest: str, body: Json) -> Json:
    created = await platform.gateway.post(
        training(client["engagement_id"], rest), json=body, headers=client["auth"]
    )
    assert created.status_code == 201, created.text
    answer: Json = created.json()
    return answer


async def client_engagement(platform: Platform, name: str) -> Json:
    organization_id = await create_org(platform, name)
    engagement_id = await stored_engagement(platform, organization_id)
    return {
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "auth": platform.auth(Role.MANAGER, orgs=[organization_id]),
    }


def moment(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


async def test_a_training_plan_its_attendance_checklists_and_progress(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    client = await client_engagement(platform, "Hotel Belvedere")
    engagement_id = client["engagement_id"]
    anna = await post(
        platform, client, "/participants", {"name": "Anna", "job_title": "Front desk"}
    )
    bruno = await post(platform, client, "/participants", {"name": "Bruno"})
    repeated = await platform.gateway.post(
        training(engagement_id, "/participants"), json={"name": "ANNA"}, headers=client["auth"]
    )
    assert repeated.status_code == 409, repeated.text
    rules = await post(platform, client, "/competences", {"title": "Writes to the editorial rules"})
    sla = await post(platform, client, "/competences", {"title": "Answers within the SLA"})

    held = await post(
        platform,
        client,
        "/sessions",
        {
            "title": "Editorial rules, hands on",
            "starts_at": moment(-2),
            "materials": [{"title": "Slides", "url": "https://example.org/slides.pdf"}],
            "participant_ids": [anna["id"], bruno["id"]],
        },
    )
    # The engagement is realizzazione: a session is formazione unless it says otherwise.
    assert (held["mode"], held["status"], held["duration_minutes"]) == ("formazione", "planned", 60)
    later = await post(
        platform,
        client,
        "/sessions",
        {"title": "Inbox and SLA", "starts_at": moment(48), "participant_ids": [anna["id"]]},
    )

    early = await platform.gateway.put(
        training(engagement_id, f"/sessions/{later['id']}/attendance"),
        json={"attendance": [{"participant_id": anna["id"], "present": True}]},
        headers=client["auth"],
    )
    assert early.status_code == 409, early.text
    not_invited = await platform.gateway.put(
        training(engagement_id, f"/sessions/{later['id']}/attendance"),
        json={"attendance": [{"participant_id": bruno["id"], "present": True}]},
        headers=client["auth"],
    )
    # Before anything else: it has not begun.
    assert not_invited.status_code == 409, not_invited.text

    recorded = await platform.gateway.put(
        training(engagement_id, f"/sessions/{held['id']}/attendance"),
        json={
            "attendance": [
                {"participant_id": anna["id"], "present": True},
                {"participant_id": bruno["id"], "present": False},
            ]
        },
        headers=client["auth"],
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["status"] == "held"
    assert [(a["name"], a["present"]) for a in recorded.json()["attendance"]] == [
        ("Anna", True),
        ("Bruno", False),
    ]
    # A held session no longer changes.
    moved = await platform.gateway.patch(
        training(engagement_id, f"/sessions/{held['id']}"),
        json={"title": "Renamed"},
        headers=client["auth"],
    )
    assert moved.status_code == 409, moved.text

    checked = await platform.gateway.put(
        training(engagement_id, f"/participants/{anna['id']}/competences/{rules['id']}"),
        json={"note": "Wrote three posts to the rules"},
        headers=client["auth"],
    )
    assert checked.status_code == 200, checked.text
    assert checked.json()["checked_by"] == "tester"
    assert checked.json()["checked_at"] is not None
    checklist = await platform.gateway.get(
        training(engagement_id, f"/participants/{anna['id']}"), headers=client["auth"]
    )
    assert [(i["title"], i["checked"]) for i in checklist.json()["items"]] == [
        ("Writes to the editorial rules", True),
        ("Answers within the SLA", False),
    ]
    assert (checklist.json()["checked"], checklist.json()["total"]) == (1, 2)

    progress = await platform.gateway.get(
        training(engagement_id, "/progress"), headers=client["auth"]
    )
    assert progress.status_code == 200, progress.text
    figures = progress.json()
    assert (figures["sessions_planned"], figures["sessions_held"]) == (1, 1)
    assert (figures["attendance_share"], figures["checks"], figures["competence_share"]) == (
        0.5,
        1,
        0.25,
    )
    assert [
        (p["name"], p["sessions_invited"], p["sessions_attended"], p["competences_checked"])
        for p in figures["people"]
    ] == [("Anna", 1, 1, 1), ("Bruno", 1, 0, 0)]

    # Withdrawing the check takes it out of the progress; the event says so.
    withdrawn = await platform.gateway.delete(
        training(engagement_id, f"/participants/{anna['id']}/competences/{rules['id']}"),
        headers=client["auth"],
    )
    assert withdrawn.status_code == 204, withdrawn.text
    envelopes = await outbox_envelopes(sessions, engagement_id)
    checks = [
        envelope["data"]
        for envelope in envelopes
        if envelope["type"] == "engage.strategy.training_competence_checked.v1"
    ]
    assert [(c["checked"], c["progress"]["checks"]) for c in checks] == [(True, 1), (False, 0)]
    kinds = {envelope["type"].split(".")[2] for envelope in envelopes}
    assert {
        "training_participant_recorded",
        "training_session_recorded",
        "training_attendance_recorded",
        "training_competence_recorded",
    } <= kinds
    cancelled = await platform.gateway.patch(
        training(engagement_id, f"/sessions/{later['id']}"),
        json={"status": "cancelled"},
        headers=client["auth"],
    )
    assert cancelled.json()["status"] == "cancelled"
    assert sla["engagement_id"] == engagement_id


async def test_bad_input_other_organisations_and_roles(platform: Platform) -> None:
    client = await client_engagement(platform, "Museo Civico")
    engagement_id = client["engagement_id"]
    person = await post(platform, client, "/participants", {"name": "Carla"})
    bad = await platform.gateway.post(
        training(engagement_id, "/sessions"),
        json={
            "title": "x",
            "starts_at": "2027-01-10T10:00:00",
            "duration_minutes": 5,
            "participant_ids": ["00000000-0000-4000-8000-000000000000"],
        },
        headers=client["auth"],
    )
    assert bad.status_code == 422, bad.text
    assert {"body.starts_at", "body.duration_minutes"} <= {
        error["field"] for error in bad.json()["errors"]
    }
    unknown_person = await platform.gateway.post(
        training(engagement_id, "/sessions"),
        json={
            "title": "x",
            "starts_at": moment(1),
            "participant_ids": [person["id"], "00000000-0000-4000-8000-000000000000"],
        },
        headers=client["auth"],
    )
    assert unknown_person.status_code == 422, unknown_person.text
    assert unknown_person.json()["errors"][0]["field"] == "body.participant_ids.1"

    other = await create_org(platform, "Altro Museo")
    stranger = platform.auth(Role.MANAGER, orgs=[other])
    for response in (
        await platform.gateway.get(training(engagement_id, "/progress"), headers=stranger),
        await platform.gateway.get(training(engagement_id, "/participants"), headers=stranger),
        await platform.gateway.post(
            training(engagement_id, "/participants"), json={"name": "Eve"}, headers=stranger
        ),
        await platform.gateway.get(
            f"/v1/engagements/{engagement_id}/knowledge-transfer", headers=stranger
        ),
    ):
        assert response.status_code == 404, response.text
    viewer = platform.auth(Role.CLIENT_VIEWER, orgs=[client["organization_id"]])
    listed = await platform.gateway.get(training(engagement_id, "/participants"), headers=viewer)
    assert [p["name"] for p in listed.json()] == ["Carla"]
    refused = await platform.gateway.post(
        training(engagement_id, "/competences"), json={"title": "Edits video"}, headers=viewer
    )
    assert refused.status_code == 403, refused.text


async def test_knowledge_transfer_checkpoints_show_the_training_progress(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform, "Comune di Montalto")
    engagement = await started_engagement(platform, organization_id, mode="affiancamento")
    client = {
        "organization_id": organization_id,
        "engagement_id": engagement["id"],
        "auth": platform.auth(Role.MANAGER, orgs=[organization_id]),
    }
    await post(platform, client, "/participants", {"name": "Dario"})
    await post(platform, client, "/competences", {"title": "Answers within the SLA"})
    path = f"/v1/engagements/{engagement['id']}/knowledge-transfer"

    async def checkpoint_open() -> bool:
        read = await platform.gateway.get(path, headers=client["auth"])
        return read.status_code == 200 and bool(read.json()["checkpoints"])

    await wait_until(checkpoint_open, timeout=30)
    read = (await platform.gateway.get(path, headers=client["auth"])).json()
    assert read["mode"] == "affiancamento"
    assert [(t["kind"], t["phase"]) for t in read["checkpoints"]] == [
        ("knowledge_transfer", "analysis")
    ]
    assert read["checkpoints"][0]["title"] == "Knowledge-transfer checkpoint: analysis"
    assert (read["training"]["participants"], read["training"]["competences"]) == (1, 1)
    assert read["training"]["competence_share"] == 0.0

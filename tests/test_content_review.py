"""Review of content items: transitions by role, client approval, the audit trail, the events and
the publisher's activities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowFailureError

from services.content.contracts import (
    GET_APPROVED_VARIANTS,
    MARK_PUBLISHED,
    MARK_SCHEDULED,
    ApprovedVariantsQuery,
    MarkPublished,
    MarkScheduled,
)
from shared import task_queues
from shared.auth import Role
from tests.conftest import Platform
from tests.test_content_items import create_item, outbox_events, post_body
from tests.test_content_media import jpeg, upload
from tests.test_thin_thread import create_org


async def act(
    platform: Platform,
    item_id: str,
    action: str,
    role: Role,
    body: dict[str, Any] | None = None,
    orgs: list[str] | None = None,
) -> Any:
    return await platform.gateway.post(
        f"/v1/content-items/{item_id}/{action}",
        json=body,
        headers=platform.auth(role, orgs=orgs),
    )


async def draft(platform: Platform, organization_id: str, **fields: Any) -> Any:
    return await create_item(
        platform, post_body(organization_id, variants=[{"channel": "sandbox"}], **fields)
    )


async def trail(platform: Platform, item_id: str) -> list[tuple[str, str, str]]:
    response = await platform.gateway.get(
        f"/v1/content-items/{item_id}/review-events", headers=platform.auth(Role.EDITOR)
    )
    assert response.status_code == 200
    return [(e["action"], e["from_state"], e["to_state"]) for e in response.json()]


async def test_an_item_goes_from_draft_to_published_and_every_step_is_audited(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    item = await draft(platform, organization_id)
    submitted = await act(platform, item["id"], "submit", Role.EDITOR, {"comment": "pronto"})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "in_review"
    approved = await act(platform, item["id"], "approve", Role.MANAGER)
    assert approved.json()["status"] == "approved"
    assert approved.json()["agency_approved_by"] == "tester"

    scheduled = MarkScheduled(
        item_id=item["id"], scheduled_for=datetime(2026, 12, 5, 9, tzinfo=UTC)
    )
    first = await platform.run_activity(task_queues.CONTENT, MARK_SCHEDULED, scheduled)
    again = await platform.run_activity(task_queues.CONTENT, MARK_SCHEDULED, scheduled)
    assert (first["status"], first["changed"]) == ("scheduled", True)
    assert (again["status"], again["changed"]) == ("scheduled", False)
    published = MarkPublished(item_id=item["id"], published_at=datetime.now(UTC))
    done = await platform.run_activity(task_queues.CONTENT, MARK_PUBLISHED, published)
    assert (done["status"], done["changed"]) == ("published", True)
    retried = await platform.run_activity(task_queues.CONTENT, MARK_SCHEDULED, scheduled)
    assert (retried["status"], retried["changed"]) == ("published", False)

    assert await trail(platform, item["id"]) == [
        ("submit", "draft", "in_review"),
        ("approve", "in_review", "approved"),
        ("schedule", "approved", "scheduled"),
        ("publish", "scheduled", "published"),
    ]
    events = await platform.gateway.get(
        f"/v1/content-items/{item['id']}/review-events", headers=platform.auth(Role.MANAGER)
    )
    submit_event = events.json()[0]
    assert (submit_event["actor"], submit_event["comment"]) == ("tester", "pronto")
    assert submit_event["actor_roles"] == ["editor"]
    assert events.json()[2]["actor"] == "system:publisher"
    for name in ("review_requested", "item_approved", "item_scheduled", "item_published"):
        assert len(await outbox_events(sessions, f"content.{name}", item["id"])) == 1, name


async def test_roles_decide_who_submits_and_who_approves(platform: Platform) -> None:
    organization_id = await create_org(platform)
    item = await draft(platform, organization_id)
    client = [organization_id]
    for role in (Role.CLIENT_VIEWER, Role.CLIENT_APPROVER):
        response = await act(platform, item["id"], "submit", role, orgs=client)
        assert response.status_code == 403
    assert (await act(platform, item["id"], "submit", Role.EDITOR)).status_code == 200
    for role in (Role.EDITOR, Role.CLIENT_VIEWER):
        response = await act(platform, item["id"], "approve", role, orgs=client)
        assert response.status_code == 403
        assert response.json()["type"] == "urn:engage:problem:forbidden"
    client_only = await act(platform, item["id"], "approve", Role.CLIENT_APPROVER, orgs=client)
    assert client_only.status_code == 409
    assert (await act(platform, item["id"], "approve", Role.MANAGER)).json()["status"] == "approved"


async def test_client_approval_needs_both_the_agency_and_the_client(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    item = await draft(platform, organization_id, client_approval_required=True)
    await act(platform, item["id"], "submit", Role.EDITOR)
    agency = await act(platform, item["id"], "approve", Role.MANAGER)
    assert agency.json()["status"] == "in_review"
    assert agency.json()["agency_approved_by"] == "tester"
    twice = await act(platform, item["id"], "approve", Role.MANAGER)
    assert twice.status_code == 409
    assert await outbox_events(sessions, "content.item_approved", item["id"]) == []
    client = await act(
        platform, item["id"], "approve", Role.CLIENT_APPROVER, orgs=[organization_id]
    )
    assert client.json()["status"] == "approved"
    assert client.json()["client_approved_by"] == "tester"
    assert await trail(platform, item["id"]) == [
        ("submit", "draft", "in_review"),
        ("approve", "in_review", "in_review"),
        ("approve", "in_review", "approved"),
    ]
    (event,) = await outbox_events(sessions, "content.item_approved", item["id"])
    assert event["data"]["client_approved_by"] == "tester"


async def test_a_rejection_needs_a_comment_and_an_edit_reopens_the_draft(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    item = await draft(platform, organization_id, client_approval_required=True)
    await act(platform, item["id"], "submit", Role.EDITOR)
    silent = await act(platform, item["id"], "reject", Role.CLIENT_APPROVER, {}, [organization_id])
    assert silent.status_code == 422
    assert silent.json()["errors"][0]["field"] == "body.comment"
    rejected = await act(
        platform,
        item["id"],
        "reject",
        Role.CLIENT_APPROVER,
        {"comment": "Il logo è vecchio"},
        [organization_id],
    )
    assert rejected.json()["status"] == "rejected"
    (event,) = await outbox_events(sessions, "content.item_rejected", item["id"])
    assert event["data"]["comment"] == "Il logo è vecchio"
    resubmitted = await act(platform, item["id"], "submit", Role.EDITOR)
    assert resubmitted.status_code == 409

    edited = await platform.gateway.put(
        f"/v1/content-items/{item['id']}/variants/sandbox",
        json={"text": "Con il logo nuovo"},
        headers=platform.auth(Role.EDITOR),
    )
    assert edited.status_code == 200
    read = await platform.gateway.get(
        f"/v1/content-items/{item['id']}", headers=platform.auth(Role.EDITOR)
    )
    assert read.json()["status"] == "draft"
    steps = await trail(platform, item["id"])
    assert steps[-2:] == [("reject", "in_review", "rejected"), ("edit", "rejected", "draft")]


async def test_moves_out_of_turn_are_conflicts(platform: Platform) -> None:
    organization_id = await create_org(platform)
    bare = await create_item(platform, post_body(organization_id))
    no_variants = await act(platform, bare["id"], "submit", Role.EDITOR)
    assert no_variants.status_code == 409
    item = await draft(platform, organization_id)
    early = await act(platform, item["id"], "approve", Role.MANAGER)
    assert early.status_code == 409
    assert early.json()["current_state"] == "draft"
    await act(platform, item["id"], "submit", Role.EDITOR)
    frozen = await platform.gateway.patch(
        f"/v1/content-items/{item['id']}",
        json={"title": "Cambio in corsa"},
        headers=platform.auth(Role.EDITOR),
    )
    assert frozen.status_code == 409
    assert frozen.json()["allowed_states"] == ["draft", "rejected"]
    not_approved = MarkScheduled(item_id=item["id"], scheduled_for=datetime.now(UTC))
    with pytest.raises(WorkflowFailureError):
        await platform.run_activity(task_queues.CONTENT, MARK_SCHEDULED, not_approved)
    unknown = await act(platform, "00000000-0000-0000-0000-000000000000", "submit", Role.EDITOR)
    assert unknown.status_code == 404


async def test_the_publisher_gets_the_approved_variants_with_their_media(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    photo = await upload(platform, organization_id, jpeg(1080, 1080), "image/jpeg")
    approved = await create_item(
        platform,
        post_body(
            organization_id,
            kind="image",
            media_ids=[photo["id"]],
            variants=[{"channel": "instagram"}, {"channel": "facebook"}],
        ),
    )
    await draft(platform, organization_id)
    await act(platform, approved["id"], "submit", Role.EDITOR)
    await act(platform, approved["id"], "approve", Role.MANAGER)

    query = ApprovedVariantsQuery(organization_id=organization_id)
    result = await platform.run_activity(task_queues.CONTENT, GET_APPROVED_VARIANTS, query)
    assert [(v["item_id"], v["channel"]) for v in result["variants"]] == [
        (approved["id"], "facebook"),
        (approved["id"], "instagram"),
    ]
    (medium,) = result["variants"][1]["media"]
    assert medium["sha256"] == photo["sha256"]
    assert medium["storage_key"] == f"{organization_id}/{photo['id']}"
    only_x = ApprovedVariantsQuery(organization_id=organization_id, channel="x")
    none = await platform.run_activity(task_queues.CONTENT, GET_APPROVED_VARIANTS, only_x)
    assert none == {"variants": []}

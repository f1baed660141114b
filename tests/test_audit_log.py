"""The audit log: who approved, published, replied, connected a channel or rotated token keys,
kept by the reporting worker from the services' events (once per event, whatever redelivers it),
and read by the organisation's managers and by admins, newest first, a cursor page at a time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.client import Client as NatsClient
from pydantic import BaseModel

from services.listening import events as listening
from services.publisher import events as publisher
from services.reporting.audit.entries import AUDITED
from services.strategy import events as strategy
from services.strategy.contracts import DeliverableKind, LifecycleEventName
from shared.auth import Role
from shared.domain import Phase
from shared.events.envelope import CloudEvent, new_event
from tests.conftest import Platform, wait_until
from tests.publisher_helpers import SandboxAccount
from tests.test_thin_thread import create_org

T0 = datetime(2027, 5, 3, 9, 0, tzinfo=UTC)


async def audit_log(platform: Platform, organization_id: str, **params: Any) -> Any:
    """The organisation's audit log as its manager reads it."""
    answer = await platform.gateway.get(
        f"/v1/organizations/{organization_id}/audit-log",
        params=params,
        headers=platform.auth(Role.MANAGER, orgs=[organization_id]),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def publish(
    nats_client: NatsClient,
    platform: Platform,
    name: str,
    data: BaseModel | dict[str, Any],
    at: datetime,
) -> CloudEvent:
    """An event on the platform's stream as a service's relay publishes it."""
    event = new_event(name, data, source="urn:test").model_copy(update={"time": at})
    await nats_client.jetstream().publish(
        event.nats_subject(platform.settings.events.subject_prefix),
        event.model_dump_json().encode(),
        headers={"Nats-Msg-Id": event.id},
    )
    return event


def conversation_fact(organization_id: str, engagement_id: uuid.UUID) -> dict[str, Any]:
    return {
        "conversation_id": uuid.uuid4(),
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "source": "sandbox",
        "category": "question",
        "state": "answered",
        "assignee_subject": None,
        "assignee_role": None,
    }


async def test_what_people_did_is_logged_once_and_paged_newest_first(
    platform: Platform, nats_client: NatsClient
) -> None:
    organization, other = await create_org(platform), await create_org(platform)
    engagement = uuid.uuid4()
    deliverable = strategy.DeliverableApproved(
        deliverable_id=uuid.uuid4(),
        engagement_id=engagement,
        organization_id=uuid.UUID(organization),
        kind=DeliverableKind.OBJECTIVES,
        version=2,
        approved_by="anna@client",
        approved_as="client",
        comment=None,
    )
    gate = {
        "engagement_id": str(engagement),
        "organization_id": organization,
        "phase": Phase.DESIGN.value,
        "gate": "design_approval",
        "revision": 1,
        "reason": "looks right",
        "actor": "marco@agency",
    }
    post = {
        "publication_id": str(uuid.uuid4()),
        "organization_id": organization,
        "engagement_id": str(engagement),
        "channel": "instagram",
        "variant_id": str(uuid.uuid4()),
        "slot_id": None,
    }
    told = [
        await publish(nats_client, platform, strategy.DELIVERABLE_APPROVED, deliverable, T0),
        await publish(
            nats_client,
            platform,
            strategy.lifecycle_event(LifecycleEventName.APPROVAL_GRANTED),
            gate,
            T0 + timedelta(minutes=1),
        ),
        await publish(
            nats_client,
            platform,
            publisher.POST_PUBLISHED,
            {
                **post,
                "platform_post_id": "p-1",
                "url": "https://example.test/p-1",
                "due_at": T0.isoformat(),
                "published_at": T0.isoformat(),
            },
            T0 + timedelta(minutes=2),
        ),
        await publish(
            nats_client,
            platform,
            publisher.POST_FAILED,
            {
                **post,
                "failure_class": "auth",
                "detail": "token revoked",
                "attempt": 3,
                "will_retry": False,
            },
            T0 + timedelta(minutes=3),
        ),
        await publish(
            nats_client,
            platform,
            listening.CONVERSATION_REPLY_SENT,
            listening.ConversationReplySent(
                **conversation_fact(organization, engagement),
                reply_id=uuid.uuid4(),
                sent_by="giulia@agency",
                sent_at=T0,
                platform_reply_id="r-1",
                url=None,
            ),
            T0 + timedelta(minutes=4),
        ),
    ]
    # Another organisation's approval, and a relay publishing one event twice (another msg id).
    await publish(
        nats_client,
        platform,
        strategy.DELIVERABLE_APPROVED,
        deliverable.model_copy(update={"organization_id": uuid.UUID(other)}),
        T0,
    )
    again = told[0]
    await nats_client.jetstream().publish(
        again.nats_subject(platform.settings.events.subject_prefix),
        again.model_dump_json().encode(),
        headers={"Nats-Msg-Id": f"{again.id}-again"},
    )

    async def all_logged() -> bool:
        return len((await audit_log(platform, organization))["entries"]) >= len(told)

    await wait_until(all_logged, timeout=20)

    everything = (await audit_log(platform, organization, limit=200))["entries"]
    assert [entry["event_id"] for entry in everything] == [event.id for event in reversed(told)]
    assert {(e["actor"], e["action"], e["object_type"], e["result"]) for e in everything} == {
        ("anna@client", "approve", "deliverable", "succeeded"),
        ("marco@agency", "approve", "gate", "succeeded"),
        ("system", "publish", "publication", "succeeded"),
        ("system", "publish", "publication", "failed"),
        ("giulia@agency", "reply", "conversation", "succeeded"),
    }
    failed = next(e for e in everything if e["result"] == "failed")
    assert failed["detail"] == "token revoked"
    assert failed["engagement_id"] == str(engagement)

    # A cursor page at a time: every entry once, in the same order.
    paged: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        page = await audit_log(platform, organization, **params)
        paged += [entry["event_id"] for entry in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == [entry["event_id"] for entry in everything]

    approvals = await audit_log(platform, organization, action="approve", actor="anna@client")
    assert [entry["object_type"] for entry in approvals["entries"]] == ["deliverable"]
    assert (
        await audit_log(platform, organization, **{"from": (T0 + timedelta(minutes=3)).isoformat()})
    )["entries"][-1]["result"] == "failed"
    # The other organisation's manager sees only its own approval.
    [theirs] = (await audit_log(platform, other))["entries"]
    assert theirs["organization_id"] == other


async def test_only_managers_and_admins_read_it_and_only_their_organisations(
    platform: Platform,
) -> None:
    organization, other = await create_org(platform), await create_org(platform)
    path = f"/v1/organizations/{organization}/audit-log"
    for role in (Role.EDITOR, Role.CLIENT_APPROVER, Role.CLIENT_VIEWER):
        refused = await platform.gateway.get(path, headers=platform.auth(role, orgs=[organization]))
        assert refused.status_code == 403, (role, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    elsewhere = await platform.gateway.get(path, headers=platform.auth(Role.MANAGER, orgs=[other]))
    assert elsewhere.status_code == 404, elsewhere.text
    admin = await platform.gateway.get(path, headers=platform.auth(Role.ADMIN))
    assert admin.status_code == 200, admin.text
    for bad in (
        {"cursor": "not-a-cursor"},
        {"limit": 0},
        {"limit": 201},
        {"from": "2027-01-01T00:00"},
    ):
        answer = await platform.gateway.get(
            path, params=bad, headers=platform.auth(Role.MANAGER, orgs=[organization])
        )
        assert answer.status_code == 422, (bad, answer.text)


async def test_connecting_a_channel_and_rotating_token_keys_are_logged_with_who_did_it(
    platform: Platform, account: SandboxAccount
) -> None:
    rotated = await platform.gateway.post(
        "/v1/connections/rotate-keys", headers=platform.auth(Role.ADMIN)
    )
    assert rotated.status_code == 200, rotated.text
    organization = str(account.organization_id)

    async def logged() -> bool:
        actions = {e["action"] for e in (await audit_log(platform, organization))["entries"]}
        return {"connect_channel", "rotate_keys"} <= actions

    await wait_until(logged, timeout=20)
    entries = (await audit_log(platform, organization))["entries"]
    connected = next(e for e in entries if e["action"] == "connect_channel")
    assert (connected["actor"], connected["object_id"]) == ("tester", str(account.connection_id))
    rotation = next(e for e in entries if e["action"] == "rotate_keys")
    assert (rotation["actor"], rotation["detail"]) == ("tester", "1")


def test_the_audit_page_names_every_audited_event() -> None:
    page = (Path(__file__).parent.parent / "docs" / "audit.md").read_text()
    missing = [event for event in AUDITED if f"`{event}`" not in page]
    assert not missing, f"docs/audit.md does not describe {missing}"

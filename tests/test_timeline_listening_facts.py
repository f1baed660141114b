"""The listening service's alerts and SLA breaches on the engagement's timeline: the strategy
service's consumers (``services/strategy/listening_facts.py``) keep them as timeline notes, in
time order, once each, only on their own organisation's engagement, without touching the
engagement's summary or publishing lifecycle events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from nats.aio.client import Client as NatsClient
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening import events as listening
from services.strategy.listening_facts import note_id
from services.strategy.models import EngagementSummary, LifecycleEvent, OutboxEvent, TimelineNote
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.events.envelope import CloudEvent, new_event
from tests.conftest import Platform, wait_until
from tests.engagement_helpers import new_engagement

NOTE_EVENTS = [
    listening.ALERT_RAISED,
    listening.ALERT_ESCALATED,
    listening.CONVERSATION_SLA_BREACHED,
    listening.ALERT_ACKNOWLEDGED,
    listening.CONVERSATION_SLA_ESCALATED,
    listening.ALERT_RESOLVED,
]


async def publish(
    nats_client: NatsClient,
    platform: Platform,
    event: CloudEvent,
    message_id: str | None = None,
) -> None:
    """Publish as the outbox relay does (``Nats-Msg-Id`` = the event id, unless a copy that
    JetStream's duplicate window no longer catches is wanted)."""
    events = platform.settings.events
    await nats_client.jetstream().publish(
        event.nats_subject(events.subject_prefix),
        event.model_dump_json().encode(),
        stream=events.stream,
        headers={"Nats-Msg-Id": message_id or event.id},
    )


def listening_event(name: str, data: BaseModel, at: datetime) -> CloudEvent:
    event = new_event(name, data, source=listening.SOURCE, subject=str(uuid.uuid4()))
    return event.model_copy(update={"time": at})


def alert_fields(
    organization_id: str, engagement_id: str, alert_id: uuid.UUID, status: str, role: str
) -> dict[str, Any]:
    at = datetime(2026, 12, 3, 10, tzinfo=UTC)
    return {
        "alert_id": alert_id,
        "organization_id": organization_id,
        "engagement_id": engagement_id,
        "rule_id": uuid.uuid4(),
        "kind": "negative_spike",
        "status": status,
        "responsible_role": role,
        "window_start": at,
        "window_end": at + timedelta(hours=1),
    }


def raised(
    organization_id: str, engagement_id: str, alert_id: uuid.UUID, at: datetime
) -> CloudEvent:
    evidence = {
        "observed": 0.6,
        "baseline": 0.1,
        "threshold": 0.3,
        "mentions": 40,
        "negative": 24,
        "samples": [{"text": "kept in listening"}],
    }
    fact = listening.AlertRaised(
        **alert_fields(organization_id, engagement_id, alert_id, "open", "editor"),
        rule_name="Crisi",
        query_id=None,
        evidence=evidence,
    )
    return listening_event(listening.ALERT_RAISED, fact, at)


def sla_fact(
    organization_id: str, engagement_id: str, conversation_id: uuid.UUID, at: datetime
) -> listening.ConversationSlaFact:
    return listening.ConversationSlaFact(
        conversation_id=conversation_id,
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        source="sandbox",
        category="complaint",
        state="open",
        assignee_subject=None,
        assignee_role=None,
        due_at=at - timedelta(minutes=5),
        task_owner="editor",
        escalated_to=None,
        at=at,
    )


def crisis(organization_id: str, engagement_id: str, start: datetime) -> list[CloudEvent]:
    """An alert raised, escalated, acknowledged and resolved, and a conversation's SLA breached
    then escalated, ten minutes apart in ``NOTE_EVENTS``' order."""
    alert_id, conversation_id = uuid.uuid4(), uuid.uuid4()
    at = [start + timedelta(minutes=10 * step) for step in range(len(NOTE_EVENTS))]

    def alert(status: str, role: str) -> dict[str, Any]:
        return alert_fields(organization_id, engagement_id, alert_id, status, role)

    escalated = listening.AlertEscalated(
        **alert("open", "manager"), escalation_level=1, previous_role="editor", escalated_at=at[1]
    )
    acknowledged = listening.AlertAcknowledged(
        **alert("acknowledged", "manager"),
        acknowledged_by="manager-1",
        note="Looking into it",
        acknowledged_at=at[3],
    )
    resolved = listening.AlertResolved(
        **alert("resolved", "manager"),
        resolved_by="manager-1",
        note="Answered publicly",
        resolved_at=at[5],
    )
    breached = sla_fact(organization_id, engagement_id, conversation_id, at[2])
    sla_escalated = sla_fact(organization_id, engagement_id, conversation_id, at[4]).model_copy(
        update={"escalated_to": "manager"}
    )
    return [
        raised(organization_id, engagement_id, alert_id, at[0]),
        listening_event(listening.ALERT_ESCALATED, escalated, at[1]),
        listening_event(listening.CONVERSATION_SLA_BREACHED, breached, at[2]),
        listening_event(listening.ALERT_ACKNOWLEDGED, acknowledged, at[3]),
        listening_event(listening.CONVERSATION_SLA_ESCALATED, sla_escalated, at[4]),
        listening_event(listening.ALERT_RESOLVED, resolved, at[5]),
    ]


async def timeline(platform: Platform, organization_id: str, engagement_id: str) -> Any:
    answer = await platform.gateway.get(
        f"/v1/engagements/{engagement_id}/timeline",
        headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id]),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def notes_of(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if "." in entry["event"]]


async def test_alerts_and_sla_breaches_are_on_the_timeline_in_order_once_each(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    other_organization_id, other_engagement_id = await new_engagement(platform)
    # After the lifecycle's first facts, whatever the clocks say.
    start = datetime.now(UTC) + timedelta(days=1)
    facts = crisis(organization_id, engagement_id, start)
    # Arriving in another order than they happened, the first one twice (a copy JetStream's
    # duplicate window does not catch).
    for event in reversed(facts):
        await publish(nats_client, platform, event)
    await publish(nats_client, platform, facts[0], message_id=f"copy-{facts[0].id}")
    # The same alert's fact claiming another organisation for this engagement: on no timeline.
    stray = raised(other_organization_id, engagement_id, uuid.uuid4(), start)
    await publish(nats_client, platform, stray)
    # Handled after the copy and the stray by the same consumer: once it shows, they were.
    sentinel = raised(other_organization_id, other_engagement_id, uuid.uuid4(), start)
    await publish(nats_client, platform, sentinel)

    async def all_shown() -> bool:
        own = notes_of(await timeline(platform, organization_id, engagement_id))
        other = notes_of(await timeline(platform, other_organization_id, other_engagement_id))
        return len(own) >= len(facts) and len(other) == 1

    await wait_until(all_shown, timeout=20)

    entries = await timeline(platform, organization_id, engagement_id)
    assert entries[0]["event"] == "engagement_started"
    assert [e["occurred_at"] for e in entries] == sorted(e["occurred_at"] for e in entries)
    notes = notes_of(entries)
    assert [note["event"] for note in notes] == NOTE_EVENTS
    assert entries[-len(facts) :] == notes, "the notes happened after the lifecycle's facts"
    assert [note["id"] for note in notes] == [str(note_id(event.id)) for event in facts]
    assert {note["phase"] for note in notes} == {"analysis"}
    first, escalated, breached, acknowledged, _, resolved = notes
    assert datetime.fromisoformat(first["occurred_at"]) == start
    assert first["actor"] is None
    assert first["details"]["kind"] == "negative_spike"
    assert first["details"]["rule_name"] == "Crisi"
    assert first["details"]["evidence"] == {
        "observed": 0.6,
        "baseline": 0.1,
        "threshold": 0.3,
        "mentions": 40,
        "negative": 24,
    }
    assert escalated["details"]["escalation_level"] == 1
    assert escalated["details"]["alert_id"] == first["details"]["alert_id"]
    assert breached["details"]["conversation_id"] == str(facts[2].data["conversation_id"])
    assert acknowledged["actor"] == "manager-1"
    assert resolved["actor"] == "manager-1"
    assert resolved["details"]["note"] == "Answered publicly"

    other_notes = notes_of(await timeline(platform, other_organization_id, other_engagement_id))
    assert [note["id"] for note in other_notes] == [str(note_id(sentinel.id))]
    async with session_scope(sessions, SYSTEM) as session:
        stray_kept = await session.get(TimelineNote, note_id(stray.id))
    assert stray_kept is None


async def test_a_note_changes_neither_the_summary_nor_the_lifecycle_events(
    platform: Platform, nats_client: NatsClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id, engagement_id = await new_engagement(platform)
    start = datetime.now(UTC) + timedelta(days=30)
    facts = crisis(organization_id, engagement_id, start)
    for event in facts:
        await publish(nats_client, platform, event)

    async def all_shown() -> bool:
        entries = await timeline(platform, organization_id, engagement_id)
        return len(notes_of(entries)) == len(facts) and entries[0]["event"] == "engagement_started"

    await wait_until(all_shown, timeout=20)

    ids = [note_id(event.id) for event in facts]
    async with session_scope(sessions, SYSTEM) as session:
        summary = await session.get(EngagementSummary, uuid.UUID(engagement_id))
        as_lifecycle = await session.scalars(
            select(LifecycleEvent).where(LifecycleEvent.id.in_(ids))
        )
        published = await session.scalars(
            select(OutboxEvent).where(
                OutboxEvent.event_id.in_([str(i) for i in ids] + [event.id for event in facts])
            )
        )
        assert as_lifecycle.all() == []
        assert published.all() == []
    # A fact folded into the summary would have moved its clock a month ahead.
    assert summary is not None
    assert summary.updated_at < start
    assert summary.status == "running"

"""The inbox's paths the other tests leave out: formazione's review sample through the API, the
409 while the engagement's mode is not known, and the first-response SLA end to end on the real
platform (a raw mention, the intake, the starter consumer, the workflow's durable timers, the
``sla_due_soon`` and ``sla_breached`` events on the stream)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import DeliverPolicy
from nats.js.errors import NotFoundError as ConsumerNotFoundError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus

from services.listening import events
from services.listening.contracts import SLA_STARTED_BY, sla_workflow_id
from services.listening.conversations import replying
from services.listening.conversations.answering import in_review_sample
from services.listening.conversations.business_hours import BusinessCalendar
from services.listening.intake import publish_raw_mentions
from services.listening.models import ConversationMessage, EngagementMode
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import InterventionMode
from shared.errors import PROBLEM_TYPE_PREFIX
from shared.events.consumer import spec_for
from shared.events.envelope import CloudEvent
from tests.conftest import Platform, wait_until
from tests.events_helpers import events_of, stream_messages
from tests.test_conversations import (
    engagement_in_mode,
    inbox_consumers,
    opened_conversation,
    raw,
    wait_for_conversations,
)
from tests.test_thin_thread import create_org
from workflows.conversations.sla_start import sla_start_consumer

__all__ = ["inbox_consumers"]

# Every day, all day but its last minute (hours close at a whole minute): a one-minute target is
# due a minute after the mention is ingested.
ALWAYS_OPEN = {
    "business_days": [1, 2, 3, 4, 5, 6, 7],
    "opens": "00:00",
    "closes": "23:59",
    "target_first_response_minutes": 1,
    "escalate_after_minutes": 1,
}
# Italian public holidays stay days off in any zone: one of these zones is not on one now.
ZONES = ("Europe/Rome", "Etc/GMT+12", "Etc/GMT-14")


def reply_ids(*, sampled: bool) -> Iterator[uuid.UUID]:
    while True:
        candidate = uuid.uuid4()
        if in_review_sample(candidate) is sampled:
            yield candidate


@pytest.fixture
def next_reply_id(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """Ids the conversations service gives its next replies, in order."""
    queued: list[uuid.UUID] = []
    monkeypatch.setattr(
        replying,
        "uuid",
        SimpleNamespace(uuid4=lambda: queued.pop(0) if queued else uuid.uuid4(), UUID=uuid.UUID),
    )
    return queued


async def test_formazione_a_sampled_client_reply_is_sent_and_flags_the_conversation(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
    next_reply_id: list[uuid.UUID],
) -> None:
    organization_id, _, conversation = await opened_conversation(
        platform, sessions, nats_client, InterventionMode.FORMAZIONE
    )
    url = f"/v1/listening/conversations/{conversation.id}"
    client = platform.auth(Role.CLIENT_APPROVER, orgs=[organization_id])
    agency = await platform.gateway.post(
        f"{url}/replies", json={"text": "Sì"}, headers=platform.auth(Role.EDITOR)
    )
    assert agency.status_code == 403, agency.text
    assert "client's staff answer" in agency.json()["detail"]

    not_sampled, sampled = next(reply_ids(sampled=False)), next(reply_ids(sampled=True))
    next_reply_id.append(not_sampled)
    first = await platform.gateway.post(f"{url}/replies", json={"text": "Sì"}, headers=client)
    assert first.status_code == 202, first.text
    assert (first.json()["id"], first.json()["review"]) == (str(not_sampled), "none")
    assert not (await platform.gateway.get(url, headers=client)).json()["needs_review"]

    next_reply_id.append(sampled)
    second = await platform.gateway.post(
        f"{url}/replies", json={"text": "Vi aspettiamo alle 20"}, headers=client
    )
    assert second.status_code == 202, second.text
    reply = second.json()
    assert (reply["id"], reply["review"]) == (str(sampled), "sample")
    # Sent at once: the agency reviews it afterwards, it is not held.
    assert reply["status"] == "pending"
    assert reply["workflow_id"] == f"reply-{sampled}"
    detail = (await platform.gateway.get(url, headers=client)).json()
    assert detail["needs_review"] is True
    listed = await platform.gateway.get(
        f"/v1/listening/engagements/{conversation.engagement_id}/conversations", headers=client
    )
    assert [item["needs_review"] for item in listed.json()] == [True]


async def test_a_reply_while_the_engagements_mode_is_unknown_is_a_409_and_stores_nothing(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    _, engagement_id, conversation = await opened_conversation(platform, sessions, nats_client)
    # The intake and the modes consumer are independent: a conversation may open before
    # listening has recorded its engagement's mode.
    async with session_scope(sessions, SYSTEM) as session:
        await session.execute(
            delete(EngagementMode).where(EngagementMode.engagement_id == uuid.UUID(engagement_id))
        )
    url = f"/v1/listening/conversations/{conversation.id}/replies"
    editor = platform.auth(Role.EDITOR)

    refused = await platform.gateway.post(url, json={"text": "Sì"}, headers=editor)

    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == PROBLEM_TYPE_PREFIX + "mode-unknown"
    assert engagement_id in refused.json()["detail"]
    async with session_scope(sessions, SYSTEM) as session:
        outbound = await session.scalar(
            select(func.count())
            .select_from(ConversationMessage)
            .where(
                ConversationMessage.conversation_id == conversation.id,
                ConversationMessage.direction == "outbound",
            )
        )
    assert outbound == 0

    async with session_scope(sessions, SYSTEM) as session:
        session.add(
            EngagementMode(
                engagement_id=uuid.UUID(engagement_id),
                organization_id=conversation.organization_id,
                mode=InterventionMode.REALIZZAZIONE.value,
            )
        )
    answered = await platform.gateway.post(url, json={"text": "Sì"}, headers=editor)
    assert answered.status_code == 202, answered.text


def open_now_zone(now: datetime) -> str:
    """A zone where the always-open calendar has its next minute of business time now."""
    for zone in ZONES:
        calendar = BusinessCalendar(
            time_zone=zone, weekdays=frozenset(range(1, 8)), opens=time(0), closes=time(23, 59)
        )
        if calendar.add_business_minutes(now, 1) - now < timedelta(seconds=62):
            return zone
    raise AssertionError(f"no zone of {ZONES} has business time at {now}")


async def sla_events(
    nats_client: NatsClient, platform: Platform, name: str, conversation_id: uuid.UUID
) -> list[CloudEvent]:
    events_settings = platform.settings.events
    messages = await stream_messages(
        nats_client.jetstream(),
        events_settings.stream,
        f"{events_settings.subject_prefix}.{name}.*",
    )
    return [event for event in events_of(messages) if event.subject == str(conversation_id)]


async def test_a_raw_mention_opens_a_conversation_whose_sla_workflow_warns_then_breaches(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    settings = platform.settings
    js = nats_client.jetstream()
    # The workflow worker's starter, as it runs it; only events from now on (the session's
    # stream holds the other tests' conversations).
    durable = f"test-sla-starter-{uuid.uuid4().hex[:8]}"
    spec = dataclasses.replace(
        spec_for(durable, SLA_STARTED_BY, settings.events), deliver_policy=DeliverPolicy.NEW
    )
    starter = sla_start_consumer(platform.temporal, js, settings, spec=spec)
    stop = asyncio.Event()
    running = asyncio.create_task(starter.run(stop))

    async def starter_ready() -> bool:
        try:
            await js.consumer_info(settings.events.stream, durable)
        except ConsumerNotFoundError:
            return False
        return True

    await wait_until(starter_ready)
    try:
        organization_id = await create_org(platform)
        engagement_id = await engagement_in_mode(
            platform, sessions, organization_id, InterventionMode.REALIZZAZIONE
        )
        url = f"/v1/listening/engagements/{engagement_id}/inbox-settings"
        manager = platform.auth(Role.MANAGER)
        body = {**ALWAYS_OPEN, "time_zone": open_now_zone(datetime.now(UTC))}
        # Hours are stored in minutes: seconds would be dropped, so they are refused.
        to_the_second = await platform.gateway.put(
            url, json={**body, "closes": "23:59:59"}, headers=manager
        )
        assert to_the_second.status_code == 422, to_the_second.text
        stored = await platform.gateway.put(url, json=body, headers=manager)
        assert stored.status_code == 200, stored.text
        assert (await platform.gateway.get(url, headers=manager)).json() == stored.json()

        await publish_raw_mentions(
            js, settings, [raw(organization_id, engagement_id, f"c-{uuid.uuid4()}", "Ciao?")]
        )
        [conversation] = await wait_for_conversations(sessions, engagement_id, 1, 1)
        assert conversation.due_soon_at - conversation.opened_at == timedelta(seconds=45)
        assert conversation.first_response_due_at - conversation.opened_at == timedelta(minutes=1)

        handle = platform.temporal.get_workflow_handle(sla_workflow_id(conversation.id))

        async def sla_running() -> bool:
            try:
                described = await handle.describe()
            except Exception:
                return False
            return described.status is WorkflowExecutionStatus.RUNNING

        await wait_until(sla_running, timeout=20)

        async def announced(name: str) -> bool:
            return bool(await sla_events(nats_client, platform, name, conversation.id))

        await wait_until(lambda: announced(events.CONVERSATION_SLA_DUE_SOON), timeout=90)
        [due_soon] = await sla_events(
            nats_client, platform, events.CONVERSATION_SLA_DUE_SOON, conversation.id
        )
        assert due_soon.data["engagement_id"] == engagement_id
        assert due_soon.data["organization_id"] == organization_id
        assert datetime.fromisoformat(due_soon.data["at"]) >= conversation.due_soon_at

        await wait_until(lambda: announced(events.CONVERSATION_SLA_BREACHED), timeout=60)
        [breached] = await sla_events(
            nats_client, platform, events.CONVERSATION_SLA_BREACHED, conversation.id
        )
        assert breached.data["task_owner"] == "editor"
        # The breach is on the engagement's timeline too (services/strategy/listening_facts.py).

        async def on_timeline() -> bool:
            answer = await platform.gateway.get(
                f"/v1/engagements/{engagement_id}/timeline", headers=platform.auth(Role.MANAGER)
            )
            return events.CONVERSATION_SLA_BREACHED in [e["event"] for e in answer.json()]

        await wait_until(on_timeline, timeout=20)
        await handle.terminate("the test saw what it waited for")
    finally:
        stop.set()
        await running

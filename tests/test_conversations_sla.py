"""First-response SLA: ``ConversationSlaWorkflow`` on durable timers (time-skipping), and the
listening activities it runs, each flagging and announcing once."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.listening.contracts import (
    FIRST_RESPONSE_SIGNAL,
    SLA_BREACHED,
    SLA_DUE_SOON,
    SLA_ESCALATED,
    ConversationSlaInput,
    FirstResponse,
    SlaStanding,
    SlaStep,
    sla_workflow_id,
)
from services.listening.conversations import sla_steps
from services.listening.models import Conversation
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform
from tests.lifecycle_helpers import start_time_skipping
from tests.test_conversations import inbox_consumers, opened_conversation, outbox_events
from workflows.conversations.sla import ConversationSlaWorkflow

__all__ = ["inbox_consumers"]


@pytest.fixture
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping()
    yield env
    await env.shutdown()


class FakeListening:
    """The listening activities, recording what the workflow asked and when."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.calls: list[tuple[str, datetime]] = []

    async def _record(self, name: str, step: SlaStep) -> SlaStanding:
        self.calls.append((name, await self.env.get_current_time()))
        return SlaStanding(conversation_id=step.conversation_id, settled=False)

    @activity.defn(name=SLA_DUE_SOON)
    async def due_soon(self, step: SlaStep) -> SlaStanding:
        return await self._record("due_soon", step)

    @activity.defn(name=SLA_BREACHED)
    async def breached(self, step: SlaStep) -> SlaStanding:
        return await self._record("breached", step)

    @activity.defn(name=SLA_ESCALATED)
    async def escalated(self, step: SlaStep) -> SlaStanding:
        return await self._record("escalated", step)


async def start_sla(
    env: WorkflowEnvironment, start: datetime
) -> WorkflowHandle[ConversationSlaWorkflow, SlaStanding]:
    conversation_id = uuid.uuid4()
    return await env.client.start_workflow(
        ConversationSlaWorkflow.run,
        ConversationSlaInput(
            conversation_id=conversation_id,
            organization_id=uuid.uuid4(),
            engagement_id=uuid.uuid4(),
            due_soon_at=start + timedelta(hours=3),
            due_at=start + timedelta(hours=4),
            escalate_at=start + timedelta(hours=5),
        ),
        id=sla_workflow_id(conversation_id),
        task_queue=task_queues.WORKFLOWS,
    )


async def test_unanswered_it_warns_then_breaches_then_escalates(
    time_skipping: WorkflowEnvironment,
) -> None:
    fake = FakeListening(time_skipping)
    async with (
        Worker(
            time_skipping.client,
            task_queue=task_queues.LISTENING,
            activities=[fake.due_soon, fake.breached, fake.escalated],
        ),
        Worker(
            time_skipping.client,
            task_queue=task_queues.WORKFLOWS,
            workflows=[ConversationSlaWorkflow],
        ),
    ):
        start = await time_skipping.get_current_time()
        handle = await start_sla(time_skipping, start)
        standing = await handle.result()
    assert [name for name, _ in fake.calls] == ["due_soon", "breached", "escalated"]
    offsets = [round((at - start) / timedelta(hours=1)) for _, at in fake.calls]
    assert offsets == [3, 4, 5]
    assert not standing.settled


async def test_the_first_response_before_the_due_time_ends_it_without_a_breach(
    time_skipping: WorkflowEnvironment,
) -> None:
    fake = FakeListening(time_skipping)
    async with (
        Worker(
            time_skipping.client,
            task_queue=task_queues.LISTENING,
            activities=[fake.due_soon, fake.breached, fake.escalated],
        ),
        Worker(
            time_skipping.client,
            task_queue=task_queues.WORKFLOWS,
            workflows=[ConversationSlaWorkflow],
        ),
    ):
        start = await time_skipping.get_current_time()
        handle = await start_sla(time_skipping, start)
        await time_skipping.sleep(timedelta(hours=3, minutes=30))
        await handle.signal(
            FIRST_RESPONSE_SIGNAL,
            FirstResponse(conversation_id=uuid.uuid4(), at=datetime.now(UTC)),
        )
        standing = await handle.result()
    assert [name for name, _ in fake.calls] == ["due_soon"]
    assert standing.settled


async def test_sla_steps_flag_once_give_a_task_and_stop_once_answered(
    platform: Platform,
    sessions: async_sessionmaker[AsyncSession],
    nats_client: NatsClient,
    inbox_consumers: None,
) -> None:
    _, _, conversation = await opened_conversation(platform, sessions, nats_client)
    now = datetime.now(UTC)
    async with session_scope(sessions, SYSTEM) as session:
        for _ in range(2):
            due_soon = await sla_steps.sla_due_soon(session, conversation.id, now)
            breached = await sla_steps.sla_breached(session, conversation.id, now)
            escalated = await sla_steps.sla_escalated(session, conversation.id, now)
    assert (due_soon.due_soon, breached.breached, escalated.escalated_to) == (
        True,
        True,
        "manager",
    )
    assert not escalated.settled
    async with session_scope(sessions, SYSTEM) as session:
        stored = await session.get(Conversation, conversation.id)
        assert stored is not None
        assert (stored.sla_due_soon, stored.sla_breached) == (True, True)
        # Nobody was assigned: the breach's task is the editors'.
        assert (stored.task_owner, stored.task_escalated_to) == ("editor", "manager")
    names = [event["type"] for event in await outbox_events(sessions, conversation.id)]
    for name in ("sla_due_soon", "sla_breached", "sla_escalated"):
        assert names.count(f"engage.conversations.{name}.v1") == 1
    escalated_event = (await outbox_events(sessions, conversation.id))[-1]["data"]
    assert escalated_event["escalated_to"] == "manager"
    assert escalated_event["engagement_id"] == str(conversation.engagement_id)

    # Closed, a late step finds it settled and flags nothing.
    _, _, other = await opened_conversation(platform, sessions, nats_client)
    async with session_scope(sessions, SYSTEM) as session:
        stored = await session.get(Conversation, other.id)
        assert stored is not None
        stored.state = "closed"
    async with session_scope(sessions, SYSTEM) as session:
        late = await sla_steps.sla_breached(session, other.id, now)
    assert late.settled
    assert not late.breached

"""The SLA's steps, run by ``ConversationSlaWorkflow``'s activities: due soon, breached (a task
for the assignee), escalated to the manager. A conversation answered, closed or ignored is
settled: its steps change nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import SlaStanding
from services.listening.conversations import facts
from services.listening.conversations.service import require
from services.listening.models import Conversation
from shared.auth import Role
from shared.metrics import SLA_BREACHES, on_commit

# An SLA breach's task escalates to this role, as the lifecycle's overdue tasks do.
ESCALATION_ROLE = Role.MANAGER
# A breach's task goes to the assignee, or to the agency's editors when nobody is assigned.
UNASSIGNED_TASK_OWNER = Role.EDITOR


def _settled(conversation: Conversation) -> bool:
    return conversation.first_response_at is not None or conversation.state in (
        "closed",
        "ignored",
    )


def _standing(conversation: Conversation) -> SlaStanding:
    return SlaStanding(
        conversation_id=conversation.id,
        settled=_settled(conversation),
        due_soon=conversation.sla_due_soon,
        breached=conversation.sla_breached,
        escalated_to=conversation.task_escalated_to,
    )


def _sla_fact(conversation: Conversation, now: datetime) -> events.ConversationSlaFact:
    return events.ConversationSlaFact(
        **facts.fact_of(conversation),
        due_at=conversation.first_response_due_at,
        task_owner=conversation.task_owner,
        escalated_to=conversation.task_escalated_to,
        at=now,
    )


async def sla_due_soon(
    session: AsyncSession, conversation_id: uuid.UUID, now: datetime
) -> SlaStanding:
    conversation = await require(session, conversation_id, for_update=True)
    if not _settled(conversation) and not conversation.sla_due_soon:
        conversation.sla_due_soon = True
        conversation.updated_at = now
        await facts.emit(
            session,
            events.CONVERSATION_SLA_DUE_SOON,
            conversation,
            "sla/due_soon",
            _sla_fact(conversation, now),
        )
    return _standing(conversation)


async def sla_breached(
    session: AsyncSession, conversation_id: uuid.UUID, now: datetime
) -> SlaStanding:
    """Flag the breach and give the assignee (or the editors) a task to answer it."""
    conversation = await require(session, conversation_id, for_update=True)
    if not _settled(conversation) and not conversation.sla_breached:
        conversation.sla_breached = True
        conversation.task_owner = (
            conversation.assignee_subject
            or conversation.assignee_role
            or UNASSIGNED_TASK_OWNER.value
        )
        conversation.updated_at = now
        on_commit(session, lambda: SLA_BREACHES.add(1))
        await facts.emit(
            session,
            events.CONVERSATION_SLA_BREACHED,
            conversation,
            "sla/breached",
            _sla_fact(conversation, now),
        )
    return _standing(conversation)


async def sla_escalated(
    session: AsyncSession, conversation_id: uuid.UUID, now: datetime
) -> SlaStanding:
    """The breach's task, still not done, escalates to the manager."""
    conversation = await require(session, conversation_id, for_update=True)
    if not _settled(conversation) and conversation.task_escalated_to is None:
        conversation.task_escalated_to = ESCALATION_ROLE.value
        conversation.updated_at = now
        await facts.emit(
            session,
            events.CONVERSATION_SLA_ESCALATED,
            conversation,
            "sla/escalated",
            _sla_fact(conversation, now),
        )
    return _standing(conversation)

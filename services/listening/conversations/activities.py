"""Temporal activities of the conversations inbox, each idempotent: a reply's outcome is recorded
once, each SLA step flags and announces once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.service import RPCError

from services.listening.contracts import (
    FIRST_RESPONSE_SIGNAL,
    RECORD_REPLY_OUTCOME,
    SLA_BREACHED,
    SLA_DUE_SOON,
    SLA_ESCALATED,
    FirstResponse,
    ReplyOutcome,
    SlaStanding,
    SlaStep,
    sla_workflow_id,
)
from services.listening.conversations import replying, sla_steps
from shared.activity_errors import problems_as_application_errors
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope


class ConversationActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=RECORD_REPLY_OUTCOME)
    @problems_as_application_errors
    async def record_reply_outcome(self, outcome: ReplyOutcome) -> None:
        """Mark the reply sent or failed; once the conversation is answered, tell its SLA
        workflow (again, if this is a retry: the signal changes nothing the second time)."""
        async with session_scope(self._sessions, SYSTEM) as session:
            conversation = await replying.record_reply_outcome(session, outcome)
            answered_at = conversation.first_response_at
        if answered_at is not None:
            await _signal_first_response(
                FirstResponse(conversation_id=conversation.id, at=answered_at)
            )

    @activity.defn(name=SLA_DUE_SOON)
    @problems_as_application_errors
    async def conversation_sla_due_soon(self, step: SlaStep) -> SlaStanding:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await sla_steps.sla_due_soon(session, step.conversation_id, datetime.now(UTC))

    @activity.defn(name=SLA_BREACHED)
    @problems_as_application_errors
    async def conversation_sla_breached(self, step: SlaStep) -> SlaStanding:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await sla_steps.sla_breached(session, step.conversation_id, datetime.now(UTC))

    @activity.defn(name=SLA_ESCALATED)
    @problems_as_application_errors
    async def conversation_sla_escalated(self, step: SlaStep) -> SlaStanding:
        async with session_scope(self._sessions, SYSTEM) as session:
            return await sla_steps.sla_escalated(session, step.conversation_id, datetime.now(UTC))

    def all(self) -> Sequence[Callable[..., Any]]:
        return [
            self.record_reply_outcome,
            self.conversation_sla_due_soon,
            self.conversation_sla_breached,
            self.conversation_sla_escalated,
        ]


async def _signal_first_response(answered: FirstResponse) -> None:
    """A workflow that ended (or never started) needs no signal: each SLA step reads the stored
    conversation first, so a lost signal only lets the workflow wake once more, to end."""
    handle = activity.client().get_workflow_handle(sla_workflow_id(answered.conversation_id))
    with contextlib.suppress(RPCError):
        await handle.signal(FIRST_RESPONSE_SIGNAL, answered)

"""What a conversation's events say about it, and how they are staged in the outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.models import Conversation, outbox
from shared.events.envelope import new_event


def fact_of(conversation: Conversation) -> dict[str, Any]:
    return events.ConversationFact(
        conversation_id=conversation.id,
        organization_id=conversation.organization_id,
        engagement_id=conversation.engagement_id,
        source=conversation.source,
        category=conversation.category,
        state=conversation.state,
        assignee_subject=conversation.assignee_subject,
        assignee_role=conversation.assignee_role,
    ).model_dump()


async def emit(
    session: AsyncSession, name: str, conversation: Conversation, fact: str, data: Any
) -> None:
    await outbox.add(
        session,
        new_event(
            name,
            data,
            source=events.SOURCE,
            subject=str(conversation.id),
            event_id=events.conversation_event_id(conversation.id, fact),
        ),
    )

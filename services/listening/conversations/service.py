"""Rules of the conversations inbox: opening and threading conversations, triage, assignment,
notes and the states' transitions. Replies and their outcomes are in ``replying``, the SLA's
steps in ``sla_steps``. No HTTP here, no SQL strings: queries are in ``repository``."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import (
    SourceKind,
)
from services.listening.conversations import (
    facts,
    inbox_settings,
    repository,
)
from services.listening.conversations.business_hours import sla_times
from services.listening.conversations.schemas import (
    Assignment,
    Retriage,
)
from services.listening.conversations.triage import Category, triage
from services.listening.models import (
    Conversation,
    ConversationMessage,
    ConversationNote,
    Mention,
)
from shared.auth import Principal
from shared.errors import (
    ConflictError,
    NotFoundError,
)

# Sources whose mentions are comments on the organisation's posts or mentions of its accounts:
# each wants an answer, whatever triage says.
CHANNEL_SOURCES = frozenset(
    {
        SourceKind.SANDBOX,
        SourceKind.FACEBOOK,
        SourceKind.INSTAGRAM,
        SourceKind.YOUTUBE,
        SourceKind.X,
        SourceKind.MASTODON,
    }
)
# From any other source, only what triage says wants an answer.
ANSWERED_CATEGORIES = frozenset({Category.QUESTION, Category.COMPLAINT})
TRIAGED_BY_RULES = "rules"


def wants_answer(source: str, category: Category) -> bool:
    return source in CHANNEL_SOURCES or category in ANSWERED_CATEGORIES


# Intake


async def receive_mention(
    session: AsyncSession, mention: Mention, engagement_id: uuid.UUID, now: datetime
) -> Conversation | None:
    """Open a conversation for a mention that wants an answer, or join it to its author's
    conversation on the same source and engagement; None when it wants no answer. A mention
    already in the conversation is not added twice."""
    triaged = triage(mention.text, mention.sentiment_label, mention.sentiment_score)
    if not wants_answer(mention.source, triaged.category):
        return None
    thread = await repository.open_thread(
        session, engagement_id, mention.source, mention.author_handle
    )
    if thread is not None:
        if not any(
            message.mention_id == mention.id
            for message in await repository.messages(session, thread.id)
        ):
            session.add(_inbound(thread, mention, now))
            thread.updated_at = now
        return thread
    settings = await inbox_settings.engagement_settings(session, engagement_id)
    opened_at = mention.ingested_at or now
    times = sla_times(
        inbox_settings.calendar_of(settings),
        opened_at,
        settings.target_first_response_minutes,
        settings.escalate_after_minutes,
    )
    conversation = Conversation(
        id=uuid.uuid4(),
        organization_id=mention.organization_id,
        engagement_id=engagement_id,
        source=mention.source,
        author_handle=mention.author_handle,
        author_name=mention.author_name,
        first_mention_id=mention.id,
        category=triaged.category.value,
        triage_reason=triaged.reason,
        triaged_by=TRIAGED_BY_RULES,
        state="open",
        opened_at=opened_at,
        due_soon_at=times.due_soon_at,
        first_response_due_at=times.due_at,
        escalate_at=times.escalate_at,
        sla_due_soon=False,
        sla_breached=False,
        needs_review=False,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    session.add(_inbound(conversation, mention, now))
    await facts.emit(
        session,
        events.CONVERSATION_OPENED,
        conversation,
        "opened",
        events.ConversationOpened(
            **facts.fact_of(conversation),
            author_handle=conversation.author_handle,
            first_mention_id=mention.id,
            triage_reason=triaged.reason,
            opened_at=opened_at,
            due_soon_at=times.due_soon_at,
            due_at=times.due_at,
            escalate_at=times.escalate_at,
        ),
    )
    await facts.emit(
        session,
        events.CONVERSATION_TRIAGED,
        conversation,
        "triaged/0",
        events.ConversationTriaged(
            **facts.fact_of(conversation),
            reason=triaged.reason,
            triaged_by=TRIAGED_BY_RULES,
            previous_category=None,
        ),
    )
    return conversation


def _inbound(conversation: Conversation, mention: Mention, now: datetime) -> ConversationMessage:
    return ConversationMessage(
        id=uuid.uuid4(),
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        direction="inbound",
        mention_id=mention.id,
        external_id=mention.external_id,
        author=mention.author_handle,
        text=mention.text,
        status="received",
        created_at=mention.published_at or now,
    )


# A person's work on a conversation


async def require(
    session: AsyncSession, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation:
    found = await repository.conversation(session, conversation_id, for_update=for_update)
    if found is None:
        raise NotFoundError("conversation", conversation_id)
    return found


async def retriage(
    session: AsyncSession, principal: Principal, conversation: Conversation, body: Retriage
) -> None:
    previous = conversation.category
    conversation.category = body.category.value
    conversation.triage_reason = body.reason
    conversation.triaged_by = principal.subject
    await facts.emit(
        session,
        events.CONVERSATION_TRIAGED,
        conversation,
        f"triaged/{uuid.uuid4()}",
        events.ConversationTriaged(
            **facts.fact_of(conversation),
            reason=body.reason,
            triaged_by=principal.subject,
            previous_category=previous,
        ),
    )


async def assign(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    body: Assignment,
    now: datetime,
) -> None:
    """Assign to a person or a role (neither: unassign). A closed or ignored one is not."""
    require_not_settled(conversation, "assign")
    conversation.assignee_subject = body.subject
    conversation.assignee_role = body.role.value if body.role is not None else None
    assigned = body.subject is not None or body.role is not None
    if conversation.state in ("open", "assigned"):
        conversation.state = "assigned" if assigned else "open"
    if conversation.task_owner is not None and assigned:
        conversation.task_owner = body.subject or conversation.assignee_role
    conversation.updated_at = now
    await facts.emit(
        session,
        events.CONVERSATION_ASSIGNED,
        conversation,
        f"assigned/{uuid.uuid4()}",
        events.ConversationAssigned(**facts.fact_of(conversation), assigned_by=principal.subject),
    )


def add_note(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    text: str,
    now: datetime,
) -> ConversationNote:
    note = ConversationNote(
        id=uuid.uuid4(),
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        text=text,
        written_by=principal.subject,
        created_at=now,
    )
    session.add(note)
    return note


def require_not_settled(conversation: Conversation, action: str) -> None:
    if conversation.state in ("closed", "ignored"):
        raise ConflictError(
            f"conversation {conversation.id} is {conversation.state}: reopen it to {action}",
            state=conversation.state,
        )


async def settle(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    state: str,
    now: datetime,
) -> None:
    """Close (any conversation not closed or ignored) or ignore (one not answered yet)."""
    require_not_settled(conversation, state.removesuffix("d"))
    if state == "ignored" and conversation.state == "answered":
        raise ConflictError(
            f"conversation {conversation.id} was answered: close it instead", state="answered"
        )
    conversation.state = state
    conversation.resolved_at = now
    settings = await inbox_settings.engagement_settings(session, conversation.engagement_id)
    conversation.resolution_minutes = inbox_settings.calendar_of(settings).business_minutes_between(
        conversation.opened_at, now
    )
    conversation.updated_at = now
    await facts.emit(
        session,
        events.CONVERSATION_CLOSED,
        conversation,
        f"{state}/{now.isoformat()}",
        events.ConversationClosed(
            **facts.fact_of(conversation),
            closed_by=principal.subject,
            closed_at=now,
            resolution_minutes=conversation.resolution_minutes,
        ),
    )


async def reopen(session: AsyncSession, conversation: Conversation, now: datetime) -> None:
    """A closed or ignored conversation opens again, unless its author has another open one."""
    if conversation.state not in ("closed", "ignored"):
        raise ConflictError(
            f"conversation {conversation.id} is {conversation.state}, not closed nor ignored",
            state=conversation.state,
        )
    other = await repository.open_thread(
        session, conversation.engagement_id, conversation.source, conversation.author_handle
    )
    if other is not None:
        raise ConflictError(
            f"the author's conversation {other.id} is open: it continues this one",
            conversation_id=str(other.id),
        )
    if conversation.first_response_at is not None:
        conversation.state = "answered"
    elif conversation.assignee_subject or conversation.assignee_role:
        conversation.state = "assigned"
    else:
        conversation.state = "open"
    conversation.resolved_at = None
    conversation.resolution_minutes = None
    conversation.updated_at = now

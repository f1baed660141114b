"""Rules of the conversations inbox: opening and threading conversations, triage, assignment,
notes, the states' transitions, replies under the mode rule, their outcomes, and the SLA's steps.
No HTTP here, no SQL strings: queries are in ``repository``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import (
    ReplyOutcome,
    SendReplyInput,
    SourceKind,
)
from services.listening.conversations import (
    answering,
    facts,
    inbox_settings,
    reply_limits,
    repository,
)
from services.listening.conversations.answering import AnswerDecision, Review
from services.listening.conversations.business_hours import sla_times
from services.listening.conversations.schemas import (
    Assignment,
    ReplyCreate,
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
from shared.domain import InterventionMode
from shared.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    ProblemError,
    validation_problem,
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
    _require_not_settled(conversation, "assign")
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


def _require_not_settled(conversation: Conversation, action: str) -> None:
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
    _require_not_settled(conversation, state.removesuffix("d"))
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


# Replies


@dataclass(frozen=True)
class PreparedReply:
    message: ConversationMessage
    decision: AnswerDecision
    # What to start now; None while the reply waits for review.
    send: SendReplyInput | None


async def reply(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    body: ReplyCreate,
    task_queue_prefix: str,
    now: datetime,
) -> PreparedReply:
    """Check the mode rule (403), the state (409) and the channel's limit (422), then store the
    reply as pending (or awaiting review) and say what to send."""
    reply_id = uuid.uuid4()
    decision = await _decide(session, principal, conversation, reply_id)
    _require_not_settled(conversation, "reply")
    text = body.text
    if body.saved_reply_id is not None:
        saved = await repository.saved_reply(session, body.saved_reply_id)
        if saved is None or saved.organization_id != conversation.organization_id:
            raise NotFoundError("saved reply", body.saved_reply_id)
        text = saved.text
    assert text is not None
    broken = reply_limits.violated(conversation.source, text)
    if broken is not None:
        raise validation_problem(
            [
                FieldError(
                    field="body.text" if body.text is not None else "body.saved_reply_id",
                    message=f"{broken.rule}: a reply on {conversation.source} is at most "
                    f"{broken.max_characters} characters ({broken.source}); this one has "
                    f"{len(text)}",
                    type=broken.rule,
                )
            ]
        )
    held = decision.review is Review.BEFORE_SENDING
    message = ConversationMessage(
        id=reply_id,
        organization_id=conversation.organization_id,
        conversation_id=conversation.id,
        direction="outbound",
        author=principal.subject,
        text=text,
        status="awaiting_review" if held else "pending",
        saved_reply_id=body.saved_reply_id,
        created_at=now,
    )
    session.add(message)
    if decision.review is Review.SAMPLE:
        conversation.needs_review = True
    conversation.updated_at = now
    await session.flush()
    send = None if held else await _send_input(session, conversation, message, task_queue_prefix)
    return PreparedReply(message, decision, send)


async def approve(
    session: AsyncSession,
    principal: Principal,
    conversation: Conversation,
    reply_id: uuid.UUID,
    task_queue_prefix: str,
) -> tuple[ConversationMessage, SendReplyInput]:
    """An agency role approves a reply waiting for review: it is sent."""
    if not answering.may_review(principal.roles_in(conversation.organization_id)):
        raise ProblemError(
            403, "forbidden", "reviewing a reply is the agency's (admin, manager, editor)"
        )
    message = await repository.message(session, reply_id, for_update=True)
    if message is None or message.conversation_id != conversation.id:
        raise NotFoundError("reply", reply_id)
    if message.status != "awaiting_review":
        raise ConflictError(f"reply {reply_id} is {message.status}", reply_status=message.status)
    _require_not_settled(conversation, "reply")
    message.status = "pending"
    message.reviewed_by = principal.subject
    return message, await _send_input(session, conversation, message, task_queue_prefix)


async def _decide(
    session: AsyncSession, principal: Principal, conversation: Conversation, reply_id: uuid.UUID
) -> AnswerDecision:
    mode = await repository.engagement_mode(session, conversation.engagement_id)
    if mode is None:
        raise ProblemError(
            409,
            "mode-unknown",
            f"engagement {conversation.engagement_id}'s intervention mode is not known yet",
        )
    decision = answering.may_answer(
        InterventionMode(mode),
        principal.roles_in(conversation.organization_id),
        Category(conversation.category),
        reply_id,
    )
    if not decision.allowed:
        raise ProblemError(403, "forbidden-by-mode", decision.reason, mode=mode)
    return decision


async def _send_input(
    session: AsyncSession,
    conversation: Conversation,
    message: ConversationMessage,
    task_queue_prefix: str,
) -> SendReplyInput:
    answered = await repository.latest_inbound(session, conversation.id)
    if answered is None or answered.external_id is None:
        raise ConflictError(f"conversation {conversation.id} has no mention to answer")
    connection = None
    if conversation.source == SourceKind.SANDBOX:
        connection = await repository.sandbox_connection(session, conversation.engagement_id)
    return SendReplyInput(
        reply_id=message.id,
        conversation_id=conversation.id,
        organization_id=conversation.organization_id,
        engagement_id=conversation.engagement_id,
        channel=conversation.source,
        connection_id=connection,
        in_reply_to=answered.external_id,
        text=message.text,
        task_queue_prefix=task_queue_prefix,
    )


async def record_reply_outcome(session: AsyncSession, outcome: ReplyOutcome) -> Conversation:
    """Mark the reply sent or failed; the first sent reply answers the conversation (with
    ``first_response``), a failure shows on it (``reply_failed``). Recorded again, it changes
    nothing."""
    message = await repository.message(session, outcome.reply_id, for_update=True)
    if message is None or message.conversation_id != outcome.conversation_id:
        # The API stores the reply before the workflow starts; its commit may still be on the way.
        raise LookupError(f"reply {outcome.reply_id} is not stored")
    conversation = await require(session, outcome.conversation_id, for_update=True)
    if message.status in ("sent", "failed"):
        return conversation
    now = outcome.at
    if outcome.status == "failed":
        message.status = "failed"
        message.failure = outcome.failure or "the platform refused the reply"
        conversation.reply_failure = message.failure
        conversation.updated_at = now
        await facts.emit(
            session,
            events.CONVERSATION_REPLY_FAILED,
            conversation,
            f"reply/{message.id}/failed",
            events.ConversationReplyFailed(
                **facts.fact_of(conversation),
                reply_id=message.id,
                failure=message.failure,
                failed_at=now,
                sent_by=message.author,
            ),
        )
        return conversation
    message.status = "sent"
    message.platform_reply_id = outcome.platform_reply_id
    message.url = outcome.url
    message.sent_at = now
    conversation.reply_failure = None
    conversation.updated_at = now
    await facts.emit(
        session,
        events.CONVERSATION_REPLY_SENT,
        conversation,
        f"reply/{message.id}/sent",
        events.ConversationReplySent(
            **facts.fact_of(conversation),
            reply_id=message.id,
            sent_by=message.author,
            sent_at=now,
            platform_reply_id=message.platform_reply_id,
            url=message.url,
        ),
    )
    if conversation.first_response_at is None:
        settings = await inbox_settings.engagement_settings(session, conversation.engagement_id)
        minutes = inbox_settings.calendar_of(settings).business_minutes_between(
            conversation.opened_at, now
        )
        conversation.first_response_at = now
        conversation.first_response_minutes = minutes
        if conversation.state in ("open", "assigned"):
            conversation.state = "answered"
        await facts.emit(
            session,
            events.CONVERSATION_FIRST_RESPONSE,
            conversation,
            "first_response",
            events.ConversationFirstResponse(
                **facts.fact_of(conversation),
                reply_id=message.id,
                answered_at=now,
                response_minutes=minutes,
                within_sla=now <= conversation.first_response_due_at,
            ),
        )
    return conversation

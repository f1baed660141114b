"""Rules of the conversations inbox: opening and threading conversations, triage, assignment,
notes, the states' transitions, replies under the mode rule, their outcomes, and the SLA's steps.
No HTTP here, no SQL strings: queries are in ``repository``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import (
    ReplyOutcome,
    SendReplyInput,
    SlaStanding,
    SourceKind,
)
from services.listening.conversations import answering, reply_limits, repository
from services.listening.conversations.answering import AnswerDecision, Review
from services.listening.conversations.business_hours import BusinessCalendar, sla_times
from services.listening.conversations.schemas import (
    Assignment,
    InboxSettingsBody,
    ReplyCreate,
    Retriage,
    SavedReplyBody,
    SavedReplyCreate,
)
from services.listening.conversations.triage import Category, triage
from services.listening.models import (
    Conversation,
    ConversationMessage,
    ConversationNote,
    InboxSettings,
    Mention,
    SavedReply,
    engagements,
    outbox,
)
from shared.auth import Principal, Role
from shared.domain import InterventionMode
from shared.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    ProblemError,
    validation_problem,
)
from shared.events.envelope import new_event

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
# An SLA breach's task escalates to this role, as the lifecycle's overdue tasks do.
ESCALATION_ROLE = Role.MANAGER
# A breach's task goes to the assignee, or to the agency's editors when nobody is assigned.
UNASSIGNED_TASK_OWNER = Role.EDITOR


def wants_answer(source: str, category: Category) -> bool:
    return source in CHANNEL_SOURCES or category in ANSWERED_CATEGORIES


# Settings and calendars


def default_settings() -> InboxSettingsBody:
    return InboxSettingsBody()


def settings_body(row: InboxSettings | None) -> InboxSettingsBody:
    if row is None:
        return default_settings()
    return InboxSettingsBody(
        target_first_response_minutes=row.target_first_response_minutes,
        business_days=row.business_days,
        opens=_clock(row.opens_minute),
        closes=_clock(row.closes_minute),
        time_zone=row.time_zone,
        escalate_after_minutes=row.escalate_after_minutes,
    )


def calendar_of(body: InboxSettingsBody) -> BusinessCalendar:
    return BusinessCalendar(
        time_zone=body.time_zone,
        weekdays=frozenset(body.business_days),
        opens=body.opens,
        closes=body.closes,
    )


def _clock(minute: int) -> time:
    return time(minute // 60, minute % 60)


def _minute(clock: time) -> int:
    return clock.hour * 60 + clock.minute


async def engagement_settings(session: AsyncSession, engagement_id: uuid.UUID) -> InboxSettingsBody:
    return settings_body(await repository.inbox_settings(session, engagement_id))


async def put_settings(
    session: AsyncSession,
    principal: Principal,
    engagement_id: uuid.UUID,
    body: InboxSettingsBody,
    now: datetime,
) -> uuid.UUID:
    """Store an engagement's inbox settings; conversations opened from now on follow them."""
    organization_id = await engagements.require(session, engagement_id)
    row = await repository.inbox_settings(session, engagement_id)
    if row is None:
        row = InboxSettings(engagement_id=engagement_id, organization_id=organization_id)
        session.add(row)
    row.target_first_response_minutes = body.target_first_response_minutes
    row.business_days = body.business_days
    row.opens_minute = _minute(body.opens)
    row.closes_minute = _minute(body.closes)
    row.time_zone = body.time_zone
    row.escalate_after_minutes = body.escalate_after_minutes
    row.updated_by = principal.subject
    row.updated_at = now
    return organization_id


# Facts


def _fact(conversation: Conversation) -> dict[str, Any]:
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


async def _emit(
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
    settings = await engagement_settings(session, engagement_id)
    opened_at = mention.ingested_at or now
    times = sla_times(
        calendar_of(settings),
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
    await _emit(
        session,
        events.CONVERSATION_OPENED,
        conversation,
        "opened",
        events.ConversationOpened(
            **_fact(conversation),
            author_handle=conversation.author_handle,
            first_mention_id=mention.id,
            triage_reason=triaged.reason,
            opened_at=opened_at,
            due_soon_at=times.due_soon_at,
            due_at=times.due_at,
            escalate_at=times.escalate_at,
        ),
    )
    await _emit(
        session,
        events.CONVERSATION_TRIAGED,
        conversation,
        "triaged/0",
        events.ConversationTriaged(
            **_fact(conversation),
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
    await _emit(
        session,
        events.CONVERSATION_TRIAGED,
        conversation,
        f"triaged/{uuid.uuid4()}",
        events.ConversationTriaged(
            **_fact(conversation),
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
    await _emit(
        session,
        events.CONVERSATION_ASSIGNED,
        conversation,
        f"assigned/{uuid.uuid4()}",
        events.ConversationAssigned(**_fact(conversation), assigned_by=principal.subject),
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
    settings = await engagement_settings(session, conversation.engagement_id)
    conversation.resolution_minutes = calendar_of(settings).business_minutes_between(
        conversation.opened_at, now
    )
    conversation.updated_at = now
    await _emit(
        session,
        events.CONVERSATION_CLOSED,
        conversation,
        f"{state}/{now.isoformat()}",
        events.ConversationClosed(
            **_fact(conversation),
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
    if not answering.may_review(principal.roles):
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
        InterventionMode(mode), principal.roles, Category(conversation.category), reply_id
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
        await _emit(
            session,
            events.CONVERSATION_REPLY_FAILED,
            conversation,
            f"reply/{message.id}/failed",
            events.ConversationReplyFailed(
                **_fact(conversation), reply_id=message.id, failure=message.failure, failed_at=now
            ),
        )
        return conversation
    message.status = "sent"
    message.platform_reply_id = outcome.platform_reply_id
    message.url = outcome.url
    message.sent_at = now
    conversation.reply_failure = None
    conversation.updated_at = now
    if conversation.first_response_at is None:
        settings = await engagement_settings(session, conversation.engagement_id)
        minutes = calendar_of(settings).business_minutes_between(conversation.opened_at, now)
        conversation.first_response_at = now
        conversation.first_response_minutes = minutes
        if conversation.state in ("open", "assigned"):
            conversation.state = "answered"
        await _emit(
            session,
            events.CONVERSATION_FIRST_RESPONSE,
            conversation,
            "first_response",
            events.ConversationFirstResponse(
                **_fact(conversation),
                reply_id=message.id,
                answered_at=now,
                response_minutes=minutes,
                within_sla=now <= conversation.first_response_due_at,
            ),
        )
    return conversation


# The SLA's steps


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
        **_fact(conversation),
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
        await _emit(
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
        await _emit(
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
        await _emit(
            session,
            events.CONVERSATION_SLA_ESCALATED,
            conversation,
            "sla/escalated",
            _sla_fact(conversation, now),
        )
    return _standing(conversation)


# Saved replies


def create_saved_reply(
    session: AsyncSession, principal: Principal, body: SavedReplyCreate
) -> SavedReply:
    principal.require_organization(body.organization_id)
    saved = SavedReply(
        id=uuid.uuid4(),
        organization_id=body.organization_id,
        title=body.title,
        text=body.text,
        created_by=principal.subject,
    )
    session.add(saved)
    return saved


async def require_saved_reply(session: AsyncSession, saved_reply_id: uuid.UUID) -> SavedReply:
    saved = await repository.saved_reply(session, saved_reply_id)
    if saved is None:
        raise NotFoundError("saved reply", saved_reply_id)
    return saved


def update_saved_reply(saved: SavedReply, body: SavedReplyBody) -> None:
    saved.title = body.title
    saved.text = body.text

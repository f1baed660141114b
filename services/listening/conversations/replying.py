"""Replies under the mode rule: who may answer (403), the state (409) and the channel's limit
(422), review before sending, and the platform's outcome (sent or failed, the first response
timed against the SLA). The conversation's own states are in ``service``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events
from services.listening.contracts import ReplyOutcome, SendReplyInput, SourceKind
from services.listening.conversations import (
    answering,
    facts,
    inbox_settings,
    reply_limits,
    repository,
)
from services.listening.conversations.answering import AnswerDecision, Review
from services.listening.conversations.schemas import ReplyCreate
from services.listening.conversations.service import require, require_not_settled
from services.listening.conversations.triage import Category
from services.listening.models import Conversation, ConversationMessage
from shared.auth import Principal
from shared.domain import InterventionMode
from shared.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    ProblemError,
    validation_problem,
)


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
    require_not_settled(conversation, "reply")
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
    require_not_settled(conversation, "reply")
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

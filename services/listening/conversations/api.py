"""HTTP routes of the conversations inbox: the inbox, one conversation, triage, assignment,
notes, states, replies, saved replies, inbox settings and SLA figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.listening.conversations import (
    inbox_settings,
    replying,
    repository,
    saved_replies,
    service,
)
from services.listening.conversations.replies import ReplyRuns
from services.listening.conversations.schemas import (
    Assignment,
    ConversationDetail,
    ConversationOut,
    InboxFilters,
    InboxSettingsBody,
    InboxSettingsOut,
    MessageOut,
    NoteCreate,
    NoteOut,
    ReplyCreate,
    ReplyOut,
    Retriage,
    SavedReplyBody,
    SavedReplyCreate,
    SavedReplyFilters,
    SavedReplyOut,
    SlaReport,
)
from services.listening.models import Conversation, engagements
from shared.app import SessionDep
from shared.auth import AUTHORIZED, CurrentPrincipal
from shared.paging import page_of

conversations_router = APIRouter(prefix="/listening", tags=["conversations"])


async def _reply_runs(request: Request) -> ReplyRuns:
    runs: ReplyRuns = request.app.state.reply_runs
    return runs


ReplyRunsDep = Annotated[ReplyRuns, Depends(_reply_runs)]


def _now() -> datetime:
    return datetime.now(UTC)


async def _detail(session: SessionDep, conversation: Conversation) -> ConversationDetail:
    return ConversationDetail(
        **ConversationOut.model_validate(conversation).model_dump(),
        messages=[
            MessageOut.model_validate(message)
            for message in await repository.messages(session, conversation.id)
        ],
        notes=[
            NoteOut.model_validate(note)
            for note in await repository.notes(session, conversation.id)
        ],
    )


@conversations_router.get(
    "/engagements/{engagement_id}/conversations",
    response_model=list[ConversationOut],
    summary="An engagement's inbox, newest first, filtered by state, category, assignee (a "
    "person or a role) and breach; a Link header names the next page",
)
async def list_conversations(
    engagement_id: uuid.UUID,
    filters: Annotated[InboxFilters, Query()],
    session: SessionDep,
    request: Request,
    response: Response,
) -> list[ConversationOut]:
    await engagements.require(session, engagement_id, wait_seconds=0)
    found = await repository.inbox(session, engagement_id, filters)
    held = page_of(found, repository.INBOX_ORDER, filters, request, response)
    return [ConversationOut.model_validate(conversation) for conversation in held]


@conversations_router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="One conversation with its messages (mentions and replies) and internal notes",
)
async def get_conversation(conversation_id: uuid.UUID, session: SessionDep) -> ConversationDetail:
    return await _detail(session, await service.require(session, conversation_id))


@conversations_router.post(
    "/conversations/{conversation_id}/triage",
    response_model=ConversationOut,
    dependencies=[AUTHORIZED],
    summary="Re-triage a conversation: its category and why",
)
async def retriage_conversation(
    conversation_id: uuid.UUID, body: Retriage, session: SessionDep, principal: CurrentPrincipal
) -> ConversationOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    await service.retriage(session, principal, conversation, body)
    return ConversationOut.model_validate(conversation)


@conversations_router.post(
    "/conversations/{conversation_id}/assign",
    response_model=ConversationOut,
    dependencies=[AUTHORIZED],
    summary="Assign a conversation to a person (subject) or a role; neither unassigns it",
)
async def assign_conversation(
    conversation_id: uuid.UUID, body: Assignment, session: SessionDep, principal: CurrentPrincipal
) -> ConversationOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    await service.assign(session, principal, conversation, body, _now())
    return ConversationOut.model_validate(conversation)


@conversations_router.post(
    "/conversations/{conversation_id}/notes",
    response_model=NoteOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AUTHORIZED],
    summary="Add an internal note (never sent to the author)",
)
async def add_conversation_note(
    conversation_id: uuid.UUID, body: NoteCreate, session: SessionDep, principal: CurrentPrincipal
) -> NoteOut:
    conversation = await service.require(session, conversation_id)
    note = service.add_note(session, principal, conversation, body.text, _now())
    return NoteOut.model_validate(note)


@conversations_router.post(
    "/conversations/{conversation_id}/close",
    response_model=ConversationOut,
    dependencies=[AUTHORIZED],
    summary="Close a conversation not closed or ignored; its resolution time is stored",
)
async def close_conversation(
    conversation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ConversationOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    await service.settle(session, principal, conversation, "closed", _now())
    return ConversationOut.model_validate(conversation)


@conversations_router.post(
    "/conversations/{conversation_id}/ignore",
    response_model=ConversationOut,
    dependencies=[AUTHORIZED],
    summary="Ignore a conversation not answered yet (spam, nothing to say)",
)
async def ignore_conversation(
    conversation_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> ConversationOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    await service.settle(session, principal, conversation, "ignored", _now())
    return ConversationOut.model_validate(conversation)


@conversations_router.post(
    "/conversations/{conversation_id}/reopen",
    response_model=ConversationOut,
    dependencies=[AUTHORIZED],
    summary="Reopen a closed or ignored conversation (409 while its author has another open)",
)
async def reopen_conversation(conversation_id: uuid.UUID, session: SessionDep) -> ConversationOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    await service.reopen(session, conversation, _now())
    return ConversationOut.model_validate(conversation)


def _reply_out(prepared: replying.PreparedReply, workflow_id: str | None) -> ReplyOut:
    return ReplyOut(
        **MessageOut.model_validate(prepared.message).model_dump(),
        rule=prepared.decision.reason,
        review=prepared.decision.review.value,
        workflow_id=workflow_id,
    )


@conversations_router.post(
    "/conversations/{conversation_id}/replies",
    response_model=ReplyOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Answer a conversation, with text or a saved reply: 403 when the engagement's mode "
    "does not let the caller answer, 409 when closed or ignored, 422 over the channel's limit; "
    "sent by SendReplyWorkflow, or held for the agency's review",
)
async def reply_to_conversation(
    conversation_id: uuid.UUID,
    body: ReplyCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    runs: ReplyRunsDep,
) -> ReplyOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    prepared = await replying.reply(session, principal, conversation, body, runs.prefix, _now())
    started = None if prepared.send is None else await runs.start(prepared.send)
    return _reply_out(prepared, started)


@conversations_router.post(
    "/conversations/{conversation_id}/replies/{reply_id}/approve",
    response_model=MessageOut,
    summary="Approve a reply waiting for review (the agency's roles): it is sent",
)
async def approve_reply(
    conversation_id: uuid.UUID,
    reply_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    runs: ReplyRunsDep,
) -> MessageOut:
    conversation = await service.require(session, conversation_id, for_update=True)
    message, send = await replying.approve(session, principal, conversation, reply_id, runs.prefix)
    await runs.start(send)
    return MessageOut.model_validate(message)


@conversations_router.get(
    "/saved-replies",
    response_model=list[SavedReplyOut],
    summary="An organisation's saved replies, by title; a Link header names the next page",
)
async def list_saved_replies(
    filters: Annotated[SavedReplyFilters, Query()],
    session: SessionDep,
    request: Request,
    response: Response,
) -> list[SavedReplyOut]:
    found = await repository.saved_replies(session, filters)
    held = page_of(found, repository.SAVED_REPLY_ORDER, filters, request, response)
    return [SavedReplyOut.model_validate(saved) for saved in held]


@conversations_router.post(
    "/saved-replies",
    response_model=SavedReplyOut,
    status_code=status.HTTP_201_CREATED,
    dependencies=[AUTHORIZED],
    summary="Save a reply for the organisation's inbox",
)
async def create_saved_reply(
    body: SavedReplyCreate, session: SessionDep, principal: CurrentPrincipal
) -> SavedReplyOut:
    saved = saved_replies.create_saved_reply(session, principal, body)
    await session.flush()
    await session.refresh(saved)
    return SavedReplyOut.model_validate(saved)


@conversations_router.put(
    "/saved-replies/{saved_reply_id}",
    response_model=SavedReplyOut,
    dependencies=[AUTHORIZED],
    summary="Change a saved reply",
)
async def update_saved_reply(
    saved_reply_id: uuid.UUID, body: SavedReplyBody, session: SessionDep
) -> SavedReplyOut:
    saved = await saved_replies.require_saved_reply(session, saved_reply_id)
    saved_replies.update_saved_reply(saved, body)
    return SavedReplyOut.model_validate(saved)


@conversations_router.delete(
    "/saved-replies/{saved_reply_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=[AUTHORIZED],
    summary="Delete a saved reply (replies already sent keep their text)",
)
async def delete_saved_reply(saved_reply_id: uuid.UUID, session: SessionDep) -> None:
    await session.delete(await saved_replies.require_saved_reply(session, saved_reply_id))


@conversations_router.get(
    "/engagements/{engagement_id}/inbox-settings",
    response_model=InboxSettingsOut,
    dependencies=[AUTHORIZED],
    summary="An engagement's first-response target and business hours (admin, manager)",
)
async def get_inbox_settings(engagement_id: uuid.UUID, session: SessionDep) -> InboxSettingsOut:
    organization_id = await engagements.require(session, engagement_id)
    body = await inbox_settings.engagement_settings(session, engagement_id)
    return InboxSettingsOut(
        **body.model_dump(), engagement_id=engagement_id, organization_id=organization_id
    )


@conversations_router.put(
    "/engagements/{engagement_id}/inbox-settings",
    response_model=InboxSettingsOut,
    dependencies=[AUTHORIZED],
    summary="Set an engagement's first-response target and business hours (admin, manager); "
    "conversations opened from now on follow them",
)
async def put_inbox_settings(
    engagement_id: uuid.UUID,
    body: InboxSettingsBody,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> InboxSettingsOut:
    organization_id = await inbox_settings.put_settings(
        session, principal, engagement_id, body, _now()
    )
    return InboxSettingsOut(
        **body.model_dump(), engagement_id=engagement_id, organization_id=organization_id
    )


@conversations_router.get(
    "/engagements/{engagement_id}/conversations/sla",
    response_model=SlaReport,
    summary="First-response and resolution times in business minutes: median, p90, the share "
    "answered within the SLA",
)
async def sla_report(engagement_id: uuid.UUID, session: SessionDep) -> SlaReport:
    await engagements.require(session, engagement_id, wait_seconds=0)
    figures = await repository.sla_figures(session, engagement_id)
    answered = figures["answered"]
    return SlaReport(
        engagement_id=engagement_id,
        conversations=figures["conversations"],
        answered=answered,
        median_first_response_minutes=figures["median_first_response"],
        p90_first_response_minutes=figures["p90_first_response"],
        share_within_sla=figures["within"] / answered if answered else None,
        median_resolution_minutes=figures["median_resolution"],
        breached=figures["breached"],
    )

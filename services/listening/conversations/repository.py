"""Queries of the conversations inbox. Every read goes through the session's organisation scope
(``shared.db.scoping``), so another organisation's rows are never found."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.conversations.schemas import InboxFilters, SavedReplyFilters
from services.listening.models import (
    Conversation,
    ConversationMessage,
    ConversationNote,
    EngagementMode,
    InboxSettings,
    Mention,
    SavedReply,
    Source,
)
from shared.paging import Keyset, paged

OPEN_STATES = ("open", "assigned", "answered")
# The inbox newest first, saved replies by title; the id breaks ties.
INBOX_ORDER = Keyset((Conversation.opened_at, Conversation.id), descending=True)
SAVED_REPLY_ORDER = Keyset((SavedReply.title, SavedReply.id))


async def conversation(
    session: AsyncSession, conversation_id: uuid.UUID, *, for_update: bool = False
) -> Conversation | None:
    query = select(Conversation).where(Conversation.id == conversation_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def open_thread(
    session: AsyncSession, engagement_id: uuid.UUID, source: str, author_handle: str
) -> Conversation | None:
    """The author's conversation on this source and engagement that is not closed nor ignored."""
    query = (
        select(Conversation)
        .where(
            Conversation.engagement_id == engagement_id,
            Conversation.source == source,
            Conversation.author_handle == author_handle,
            Conversation.state.in_(OPEN_STATES),
        )
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def messages(
    session: AsyncSession, conversation_id: uuid.UUID
) -> Sequence[ConversationMessage]:
    query = (
        select(ConversationMessage)
        .where(ConversationMessage.conversation_id == conversation_id)
        .order_by(ConversationMessage.created_at, ConversationMessage.id)
    )
    return (await session.execute(query)).scalars().all()


async def message(
    session: AsyncSession, message_id: uuid.UUID, *, for_update: bool = False
) -> ConversationMessage | None:
    query = select(ConversationMessage).where(ConversationMessage.id == message_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def latest_inbound(
    session: AsyncSession, conversation_id: uuid.UUID
) -> ConversationMessage | None:
    query = (
        select(ConversationMessage)
        .where(
            ConversationMessage.conversation_id == conversation_id,
            ConversationMessage.direction == "inbound",
        )
        .order_by(ConversationMessage.created_at.desc(), ConversationMessage.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def notes(session: AsyncSession, conversation_id: uuid.UUID) -> Sequence[ConversationNote]:
    query = (
        select(ConversationNote)
        .where(ConversationNote.conversation_id == conversation_id)
        .order_by(ConversationNote.created_at, ConversationNote.id)
    )
    return (await session.execute(query)).scalars().all()


async def inbox(
    session: AsyncSession, engagement_id: uuid.UUID, filters: InboxFilters
) -> Sequence[Conversation]:
    """A page of an engagement's conversations from after the cursor: one more than the page
    when more follow."""
    query = select(Conversation).where(Conversation.engagement_id == engagement_id)
    if filters.state is not None:
        query = query.where(Conversation.state == filters.state)
    if filters.category is not None:
        query = query.where(Conversation.category == filters.category.value)
    if filters.assignee is not None:
        query = query.where(
            (Conversation.assignee_subject == filters.assignee)
            | (Conversation.assignee_role == filters.assignee)
        )
    if filters.breached is not None:
        query = query.where(Conversation.sla_breached.is_(filters.breached))
    return (await session.execute(paged(query, INBOX_ORDER, filters))).scalars().all()


async def engagement_mode(session: AsyncSession, engagement_id: uuid.UUID) -> str | None:
    query = select(EngagementMode.mode).where(EngagementMode.engagement_id == engagement_id)
    return (await session.execute(query)).scalar_one_or_none()


async def inbox_settings(session: AsyncSession, engagement_id: uuid.UUID) -> InboxSettings | None:
    query = select(InboxSettings).where(InboxSettings.engagement_id == engagement_id)
    return (await session.execute(query)).scalar_one_or_none()


async def mentions(session: AsyncSession, mention_ids: Sequence[uuid.UUID]) -> Sequence[Mention]:
    query = select(Mention).where(Mention.id.in_(mention_ids)).order_by(Mention.published_at)
    return (await session.execute(query)).scalars().all()


async def sandbox_connection(session: AsyncSession, engagement_id: uuid.UUID) -> uuid.UUID | None:
    """The connection of the engagement's active sandbox source, the one its comments come from."""
    query = (
        select(Source.settings)
        .where(
            Source.engagement_id == engagement_id,
            Source.kind == "sandbox",
            Source.status != "stopped",
        )
        .order_by(Source.created_at.desc())
        .limit(1)
    )
    settings = (await session.execute(query)).scalar_one_or_none()
    if settings is None or "connection_id" not in settings:
        return None
    return uuid.UUID(str(settings["connection_id"]))


async def saved_reply(session: AsyncSession, saved_reply_id: uuid.UUID) -> SavedReply | None:
    query = select(SavedReply).where(SavedReply.id == saved_reply_id)
    return (await session.execute(query)).scalar_one_or_none()


async def saved_replies(session: AsyncSession, filters: SavedReplyFilters) -> Sequence[SavedReply]:
    """A page of saved replies from after the cursor: one more than the page when more
    follow."""
    query = select(SavedReply)
    if filters.organization_id is not None:
        query = query.where(SavedReply.organization_id == filters.organization_id)
    return (await session.execute(paged(query, SAVED_REPLY_ORDER, filters))).scalars().all()


async def sla_figures(session: AsyncSession, engagement_id: uuid.UUID) -> dict[str, Any]:
    """Counts and percentiles of an engagement's first-response and resolution times."""
    answered = Conversation.first_response_minutes.is_not(None)
    within = and_(answered, Conversation.first_response_at <= Conversation.first_response_due_at)
    query = select(
        func.count().label("conversations"),
        func.count().filter(answered).label("answered"),
        func.count().filter(within).label("within"),
        func.count().filter(Conversation.sla_breached).label("breached"),
        func.percentile_cont(0.5)
        .within_group(Conversation.first_response_minutes)
        .label("median_first_response"),
        func.percentile_cont(0.9)
        .within_group(Conversation.first_response_minutes)
        .label("p90_first_response"),
        func.percentile_cont(0.5)
        .within_group(Conversation.resolution_minutes)
        .label("median_resolution"),
    ).where(Conversation.engagement_id == engagement_id)
    return dict((await session.execute(query)).one()._mapping)

"""Listening's facts: its queries, the mentions it stored, and the inbox's conversations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import events as listening
from services.reporting.models import ConversationFact, MentionFact, QueryFact
from services.reporting.readmodel.bulk import insert_new
from services.reporting.readmodel.reading import read
from shared.events.envelope import CloudEvent

# The widths of the mentions' text columns: a longer value from a source is cut, not refused.
AUTHOR_CHARS = 200
CHANNEL_CHARS = 32


async def record_query(session: AsyncSession, event: CloudEvent) -> None:
    started = read(listening.QueryStarted, event)
    statement = insert(QueryFact).values(
        query_id=started.query_id,
        organization_id=started.organization_id,
        engagement_id=started.engagement_id,
        name=started.name,
        competitor=started.competitor,
    )
    await session.execute(statement.on_conflict_do_nothing(index_elements=[QueryFact.query_id]))


def _mention_rows(ingested: listening.MentionsIngested) -> list[dict[str, Any]]:
    """One row per mention and engagement it matched (a mention of no engagement has none)."""
    return [
        {
            "mention_id": item.mention_id,
            "engagement_id": engagement_id,
            "organization_id": ingested.organization_id,
            "published_at": item.published_at,
            "channel": item.channel[:CHANNEL_CHARS],
            "author": item.author[:AUTHOR_CHARS] if item.author else None,
            "sentiment": item.sentiment,
            "region_code": item.region_code,
            "region_name": item.region_name,
            "query_ids": item.query_ids,
        }
        for item in ingested.items
        for engagement_id in dict.fromkeys(item.engagement_ids)
    ]


async def record_mentions(session: AsyncSession, received: Sequence[CloudEvent]) -> None:
    """A fetch's mentions in one bulk insert; a mention is announced once, so one kept already
    is the same fact read again."""
    rows = [
        row for event in received for row in _mention_rows(read(listening.MentionsIngested, event))
    ]
    await insert_new(session, MentionFact, rows)


async def record_mention_batch(session: AsyncSession, event: CloudEvent) -> None:
    await record_mentions(session, [event])


async def _upsert_conversation(
    session: AsyncSession, fact: listening.ConversationFact, **moments: object
) -> None:
    """The conversation with what this fact tells; each moment is kept from the first fact
    that told it (the close: the latest), so the facts' order does not matter."""
    statement = insert(ConversationFact).values(
        conversation_id=fact.conversation_id,
        organization_id=fact.organization_id,
        engagement_id=fact.engagement_id,
        source=fact.source,
        category=fact.category,
        **moments,
    )
    new = statement.excluded
    first = {
        column: func.coalesce(getattr(ConversationFact, column), new[column])
        for column in (
            "opened_at",
            "due_at",
            "first_response_at",
            "response_minutes",
            "within_sla",
            "breached_at",
        )
    }
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[ConversationFact.conversation_id],
            set_={
                **first,
                # Triage may change it: the fact read last tells it.
                "category": new.category,
                "closed_at": func.greatest(ConversationFact.closed_at, new.closed_at),
            },
        )
    )


async def record_conversation_opened(session: AsyncSession, event: CloudEvent) -> None:
    opened = read(listening.ConversationOpened, event)
    await _upsert_conversation(session, opened, opened_at=opened.opened_at, due_at=opened.due_at)


async def record_first_response(session: AsyncSession, event: CloudEvent) -> None:
    answered = read(listening.ConversationFirstResponse, event)
    await _upsert_conversation(
        session,
        answered,
        first_response_at=answered.answered_at,
        response_minutes=answered.response_minutes,
        within_sla=answered.within_sla,
    )


async def record_sla_breached(session: AsyncSession, event: CloudEvent) -> None:
    breached = read(listening.ConversationSlaFact, event)
    await _upsert_conversation(session, breached, due_at=breached.due_at, breached_at=breached.at)


async def record_conversation_closed(session: AsyncSession, event: CloudEvent) -> None:
    closed = read(listening.ConversationClosed, event)
    await _upsert_conversation(session, closed, closed_at=closed.closed_at)

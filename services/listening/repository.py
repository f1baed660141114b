"""Queries of the listening service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, cast, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import REGCONFIG, insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.contracts import SourceKind
from services.listening.models import SEARCH_CONFIG, DeadLetter, ListeningQuery, Mention
from services.listening.schemas import MentionFilters

# Where a page starts: the (time, id) of the last row of the page before, newest first.
After = tuple[datetime, uuid.UUID]


async def list_queries(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    engagement_id: uuid.UUID | None,
    status: str | None,
) -> Sequence[ListeningQuery]:
    statement = select(ListeningQuery).order_by(ListeningQuery.created_at, ListeningQuery.id)
    if organization_id is not None:
        statement = statement.where(ListeningQuery.organization_id == organization_id)
    if engagement_id is not None:
        statement = statement.where(ListeningQuery.engagement_id == engagement_id)
    if status is not None:
        statement = statement.where(ListeningQuery.status == status)
    return (await session.scalars(statement)).all()


async def engagement_queries_for_update(
    session: AsyncSession, organization_id: uuid.UUID, engagement_id: uuid.UUID
) -> Sequence[ListeningQuery]:
    """Every query of the engagement, locked: a concurrent stop waits and then sees them
    stopped."""
    return (
        await session.scalars(
            select(ListeningQuery)
            .where(
                ListeningQuery.organization_id == organization_id,
                ListeningQuery.engagement_id == engagement_id,
            )
            .order_by(ListeningQuery.created_at, ListeningQuery.id)
            .with_for_update()
        )
    ).all()


async def active_queries(
    session: AsyncSession, organization_id: uuid.UUID
) -> Sequence[ListeningQuery]:
    return (
        await session.scalars(
            select(ListeningQuery)
            .where(
                ListeningQuery.organization_id == organization_id,
                ListeningQuery.status == "active",
            )
            .order_by(ListeningQuery.created_at, ListeningQuery.id)
        )
    ).all()


async def insert_mentions(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> Sequence[uuid.UUID]:
    """The ids of the mentions inserted: in one statement, skipping those the organisation
    has from that source already (also a second copy within ``rows``)."""
    if not rows:
        return []
    inserted = await session.execute(
        insert(Mention)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["organization_id", "source", "external_id"])
        .returning(Mention.id)
    )
    return inserted.scalars().all()


async def add_dead_letter(session: AsyncSession, letter: DeadLetter) -> None:
    session.add(letter)
    await session.flush()


def mention_conditions(
    engagement_id: uuid.UUID,
    *,
    query_id: uuid.UUID | None = None,
    source: SourceKind | None = None,
    language: str | None = None,
    sentiment: str | None = None,
    place: str | None = None,
    published_from: datetime | None = None,
    published_to: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Which of an engagement's mentions a filter keeps: for the mentions list and the
    analytics alike. ``place`` is a code at any level."""
    conditions: list[ColumnElement[bool]] = [Mention.engagement_ids.contains([engagement_id])]
    if query_id is not None:
        conditions.append(Mention.query_ids.contains([query_id]))
    if source is not None:
        conditions.append(Mention.source == source.value)
    if language is not None:
        conditions.append(Mention.language == language)
    if sentiment is not None:
        conditions.append(Mention.sentiment_label == sentiment)
    if place is not None:
        codes = (Mention.comune_code, Mention.province_code, Mention.region_code)
        conditions.append(
            or_(*(code == place for code in codes), Mention.country_code == place.upper())
        )
    if published_from is not None:
        conditions.append(Mention.published_at >= published_from)
    if published_to is not None:
        conditions.append(Mention.published_at < published_to)
    return conditions


async def list_mentions(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    filters: MentionFilters,
    after: After | None,
    limit: int,
) -> Sequence[Mention]:
    """An engagement's mentions, newest first (ties by id), from after ``after``."""
    statement = (
        select(Mention)
        .where(
            *mention_conditions(
                engagement_id,
                query_id=filters.query_id,
                source=filters.source,
                language=filters.language,
                sentiment=filters.sentiment,
                place=filters.place,
                published_from=filters.published_from,
                published_to=filters.published_to,
            )
        )
        .order_by(Mention.published_at.desc(), Mention.id.desc())
        .limit(limit)
    )
    if filters.q is not None:
        searched = func.websearch_to_tsquery(cast(SEARCH_CONFIG, REGCONFIG), filters.q)
        statement = statement.where(Mention.search.bool_op("@@")(searched))
    if after is not None:
        statement = statement.where(tuple_(Mention.published_at, Mention.id) < tuple_(*after))
    return (await session.scalars(statement)).all()


async def list_dead_letters(
    session: AsyncSession, organization_id: uuid.UUID | None, after: After | None, limit: int
) -> Sequence[DeadLetter]:
    statement = (
        select(DeadLetter).order_by(DeadLetter.created_at.desc(), DeadLetter.id.desc()).limit(limit)
    )
    if organization_id is not None:
        statement = statement.where(DeadLetter.organization_id == organization_id)
    if after is not None:
        statement = statement.where(tuple_(DeadLetter.created_at, DeadLetter.id) < tuple_(*after))
    return (await session.scalars(statement)).all()

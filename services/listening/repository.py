"""Queries of the listening service. Organisation scoping is applied by the session."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypeVar
from typing import cast as typed

from sqlalchemy import ColumnElement, Table, cast, func, or_, select, text
from sqlalchemy.dialects.postgresql import REGCONFIG
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening.contracts import SourceKind
from services.listening.models import SEARCH_CONFIG, DeadLetter, ListeningQuery, Mention, Source
from services.listening.schemas import DeadLetterFilters, MentionFilters, QueryFilters
from services.listening.sources.schemas import SourceFilters
from shared.paging import Keyset, paged

# Oldest first, as created; mentions and dead letters newest first. The id breaks ties.
QUERY_ORDER = Keyset((ListeningQuery.created_at, ListeningQuery.id))
MENTION_ORDER = Keyset((Mention.published_at, Mention.id), descending=True)
DEAD_LETTER_ORDER = Keyset((DeadLetter.created_at, DeadLetter.id), descending=True)


# What is listed by organisation, engagement and status: queries and sources.
Scoped = TypeVar("Scoped", ListeningQuery, Source)


async def page_by_scope(
    session: AsyncSession,
    model: type[Scoped],
    order: Keyset,
    filters: QueryFilters | SourceFilters,
) -> Sequence[Scoped]:
    """A page of ``model`` rows of the organisation, engagement and status the filters name
    (each when given), from after the cursor: one more than the page when more follow."""
    statement = select(model)
    if filters.organization_id is not None:
        statement = statement.where(model.organization_id == filters.organization_id)
    if filters.engagement_id is not None:
        statement = statement.where(model.engagement_id == filters.engagement_id)
    if filters.status is not None:
        statement = statement.where(model.status == filters.status)
    return (await session.scalars(paged(statement, order, filters))).all()


async def list_queries(session: AsyncSession, filters: QueryFilters) -> Sequence[ListeningQuery]:
    """A page of queries from after the cursor: one more than the page when more follow."""
    return await page_by_scope(session, ListeningQuery, QUERY_ORDER, filters)


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
    session: AsyncSession, organization_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[ListeningQuery]]:
    """Each organisation's active queries, oldest first, in one statement for all of them."""
    found: dict[uuid.UUID, list[ListeningQuery]] = {org: [] for org in organization_ids}
    queries = await session.scalars(
        select(ListeningQuery)
        .where(
            ListeningQuery.organization_id.in_(list(organization_ids)),
            ListeningQuery.status == "active",
        )
        .order_by(ListeningQuery.created_at, ListeningQuery.id)
    )
    for query in queries:
        found[query.organization_id].append(query)
    return found


# Every column ingestion writes, in the order of the staging table; the rest are computed.
MENTION_COLUMNS = tuple(
    column.name
    for column in Mention.__table__.columns
    if column.name not in {"search", "ingested_at"}
)
_COLUMN_LIST = ", ".join(MENTION_COLUMNS)
_MENTIONS = typed(Table, Mention.__table__).fullname
# A batch's rows are copied here first (one per connection, emptied at each commit).
_STAGING = "listening_mention_rows"
# Both statements are made of the names above only.
_CREATE_STAGING = text(
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "  # noqa: S608
    f"SELECT {_COLUMN_LIST} FROM {_MENTIONS} WITH NO DATA"
)
_INSERT_STAGED = (
    f"INSERT INTO {_MENTIONS} ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM {_STAGING} "  # noqa: S608
    "ON CONFLICT (organization_id, source, external_id) DO NOTHING RETURNING id"
)


async def insert_mentions(
    session: AsyncSession, rows: Sequence[Sequence[object]]
) -> set[uuid.UUID]:
    """The ids of the mentions inserted, skipping those the organisation has from that source
    already (also a second copy within ``rows``). Each row holds ``MENTION_COLUMNS`` in order.

    The rows are copied (binary COPY) into a temporary table and inserted from there in one
    statement: a multi-row INSERT of a batch would be thousands of parameters to compile and
    bind, past asyncpg's limit of 32,767 from about 900 rows on."""
    if not rows:
        return set()
    await session.execute(_CREATE_STAGING)
    connection = await (await session.connection()).get_raw_connection()
    driver = connection.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(_STAGING, records=rows, columns=MENTION_COLUMNS)
    inserted = await driver.fetch(_INSERT_STAGED)
    return {record["id"] for record in inserted}


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
    session: AsyncSession, engagement_id: uuid.UUID, filters: MentionFilters
) -> Sequence[Mention]:
    """A page of an engagement's mentions from after the cursor: one more than the page when
    more follow."""
    statement = select(Mention).where(
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
    if filters.q is not None:
        searched = func.websearch_to_tsquery(cast(SEARCH_CONFIG, REGCONFIG), filters.q)
        statement = statement.where(Mention.search.bool_op("@@")(searched))
    return (await session.scalars(paged(statement, MENTION_ORDER, filters))).all()


async def list_dead_letters(
    session: AsyncSession, filters: DeadLetterFilters
) -> Sequence[DeadLetter]:
    statement = select(DeadLetter)
    if filters.organization_id is not None:
        statement = statement.where(DeadLetter.organization_id == filters.organization_id)
    return (await session.scalars(paged(statement, DEAD_LETTER_ORDER, filters))).all()

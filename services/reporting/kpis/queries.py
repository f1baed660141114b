"""The SQL aggregations behind an engagement's KPIs, over the reporting read model.

Each function is one statement that PostgreSQL filters, groups and counts; only aggregates come
back (a row per channel, day, region, author or query, and the few top and bottom posts), so a
six-month engagement's hundreds of thousands of mentions never leave the database. Every
statement names the organisation and the engagement, so it uses their indexes whatever the
session's scope adds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Float,
    and_,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from services.reporting.models import (
    AccountMetricsFact,
    ContestEntryFact,
    ConversationFact,
    EngagementFact,
    MentionFact,
    ObjectivesFact,
    OrganizationFact,
    PostFact,
    PostMetricsFact,
    QueryFact,
)

SENTIMENT_LABELS = ("positive", "neutral", "negative", "mixed")
# How many posts each end of the ranking shows, and how many authors.
RANKED_POSTS = 5
TOP_AUTHORS = 10


@dataclass(frozen=True)
class Slice:
    """Which facts a figure counts: one engagement of one organisation, instants in
    ``[starts_at, ends_at)``, and one channel or all of them."""

    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    channel: str | None = None


def _within(column: Any, where: Slice) -> ColumnElement[bool]:
    return and_(column >= where.starts_at, column < where.ends_at)


def _on_channel(column: Any, where: Slice) -> list[ColumnElement[bool]]:
    return [] if where.channel is None else [column == where.channel]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


# --- the engagement's context -------------------------------------------------------------------


@dataclass(frozen=True)
class EngagementContext:
    """What the figures need to know of the engagement besides its facts."""

    timezone: str | None
    starts_on: date | None
    objectives: dict[str, Any] | None
    objectives_approved_at: datetime | None


async def engagement_context(
    session: AsyncSession, organization_id: uuid.UUID, engagement_id: uuid.UUID
) -> EngagementContext:
    row = (
        await session.execute(
            select(
                select(OrganizationFact.timezone)
                .where(OrganizationFact.organization_id == organization_id)
                .scalar_subquery()
                .label("timezone"),
                select(EngagementFact.starts_on)
                .where(EngagementFact.engagement_id == engagement_id)
                .scalar_subquery()
                .label("starts_on"),
            )
        )
    ).one()
    objectives = (
        await session.execute(
            select(ObjectivesFact.body, ObjectivesFact.approved_at).where(
                ObjectivesFact.engagement_id == engagement_id
            )
        )
    ).one_or_none()
    return EngagementContext(
        timezone=row.timezone,
        starts_on=row.starts_on,
        objectives=objectives.body if objectives else None,
        objectives_approved_at=objectives.approved_at if objectives else None,
    )


# --- publishing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelPosts:
    channel: str
    planned: int
    published: int
    failed: int
    on_time: int
    reach: int
    impressions: int
    engagements: int


@dataclass(frozen=True)
class RankedPost:
    publication_id: uuid.UUID
    channel: str
    published_at: datetime
    url: str | None
    reach: int
    impressions: int
    engagements: int
    # 1 for the best post, and for the worst.
    best: int
    worst: int


def _latest_sample(where: Slice) -> Any:
    """Each post's latest sample collected before the period's end (a LATERAL subquery on the
    samples' primary key), its missing figures counted as 0."""
    engagements = (
        func.coalesce(PostMetricsFact.likes, 0)
        + func.coalesce(PostMetricsFact.comments, 0)
        + func.coalesce(PostMetricsFact.shares, 0)
        + func.coalesce(PostMetricsFact.saves, 0)
    )
    return (
        select(
            func.coalesce(PostMetricsFact.reach, 0).label("reach"),
            func.coalesce(PostMetricsFact.impressions, 0).label("impressions"),
            engagements.label("engagements"),
        )
        .where(
            PostMetricsFact.publication_id == PostFact.publication_id,
            PostMetricsFact.collected_at < where.ends_at,
        )
        .order_by(PostMetricsFact.collected_at.desc())
        .limit(1)
        .lateral("latest")
    )


def _posts_of(where: Slice) -> list[ColumnElement[bool]]:
    return [
        PostFact.organization_id == where.organization_id,
        PostFact.engagement_id == where.engagement_id,
        *_on_channel(PostFact.channel, where),
    ]


async def channel_posts(
    session: AsyncSession, where: Slice, on_time_minutes: int
) -> list[ChannelPosts]:
    """Per channel: posts due, published and failed in the period, those published on time,
    and the figures of those published."""
    published = _within(PostFact.published_at, where)
    failed = and_(PostFact.status == "failed", _within(PostFact.failed_at, where))
    due = _within(PostFact.due_at, where)
    on_time = and_(
        published, PostFact.published_at <= PostFact.due_at + timedelta(minutes=on_time_minutes)
    )
    latest = _latest_sample(where)

    def published_sum(column: Any) -> ColumnElement[int]:
        return func.coalesce(func.sum(column).filter(published), 0).cast(BigInteger)

    rows = await session.execute(
        select(
            PostFact.channel,
            _count_if(due).label("planned"),
            _count_if(published).label("published"),
            _count_if(failed).label("failed"),
            _count_if(on_time).label("on_time"),
            published_sum(latest.c.reach).label("reach"),
            published_sum(latest.c.impressions).label("impressions"),
            published_sum(latest.c.engagements).label("engagements"),
        )
        .select_from(PostFact)
        .outerjoin(latest, true())
        .where(*_posts_of(where), or_(due, published, failed))
        .group_by(PostFact.channel)
        .order_by(PostFact.channel)
    )
    return [ChannelPosts(**row) for row in rows.mappings()]


async def ranked_posts(session: AsyncSession, where: Slice) -> list[RankedPost]:
    """The posts published in the period with the most and the fewest engagements (then
    reach): the first and last ``RANKED_POSTS`` of the ranking, each with its rank from both
    ends."""
    latest = _latest_sample(where)
    reach = func.coalesce(latest.c.reach, 0)
    engagements = func.coalesce(latest.c.engagements, 0)
    figures = (
        select(
            PostFact.publication_id,
            PostFact.channel,
            PostFact.published_at,
            PostFact.url,
            reach.label("reach"),
            func.coalesce(latest.c.impressions, 0).label("impressions"),
            engagements.label("engagements"),
            func.row_number()
            .over(order_by=(engagements.desc(), reach.desc(), PostFact.publication_id))
            .label("best"),
            func.row_number()
            .over(order_by=(engagements.asc(), reach.asc(), PostFact.publication_id))
            .label("worst"),
        )
        .select_from(PostFact)
        .outerjoin(latest, true())
        .where(*_posts_of(where), _within(PostFact.published_at, where))
        .subquery()
    )
    rows = await session.execute(
        select(figures)
        .where(or_(figures.c.best <= RANKED_POSTS, figures.c.worst <= RANKED_POSTS))
        .order_by(figures.c.best)
    )
    return [RankedPost(**row) for row in rows.mappings()]


async def followers_at(session: AsyncSession, where: Slice, at: datetime) -> int | None:
    """The organisation's followers (on the slice's channel) at ``at``: the sum of each
    account's latest sample before it that has a figure; None when no account has one."""
    latest = (
        select(AccountMetricsFact.followers)
        .where(
            AccountMetricsFact.organization_id == where.organization_id,
            *_on_channel(AccountMetricsFact.channel, where),
            AccountMetricsFact.collected_at < at,
            AccountMetricsFact.followers.is_not(None),
        )
        .ext(distinct_on(AccountMetricsFact.connection_id))
        .order_by(AccountMetricsFact.connection_id, AccountMetricsFact.collected_at.desc())
        .subquery()
    )
    accounts, followers = (
        await session.execute(select(func.count(), func.sum(latest.c.followers)))
    ).one()
    return int(followers) if accounts else None


# --- listening ----------------------------------------------------------------------------------


def _mentions_of(where: Slice) -> list[ColumnElement[bool]]:
    return [
        MentionFact.organization_id == where.organization_id,
        MentionFact.engagement_id == where.engagement_id,
        _within(MentionFact.published_at, where),
        *_on_channel(MentionFact.channel, where),
    ]


def _sentiment_counts(label: InstrumentedAttribute[str | None]) -> list[ColumnElement[int]]:
    return [
        func.count().label("mentions"),
        *(_count_if(label == name).label(name) for name in SENTIMENT_LABELS),
        _count_if(label.is_(None)).label("unlabelled"),
    ]


@dataclass(frozen=True)
class DayMentions:
    day: date
    mentions: int
    positive: int
    neutral: int
    negative: int
    mixed: int
    unlabelled: int


async def mentions_by_day(session: AsyncSession, where: Slice, timezone: str) -> list[DayMentions]:
    """Mentions per day of ``timezone`` with any (the days without are not rows), by
    sentiment, in no order: sorting by day makes PostgreSQL sort every mention (it cannot
    tell there are only a few hundred days) instead of hashing them, twice as slow."""
    day = func.date(func.timezone(timezone, MentionFact.published_at)).label("day")
    rows = await session.execute(
        select(day, *_sentiment_counts(MentionFact.sentiment))
        .where(*_mentions_of(where))
        .group_by(day)
    )
    return [DayMentions(**row) for row in rows.mappings()]


@dataclass(frozen=True)
class RegionMentions:
    region_code: str
    region_name: str | None
    mentions: int


async def mentions_by_region(session: AsyncSession, where: Slice) -> list[RegionMentions]:
    """Mentions per region with any, the most first (placed mentions only)."""
    mentions = func.count().label("mentions")
    rows = await session.execute(
        select(
            MentionFact.region_code,
            func.max(MentionFact.region_name).label("region_name"),
            mentions,
        )
        .where(*_mentions_of(where), MentionFact.region_code.is_not(None))
        .group_by(MentionFact.region_code)
        .order_by(mentions.desc(), MentionFact.region_code)
    )
    return [RegionMentions(**row) for row in rows.mappings()]


async def top_authors(session: AsyncSession, where: Slice) -> list[tuple[str, int]]:
    """The ``TOP_AUTHORS`` authors with most mentions (then by name)."""
    mentions = func.count().label("mentions")
    rows = await session.execute(
        select(MentionFact.author, mentions)
        .where(*_mentions_of(where), MentionFact.author.is_not(None))
        .group_by(MentionFact.author)
        .order_by(mentions.desc(), MentionFact.author)
        .limit(TOP_AUTHORS)
    )
    return [(author or "", count) for author, count in rows]


@dataclass(frozen=True)
class QueryMentions:
    query_id: uuid.UUID
    name: str
    competitor: bool
    mentions: int


async def mentions_by_query(session: AsyncSession, where: Slice) -> list[QueryMentions]:
    """Each of the engagement's queries with the period's mentions it matched (0 for none)."""
    matched = (
        select(func.unnest(MentionFact.query_ids).label("query_id"))
        .where(*_mentions_of(where))
        .subquery()
    )
    counts = (
        select(matched.c.query_id, func.count().label("mentions"))
        .group_by(matched.c.query_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            QueryFact.query_id,
            QueryFact.name,
            QueryFact.competitor,
            func.coalesce(counts.c.mentions, 0).label("mentions"),
        )
        .outerjoin(counts, counts.c.query_id == QueryFact.query_id)
        .where(
            QueryFact.organization_id == where.organization_id,
            QueryFact.engagement_id == where.engagement_id,
        )
        .order_by(QueryFact.competitor, QueryFact.name, QueryFact.query_id)
    )
    return [QueryMentions(**row) for row in rows.mappings()]


# --- conversations and contests -----------------------------------------------------------------


@dataclass(frozen=True)
class ConversationFigures:
    opened: int
    answered: int
    median_minutes: float | None
    p90_minutes: float | None
    within_sla: int
    open_backlog: int


async def conversation_figures(session: AsyncSession, where: Slice) -> ConversationFigures:
    answered = _within(ConversationFact.first_response_at, where)
    minutes = ConversationFact.response_minutes

    def answered_percentile(fraction: float) -> ColumnElement[float]:
        return (
            func.percentile_cont(literal(fraction, Float))
            .within_group(minutes)
            .filter(answered)
            .cast(Float)
        )

    not_by_end = or_(
        ConversationFact.first_response_at.is_(None),
        ConversationFact.first_response_at >= where.ends_at,
    )
    open_at_end = or_(
        ConversationFact.closed_at.is_(None), ConversationFact.closed_at >= where.ends_at
    )
    row = (
        await session.execute(
            select(
                _count_if(_within(ConversationFact.opened_at, where)).label("opened"),
                _count_if(answered).label("answered"),
                answered_percentile(0.5).label("median_minutes"),
                answered_percentile(0.9).label("p90_minutes"),
                _count_if(and_(answered, ConversationFact.within_sla.is_(True))).label(
                    "within_sla"
                ),
                _count_if(and_(not_by_end, open_at_end)).label("open_backlog"),
            ).where(
                ConversationFact.organization_id == where.organization_id,
                ConversationFact.engagement_id == where.engagement_id,
                ConversationFact.opened_at < where.ends_at,
                *_on_channel(ConversationFact.source, where),
            )
        )
    ).one()
    return ConversationFigures(**row._mapping)


@dataclass(frozen=True)
class ContestFigures:
    contests: int
    entries: int
    valid_entries: int
    winners: int


async def contest_figures(session: AsyncSession, where: Slice) -> ContestFigures:
    recorded = _within(ContestEntryFact.recorded_at, where)
    row = (
        await session.execute(
            select(
                func.count(ContestEntryFact.contest_id.distinct())
                .filter(recorded)
                .label("contests"),
                _count_if(recorded).label("entries"),
                _count_if(and_(recorded, ContestEntryFact.accepted)).label("valid_entries"),
                # A winner who let the claim window pass forfeited: the reserve who took the
                # place counts instead.
                _count_if(
                    and_(
                        _within(ContestEntryFact.won_at, where),
                        ContestEntryFact.unclaimed_at.is_(None),
                    )
                ).label("winners"),
            ).where(
                ContestEntryFact.organization_id == where.organization_id,
                ContestEntryFact.engagement_id == where.engagement_id,
                or_(recorded, _within(ContestEntryFact.won_at, where)),
                *_on_channel(ContestEntryFact.platform, where),
            )
        )
    ).one()
    return ContestFigures(**row._mapping)

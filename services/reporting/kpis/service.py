"""An engagement's KPIs over one period: the figures ``queries`` aggregates, put together as
``EngagementKpis`` with the objectives judged against them (definitions: ``docs/reporting.md``).

Callers: the KPI routes, and the report activities, which open a session of their own with
``session_scope(sessions, SYSTEM)`` and call ``engagement_kpis`` inside it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from services.reporting.kpis import objectives as targets
from services.reporting.kpis import queries
from services.reporting.kpis.queries import EngagementContext, RankedPost, Slice
from services.reporting.kpis.schemas import (
    AuthorCount,
    ChannelPublishing,
    ContestKpis,
    ConversationKpis,
    DayVolume,
    EngagementKpis,
    ListeningKpis,
    ObjectiveStatus,
    Period,
    PlaceCount,
    PostFigures,
    PublishingKpis,
    SentimentShare,
    VoiceShare,
)
from services.reporting.models import engagements
from shared.errors import FieldError, validation_problem

log = logging.getLogger(__name__)

# A post published up to this long after it was due is on time.
ON_TIME_MINUTES = 15
# The organisation's time zone when strategy has not said it (or said one unknown here).
DEFAULT_TIMEZONE = "Europe/Rome"
# The period asked for when the caller gives no ``from``: ending at ``to``.
DEFAULT_PERIOD = timedelta(days=30)
# Shares keep four decimals (0.1234 is 12.34 %); net sentiment, from -100 to 100, two.
RATIO_DIGITS = 4
NET_SENTIMENT_DIGITS = 2

SectionFigures = TypeVar("SectionFigures", bound=BaseModel)


def requested_period(
    since: datetime | None, until: datetime | None, max_days: int, now: datetime
) -> Period:
    """The period a request names (``to`` defaults to now, ``from`` to 30 days before it): a
    422 when ``to`` is not after ``from`` or the period is longer than ``max_days``."""
    ends_at = until or now
    starts_at = since or ends_at - DEFAULT_PERIOD
    if ends_at <= starts_at:
        raise validation_problem(
            [FieldError(field="query.to", message="must be after from", type="period")]
        )
    if ends_at - starts_at > timedelta(days=max_days):
        raise validation_problem(
            [
                FieldError(
                    field="query.from",
                    message=f"the period is longer than {max_days} days",
                    type="period_too_long",
                )
            ]
        )
    return Period(starts_at=starts_at, ends_at=ends_at)


def preceding(period: Period) -> Period:
    """The period of the same length that ends where ``period`` starts."""
    return Period(
        starts_at=period.starts_at - (period.ends_at - period.starts_at),
        ends_at=period.starts_at,
    )


async def engagement_kpis(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    period: Period,
    channel: str | None = None,
    compare: bool = False,
) -> EngagementKpis:
    """The KPIs of an engagement the session's caller may see (else 404) over ``period``, for
    one channel or all; with the previous period's beside them when ``compare``."""
    organization_id = await engagements.require(session, engagement_id)
    context = await queries.engagement_context(session, organization_id, engagement_id)
    figures = _EngagementFigures(session, organization_id, engagement_id, _timezone(context))
    kpis = await figures.kpis(period, channel)
    kpis.objectives = await _objectives(figures, context, period)
    if compare:
        kpis.previous = await figures.kpis(preceding(period), channel)
    return kpis


def _timezone(context: EngagementContext) -> str:
    if context.timezone:
        try:
            ZoneInfo(context.timezone)
            return context.timezone
        except (ZoneInfoNotFoundError, ValueError):
            log.warning(
                "unknown organisation time zone %r: %s used", context.timezone, DEFAULT_TIMEZONE
            )
    return DEFAULT_TIMEZONE


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, RATIO_DIGITS) if denominator else None


class _Once(Generic[SectionFigures]):
    """One section's figures per period and channel, computed when first asked for."""

    def __init__(
        self,
        slice_of: Callable[[Period, str | None], Slice],
        compute: Callable[[Slice], Awaitable[SectionFigures]],
    ) -> None:
        self._slice_of = slice_of
        self._compute = compute
        self._computed: dict[tuple[datetime, datetime, str | None], SectionFigures] = {}

    async def __call__(self, period: Period, channel: str | None) -> SectionFigures:
        key = (period.starts_at, period.ends_at, channel)
        if key not in self._computed:
            self._computed[key] = await self._compute(self._slice_of(period, channel))
        return self._computed[key]


class _EngagementFigures:
    """One engagement's sections of figures for any period and channel, each computed once
    (objectives on other channels, and the previous period, reuse what is already there)."""

    def __init__(
        self,
        session: AsyncSession,
        organization_id: uuid.UUID,
        engagement_id: uuid.UUID,
        timezone: str,
    ) -> None:
        self.session = session
        self.organization_id = organization_id
        self.engagement_id = engagement_id
        self.timezone = timezone
        self.publishing = _Once(self._slice, self._publishing)
        self.listening = _Once(self._slice, self._listening)
        self.conversations = _Once(self._slice, self._conversations)
        self.contests = _Once(self._slice, self._contests)

    def _slice(self, period: Period, channel: str | None) -> Slice:
        return Slice(
            self.organization_id, self.engagement_id, period.starts_at, period.ends_at, channel
        )

    async def section(
        self, name: targets.Section, period: Period, channel: str | None
    ) -> BaseModel:
        sections: dict[targets.Section, _Once[Any]] = {
            "publishing": self.publishing,
            "listening": self.listening,
            "conversations": self.conversations,
            "contests": self.contests,
        }
        found: BaseModel = await sections[name](period, channel)
        return found

    async def kpis(self, period: Period, channel: str | None) -> EngagementKpis:
        return EngagementKpis(
            engagement_id=self.engagement_id,
            organization_id=self.organization_id,
            period=period,
            channel=channel,
            computed_at=datetime.now(UTC),
            publishing=await self.publishing(period, channel),
            listening=await self.listening(period, channel),
            conversations=await self.conversations(period, channel),
            contests=await self.contests(period, channel),
        )

    async def _publishing(self, where: Slice) -> PublishingKpis:
        channels = await queries.channel_posts(self.session, where, ON_TIME_MINUTES)
        ranked = await queries.ranked_posts(self.session, where)
        followers = await queries.followers_at(self.session, where, where.ends_at)
        followers_before = await queries.followers_at(self.session, where, where.starts_at)
        published = sum(row.published for row in channels)
        on_time = sum(row.on_time for row in channels)
        reach = sum(row.reach for row in channels)
        engagements_total = sum(row.engagements for row in channels)
        return PublishingKpis(
            planned=sum(row.planned for row in channels),
            published=published,
            failed=sum(row.failed for row in channels),
            on_time=on_time,
            on_time_share=_ratio(on_time, published),
            on_time_minutes=ON_TIME_MINUTES,
            reach=reach,
            impressions=sum(row.impressions for row in channels),
            engagements=engagements_total,
            engagement_rate=_ratio(engagements_total, reach),
            followers=followers,
            follower_growth=(
                followers - followers_before
                if followers is not None and followers_before is not None
                else None
            ),
            by_channel=[
                ChannelPublishing(
                    channel=row.channel,
                    planned=row.planned,
                    published=row.published,
                    failed=row.failed,
                    reach=row.reach,
                    impressions=row.impressions,
                    engagements=row.engagements,
                    engagement_rate=_ratio(row.engagements, row.reach),
                )
                for row in channels
            ],
            top_posts=[_post(row) for row in ranked if row.best <= queries.RANKED_POSTS],
            bottom_posts=[
                _post(row)
                for row in sorted(ranked, key=lambda row: row.worst)
                if row.worst <= queries.RANKED_POSTS
            ],
        )

    async def _listening(self, where: Slice) -> ListeningKpis:
        days = await queries.mentions_by_day(self.session, where, self.timezone)
        queried = await queries.mentions_by_query(self.session, where)
        regions = await queries.mentions_by_region(self.session, where)
        authors = await queries.top_authors(self.session, where)
        sentiment = SentimentShare(
            positive=sum(day.positive for day in days),
            neutral=sum(day.neutral for day in days),
            negative=sum(day.negative for day in days),
            mixed=sum(day.mixed for day in days),
            unlabelled=sum(day.unlabelled for day in days),
        )
        labelled = sentiment.positive + sentiment.neutral + sentiment.negative + sentiment.mixed
        net = _ratio(sentiment.positive - sentiment.negative, labelled)
        matched = sum(query.mentions for query in queried)
        own = sum(query.mentions for query in queried if not query.competitor)
        return ListeningKpis(
            mentions=sum(day.mentions for day in days),
            sentiment=sentiment,
            net_sentiment=None if net is None else round(net * 100, NET_SENTIMENT_DIGITS),
            own_share_of_voice=_ratio(own, matched),
            share_of_voice=[
                VoiceShare(
                    query_id=query.query_id,
                    name=query.name,
                    competitor=query.competitor,
                    mentions=query.mentions,
                    share=_ratio(query.mentions, matched),
                )
                for query in queried
            ],
            places=[
                PlaceCount(
                    region_code=region.region_code,
                    region_name=region.region_name or region.region_code,
                    mentions=region.mentions,
                )
                for region in regions
            ],
            top_authors=[AuthorCount(author=author, mentions=count) for author, count in authors],
            volume=_every_day(days, where, self.timezone),
        )

    async def _conversations(self, where: Slice) -> ConversationKpis:
        found = await queries.conversation_figures(self.session, where)
        return ConversationKpis(
            opened=found.opened,
            answered=found.answered,
            first_response_median_minutes=found.median_minutes,
            first_response_p90_minutes=found.p90_minutes,
            within_sla=found.within_sla,
            within_sla_share=_ratio(found.within_sla, found.answered),
            open_backlog=found.open_backlog,
        )

    async def _contests(self, where: Slice) -> ContestKpis:
        found = await queries.contest_figures(self.session, where)
        return ContestKpis(
            contests=found.contests,
            entries=found.entries,
            valid_entries=found.valid_entries,
            winners=found.winners,
        )


def _post(row: RankedPost) -> PostFigures:
    return PostFigures(
        publication_id=row.publication_id,
        channel=row.channel,
        published_at=row.published_at,
        url=row.url,
        reach=row.reach,
        impressions=row.impressions,
        engagements=row.engagements,
        engagement_rate=_ratio(row.engagements, row.reach),
    )


def _every_day(days: list[queries.DayMentions], where: Slice, timezone: str) -> list[DayVolume]:
    """A row for each day the period touches in ``timezone``, those without mentions at 0."""
    zone = ZoneInfo(timezone)
    first = where.starts_at.astimezone(zone).date()
    last = (where.ends_at - timedelta(microseconds=1)).astimezone(zone).date()
    counted = {day.day: day for day in days}
    volume = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        found = counted.get(day)
        volume.append(
            DayVolume(
                day=day,
                mentions=found.mentions if found else 0,
                positive=found.positive if found else 0,
                neutral=found.neutral if found else 0,
                negative=found.negative if found else 0,
                mixed=found.mixed if found else 0,
                unlabelled=found.unlabelled if found else 0,
            )
        )
    return volume


async def _objectives(
    figures: _EngagementFigures, context: EngagementContext, period: Period
) -> list[ObjectiveStatus]:
    """Every KPI target of the approved objectives, each measured on its own channel (all of
    them when it names none), whatever channel the KPIs were asked for."""
    previous_period = preceding(period)
    starts_on = _engagement_start(context, period, figures.timezone)
    statuses = []
    for objective in targets.objective_targets(context.objectives):
        for kpi in objective.kpis:
            actual = await _measured(figures, kpi, period)
            previous = await _measured(figures, kpi, previous_period)
            due = targets.deadline(kpi, starts_on)
            statuses.append(
                ObjectiveStatus(
                    objective_id=objective.id,
                    objective_title=objective.title,
                    metric=kpi.metric,
                    channel=kpi.channel,
                    comparator=kpi.comparator,
                    target=kpi.target,
                    unit=kpi.unit,
                    deadline=due,
                    actual=actual,
                    previous=previous,
                    trend=targets.trend(actual, previous),
                    status=targets.status(
                        kpi, actual, targets.deadline_reached(period.ends_at, due, figures.timezone)
                    ),
                )
            )
    return statuses


async def _measured(
    figures: _EngagementFigures, kpi: targets.KpiTarget, period: Period
) -> float | None:
    """The KPI's metric over ``period`` in the target's unit; None for a metric unknown here."""
    metric = targets.METRICS.get(kpi.metric)
    if metric is None:
        return None
    section = await figures.section(metric.section, period, kpi.channel)
    return targets.in_unit(metric, getattr(section, metric.field), kpi.unit)


def _engagement_start(context: EngagementContext, period: Period, timezone: str) -> date:
    """The engagement's first day (``by_month`` counts from it); until strategy's fact about it
    arrives, the day its objectives were approved, else the period's first day."""
    if context.starts_on is not None:
        return context.starts_on
    known = context.objectives_approved_at or period.starts_at
    return known.astimezone(ZoneInfo(timezone)).date()

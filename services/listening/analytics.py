"""Figures over an engagement's mentions: volume in time buckets, top authors and places, the
counts per place behind the map and its picture.

PostgreSQL counts and groups; only the aggregates (a row per bucket, author or place) come back.
Net sentiment is (positive - negative) / labelled, where labelled counts every mention with a
label (positive, neutral, negative, mixed); mentions the model does not read are "unlabelled".
"""

from __future__ import annotations

import asyncio
import bisect
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, DateTime, RowMapping, bindparam, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from services.listening import repository
from services.listening.mentions import check_period
from services.listening.models import Mention, engagements
from services.listening.places.choropleth import Choropleth, render_choropleth
from services.listening.places.gazetteer import gazetteer
from services.listening.places.geojson import place_feature_collection
from services.listening.places.model import Level
from services.listening.schemas import (
    MAX_BUCKETS,
    AnalyticsFilters,
    AuthorRank,
    Interval,
    MapFilters,
    MapPictureFilters,
    PlaceRank,
    PlaceRankFilters,
    RankFilters,
    SentimentCounts,
    VolumeBucket,
    VolumeFilters,
    VolumeOut,
)
from shared.errors import FieldError, validation_problem

LABELS = ("positive", "neutral", "negative", "mixed")
# The period a volume counts when the caller gives no ``since``: ending at ``until``.
DEFAULT_SPAN: dict[Interval, timedelta] = {
    "hour": timedelta(days=2),
    "day": timedelta(days=30),
    "week": timedelta(weeks=26),
}
HOUR = timedelta(hours=1)
PLACE_COLUMNS: dict[Level, tuple[Any, Any]] = {
    "comune": (Mention.comune_code, Mention.comune_name),
    "province": (Mention.province_code, Mention.province_name),
    "region": (Mention.region_code, Mention.region_name),
    "country": (Mention.country_code, Mention.country_name),
}


def net_sentiment(positive: int, negative: int, labelled: int) -> float | None:
    return round((positive - negative) / labelled, 4) if labelled else None


def sentiment_counts(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The counts of an aggregate row (``count``, each label, ``unlabelled``) and their net."""
    counts = {name: int(row[name]) for name in ("count", *LABELS, "unlabelled")}
    labelled = sum(counts[label] for label in LABELS)
    return {
        **counts,
        "net_sentiment": net_sentiment(counts["positive"], counts["negative"], labelled),
    }


def _sentiment_aggregates(label: Any) -> list[ColumnElement[int]]:
    return [
        func.count().label("count"),
        *(func.count().filter(label == name).label(name) for name in LABELS),
        func.count().filter(label.is_(None)).label("unlabelled"),
    ]


async def _conditions(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    filters: AnalyticsFilters,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    """The filters' conditions on an engagement the caller may see (else 404); the
    organisation is named as well, so the counts use its index whatever the scope."""
    organization_id = await engagements.require(session, engagement_id)
    return [
        Mention.organization_id == organization_id,
        *repository.mention_conditions(
            engagement_id,
            query_id=filters.query_id,
            source=filters.source,
            language=filters.language,
            sentiment=filters.sentiment,
            place=filters.place,
            published_from=since,
            published_to=until,
        ),
    ]


def _checked_period(filters: AnalyticsFilters) -> None:
    check_period(filters.since, filters.until, field="query.to", after="from")


# Volume


@dataclass(frozen=True)
class Buckets:
    """The buckets of a period: their starts, oldest first, and the end of the last."""

    starts: list[datetime]
    end: datetime

    def index(self, at: datetime) -> int:
        """The bucket ``at`` falls in."""
        return max(0, bisect.bisect_right(self.starts, at) - 1)

    def ends(self) -> list[datetime]:
        return [*self.starts[1:], self.end]


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _stepper(
    interval: Interval, zone: ZoneInfo, local_since: datetime
) -> Callable[[int], datetime]:
    """The start of the k-th bucket from the one ``local_since`` falls in."""
    if interval == "hour":
        first = local_since.replace(minute=0, second=0, microsecond=0).astimezone(UTC)

        def hour(k: int) -> datetime:
            return first + k * HOUR

        return hour
    days = 1 if interval == "day" else 7
    first_day = local_since.date()
    if interval == "week":
        first_day -= timedelta(days=first_day.weekday())

    def midnight(k: int) -> datetime:
        return _local_midnight(first_day + timedelta(days=k * days), zone)

    return midnight


def bucket_grid(interval: Interval, zone: ZoneInfo, since: datetime, until: datetime) -> Buckets:
    """Every bucket from the one ``since`` falls in to the one just before ``until``: hours
    of the zone, or days from its midnight, or weeks from its Monday midnight. A 422 past
    ``MAX_BUCKETS``."""
    step = _stepper(interval, zone, since.astimezone(zone))
    starts: list[datetime] = []
    while (start := step(len(starts))) < until:
        if len(starts) == MAX_BUCKETS:
            raise validation_problem(
                [
                    FieldError(
                        field="query.from",
                        message=f"the period holds more than {MAX_BUCKETS} {interval}s: "
                        "shorten it or choose a longer interval",
                        type="too_many_buckets",
                    )
                ]
            )
        starts.append(start)
    return Buckets(starts, step(len(starts)))


def _bucket_of(interval: Interval, tz: str, origin: datetime) -> ColumnElement[datetime]:
    """A mention's bucket start, in SQL: as ``bucket_grid`` draws them."""
    if interval == "hour":
        return func.date_bin(
            bindparam("bucket_width", HOUR),
            Mention.published_at,
            bindparam("bucket_origin", origin, type_=DateTime(timezone=True)),
            type_=DateTime(timezone=True),
        )
    return func.date_trunc(interval, Mention.published_at, tz, type_=DateTime(timezone=True))


async def volume(
    session: AsyncSession, engagement_id: uuid.UUID, filters: VolumeFilters, now: datetime
) -> VolumeOut:
    until = filters.until or now
    since = filters.since or until - DEFAULT_SPAN[filters.interval]
    check_period(since, until, field="query.to", after="from")
    zone = ZoneInfo(filters.tz)
    grid = bucket_grid(filters.interval, zone, since, until)
    conditions = await _conditions(session, engagement_id, filters, since, until)
    placed = (
        select(
            _bucket_of(filters.interval, filters.tz, grid.starts[0]).label("bucket"),
            Mention.sentiment_label,
        )
        .where(*conditions)
        .subquery()
    )
    rows = (
        await session.execute(
            select(placed.c.bucket, *_sentiment_aggregates(placed.c.sentiment_label)).group_by(
                placed.c.bucket
            )
        )
    ).mappings()
    totals = [dict.fromkeys(("count", *LABELS, "unlabelled"), 0) for _ in grid.starts]
    for row in rows:
        into = totals[grid.index(row["bucket"])]
        for name in into:
            into[name] += row[name]
    overall = {name: sum(bucket[name] for bucket in totals) for name in totals[0]}
    return VolumeOut(
        engagement_id=engagement_id,
        interval=filters.interval,
        tz=filters.tz,
        since=since,
        until=until,
        total=SentimentCounts(**sentiment_counts(overall)),
        buckets=[
            VolumeBucket(
                start=start.astimezone(zone), end=end.astimezone(zone), **sentiment_counts(counts)
            )
            for start, end, counts in zip(grid.starts, grid.ends(), totals, strict=True)
        ],
    )


# Rankings and places


async def top_authors(
    session: AsyncSession, engagement_id: uuid.UUID, filters: RankFilters
) -> list[AuthorRank]:
    """The authors with most mentions (an author is a handle on a source), then by handle."""
    _checked_period(filters)
    conditions = await _conditions(session, engagement_id, filters, filters.since, filters.until)
    count = func.count()
    latest_name = func.array_agg(
        aggregate_order_by(Mention.author_name, Mention.published_at.desc())
    )
    rows = (
        await session.execute(
            select(
                Mention.source,
                Mention.author_handle.label("handle"),
                latest_name[1].label("display_name"),
                *_sentiment_aggregates(Mention.sentiment_label),
            )
            .where(*conditions)
            .group_by(Mention.source, Mention.author_handle)
            .order_by(count.desc(), Mention.author_handle, Mention.source)
            .limit(filters.limit)
        )
    ).mappings()
    return [
        AuthorRank(
            source=row["source"],
            handle=row["handle"],
            display_name=row["display_name"],
            **sentiment_counts(row),
        )
        for row in rows
    ]


async def _place_rows(
    session: AsyncSession,
    engagement_id: uuid.UUID,
    filters: AnalyticsFilters,
    level: Level,
    limit: int | None,
) -> Sequence[RowMapping]:
    """Counts per place at ``level``, most mentions first (then by code); mentions placed
    only at a coarser level, or nowhere, are not counted."""
    _checked_period(filters)
    conditions = await _conditions(session, engagement_id, filters, filters.since, filters.until)
    code, name = PLACE_COLUMNS[level]
    statement = (
        select(
            code.label("code"),
            func.max(name).label("name"),
            *_sentiment_aggregates(Mention.sentiment_label),
        )
        .where(*conditions, code.is_not(None))
        .group_by(code)
        .order_by(func.count().desc(), code)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return (await session.execute(statement)).mappings().all()


async def top_places(
    session: AsyncSession, engagement_id: uuid.UUID, filters: PlaceRankFilters
) -> list[PlaceRank]:
    rows = await _place_rows(session, engagement_id, filters, filters.level, filters.limit)
    return [
        PlaceRank(
            level=filters.level,
            code=row["code"],
            name=row["name"],
            **sentiment_counts(row),
        )
        for row in rows
    ]


async def place_map(
    session: AsyncSession, engagement_id: uuid.UUID, filters: MapFilters
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection: a feature per place with mentions, with its counts."""
    rows = await _place_rows(session, engagement_id, filters, filters.level, None)
    return place_feature_collection(
        {row["code"]: sentiment_counts(row) for row in rows}, filters.level
    )


PICTURE_WORDS = {
    "it": {
        "region": "Menzioni per regione",
        "province": "Menzioni per provincia",
        "since": "dal",
        "until": "al",
        "all": "dall'inizio a oggi",
        "format": "%d/%m/%Y %H:%M",
    },
    "en": {
        "region": "Mentions by region",
        "province": "Mentions by province",
        "since": "from",
        "until": "to",
        "all": "all time",
        "format": "%Y-%m-%d %H:%M",
    },
}


def _period_words(filters: MapPictureFilters) -> str:
    """The period as the caller gave it (in their offset), or "all time"."""
    words = PICTURE_WORDS[filters.lang]
    ends = (("since", filters.since), ("until", filters.until))
    parts = [f"{words[end]} {at.strftime(words['format'])}" for end, at in ends if at is not None]
    return " ".join(parts) or words["all"]


async def map_picture(
    session: AsyncSession, engagement_id: uuid.UUID, filters: MapPictureFilters
) -> bytes:
    """A PNG choropleth of Italy: mentions per region or province, with a legend."""
    rows = await _place_rows(session, engagement_id, filters, filters.level, None)
    g = gazetteer()
    known = g.regions if filters.level == "region" else g.provinces
    choropleth = Choropleth(
        level=filters.level,
        counts={row["code"]: int(row["count"]) for row in rows if row["code"] in known},
        title=PICTURE_WORDS[filters.lang][filters.level],
        subtitle=_period_words(filters),
        language=filters.lang,
        width=filters.width,
    )
    # Drawing takes a CPU for a moment: off the event loop.
    return await asyncio.to_thread(render_choropleth, choropleth)

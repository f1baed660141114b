"""Read-model facts with known values for the KPI tests: the week of 1-7 February 2027 in Rome
(``WEEK``) and the builders of its rows; ``kpis_of`` computes an engagement's KPIs over them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.kpis.schemas import (
    EngagementKpis,
    Period,
)
from services.reporting.kpis.service import engagement_kpis
from services.reporting.models import (
    AccountMetricsFact,
    ContestEntryFact,
    ConversationFact,
    MentionFact,
    PostFact,
    PostMetricsFact,
)
from shared.db.scoping import Scope
from shared.db.session import session_scope

START = "2027-02-01T00:00:00+01:00"
END = "2027-02-08T00:00:00+01:00"
WEEK = Period(starts_at=datetime.fromisoformat(START), ends_at=datetime.fromisoformat(END))


def at(text: str) -> datetime:
    """An instant of Rome's winter time (UTC+1), written ``2027-02-01 10:00``."""
    return datetime.fromisoformat(f"{text.replace(' ', 'T')}:00+01:00")


@dataclass(frozen=True)
class Stored:
    organization_id: uuid.UUID
    engagement_id: uuid.UUID
    other_engagement_id: uuid.UUID
    foreign_engagement_id: uuid.UUID
    empty_engagement_id: uuid.UUID
    empty_organization_id: uuid.UUID
    own_query: uuid.UUID
    competitor_query: uuid.UUID
    idle_query: uuid.UUID
    posts: dict[str, uuid.UUID]


def post_fact(
    o: uuid.UUID, e: uuid.UUID, channel: str, due: str | None, status: str, **fields: Any
) -> PostFact:
    return PostFact(
        publication_id=uuid.uuid4(),
        organization_id=o,
        engagement_id=e,
        channel=channel,
        variant_id=uuid.uuid4(),
        due_at=at(due) if due else None,
        status=status,
        **fields,
    )


def metrics_sample(post: PostFact, collected: str, **figures: int | None) -> PostMetricsFact:
    return PostMetricsFact(
        publication_id=post.publication_id,
        organization_id=post.organization_id,
        collected_at=at(collected),
        **figures,
    )


def followers_fact(
    o: uuid.UUID, connection: uuid.UUID, channel: str, collected: str, followers: int | None
) -> AccountMetricsFact:
    return AccountMetricsFact(
        connection_id=connection,
        organization_id=o,
        channel=channel,
        collected_at=at(collected),
        followers=followers,
    )


def mention_fact(
    o: uuid.UUID, e: uuid.UUID, published: str, channel: str, sentiment: str | None, **fields: Any
) -> MentionFact:
    return MentionFact(
        mention_id=uuid.uuid4(),
        engagement_id=e,
        organization_id=o,
        published_at=at(published),
        channel=channel,
        sentiment=sentiment,
        query_ids=fields.pop("query_ids", []),
        **fields,
    )


def conversation_fact(
    o: uuid.UUID, e: uuid.UUID, opened: str, source: str = "instagram", **fields: Any
) -> ConversationFact:
    for name in ("first_response_at", "closed_at"):
        if name in fields:
            fields[name] = at(fields[name])
    return ConversationFact(
        conversation_id=uuid.uuid4(),
        organization_id=o,
        engagement_id=e,
        source=source,
        category="question",
        opened_at=at(opened),
        **fields,
    )


def entry_fact(
    o: uuid.UUID,
    e: uuid.UUID,
    contest: uuid.UUID,
    recorded: str,
    accepted: bool,
    won: str | None,
    unclaimed: str | None = None,
) -> ContestEntryFact:
    return ContestEntryFact(
        entry_id=uuid.uuid4(),
        organization_id=o,
        engagement_id=e,
        contest_id=contest,
        platform="instagram",
        accepted=accepted,
        recorded_at=at(recorded),
        won_at=at(won) if won else None,
        unclaimed_at=at(unclaimed) if unclaimed else None,
    )


OBJECTIVES = {
    "objectives": [
        {
            "id": "interaction",
            "title": "Più interazione",
            "goal": "engagement",
            "kpis": [
                {
                    "metric": "engagement_rate",
                    "channel": "instagram",
                    "comparator": "at_least",
                    "target": 10,
                    "unit": "%",
                    "by_month": 3,
                },
                {
                    "metric": "followers",
                    "comparator": "at_least",
                    "target": 2000,
                    "unit": "followers",
                    "by_date": "2027-02-07",
                },
            ],
        },
        {
            "id": "listening",
            "title": "Ascolto",
            "goal": "awareness",
            "kpis": [
                {
                    "metric": "net_sentiment",
                    "comparator": "at_least",
                    "target": 10,
                    "unit": "points",
                    "by_month": 1,
                },
                {
                    "metric": "first_response_median_minutes",
                    "comparator": "at_most",
                    "target": 30,
                    "unit": "min",
                    "by_month": 6,
                },
                {
                    "metric": "brand_recall",
                    "comparator": "at_least",
                    "target": 5,
                    "unit": "%",
                    "by_month": 6,
                },
                {
                    "metric": "mentions",
                    "channel": "mastodon",
                    "comparator": "at_most",
                    "target": 3,
                    "unit": "mentions",
                    "by_month": 6,
                },
            ],
        },
    ],
    "actions": [],
    "matrix": [{"objective_id": "interaction", "channel": "instagram"}],
}


async def kpis_of(
    sessions: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    engagement_id: uuid.UUID,
    period: Period = WEEK,
    channel: str | None = None,
    compare: bool = False,
) -> EngagementKpis:
    scope = Scope(organizations=frozenset({organization_id}))
    async with session_scope(sessions, scope) as session:
        return await engagement_kpis(session, engagement_id, period, channel, compare)

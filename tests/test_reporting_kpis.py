"""An engagement's KPIs on read-model rows stored with known values, each figure checked against
its hand-computed value (the arithmetic is beside each expectation): publishing, listening,
conversations, contests and objectives; the period's start included and end excluded, the
channel filter, the comparison with the previous period, an empty period; the routes through
the reporting service's app (422s, 404 for another organisation's engagement, CSV and XLSX)
and through the gateway.

The period is the week of 1-7 February 2027 in Rome (UTC+1): ``[2027-02-01T00:00+01:00,
2027-02-08T00:00+01:00)``; the previous period is the week before it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.bootstrap import drop_database, ensure_database
from services.gateway.app import build_app as build_gateway
from services.reporting.app import build_app
from services.reporting.kpis import objectives as targets
from services.reporting.kpis.exports import XLSX_MEDIA_TYPE
from services.reporting.kpis.schemas import (
    EngagementKpis,
    ObjectiveState,
    Period,
    PublishingKpis,
    Trend,
)
from services.reporting.kpis.service import engagement_kpis, requested_period
from services.reporting.models import (
    AccountMetricsFact,
    ContestEntryFact,
    ConversationFact,
    EngagementFact,
    KnownEngagement,
    MentionFact,
    ObjectivesFact,
    OrganizationFact,
    PostFact,
    PostMetricsFact,
    QueryFact,
)
from shared.auth import Role, issue_dev_token
from shared.db.migrations import upgrade
from shared.db.scoping import SYSTEM, Scope
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.errors import ProblemError
from shared.settings import Settings
from tests.conftest import _serve, free_port

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


@pytest.fixture(scope="module")
async def reporting_settings(base_settings: Settings) -> AsyncIterator[Settings]:
    """A database of this module's own with the reporting service's schema."""
    url = make_url(base_settings.database_url).set(database=f"engage_test_{uuid.uuid4().hex[:12]}")
    database_url = url.render_as_string(hide_password=False)
    scoped = base_settings.model_copy(update={"database_url": database_url})
    await ensure_database(scoped)
    await asyncio.to_thread(upgrade, "reporting", database_url)
    yield scoped
    await drop_database(scoped)


@pytest.fixture(scope="module")
async def reporting_sessions(
    reporting_settings: Settings,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(reporting_settings)
    yield create_session_factory(engine)
    await engine.dispose()


def _post(
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


def _sample(post: PostFact, collected: str, **figures: int | None) -> PostMetricsFact:
    return PostMetricsFact(
        publication_id=post.publication_id,
        organization_id=post.organization_id,
        collected_at=at(collected),
        **figures,
    )


def _followers(
    o: uuid.UUID, connection: uuid.UUID, channel: str, collected: str, followers: int | None
) -> AccountMetricsFact:
    return AccountMetricsFact(
        connection_id=connection,
        organization_id=o,
        channel=channel,
        collected_at=at(collected),
        followers=followers,
    )


def _mention(
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


def _conversation(
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


def _entry(
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


@pytest.fixture(scope="module")
async def stored(reporting_sessions: async_sessionmaker[AsyncSession]) -> Stored:
    o, e, e2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    foreign_org, foreign = uuid.uuid4(), uuid.uuid4()
    empty_org, empty = uuid.uuid4(), uuid.uuid4()
    own, competitor, idle, elsewhere = (uuid.uuid4() for _ in range(4))
    k1, k2, k3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    instagram, facebook = uuid.uuid4(), uuid.uuid4()

    posts = {
        # On time (10 minutes late), two samples before the end and one after.
        "p1": _post(
            o, e, "instagram", "2027-02-01 10:00", "published", published_at=at("2027-02-01 10:10")
        ),
        # 20 minutes late: not on time.
        "p2": _post(
            o, e, "instagram", "2027-02-02 09:00", "published", published_at=at("2027-02-02 09:20")
        ),
        # Exactly 15 minutes late: on time; the platform gives no reach.
        "p3": _post(
            o, e, "facebook", "2027-02-03 12:00", "published", published_at=at("2027-02-03 12:15")
        ),
        "p4": _post(
            o, e, "facebook", "2027-02-06 18:00", "failed", failed_at=at("2027-02-06 18:05")
        ),
        "p5": _post(o, e, "instagram", "2027-02-07 20:00", "scheduled"),
        # Due the week before, published at the period's first instant, with no sample.
        "p6": _post(
            o, e, "instagram", "2027-01-31 23:00", "published", published_at=at("2027-02-01 00:00")
        ),
        # Due in the period, published at its end (excluded).
        "p7": _post(
            o, e, "instagram", "2027-02-07 23:50", "published", published_at=at("2027-02-08 00:00")
        ),
        # Another engagement's.
        "p8": _post(
            o, e2, "instagram", "2027-02-02 10:00", "published", published_at=at("2027-02-02 10:00")
        ),
    }
    rows: list[Any] = [
        KnownEngagement(engagement_id=e, organization_id=o),
        KnownEngagement(engagement_id=e2, organization_id=o),
        KnownEngagement(engagement_id=foreign, organization_id=foreign_org),
        KnownEngagement(engagement_id=empty, organization_id=empty_org),
        OrganizationFact(organization_id=o, name="Agriturismo La Quercia", timezone="Europe/Rome"),
        EngagementFact(
            engagement_id=e,
            organization_id=o,
            mode="realizzazione",
            channels=["instagram", "facebook"],
            starts_on=date(2027, 1, 1),
            ends_on=date(2027, 6, 30),
        ),
        ObjectivesFact(
            engagement_id=e,
            organization_id=o,
            deliverable_id=uuid.uuid4(),
            version=1,
            body=OBJECTIVES,
            approved_at=at("2026-12-20 10:00"),
        ),
        *posts.values(),
        _sample(
            posts["p1"],
            "2027-02-02 10:00",
            reach=100,
            impressions=150,
            likes=10,
            comments=2,
            shares=1,
        ),
        _sample(
            posts["p1"],
            "2027-02-05 10:00",
            reach=200,
            impressions=300,
            likes=20,
            comments=5,
            shares=3,
            saves=2,
        ),
        _sample(posts["p1"], "2027-02-09 10:00", reach=999, impressions=999, likes=999),
        _sample(posts["p2"], "2027-02-03 10:00", reach=100, impressions=120, likes=5),
        _sample(posts["p3"], "2027-02-04 10:00", likes=4, comments=1),
        _sample(posts["p8"], "2027-02-04 10:00", reach=5000, likes=500),
        _followers(o, instagram, "instagram", "2027-01-20 08:00", 1000),
        _followers(o, instagram, "instagram", "2027-02-03 08:00", 1100),
        _followers(o, instagram, "instagram", "2027-02-10 08:00", 1500),
        _followers(o, facebook, "facebook", "2027-01-15 08:00", 500),
        _followers(o, facebook, "facebook", "2027-02-04 08:00", 520),
        _followers(o, facebook, "facebook", "2027-02-06 08:00", None),
        _followers(foreign_org, uuid.uuid4(), "instagram", "2027-02-03 08:00", 70000),
        QueryFact(
            query_id=own, organization_id=o, engagement_id=e, name="La Quercia", competitor=False
        ),
        QueryFact(
            query_id=competitor,
            organization_id=o,
            engagement_id=e,
            name="Il Cipresso",
            competitor=True,
        ),
        QueryFact(
            query_id=idle, organization_id=o, engagement_id=e, name="Olio Quercia", competitor=False
        ),
        QueryFact(
            query_id=elsewhere, organization_id=o, engagement_id=e2, name="Altro", competitor=False
        ),
        _mention(
            o,
            e,
            "2027-02-01 00:00",
            "instagram",
            "positive",
            region_code="09",
            region_name="Toscana",
            author="lucia",
            query_ids=[own],
        ),
        _mention(
            o,
            e,
            "2027-02-01 12:00",
            "instagram",
            "positive",
            region_code="09",
            region_name="Toscana",
            author="lucia",
            query_ids=[own, competitor],
        ),
        _mention(
            o,
            e,
            "2027-02-02 10:00",
            "facebook",
            "negative",
            region_code="12",
            region_name="Lazio",
            author="marco",
            query_ids=[competitor],
        ),
        _mention(o, e, "2027-02-02 11:00", "x", "neutral", author="marco", query_ids=[own]),
        _mention(
            o,
            e,
            "2027-02-04 09:00",
            "instagram",
            "mixed",
            region_code="09",
            region_name="Toscana",
            author="anna",
        ),
        _mention(
            o,
            e,
            "2027-02-07 23:30",
            "instagram",
            None,
            region_code="12",
            region_name="Lazio",
            query_ids=[own],
        ),
        _mention(
            o, e, "2027-02-08 00:00", "instagram", "positive", author="lucia", query_ids=[own]
        ),
        _mention(
            o, e, "2027-01-31 23:59", "instagram", "negative", author="piero", query_ids=[own]
        ),
        _mention(
            o,
            e2,
            "2027-02-03 10:00",
            "instagram",
            "negative",
            author="piero",
            query_ids=[elsewhere],
        ),
        _conversation(
            o,
            e,
            "2027-01-30 10:00",
            first_response_at="2027-02-01 09:00",
            response_minutes=60,
            within_sla=True,
        ),
        _conversation(
            o,
            e,
            "2027-02-01 10:00",
            first_response_at="2027-02-01 10:30",
            response_minutes=30,
            within_sla=True,
        ),
        _conversation(
            o,
            e,
            "2027-02-02 10:00",
            "facebook",
            first_response_at="2027-02-03 10:00",
            response_minutes=120,
            within_sla=False,
        ),
        _conversation(
            o,
            e,
            "2027-02-03 10:00",
            first_response_at="2027-02-04 10:00",
            response_minutes=10,
            within_sla=True,
        ),
        _conversation(o, e, "2027-02-05 10:00"),
        _conversation(
            o,
            e,
            "2027-02-06 10:00",
            first_response_at="2027-02-08 00:00",
            response_minutes=5,
            within_sla=True,
        ),
        _conversation(o, e, "2027-02-06 11:00", closed_at="2027-02-07 10:00"),
        _conversation(o, e, "2027-01-20 10:00"),
        _conversation(o, e, "2027-02-08 00:00"),
        _conversation(o, e2, "2027-02-03 10:00"),
        _entry(o, e, k1, "2027-02-01 10:00", True, "2027-02-07 12:00"),
        _entry(o, e, k1, "2027-02-02 10:00", False, None),
        _entry(o, e, k2, "2027-02-03 10:00", True, None),
        _entry(o, e, k3, "2027-01-25 10:00", True, "2027-02-02 12:00"),
        # Drawn in the period but forfeited: the reserve above won in its place.
        _entry(o, e, k3, "2027-01-25 11:00", True, "2027-02-01 12:00", "2027-02-02 11:00"),
        _entry(o, e, k1, "2027-02-08 00:00", True, None),
        _entry(o, e2, k1, "2027-02-03 10:00", True, None),
    ]
    async with session_scope(reporting_sessions, SYSTEM) as session:
        session.add_all(rows[:4])
        await session.flush()
        session.add_all(rows[4:])
    return Stored(
        o,
        e,
        e2,
        foreign,
        empty,
        empty_org,
        own,
        competitor,
        idle,
        {name: post.publication_id for name, post in posts.items()},
    )


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


async def test_publishing_figures(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    kpis = await kpis_of(reporting_sessions, stored.organization_id, stored.engagement_id)
    publishing = kpis.publishing

    # Due in the period: p1, p2, p3, p4, p5, p7 (p6 was due the week before).
    assert publishing.planned == 6
    # Published in it: p1, p2, p3 and p6 (at the first instant); p7 at the end is not.
    assert publishing.published == 4
    assert publishing.failed == 1
    # p1 (10 min late) and p3 (15 min late, the limit); p2 (20 min) and p6 (60 min) are late.
    assert (publishing.on_time, publishing.on_time_share, publishing.on_time_minutes) == (
        2,
        0.5,
        15,
    )
    # At each post's latest sample before the end: p1 200, p2 100, p3 none given (0), p6 none.
    assert publishing.reach == 300
    assert publishing.impressions == 300 + 120
    # p1: 20 + 5 + 3 + 2; p2: 5; p3: 4 + 1; p6: 0.
    assert publishing.engagements == 30 + 5 + 5
    assert publishing.engagement_rate == pytest.approx(40 / 300, abs=1e-4)
    # Each account's latest sample before the end: 1100 + 520 (the later None is no figure);
    # before the start: 1000 + 500.
    assert (publishing.followers, publishing.follower_growth) == (1620, 120)
    by_channel = {row.channel: row for row in publishing.by_channel}
    assert by_channel.keys() == {"facebook", "instagram"}
    facebook, instagram = by_channel["facebook"], by_channel["instagram"]
    assert (facebook.planned, facebook.published, facebook.failed) == (2, 1, 1)
    assert (facebook.reach, facebook.engagements, facebook.engagement_rate) == (0, 5, None)
    assert (instagram.planned, instagram.published, instagram.failed) == (4, 3, 0)
    assert (instagram.reach, instagram.impressions, instagram.engagements) == (300, 420, 35)
    assert instagram.engagement_rate == pytest.approx(35 / 300, abs=1e-4)
    names = {value: name for name, value in stored.posts.items()}
    # By engagements, then reach: p1 (30), p2 (5, reach 100), p3 (5, reach 0), p6 (0).
    assert [names[post.publication_id] for post in publishing.top_posts] == ["p1", "p2", "p3", "p6"]
    assert [names[post.publication_id] for post in publishing.bottom_posts] == [
        "p6",
        "p3",
        "p2",
        "p1",
    ]
    best = publishing.top_posts[0]
    assert (best.reach, best.impressions, best.engagements, best.engagement_rate) == (
        200,
        300,
        30,
        0.15,
    )


async def test_listening_figures(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    listening = (
        await kpis_of(reporting_sessions, stored.organization_id, stored.engagement_id)
    ).listening

    # Six from the first instant to 23:30 on the 7th; the one at the end and the one the
    # minute before the start are not counted, nor another engagement's.
    assert listening.mentions == 6
    assert listening.sentiment.model_dump() == {
        "positive": 2,
        "neutral": 1,
        "negative": 1,
        "mixed": 1,
        "unlabelled": 1,
    }
    # (2 - 1) / (2 + 1 + 1 + 1) * 100
    assert listening.net_sentiment == 20.0
    # La Quercia: 4 mentions, Il Cipresso: 2, Olio Quercia: 0; 6 in all.
    shares = {share.name: (share.mentions, share.share) for share in listening.share_of_voice}
    assert shares == {
        "La Quercia": (4, pytest.approx(4 / 6, abs=1e-4)),
        "Il Cipresso": (2, pytest.approx(2 / 6, abs=1e-4)),
        "Olio Quercia": (0, 0.0),
    }
    assert listening.own_share_of_voice == pytest.approx(4 / 6, abs=1e-4)
    assert [
        (place.region_code, place.region_name, place.mentions) for place in listening.places
    ] == [
        ("09", "Toscana", 3),
        ("12", "Lazio", 2),
    ]
    assert [(author.author, author.mentions) for author in listening.top_authors] == [
        ("lucia", 2),
        ("marco", 2),
        ("anna", 1),
    ]
    # Every Rome day of the period, those without mentions at zero.
    assert [(day.day.day, day.mentions) for day in listening.volume] == [
        (1, 2),
        (2, 2),
        (3, 0),
        (4, 1),
        (5, 0),
        (6, 0),
        (7, 1),
    ]
    second = listening.volume[1]
    assert (second.negative, second.neutral, second.positive) == (1, 1, 0)
    assert listening.volume[6].unlabelled == 1


async def test_conversation_and_contest_figures(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    kpis = await kpis_of(reporting_sessions, stored.organization_id, stored.engagement_id)
    conversations = kpis.conversations

    # Opened on the 1st, 2nd, 3rd, 5th and twice on the 6th (not the one at the end).
    assert conversations.opened == 6
    # Answered in the period after 60, 30, 120 and 10 minutes (the one answered at the end is
    # not): the median of 10, 30, 60, 120 is 45; p90 is 60 + 0.7 * (120 - 60).
    assert conversations.answered == 4
    assert conversations.first_response_median_minutes == pytest.approx(45)
    assert conversations.first_response_p90_minutes == pytest.approx(102)
    assert (conversations.within_sla, conversations.within_sla_share) == (3, 0.75)
    # Unanswered since the 5th, answered only at the end, unanswered since 20 January.
    assert conversations.open_backlog == 3

    # K1 and K2 had entries in the period (K3's entries are the week before, its wins in it: one
    # forfeited, so not counted).
    assert kpis.contests.model_dump() == {
        "contests": 2,
        "entries": 3,
        "valid_entries": 2,
        "winners": 2,
    }


async def test_objectives_are_judged_against_their_deadlines(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    objectives = (
        await kpis_of(reporting_sessions, stored.organization_id, stored.engagement_id)
    ).objectives
    found = {(row.metric, row.channel): row for row in objectives}

    rate = found[("engagement_rate", "instagram")]
    # Instagram: 35 / 300 as a percentage; by month 3 of an engagement started 1 January.
    assert rate.actual == pytest.approx(11.67, abs=0.01)
    assert (rate.deadline, rate.status) == (date(2027, 4, 1), ObjectiveState.ON_TRACK)
    # The week before had no Instagram reach: no rate, no trend.
    assert (rate.previous, rate.trend) == (None, None)

    followers = found[("followers", None)]
    # Due on the 7th, which the period covers: 1620 < 2000 is missed; 1500 the week before.
    assert (followers.actual, followers.previous) == (1620, 1500)
    assert (followers.status, followers.trend) == (ObjectiveState.MISSED, Trend.UP)

    sentiment = found[("net_sentiment", None)]
    # Due 1 February; the week before had one negative mention (-100).
    assert (sentiment.actual, sentiment.previous) == (20.0, -100.0)
    assert (sentiment.status, sentiment.trend) == (ObjectiveState.ACHIEVED, Trend.UP)

    response = found[("first_response_median_minutes", None)]
    assert (response.actual, response.status) == (45, ObjectiveState.AT_RISK)

    unknown = found[("brand_recall", None)]
    assert (unknown.actual, unknown.status, unknown.trend) == (None, ObjectiveState.NO_DATA, None)

    # Measured on Mastodon alone, whatever the request's channel: none, at most 3 holds.
    mastodon = found[("mentions", "mastodon")]
    assert (mastodon.actual, mastodon.status, mastodon.trend) == (
        0,
        ObjectiveState.ON_TRACK,
        Trend.FLAT,
    )
    assert [row.objective_id for row in objectives] == ["interaction"] * 2 + ["listening"] * 4


def test_objective_rules() -> None:
    kpi = targets.KpiTarget(metric="reach", comparator="at_most", target=10, unit="x", by_month=1)
    assert targets.status(kpi, 10, reached=False) == ObjectiveState.ON_TRACK
    assert targets.status(kpi, 11, reached=False) == ObjectiveState.AT_RISK
    assert targets.status(kpi, 10, reached=True) == ObjectiveState.ACHIEVED
    assert targets.status(kpi, 11, reached=True) == ObjectiveState.MISSED
    assert targets.status(kpi, None, reached=True) == ObjectiveState.NO_DATA
    assert targets.add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert targets.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    deadline = date(2027, 2, 7)
    assert not targets.deadline_reached(at("2027-02-07 23:59"), deadline, "Europe/Rome")
    assert targets.deadline_reached(at("2027-02-08 00:00"), deadline, "Europe/Rome")
    # Every metric names a field of its section.
    sections = {
        "publishing": PublishingKpis,
        **{
            name: EngagementKpis.model_fields[name].annotation
            for name in ("listening", "conversations", "contests")
        },
    }
    for metric in targets.METRICS.values():
        assert metric.field in sections[metric.section].model_fields  # type: ignore[union-attr]


async def test_a_channel_counts_only_its_own_facts(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    kpis = await kpis_of(
        reporting_sessions, stored.organization_id, stored.engagement_id, channel="instagram"
    )

    assert kpis.channel == "instagram"
    publishing = kpis.publishing
    assert (publishing.planned, publishing.published, publishing.failed) == (4, 3, 0)
    # p1 of p1, p2, p6.
    assert (publishing.on_time, publishing.on_time_share) == (1, 0.3333)
    assert (publishing.reach, publishing.engagements) == (300, 35)
    assert (publishing.followers, publishing.follower_growth) == (1100, 100)
    assert [row.channel for row in publishing.by_channel] == ["instagram"]
    listening = kpis.listening
    # Two positive, one mixed, one unlabelled: (2 - 0) / 3 * 100.
    assert (listening.mentions, listening.net_sentiment) == (4, 66.67)
    # The facebook conversation is left out: 60, 30 and 10 minutes.
    assert (kpis.conversations.opened, kpis.conversations.answered) == (5, 3)
    assert kpis.conversations.first_response_median_minutes == pytest.approx(30)
    # The objectives keep their own channels.
    assert {row.metric for row in kpis.objectives} >= {"followers", "net_sentiment"}
    followers = next(row for row in kpis.objectives if row.metric == "followers")
    assert followers.actual == 1620


async def test_compare_adds_the_previous_week(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    kpis = await kpis_of(
        reporting_sessions, stored.organization_id, stored.engagement_id, compare=True
    )

    previous = kpis.previous
    assert previous is not None
    assert previous.period == Period(
        starts_at=at("2027-01-25 00:00"), ends_at=at("2027-02-01 00:00")
    )
    # p6 was due on the 31st; one negative mention a minute before midnight; K3's two entries.
    assert (previous.publishing.planned, previous.publishing.published) == (1, 0)
    assert (previous.listening.mentions, previous.listening.net_sentiment) == (1, -100.0)
    assert (previous.contests.entries, previous.contests.winners) == (2, 0)
    # c8 opened on the 20th and c1 on the 30th were both waiting at the week's end.
    assert previous.conversations.open_backlog == 2
    assert previous.publishing.followers == 1500
    assert previous.previous is None
    assert kpis.listening.mentions == 6


async def test_an_empty_period_has_zeros_and_no_ratios(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    kpis = await kpis_of(
        reporting_sessions, stored.empty_organization_id, stored.empty_engagement_id, compare=True
    )

    publishing, listening = kpis.publishing, kpis.listening
    assert (publishing.planned, publishing.published, publishing.reach) == (0, 0, 0)
    assert (publishing.on_time_share, publishing.engagement_rate) == (None, None)
    assert (publishing.followers, publishing.follower_growth) == (None, None)
    assert (publishing.by_channel, publishing.top_posts, publishing.bottom_posts) == ([], [], [])
    assert (listening.mentions, listening.net_sentiment, listening.own_share_of_voice) == (
        0,
        None,
        None,
    )
    assert (listening.places, listening.top_authors, listening.share_of_voice) == ([], [], [])
    assert [day.mentions for day in listening.volume] == [0] * 7
    conversations = kpis.conversations
    assert (conversations.opened, conversations.first_response_median_minutes) == (0, None)
    assert (conversations.within_sla_share, conversations.open_backlog) == (None, 0)
    assert kpis.contests.entries == 0
    assert kpis.objectives == []
    assert kpis.previous is not None
    assert kpis.previous.listening.mentions == 0


async def test_another_organisations_engagement_is_not_found(
    reporting_sessions: async_sessionmaker[AsyncSession], stored: Stored
) -> None:
    with pytest.raises(ProblemError) as raised:
        await kpis_of(reporting_sessions, stored.organization_id, stored.foreign_engagement_id)
    assert raised.value.status == 404


def test_a_period_is_checked() -> None:
    now = at("2027-02-08 00:00")
    assert requested_period(None, None, 400, now) == Period(
        starts_at=at("2027-01-09 00:00"), ends_at=now
    )
    for since, until, field in (
        (now, at("2027-02-01 00:00"), "query.to"),
        (now, now, "query.to"),
        (at("2026-01-01 00:00"), now, "query.from"),
    ):
        with pytest.raises(ProblemError) as raised:
            requested_period(since, until, 400, now)
        assert raised.value.extensions["errors"][0]["field"] == field


# --- the routes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def client(reporting_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The reporting service's app, called in process."""
    app = build_app(reporting_settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://reporting"
    ) as http:
        yield http
    await app.state.runtime.stop()


def viewer(settings: Settings, organization_id: uuid.UUID) -> dict[str, str]:
    token = issue_dev_token(settings, "viewer", [Role.CLIENT_VIEWER], [str(organization_id)])
    return {"Authorization": f"Bearer {token}"}


async def test_the_route_answers_the_kpis(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis",
        params={"from": START, "to": END, "channel": "instagram", "compare": "true"},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channel"] == "instagram"
    assert body["publishing"]["published"] == 3
    assert body["listening"]["mentions"] == 4
    assert body["previous"]["listening"]["mentions"] == 1
    assert len(body["objectives"]) == 6


@pytest.mark.parametrize(
    ("params", "field", "kind"),
    [
        ({"from": END, "to": START}, "query.to", "period"),
        ({"from": "2026-01-01T00:00:00+01:00", "to": END}, "query.from", "period_too_long"),
        ({"from": "2027-02-01T00:00:00", "to": END}, "query.from", "timezone_aware"),
        ({"channel": "Not a channel"}, "query.channel", "string_pattern_mismatch"),
    ],
)
async def test_bad_parameters_answer_422_naming_the_field(
    client: httpx.AsyncClient,
    reporting_settings: Settings,
    stored: Stored,
    params: dict[str, str],
    field: str,
    kind: str,
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis",
        params=params,
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert (error["field"], error["type"]) == (field, kind)


async def test_another_organisations_engagement_answers_404(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    for route in ("kpis", "kpis.csv", "kpis.xlsx"):
        response = await client.get(
            f"/engagements/{stored.foreign_engagement_id}/{route}",
            params={"from": START, "to": END},
            headers=viewer(reporting_settings, stored.organization_id),
        )
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:engage:problem:not-found"


async def test_csv_export(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis.csv",
        params={"from": START, "to": END},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="kpis-{stored.engagement_id}-20270201-20270208.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.text)))
    titles = [rows[0][0]] + [rows[i + 1][0] for i, row in enumerate(rows) if row == []]
    assert titles == ["summary", "by_channel", "objectives", "places", "volume"]
    summary = dict(row for row in rows[2 : rows.index([])])
    assert (summary["reach"], summary["engagement_rate"], summary["net_sentiment"]) == (
        "300",
        "0.1333",
        "20.0",
    )
    assert summary["followers"] == "1620"
    places = rows.index(["places"])
    assert rows[places + 1 : places + 4] == [
        ["region_code", "region_name", "mentions"],
        ["09", "Toscana", "3"],
        ["12", "Lazio", "2"],
    ]
    volume = rows.index(["volume"])
    assert rows[volume + 2][:2] == ["2027-02-01", "2"]
    assert len(rows) == volume + 2 + 7


async def test_xlsx_export(
    client: httpx.AsyncClient, reporting_settings: Settings, stored: Stored
) -> None:
    response = await client.get(
        f"/engagements/{stored.engagement_id}/kpis.xlsx",
        params={"from": START, "to": END, "compare": "true"},
        headers=viewer(reporting_settings, stored.organization_id),
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.headers["content-disposition"].endswith('.xlsx"')
    workbook = load_workbook(io.BytesIO(response.content), read_only=True)
    assert workbook.sheetnames == ["summary", "by_channel", "objectives", "places", "volume"]
    summary = {row[0]: row[1:] for row in workbook["summary"].iter_rows(values_only=True)}
    assert summary["figure"] == ("value", "previous")
    assert summary["reach"] == (300, 0)
    assert summary["mentions"] == (6, 1)
    objectives = list(workbook["objectives"].iter_rows(values_only=True))
    assert objectives[0][-1] == "status"
    assert {row[-1] for row in objectives[1:]} == {
        "on_track",
        "missed",
        "achieved",
        "at_risk",
        "no_data",
    }
    assert len(list(workbook["volume"].iter_rows(values_only=True))) == 1 + 7


async def test_the_gateway_forwards_the_kpi_routes(
    reporting_settings: Settings, stored: Stored
) -> None:
    port = free_port()
    urls = reporting_settings.service_urls.model_copy(
        update={"reporting": f"http://127.0.0.1:{port}"}
    )
    scoped = reporting_settings.model_copy(update={"service_urls": urls})
    server, serving = await _serve(build_app(scoped), port)
    gateway = build_gateway(scoped)
    operations = gateway.openapi()["paths"]
    path = "/v1/engagements/{engagement_id}/kpis"
    assert operations[path]["get"]["operationId"] == "getEngagementKpis"
    assert operations[path + ".csv"]["get"]["operationId"] == "exportEngagementKpisCsv"
    xlsx = operations[path + ".xlsx"]["get"]
    assert xlsx["operationId"] == "exportEngagementKpisXlsx"
    assert XLSX_MEDIA_TYPE in xlsx["responses"]["200"]["content"]
    assert {"401", "404", "422"} <= xlsx["responses"].keys()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gateway), base_url="http://gateway"
        ) as http:
            headers = viewer(scoped, stored.organization_id)
            params = {"from": START, "to": END}
            answered = await http.get(
                f"/v1/engagements/{stored.engagement_id}/kpis", params=params, headers=headers
            )
            exported = await http.get(
                f"/v1/engagements/{stored.engagement_id}/kpis.csv", params=params, headers=headers
            )
            refused = await http.get(
                f"/v1/engagements/{stored.foreign_engagement_id}/kpis",
                params=params,
                headers=headers,
            )
    finally:
        server.should_exit = True
        await serving

    assert answered.status_code == 200, answered.text
    assert answered.json()["publishing"]["reach"] == 300
    assert exported.headers["content-disposition"].startswith("attachment; filename=")
    assert exported.text.startswith("summary\r\n")
    assert refused.status_code == 404

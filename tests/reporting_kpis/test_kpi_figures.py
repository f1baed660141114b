"""An engagement's KPIs on read-model rows stored with known values, each figure checked against
its hand-computed value (the arithmetic is beside each expectation): publishing, listening,
conversations, contests and objectives; the period's start included and end excluded, the
channel filter, the comparison with the previous period, an empty period. The routes:
test_kpi_routes.py; the rows: facts.py and conftest.py.

The period is the week of 1-7 February 2027 in Rome (UTC+1): ``[2027-02-01T00:00+01:00,
2027-02-08T00:00+01:00)``; the previous period is the week before it.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.reporting.kpis import objectives as targets
from services.reporting.kpis.schemas import (
    EngagementKpis,
    ObjectiveState,
    Period,
    PublishingKpis,
    Trend,
)
from services.reporting.kpis.service import requested_period
from shared.errors import ProblemError
from tests.reporting_kpis.facts import Stored, at, kpis_of


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

"""The KPI tests' rows (``facts.py``) stored in a database of the test module's own, with the
reporting service's schema: the week of 1-7 February 2027 in Rome, the week before it, another
organisation's engagement and an empty one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engage.bootstrap import drop_database, ensure_database
from services.reporting.models import (
    EngagementFact,
    KnownEngagement,
    ObjectivesFact,
    OrganizationFact,
    QueryFact,
)
from shared.db.migrations import upgrade
from shared.db.scoping import SYSTEM
from shared.db.session import create_engine, create_session_factory, session_scope
from shared.settings import Settings
from tests.reporting_kpis.facts import (
    OBJECTIVES,
    Stored,
    at,
    conversation_fact,
    entry_fact,
    followers_fact,
    mention_fact,
    metrics_sample,
    post_fact,
)


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
        "p1": post_fact(
            o, e, "instagram", "2027-02-01 10:00", "published", published_at=at("2027-02-01 10:10")
        ),
        # 20 minutes late: not on time.
        "p2": post_fact(
            o, e, "instagram", "2027-02-02 09:00", "published", published_at=at("2027-02-02 09:20")
        ),
        # Exactly 15 minutes late: on time; the platform gives no reach.
        "p3": post_fact(
            o, e, "facebook", "2027-02-03 12:00", "published", published_at=at("2027-02-03 12:15")
        ),
        "p4": post_fact(
            o, e, "facebook", "2027-02-06 18:00", "failed", failed_at=at("2027-02-06 18:05")
        ),
        "p5": post_fact(o, e, "instagram", "2027-02-07 20:00", "scheduled"),
        # Due the week before, published at the period's first instant, with no sample.
        "p6": post_fact(
            o, e, "instagram", "2027-01-31 23:00", "published", published_at=at("2027-02-01 00:00")
        ),
        # Due in the period, published at its end (excluded).
        "p7": post_fact(
            o, e, "instagram", "2027-02-07 23:50", "published", published_at=at("2027-02-08 00:00")
        ),
        # Another engagement's.
        "p8": post_fact(
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
        metrics_sample(
            posts["p1"],
            "2027-02-02 10:00",
            reach=100,
            impressions=150,
            likes=10,
            comments=2,
            shares=1,
        ),
        metrics_sample(
            posts["p1"],
            "2027-02-05 10:00",
            reach=200,
            impressions=300,
            likes=20,
            comments=5,
            shares=3,
            saves=2,
        ),
        metrics_sample(posts["p1"], "2027-02-09 10:00", reach=999, impressions=999, likes=999),
        metrics_sample(posts["p2"], "2027-02-03 10:00", reach=100, impressions=120, likes=5),
        metrics_sample(posts["p3"], "2027-02-04 10:00", likes=4, comments=1),
        metrics_sample(posts["p8"], "2027-02-04 10:00", reach=5000, likes=500),
        followers_fact(o, instagram, "instagram", "2027-01-20 08:00", 1000),
        followers_fact(o, instagram, "instagram", "2027-02-03 08:00", 1100),
        followers_fact(o, instagram, "instagram", "2027-02-10 08:00", 1500),
        followers_fact(o, facebook, "facebook", "2027-01-15 08:00", 500),
        followers_fact(o, facebook, "facebook", "2027-02-04 08:00", 520),
        followers_fact(o, facebook, "facebook", "2027-02-06 08:00", None),
        followers_fact(foreign_org, uuid.uuid4(), "instagram", "2027-02-03 08:00", 70000),
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
        mention_fact(
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
        mention_fact(
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
        mention_fact(
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
        mention_fact(o, e, "2027-02-02 11:00", "x", "neutral", author="marco", query_ids=[own]),
        mention_fact(
            o,
            e,
            "2027-02-04 09:00",
            "instagram",
            "mixed",
            region_code="09",
            region_name="Toscana",
            author="anna",
        ),
        mention_fact(
            o,
            e,
            "2027-02-07 23:30",
            "instagram",
            None,
            region_code="12",
            region_name="Lazio",
            query_ids=[own],
        ),
        mention_fact(
            o, e, "2027-02-08 00:00", "instagram", "positive", author="lucia", query_ids=[own]
        ),
        mention_fact(
            o, e, "2027-01-31 23:59", "instagram", "negative", author="piero", query_ids=[own]
        ),
        mention_fact(
            o,
            e2,
            "2027-02-03 10:00",
            "instagram",
            "negative",
            author="piero",
            query_ids=[elsewhere],
        ),
        conversation_fact(
            o,
            e,
            "2027-01-30 10:00",
            first_response_at="2027-02-01 09:00",
            response_minutes=60,
            within_sla=True,
        ),
        conversation_fact(
            o,
            e,
            "2027-02-01 10:00",
            first_response_at="2027-02-01 10:30",
            response_minutes=30,
            within_sla=True,
        ),
        conversation_fact(
            o,
            e,
            "2027-02-02 10:00",
            "facebook",
            first_response_at="2027-02-03 10:00",
            response_minutes=120,
            within_sla=False,
        ),
        conversation_fact(
            o,
            e,
            "2027-02-03 10:00",
            first_response_at="2027-02-04 10:00",
            response_minutes=10,
            within_sla=True,
        ),
        conversation_fact(o, e, "2027-02-05 10:00"),
        conversation_fact(
            o,
            e,
            "2027-02-06 10:00",
            first_response_at="2027-02-08 00:00",
            response_minutes=5,
            within_sla=True,
        ),
        conversation_fact(o, e, "2027-02-06 11:00", closed_at="2027-02-07 10:00"),
        conversation_fact(o, e, "2027-01-20 10:00"),
        conversation_fact(o, e, "2027-02-08 00:00"),
        conversation_fact(o, e2, "2027-02-03 10:00"),
        entry_fact(o, e, k1, "2027-02-01 10:00", True, "2027-02-07 12:00"),
        entry_fact(o, e, k1, "2027-02-02 10:00", False, None),
        entry_fact(o, e, k2, "2027-02-03 10:00", True, None),
        entry_fact(o, e, k3, "2027-01-25 10:00", True, "2027-02-02 12:00"),
        # Drawn in the period but forfeited: the reserve above won in its place.
        entry_fact(o, e, k3, "2027-01-25 11:00", True, "2027-02-01 12:00", "2027-02-02 11:00"),
        entry_fact(o, e, k1, "2027-02-08 00:00", True, None),
        entry_fact(o, e2, k1, "2027-02-03 10:00", True, None),
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

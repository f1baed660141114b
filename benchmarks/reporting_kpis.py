"""An engagement's KPIs and its report over a six-month engagement's read model (issue 14), on
a scratch database migrated for reporting.

The read model is seeded in PostgreSQL itself (``INSERT ... SELECT generate_series``): one
organisation (Europe/Rome) and its engagement from 1 January to 30 June 2027, 2,000 posts on four
channels with 40 figure samples each, four accounts sampled hourly, six listening queries (three
of competitors), 500,000 mentions (``BENCH_REPORTING_MENTIONS``) from 5,000 authors (a few with
many, most with few) in 20 regions, 20,000 conversations and 10,000 contest entries, all spread
evenly over the six months, and approved objectives with eight KPI targets (three on Instagram
alone, so measured on that channel too); then ``VACUUM ANALYZE``. ``seed_seconds`` is its time.

Figures, each measured alternately with its baseline so that the machine's load weighs on both:

- ``kpis_month_p50_ms``, ``kpis_month_p95_ms``: ``engagement_kpis`` for March (about 83,000
  mentions), without the previous period, in a session with the organisation's scope, as the
  KPI route runs it (20 runs after one unmeasured); baseline: the bare SQL aggregation of the
  same month (``bare_sql_aggregation``): one statement counting the month's mentions by
  sentiment, its published posts and its opened conversations, the least any KPI computation
  must read.
- ``kpis_six_months_p50_ms``, ``kpis_six_months_p95_ms``: the same over the six months with the
  previous six months beside them (the API's ``compare=true``; 10 runs); baseline: the bare
  aggregation of the six months.
- ``report_generation_ms``: what the render activity does for March: the KPIs with the previous
  month (``SYSTEM`` scope), then ``render_report`` in a thread producing the HTML and the PDF
  (p50 of 3 runs, ``max_ms``; ``kpis_ms`` and ``render_ms`` split it); baseline: the bare
  aggregation of March.
- ``peak_rss``: this process's peak resident memory at the end.
"""

from __future__ import annotations

import asyncio
import io
import os
import resource
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pypdf import PdfReader
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from benchmarks.common import report, scratch_settings
from services.reporting.kpis.schemas import EngagementKpis, Period
from services.reporting.kpis.service import engagement_kpis
from services.reporting.models import ObjectivesFact, Report
from services.reporting.rendering import RenderedReport, render_report
from services.reporting.reports import service as reports
from services.strategy.deliverables.kinds import Objectives
from shared.db.scoping import SYSTEM, Scope
from shared.db.session import create_engine, create_session_factory, session_scope

BENCHMARK = "reporting_kpis"
MENTIONS = int(os.environ.get("BENCH_REPORTING_MENTIONS", "500000"))
POSTS = 2_000
SAMPLES_PER_POST = 40
CONVERSATIONS = 20_000
CONTEST_ENTRIES = 10_000
MONTH_RUNS = 20
SIX_MONTH_RUNS = 10
REPORT_RUNS = 3

ORGANIZATION = uuid.UUID("0b1c0000-0000-4000-8000-000000000001")
ENGAGEMENT = uuid.UUID("0b1c0000-0000-4000-8000-000000000002")
ZONE = ZoneInfo("Europe/Rome")
STARTS_ON, ENDS_ON = date(2027, 1, 1), date(2027, 6, 30)
START = datetime(2027, 1, 1, tzinfo=ZONE)
END = datetime(2027, 7, 1, tzinfo=ZONE)
MONTH = Period(
    starts_at=datetime(2027, 3, 1, tzinfo=ZONE), ends_at=datetime(2027, 4, 1, tzinfo=ZONE)
)
SIX_MONTHS = Period(starts_at=START, ends_at=END)
HOURLY_SAMPLES = int((END - START) / timedelta(hours=1))

# Each statement with its rows spread evenly over the engagement: row i at ``t0 + i * step``,
# ``step`` the engagement's span divided by ``:rows``.
_SEED: tuple[tuple[str, int], ...] = (
    (
        """INSERT INTO reporting.known_engagements (engagement_id, organization_id)
        VALUES (:engagement, :organization)""",
        1,
    ),
    (
        """INSERT INTO reporting.organizations (organization_id, name, timezone)
        VALUES (:organization, 'Tenuta Aurora', 'Europe/Rome')""",
        1,
    ),
    (
        """INSERT INTO reporting.engagements (engagement_id, organization_id, mode, channels,
            starts_on, ends_on, report_cadence)
        VALUES (:engagement, :organization, 'realizzazione',
            ARRAY['instagram', 'facebook', 'x', 'youtube'], :starts_on, :ends_on, 'monthly')""",
        1,
    ),
    (
        """INSERT INTO reporting.queries (query_id, organization_id, engagement_id, name,
            competitor)
        SELECT ('0b1c0000-0000-4000-8000-0000000001' || lpad(i::text, 2, '0'))::uuid,
            s.organization, s.engagement, 'query ' || i, i > 3
        FROM generate_series(1, :rows) AS i, (SELECT CAST(:organization AS uuid) AS organization,
            CAST(:engagement AS uuid) AS engagement) AS s""",
        6,
    ),
    (
        """INSERT INTO reporting.posts (publication_id, organization_id, engagement_id, channel,
            variant_id, due_at, status, published_at, url)
        SELECT gen_random_uuid(), s.organization, s.engagement,
            (ARRAY['instagram', 'facebook', 'x', 'youtube'])[1 + i % 4], gen_random_uuid(),
            s.t0 + i * s.step, 'published', s.t0 + i * s.step + (i % 30) * interval '1 minute',
            'https://example.org/p/' || i
        FROM generate_series(0, :rows - 1) AS i, (SELECT CAST(:organization AS uuid) AS
            organization, CAST(:engagement AS uuid) AS engagement, CAST(:start AS timestamptz)
            AS t0, CAST(:step AS interval) AS step) AS s""",
        POSTS,
    ),
    (
        """INSERT INTO reporting.post_metrics (publication_id, collected_at, organization_id,
            impressions, reach, likes, comments, shares, saves)
        SELECT p.publication_id, p.published_at + k * interval '6 hours', p.organization_id,
            (120 + abs(hashtext(p.url)) % 900) * k, (90 + abs(hashtext(p.url)) % 700) * k,
            (3 + abs(hashtext(p.url || 'likes')) % 40) * k, k, k / 2, NULL
        FROM reporting.posts AS p, generate_series(1, :rows) AS k""",
        SAMPLES_PER_POST,
    ),
    (
        """INSERT INTO reporting.account_metrics (connection_id, collected_at, organization_id,
            channel, followers)
        SELECT ('0b1c0000-0000-4000-8000-0000000002' || lpad(a::text, 2, '0'))::uuid,
            s.t0 + h * s.step, s.organization,
            (ARRAY['instagram', 'facebook', 'x', 'youtube'])[a], 1000 * a + h / 3
        FROM generate_series(1, 4) AS a, generate_series(0, :rows - 1) AS h,
            (SELECT CAST(:organization AS uuid) AS organization, CAST(:start AS timestamptz)
            AS t0, CAST(:step AS interval) AS step) AS s""",
        HOURLY_SAMPLES,
    ),
    (
        """INSERT INTO reporting.mentions (mention_id, engagement_id, organization_id,
            published_at, channel, author, sentiment, region_code, region_name, query_ids)
        SELECT gen_random_uuid(), s.engagement, s.organization, s.t0 + i * s.step,
            (ARRAY['instagram', 'facebook', 'x', 'rss', 'youtube'])[1 + i % 5],
            'author' || floor(5000 * power((i::bigint * 7919 % 10007) / 10007.0, 3)),
            (ARRAY['positive', 'neutral', 'negative', 'mixed', NULL])[1 + i % 5],
            lpad((1 + i % 20)::text, 2, '0'), 'Regione ' || (1 + i % 20),
            ARRAY[('0b1c0000-0000-4000-8000-0000000001' || lpad((1 + i % 6)::text, 2, '0'))
                ::uuid]
        FROM generate_series(0, :rows - 1) AS i, (SELECT CAST(:organization AS uuid) AS
            organization, CAST(:engagement AS uuid) AS engagement, CAST(:start AS timestamptz)
            AS t0, CAST(:step AS interval) AS step) AS s""",
        MENTIONS,
    ),
    (
        """INSERT INTO reporting.conversations (conversation_id, organization_id, engagement_id,
            source, category, opened_at, first_response_at, response_minutes, within_sla,
            closed_at)
        SELECT gen_random_uuid(), s.organization, s.engagement,
            (ARRAY['instagram', 'facebook'])[1 + i % 2], 'question', s.t0 + i * s.step,
            CASE WHEN i % 10 <> 0 THEN s.t0 + i * s.step + (i % 300) * interval '1 minute' END,
            CASE WHEN i % 10 <> 0 THEN (i % 300)::float END,
            CASE WHEN i % 10 <> 0 THEN i % 300 < 60 END,
            CASE WHEN i % 3 = 0 THEN s.t0 + i * s.step + interval '1 day' END
        FROM generate_series(0, :rows - 1) AS i, (SELECT CAST(:organization AS uuid) AS
            organization, CAST(:engagement AS uuid) AS engagement, CAST(:start AS timestamptz)
            AS t0, CAST(:step AS interval) AS step) AS s""",
        CONVERSATIONS,
    ),
    (
        """INSERT INTO reporting.contest_entries (entry_id, organization_id, engagement_id,
            contest_id, platform, accepted, recorded_at, won_at)
        SELECT gen_random_uuid(), s.organization, s.engagement,
            ('0b1c0000-0000-4000-8000-0000000003' || lpad((i % 5)::text, 2, '0'))::uuid,
            'instagram', i % 4 <> 0, s.t0 + i * s.step,
            CASE WHEN i % 500 = 0 THEN s.t0 + i * s.step + interval '3 days' END
        FROM generate_series(0, :rows - 1) AS i, (SELECT CAST(:organization AS uuid) AS
            organization, CAST(:engagement AS uuid) AS engagement, CAST(:start AS timestamptz)
            AS t0, CAST(:step AS interval) AS step) AS s""",
        CONTEST_ENTRIES,
    ),
)

# The least any KPI computation must read: one pass over the period's mentions, counted by
# sentiment, with the period's published posts and opened conversations.
_BARE_AGGREGATION = text(
    """SELECT m.sentiment, m.mentions,
        (SELECT count(*) FROM reporting.posts
         WHERE organization_id = :organization AND engagement_id = :engagement
           AND published_at >= :starts AND published_at < :ends) AS posts,
        (SELECT count(*) FROM reporting.conversations
         WHERE organization_id = :organization AND engagement_id = :engagement
           AND opened_at >= :starts AND opened_at < :ends) AS conversations
    FROM (SELECT sentiment, count(*) AS mentions FROM reporting.mentions
          WHERE organization_id = :organization AND engagement_id = :engagement
            AND published_at >= :starts AND published_at < :ends
          GROUP BY sentiment) AS m"""
)


def objectives_body() -> dict[str, Any]:
    """Approved objectives as strategy validates them: awareness and engagement on Instagram,
    reputation and care on every channel."""
    kpis = {
        "awareness": [
            {"metric": "reach", "channel": "instagram", "comparator": "at_least",
             "target": 400_000, "unit": "people", "by_month": 6},
            {"metric": "followers", "channel": "instagram", "comparator": "at_least",
             "target": 2_500, "unit": "followers", "by_month": 6},
        ],
        "engagement": [
            {"metric": "engagement_rate", "channel": "instagram", "comparator": "at_least",
             "target": 4, "unit": "%", "by_month": 3},
            {"metric": "posts_published", "comparator": "at_least", "target": 300,
             "unit": "posts", "by_month": 6},
        ],
        "reputation": [
            {"metric": "net_sentiment", "comparator": "at_least", "target": 10,
             "unit": "points", "by_month": 6},
            {"metric": "own_share_of_voice", "comparator": "at_least", "target": 50,
             "unit": "%", "by_month": 6},
            {"metric": "within_sla_share", "comparator": "at_least", "target": 90, "unit": "%",
             "by_month": 3},
            {"metric": "first_response_median_minutes", "comparator": "at_most", "target": 60,
             "unit": "minutes", "by_month": 3},
        ],
    }  # fmt: skip
    body = Objectives.model_validate(
        {
            "objectives": [
                {"id": goal, "title": f"More {goal}", "goal": goal, "kpis": targets}
                for goal, targets in kpis.items()
            ],
            "matrix": [
                {"objective_id": goal, "channel": channel}
                for goal in kpis
                for channel in ("instagram", "facebook")
            ],
        }
    )
    return body.model_dump(mode="json")


async def seed(engine: AsyncEngine) -> float:
    """Seconds taken to seed the read model and vacuum and analyse it."""
    span = END - START
    params = {
        "organization": ORGANIZATION,
        "engagement": ENGAGEMENT,
        "starts_on": STARTS_ON,
        "ends_on": ENDS_ON,
        "start": START,
    }
    started = time.perf_counter()
    async with engine.begin() as connection:
        for statement, rows in _SEED:
            await connection.execute(text(statement), {**params, "rows": rows, "step": span / rows})
        await connection.execute(
            insert(ObjectivesFact).values(
                engagement_id=ENGAGEMENT,
                organization_id=ORGANIZATION,
                deliverable_id=uuid.uuid4(),
                version=1,
                body=objectives_body(),
                approved_at=START - timedelta(days=10),
            )
        )
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


@dataclass(frozen=True)
class BareCounts:
    mentions: int
    posts: int
    conversations: int


async def bare_aggregation(engine: AsyncEngine, period: Period) -> BareCounts:
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                _BARE_AGGREGATION,
                {
                    "organization": ORGANIZATION,
                    "engagement": ENGAGEMENT,
                    "starts": period.starts_at,
                    "ends": period.ends_at,
                },
            )
        ).all()
    return BareCounts(
        mentions=sum(row.mentions for row in rows),
        posts=rows[0].posts if rows else 0,
        conversations=rows[0].conversations if rows else 0,
    )


async def scoped_kpis(
    sessions: async_sessionmaker[AsyncSession], period: Period, compare: bool
) -> EngagementKpis:
    """The KPIs as the KPI route computes them, in a session with the organisation's scope."""
    scope = Scope(organizations=frozenset({ORGANIZATION}))
    async with session_scope(sessions, scope) as session:
        return await engagement_kpis(session, ENGAGEMENT, period, None, compare=compare)


async def milliseconds(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return (time.perf_counter() - started) * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


@dataclass(frozen=True)
class Timings:
    kpis_ms: list[float]
    bare_ms: list[float]


async def alternated(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    period: Period,
    compare: bool,
    runs: int,
) -> Timings:
    """``runs`` of the KPIs and of the bare aggregation, in turn, after one unmeasured each;
    the two must count the same mentions, posts and conversations."""
    kpis = await scoped_kpis(sessions, period, compare)
    bare = await bare_aggregation(engine, period)
    counted = BareCounts(
        kpis.listening.mentions, kpis.publishing.published, kpis.conversations.opened
    )
    if counted != bare:
        raise RuntimeError(f"the KPIs counted {counted}, the bare aggregation {bare}")
    kpis_ms, bare_ms = [], []
    for _ in range(runs):
        bare_ms.append(await milliseconds(lambda: bare_aggregation(engine, period)))
        kpis_ms.append(await milliseconds(lambda: scoped_kpis(sessions, period, compare)))
    return Timings(kpis_ms, bare_ms)


def reported(name: str, timings: Timings, **details: Any) -> None:
    for quantile, of in (("p50", statistics.median), ("p95", p95)):
        value, baseline = of(timings.kpis_ms), of(timings.bare_ms)
        report(
            BENCHMARK,
            f"kpis_{name}_{quantile}_ms",
            round(value, 1),
            "ms",
            runs=len(timings.kpis_ms),
            max_ms=round(max(timings.kpis_ms), 1),
            baseline="bare_sql_aggregation",
            baseline_ms=round(baseline, 1),
            ratio=round(value / baseline, 1),
            **details,
        )


@dataclass(frozen=True)
class Generation:
    kpis_ms: float
    render_ms: float
    rendered: RenderedReport


async def generated(sessions: async_sessionmaker[AsyncSession]) -> Generation:
    """What the render activity does, without storing the documents: the month's KPIs beside
    the previous month's, then both documents rendered in a thread."""
    started = time.perf_counter()
    async with session_scope(sessions, SYSTEM) as session:
        kpis = await engagement_kpis(session, ENGAGEMENT, MONTH, channel=None, compare=True)
        organization = await reports.organization(session, ORGANIZATION)
    requested = Report(
        engagement_id=ENGAGEMENT,
        period_start=MONTH.starts_at,
        period_end=MONTH.ends_at,
        language="it",
    )
    context = reports.render_context(requested, organization, datetime.now(UTC))
    computed = time.perf_counter()
    rendered = await asyncio.to_thread(render_report, kpis, context)
    finished = time.perf_counter()
    return Generation((computed - started) * 1000, (finished - computed) * 1000, rendered)


async def run() -> None:
    async with scratch_settings("reporting") as settings:
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        try:
            seed_seconds = await seed(engine)
            volume = {
                "posts": POSTS,
                "mentions": MENTIONS,
                "conversations": CONVERSATIONS,
                "seed_seconds": round(seed_seconds, 1),
            }
            month = await alternated(engine, sessions, MONTH, False, MONTH_RUNS)
            reported("month", month, compare=False, **volume)
            six = await alternated(engine, sessions, SIX_MONTHS, True, SIX_MONTH_RUNS)
            reported("six_months", six, compare=True, **volume)
            runs, bare_ms = [], []
            for _ in range(REPORT_RUNS):
                bare_ms.append(await milliseconds(lambda: bare_aggregation(engine, MONTH)))
                runs.append(await generated(sessions))
        finally:
            await engine.dispose()
    totals = [one.kpis_ms + one.render_ms for one in runs]
    last = runs[-1].rendered
    baseline = statistics.median(bare_ms)
    report(
        BENCHMARK,
        "report_generation_ms",
        round(statistics.median(totals), 1),
        "ms",
        runs=REPORT_RUNS,
        max_ms=round(max(totals), 1),
        kpis_ms=round(statistics.median(one.kpis_ms for one in runs), 1),
        render_ms=round(statistics.median(one.render_ms for one in runs), 1),
        html_bytes=len(last.html),
        pdf_bytes=len(last.pdf),
        pages=len(PdfReader(io.BytesIO(last.pdf)).pages),
        charts=sorted(last.charts),
        baseline="bare_sql_aggregation",
        baseline_ms=round(baseline, 1),
        ratio=round(statistics.median(totals) / baseline, 1),
    )
    # Linux gives ru_maxrss in KiB.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(BENCHMARK, "peak_rss", round(peak, 1), "MiB")

"""Polling through Temporal: the schedule the listening worker keeps, and a round of
``ListeningPoll`` running the real activities (listening's, and the publisher's for a connected
channel)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.listening.contracts import POLL_SCHEDULE_ID, POLL_WORKFLOW, PollInput, PollSummary
from services.listening.models import Source
from services.listening.worker import ensure_poll_schedule
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from tests.conftest import Platform
from tests.engagement_helpers import stored_engagement
from tests.test_thin_thread import create_org


async def test_the_worker_keeps_one_polling_schedule(platform: Platform) -> None:
    settings = platform.settings
    await ensure_poll_schedule(platform.temporal, settings)
    # A second worker starting finds it in place.
    await ensure_poll_schedule(platform.temporal, settings)
    schedule_id = f"{settings.temporal.task_queue_prefix}{POLL_SCHEDULE_ID}"
    handle = platform.temporal.get_schedule_handle(schedule_id)
    try:
        described = await handle.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(seconds=settings.listening.poll_every_seconds)
        action = described.schedule.action
        assert action.workflow == POLL_WORKFLOW  # type: ignore[attr-defined]
        assert action.task_queue == settings.task_queue(task_queues.WORKFLOWS)  # type: ignore[attr-defined]
    finally:
        await handle.delete()


async def test_a_round_marks_a_connected_channel_the_publisher_does_not_know_as_refused(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = await stored_engagement(platform, organization_id)
    source = Source(
        id=uuid.uuid4(),
        organization_id=uuid.UUID(organization_id),
        engagement_id=uuid.UUID(engagement_id),
        kind="sandbox",
        name="A connection since removed",
        settings={"connection_id": str(uuid.uuid4())},
        cursor={},
        reads_from=datetime.now(UTC),
        poll_interval_seconds=60,
        status="active",
        consecutive_failures=0,
        next_poll_at=datetime.now(UTC) - timedelta(seconds=1),
        mentions_read=0,
        created_by="tester",
    )
    async with session_scope(sessions, SYSTEM) as session:
        session.add(source)
    summary: PollSummary = await platform.temporal.execute_workflow(
        POLL_WORKFLOW,
        PollInput(task_queue_prefix=platform.settings.temporal.task_queue_prefix, limit=500),
        id=f"poll-test-{uuid.uuid4()}",
        task_queue=platform.settings.task_queue(task_queues.WORKFLOWS),
        result_type=PollSummary,
    )
    [polled] = [result for result in summary.polled if result.source_id == source.id]
    assert polled.outcome == "failing"
    async with session_scope(sessions, SYSTEM) as session:
        stored = await session.get(Source, source.id)
        assert stored is not None
        assert (stored.status, stored.failure_kind) == ("failing", "refused")
        assert "connection" in (stored.failure_reason or "")
        assert stored.next_poll_at > datetime.now(UTC)

"""``strategy.record_lifecycle_events`` on the strategy service's real worker: each step is one
timeline entry and one event, however often it is recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.strategy.contracts import (
    RECORD_LIFECYCLE_EVENTS,
    LifecycleEventName,
    LifecycleStep,
    RecordLifecycleEvents,
)
from services.strategy.models import LifecycleEvent, OutboxEvent
from shared import task_queues
from shared.auth import Role
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Phase
from tests.conftest import Platform
from tests.engagement_helpers import started_engagement
from tests.test_thin_thread import create_org


async def _count(
    sessions: async_sessionmaker[AsyncSession], event_ids: list[str]
) -> tuple[int, int]:
    async with session_scope(sessions, SYSTEM) as session:
        timeline = await session.scalar(
            select(func.count()).where(LifecycleEvent.id.in_([uuid.UUID(i) for i in event_ids]))
        )
        outbox = await session.scalar(
            select(func.count()).where(OutboxEvent.event_id.in_(event_ids))
        )
    return int(timeline or 0), int(outbox or 0)


async def test_recording_lifecycle_steps_again_changes_nothing(
    platform: Platform, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organization_id = await create_org(platform)
    engagement_id = (await started_engagement(platform, organization_id))["id"]
    now = datetime.now(UTC)
    request = RecordLifecycleEvents(
        engagement_id=engagement_id,
        organization_id=organization_id,
        steps=[
            LifecycleStep(
                event=LifecycleEventName.INTERVENTION_REQUESTED,
                phase=Phase.POST_LAUNCH,
                idempotency_key="test/intervention-1/requested",
                occurred_at=now,
                actor="client",
                details={"title": "Reply to a complaint"},
            ),
            LifecycleStep(
                event=LifecycleEventName.TASK_OVERDUE,
                phase=Phase.POST_LAUNCH,
                idempotency_key="test/task/x/overdue",
                occurred_at=now,
                details={"task_id": "x"},
            ),
        ],
    )
    first = await platform.run_activity(task_queues.STRATEGY, RECORD_LIFECYCLE_EVENTS, request)
    again = await platform.run_activity(task_queues.STRATEGY, RECORD_LIFECYCLE_EVENTS, request)
    assert first["newly_recorded"] == 2
    assert again == {**first, "newly_recorded": 0}
    assert await _count(sessions, first["event_ids"]) == (2, 2)
    async with session_scope(sessions, SYSTEM) as session:
        envelope = await session.scalar(
            select(OutboxEvent.envelope).where(OutboxEvent.event_id == first["event_ids"][0])
        )
    assert envelope is not None
    assert envelope["type"] == "engage.lifecycle.intervention_requested.v1"
    assert envelope["data"] == {
        "engagement_id": engagement_id,
        "organization_id": organization_id,
        "phase": "post_launch",
        "title": "Reply to a complaint",
        "actor": "client",
    }


async def test_the_timeline_is_visible_only_to_the_engagements_organisation(
    platform: Platform,
) -> None:
    organization_id = await create_org(platform)
    engagement = await started_engagement(platform, organization_id)
    url = f"/v1/engagements/{engagement['id']}/timeline"
    own = await platform.gateway.get(
        url, headers=platform.auth(Role.CLIENT_VIEWER, orgs=[organization_id])
    )
    other = await platform.gateway.get(
        url, headers=platform.auth(Role.CLIENT_VIEWER, orgs=[str(uuid.uuid4())])
    )
    assert own.status_code == 200
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"

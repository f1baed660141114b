"""Each engagement's periodic reports run on a Temporal Schedule of its own, from its launch to
the end of its contract: weekly (Mondays) or monthly (the 1st), at 06:00 in the organisation's
time zone, each run reporting the calendar week or month that just closed. An engagement run
with compressed time (a demo's ``time_scale``) reports every compressed week or month instead.

The reporting worker keeps the schedules from the lifecycle's facts (an effect consumer of
``engage.lifecycle.*``): ``phase_started`` of post-launch creates the engagement's schedule
(once: one already there is left as it is), ``engagement_completed`` and
``engagement_cancelled`` delete it. The contract's cadence and time scale come from the
service's read model of engagements (``strategy.engagement_created``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from nats.js import JetStreamContext
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleRange,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode

from services.reporting.contracts import (
    REPORT_WORKFLOW,
    Cadence,
    PeriodicRun,
    ReportRunInput,
    report_schedule_id,
)
from services.reporting.models import EngagementFact, OrganizationFact
from shared import task_queues
from shared.db.scoping import SYSTEM
from shared.db.session import session_scope
from shared.domain import Phase
from shared.events.consumer import EffectConsumer, EventEffect, TransientError, spec_for
from shared.events.envelope import CloudEvent
from shared.settings import Settings

log = logging.getLogger(__name__)

SCHEDULER_DURABLE = "reporting-report-schedules"
LIFECYCLE_FACTS = "lifecycle.*"
PHASE_STARTED = "phase_started"
ENDED = frozenset({"engagement_completed", "engagement_cancelled"})
CADENCE_DAYS: dict[Cadence, int] = {"weekly": 7, "monthly": 30}
RUN_AT_HOUR = 6


class _LifecycleFact(BaseModel):
    engagement_id: uuid.UUID
    organization_id: uuid.UUID
    phase: Phase


def fact_name(event: CloudEvent) -> str:
    """``phase_started`` of ``engage.lifecycle.phase_started.v1``."""
    parts = event.type.split(".")
    return parts[-2] if len(parts) >= 2 else ""


def every_seconds(cadence: Cadence, time_scale: float | None) -> float | None:
    """The compressed period's length; None at real time (calendar weeks and months)."""
    if time_scale is None or time_scale >= 1:
        return None
    return timedelta(days=CADENCE_DAYS[cadence]).total_seconds() * time_scale


def schedule_spec(cadence: Cadence, seconds: float | None, timezone: str) -> ScheduleSpec:
    if seconds is not None:
        return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=seconds))])
    hour = (ScheduleRange(RUN_AT_HOUR),)
    calendar = (
        ScheduleCalendarSpec(day_of_week=(ScheduleRange(1),), hour=hour)
        if cadence == "weekly"
        else ScheduleCalendarSpec(day_of_month=(ScheduleRange(1),), hour=hour)
    )
    return ScheduleSpec(calendars=[calendar], time_zone_name=timezone)


async def ensure_schedule(
    client: Client,
    settings: Settings,
    engagement: EngagementFact,
    timezone: str,
) -> None:
    cadence: Cadence = "monthly" if engagement.report_cadence == "monthly" else "weekly"
    seconds = every_seconds(cadence, engagement.time_scale)
    prefix = settings.temporal.task_queue_prefix
    schedule_id = prefix + report_schedule_id(engagement.engagement_id)
    run = ReportRunInput(
        periodic=PeriodicRun(
            engagement_id=engagement.engagement_id,
            organization_id=engagement.organization_id,
            cadence=cadence,
            every_seconds=seconds,
        ),
        task_queue_prefix=prefix,
    )
    try:
        await client.create_schedule(
            schedule_id,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    REPORT_WORKFLOW,
                    run,
                    id=schedule_id,
                    task_queue=prefix + task_queues.WORKFLOWS,
                ),
                spec=schedule_spec(cadence, seconds, timezone),
            ),
        )
    except ScheduleAlreadyRunningError:
        return
    log.info("periodic reports of %s scheduled (%s)", engagement.engagement_id, cadence)


async def delete_schedule(client: Client, settings: Settings, engagement_id: uuid.UUID) -> None:
    schedule_id = settings.temporal.task_queue_prefix + report_schedule_id(engagement_id)
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as error:
        if error.status != RPCStatusCode.NOT_FOUND:
            raise


def report_scheduler(
    client: Client, sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> EventEffect:
    async def keep(event: CloudEvent) -> None:
        name = fact_name(event)
        if name not in ENDED and name != PHASE_STARTED:
            return
        fact = _LifecycleFact.model_validate(event.data)
        if name in ENDED:
            await delete_schedule(client, settings, fact.engagement_id)
            return
        if fact.phase != Phase.POST_LAUNCH:
            return
        async with session_scope(sessions, SYSTEM) as session:
            engagement = await session.get(EngagementFact, fact.engagement_id)
            organization = await session.get(OrganizationFact, fact.organization_id)
        if engagement is None:
            # Its ``engagement_created`` is not in the read model yet.
            raise TransientError(f"engagement {fact.engagement_id} is not known yet")
        if engagement.ended is not None:
            return
        timezone = organization.timezone if organization else "Europe/Rome"
        await ensure_schedule(client, settings, engagement, timezone)

    return keep


def report_schedule_consumer(
    client: Client,
    js: JetStreamContext,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> EffectConsumer:
    spec = spec_for(SCHEDULER_DURABLE, LIFECYCLE_FACTS, settings.events)
    return EffectConsumer(js, spec, report_scheduler(client, sessions, settings))
